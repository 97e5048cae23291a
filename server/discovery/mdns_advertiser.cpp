// The DNS-SD advertisement through libavahi-client (mdns_advertiser.hpp).
// Avahi calls back on its own thread with its lock held (and, from within
// avahi_client_new and avahi_entry_group_new, on the caller's): the
// callbacks only use the object they are handed and the Impl, never block,
// and let no exception out into C.
#include "discovery/mdns_advertiser.hpp"

#include <arpa/inet.h>
#include <ifaddrs.h>
#include <net/if.h>

#include <avahi-client/client.h>
#include <avahi-client/publish.h>
#include <avahi-common/alternative.h>
#include <avahi-common/error.h>
#include <avahi-common/malloc.h>
#include <avahi-common/strlst.h>
#include <avahi-common/thread-watch.h>

#include <cstring>

#include "irp/net/mdns.hpp"

namespace irp::server {

namespace {

// How many alternative names are tried for one registration before giving up.
constexpr int kMaxRenames = 16;

// Where to advertise for a listen host: every interface for the wildcard or
// a host name, the interface holding an IPv4 address, nothing for loopback
// (Avahi does not announce on it, and devices could not connect to it).
struct Where {
    bool advertise = true;
    AvahiIfIndex interface = AVAHI_IF_UNSPEC;
    std::string interface_name{};
    std::string note{};
};

Where where_for(const std::string& host) {
    Where w;
    in_addr want{};
    if (host == "localhost" || (inet_pton(AF_INET, host.c_str(), &want) == 1 && (ntohl(want.s_addr) >> 24) == 127)) {
        w.advertise = false;
        w.note = "server.listen is a loopback address (" + host + "): devices on the network could not connect";
        return w;
    }
    if (host == "0.0.0.0" || inet_pton(AF_INET, host.c_str(), &want) != 1) return w;
    ifaddrs* list = nullptr;
    if (getifaddrs(&list) != 0) return w;
    for (ifaddrs* i = list; i; i = i->ifa_next) {
        if (!i->ifa_addr || i->ifa_addr->sa_family != AF_INET || !i->ifa_name) continue;
        in_addr have{};
        std::memcpy(&have, &reinterpret_cast<const sockaddr_in*>(i->ifa_addr)->sin_addr, sizeof have);
        if (have.s_addr != want.s_addr) continue;
        const unsigned index = if_nametoindex(i->ifa_name);
        if (index != 0) {
            w.interface = static_cast<AvahiIfIndex>(index);
            w.interface_name = i->ifa_name;
        }
        break;
    }
    freeifaddrs(list);
    if (w.interface_name.empty()) w.note = "no interface holds " + host + "; advertising on every interface";
    return w;
}

}  // namespace

struct MdnsAdvertiser::Impl {
    MdnsAdvertisement what{};
    MdnsLog log{};
    std::string name{};  // the instance name, after any collision
    Where where{};
    AvahiThreadedPoll* poll = nullptr;
    AvahiClient* client = nullptr;
    AvahiEntryGroup* group = nullptr;
    bool waiting_said = false;  // "waiting for the daemon" logged since the last connection
    bool established = false;
    int renames = 0;  // in this registration

    void say(const std::string& outcome, std::vector<LogField> more = {}) {
        if (!log) return;
        std::vector<LogField> fields{{"outcome", outcome}, {"name", printable(name, true, 80)}};
        for (auto& f : more) fields.push_back(std::move(f));
        log(fields);
    }

    static const char* why(AvahiClient* c) { return avahi_strerror(avahi_client_errno(c)); }

    static void client_cb(AvahiClient* c, AvahiClientState s, void* self) {
        try {
            static_cast<Impl*>(self)->on_client(c, s);
        } catch (...) {
        }
    }
    static void group_cb(AvahiEntryGroup* g, AvahiEntryGroupState s, void* self) {
        try {
            static_cast<Impl*>(self)->on_group(g, s);
        } catch (...) {
        }
    }

    void on_client(AvahiClient* c, AvahiClientState s) {
        switch (s) {
            case AVAHI_CLIENT_S_RUNNING:
                waiting_said = false;
                publish(c);
                break;
            case AVAHI_CLIENT_S_COLLISION:    // our host name is taken: Avahi picks another,
            case AVAHI_CLIENT_S_REGISTERING:  // then says RUNNING, and we register again
                if (group) avahi_entry_group_reset(group);
                established = false;
                break;
            case AVAHI_CLIENT_CONNECTING:
                if (!waiting_said)
                    say("waiting", {{"reason", "the Avahi daemon is not running or not reachable over D-Bus; serving "
                                               "without advertising until it starts"}});
                waiting_said = true;
                break;
            case AVAHI_CLIENT_FAILURE:
                if (avahi_client_errno(c) == AVAHI_ERR_DISCONNECTED) {
                    say("disconnected", {{"reason", "the Avahi daemon went away; advertising again when it is back"}});
                    reconnect(c);
                } else {
                    say("failed", {{"reason", std::string("Avahi client: ") + why(c) + "; not advertising"}});
                }
                break;
        }
    }

    // A daemon restart ends the D-Bus connection: the client (and with it
    // the group) is dead. A new one waits for the daemon (NO_FAIL).
    void reconnect(AvahiClient* dead) {
        group = nullptr;
        established = false;
        if (client == dead) client = nullptr;
        avahi_client_free(dead);
        int err = 0;
        AvahiClient* fresh = avahi_client_new(avahi_threaded_poll_get(poll), AVAHI_CLIENT_NO_FAIL, client_cb, this, &err);
        if (!fresh) {
            say("failed", {{"reason", std::string("cannot reconnect to the Avahi daemon: ") + avahi_strerror(err)}});
            return;
        }
        client = fresh;
    }

    void on_group(AvahiEntryGroup* g, AvahiEntryGroupState s) {
        AvahiClient* c = avahi_entry_group_get_client(g);
        switch (s) {
            case AVAHI_ENTRY_GROUP_ESTABLISHED:
                established = true;
                renames = 0;
                say("advertised", {{"service", std::string(net::kMdnsServiceType) + ".local"},
                                   {"port", std::to_string(what.port)},
                                   {"domain", what.domain},
                                   {"interface", where.interface_name.empty() ? "all" : where.interface_name}});
                break;
            case AVAHI_ENTRY_GROUP_COLLISION:
                // Another service on the network has this name.
                established = false;
                if (!rename()) return;
                avahi_entry_group_reset(g);
                publish(c);
                break;
            case AVAHI_ENTRY_GROUP_FAILURE:
                established = false;
                say("failed", {{"reason", std::string("registration: ") + why(c)}});
                break;
            case AVAHI_ENTRY_GROUP_UNCOMMITED:
            case AVAHI_ENTRY_GROUP_REGISTERING: break;
        }
    }

    bool rename() {
        if (++renames > kMaxRenames) {
            say("failed", {{"reason", "the name is taken, and so were " + std::to_string(kMaxRenames) + " alternatives"}});
            return false;
        }
        const std::string before = name;
        char* alt = avahi_alternative_service_name(name.c_str());
        if (!alt) return false;
        name = alt;
        avahi_free(alt);
        say("renamed", {{"reason", "'" + printable(before, true, 80) + "' is taken on the network"}});
        return true;
    }

    void publish(AvahiClient* c) {
        if (!group && !(group = avahi_entry_group_new(c, group_cb, this))) {
            say("failed", {{"reason", std::string("cannot make an Avahi entry group: ") + why(c)}});
            return;
        }
        if (!avahi_entry_group_is_empty(group)) return;  // registered already
        for (;;) {
            AvahiStringList* txt = nullptr;
            const auto strings = net::irp_txt_record(what.domain);
            for (auto it = strings.rbegin(); it != strings.rend(); ++it)  // add() prepends
                txt = avahi_string_list_add(txt, it->c_str());
            // IPv4 only, as the listener (server.listen is an IPv4 address or name).
            const int r = avahi_entry_group_add_service_strlst(group, where.interface, AVAHI_PROTO_INET,
                                                               static_cast<AvahiPublishFlags>(0), name.c_str(),
                                                               net::kMdnsServiceType, nullptr, nullptr, what.port, txt);
            avahi_string_list_free(txt);
            if (r == AVAHI_ERR_COLLISION) {  // a local service has this name
                if (!rename()) return;
                avahi_entry_group_reset(group);
                continue;
            }
            if (r < 0) {
                say("failed", {{"reason", std::string("cannot add the service: ") + avahi_strerror(r)}});
                return;
            }
            if (const int cr = avahi_entry_group_commit(group); cr < 0)
                say("failed", {{"reason", std::string("cannot commit the service: ") + avahi_strerror(cr)}});
            return;
        }
    }
};

bool MdnsAdvertiser::supported() { return true; }

MdnsAdvertiser::MdnsAdvertiser(MdnsAdvertisement what, MdnsLog log) : impl_(std::make_unique<Impl>()) {
    impl_->name = what.instance.empty() ? default_instance_name(what.domain) : what.instance;
    impl_->what = std::move(what);
    impl_->log = std::move(log);
}

MdnsAdvertiser::~MdnsAdvertiser() { stop(); }

Result<void> MdnsAdvertiser::start() {
    Impl& m = *impl_;
    if (m.poll) return {};
    m.where = where_for(m.what.listen_host);
    if (!m.where.advertise) {
        m.say("skipped", {{"reason", m.where.note + "; not advertising (set server.listen to the LAN address or 0.0.0.0)"}});
        return {};
    }
    if (!m.where.note.empty()) m.say("notice", {{"reason", m.where.note}});
    if (!(m.poll = avahi_threaded_poll_new())) return make_error(Code::internal, "cannot make an Avahi poll thread");
    int err = 0;
    // Callbacks run on this thread until the poll thread starts.
    m.client = avahi_client_new(avahi_threaded_poll_get(m.poll), AVAHI_CLIENT_NO_FAIL, Impl::client_cb, &m, &err);
    if (!m.client) {
        avahi_threaded_poll_free(m.poll);
        m.poll = nullptr;
        m.say("failed", {{"reason", std::string("cannot make an Avahi client: ") + avahi_strerror(err)}});
        return {};  // serving matters more than being found
    }
    if (avahi_threaded_poll_start(m.poll) < 0) {
        avahi_client_free(m.client);
        m.client = nullptr;
        m.group = nullptr;
        avahi_threaded_poll_free(m.poll);
        m.poll = nullptr;
        return make_error(Code::internal, "cannot start the Avahi poll thread");
    }
    return {};
}

void MdnsAdvertiser::stop() {
    Impl& m = *impl_;
    if (!m.poll) return;
    avahi_threaded_poll_stop(m.poll);  // joins the thread: no callback runs after this
    const bool was = m.established;
    if (m.group) {
        avahi_entry_group_reset(m.group);  // withdrawn now, not when the D-Bus connection ends
        avahi_entry_group_free(m.group);
        m.group = nullptr;
    }
    if (m.client) avahi_client_free(m.client);
    m.client = nullptr;
    avahi_threaded_poll_free(m.poll);
    m.poll = nullptr;
    m.established = false;
    if (was) m.say("withdrawn");
}

}  // namespace irp::server
