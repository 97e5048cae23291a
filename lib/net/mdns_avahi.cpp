// Browsing _irp._tcp.local through the Avahi daemon (libavahi-client over
// D-Bus), on a private AvahiSimplePoll run by the calling thread for a
// bounded time: no thread is started. Everything Avahi allocates belongs to
// the client, and avahi_client_free releases it (resolvers still pending
// included). No exception crosses into Avahi's C callbacks.
#include "irp/net/mdns.hpp"

#include <avahi-client/client.h>
#include <avahi-client/lookup.h>
#include <avahi-common/error.h>
#include <avahi-common/simple-watch.h>
#include <avahi-common/strlst.h>

#include <algorithm>
#include <climits>

namespace irp::net {

namespace {

struct Found {
    AvahiIfIndex interface = AVAHI_IF_UNSPEC;
    AvahiProtocol protocol = AVAHI_PROTO_UNSPEC;
    MdnsAnswer answer{};
};

struct Browse {
    AvahiSimplePoll* poll = nullptr;
    AvahiClient* client = nullptr;
    std::vector<Found> found{};
    int pending = 0;  // resolvers not yet answered
    bool all_for_now = false;
    bool failed = false;
    std::string failure{};

    Browse() = default;
    Browse(const Browse&) = delete;
    Browse& operator=(const Browse&) = delete;
    ~Browse() {
        if (client) avahi_client_free(client);  // its browser and resolvers too
        if (poll) avahi_simple_poll_free(poll);
    }

    void fail(const std::string& why) {
        failed = true;
        failure = why;
    }

    std::vector<MdnsAnswer> answers() const {
        std::vector<MdnsAnswer> out;
        for (const auto& f : found) out.push_back(f.answer);
        return out;
    }
};

const char* why(AvahiClient* c) { return avahi_strerror(avahi_client_errno(c)); }

void on_client(AvahiClient* c, AvahiClientState state, void* self) {
    auto& b = *static_cast<Browse*>(self);
    try {
        if (state == AVAHI_CLIENT_FAILURE) b.fail(std::string("the Avahi daemon went away: ") + why(c));
    } catch (...) {
        b.failed = true;
    }
}

void on_resolved(AvahiServiceResolver* r, AvahiIfIndex interface, AvahiProtocol protocol, AvahiResolverEvent event,
                 const char* name, const char*, const char*, const char* host, const AvahiAddress* address,
                 std::uint16_t port, AvahiStringList* txt, AvahiLookupResultFlags, void* self) {
    auto& b = *static_cast<Browse*>(self);
    try {
        --b.pending;
        if (event == AVAHI_RESOLVER_FOUND && address && b.found.size() < kMaxMdnsAnswers) {
            Found f;
            f.interface = interface;
            f.protocol = protocol;
            f.answer.instance = name ? name : "";
            f.answer.host = host ? host : "";
            char text[AVAHI_ADDRESS_STR_MAX] = {};
            avahi_address_snprint(text, sizeof text, address);
            f.answer.address = text;
            f.answer.port = port;
            for (AvahiStringList* l = txt; l && f.answer.txt.size() < kMaxMdnsTxtStrings; l = avahi_string_list_get_next(l))
                f.answer.txt.emplace_back(reinterpret_cast<const char*>(avahi_string_list_get_text(l)),
                                          avahi_string_list_get_size(l));
            b.found.push_back(std::move(f));
        }
        // AVAHI_RESOLVER_FAILURE (gone, or no IPv4 address in time): nothing to try.
    } catch (...) {
        b.failed = true;
    }
    avahi_service_resolver_free(r);
}

void on_browsed(AvahiServiceBrowser*, AvahiIfIndex interface, AvahiProtocol protocol, AvahiBrowserEvent event,
                const char* name, const char* type, const char* domain, AvahiLookupResultFlags, void* self) {
    auto& b = *static_cast<Browse*>(self);
    try {
        switch (event) {
            case AVAHI_BROWSER_NEW:
                if (static_cast<std::size_t>(std::max(b.pending, 0)) + b.found.size() >= kMaxMdnsAnswers) break;
                // The server listens on IPv4 (server.listen), so ask for an
                // IPv4 address whichever transport the answer came over.
                if (avahi_service_resolver_new(b.client, interface, protocol, name, type, domain, AVAHI_PROTO_INET,
                                               static_cast<AvahiLookupFlags>(0), on_resolved, &b))
                    ++b.pending;
                break;
            case AVAHI_BROWSER_REMOVE:
                std::erase_if(b.found, [&](const Found& f) {
                    return f.interface == interface && f.protocol == protocol && f.answer.instance == name;
                });
                break;
            case AVAHI_BROWSER_ALL_FOR_NOW: b.all_for_now = true; break;
            case AVAHI_BROWSER_CACHE_EXHAUSTED: break;
            case AVAHI_BROWSER_FAILURE: b.fail(std::string("browsing failed: ") + why(b.client)); break;
        }
    } catch (...) {
        b.failed = true;
    }
}

}  // namespace

bool mdns_supported() { return true; }

Result<std::vector<MdnsAnswer>> browse_irp_mdns(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    Browse b;
    if (!(b.poll = avahi_simple_poll_new())) return make_error(Code::internal, "cannot make an Avahi poll object");
    int err = 0;
    // No AVAHI_CLIENT_NO_FAIL: a wallet that cannot reach the daemon says
    // so now rather than waiting for it.
    b.client = avahi_client_new(avahi_simple_poll_get(b.poll), static_cast<AvahiClientFlags>(0), on_client, &b, &err);
    if (!b.client)
        return make_error(Code::connection_closed,
                          std::string("cannot reach the Avahi daemon (is avahi-daemon running?): ") + avahi_strerror(err));
    if (!avahi_service_browser_new(b.client, AVAHI_IF_UNSPEC, AVAHI_PROTO_UNSPEC, kMdnsServiceType, nullptr,
                                   static_cast<AvahiLookupFlags>(0), on_browsed, &b))
        return make_error(Code::connection_closed, std::string("cannot browse ") + kMdnsServiceType + ".local: " + why(b.client));
    for (;;) {
        if (b.failed)
            return make_error(Code::connection_closed,
                              b.failure.empty() ? std::string("browsing _irp._tcp.local failed") : b.failure);
        if (b.all_for_now && b.pending <= 0) break;
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) break;
        const int r = avahi_simple_poll_iterate(b.poll, static_cast<int>(std::min<std::int64_t>(left.count() + 1, INT_MAX)));
        if (r > 0) break;  // quit requested (never, here)
        if (r < 0) return make_error(Code::internal, "the Avahi poll loop failed");
    }
    return b.answers();
}

}  // namespace irp::net
