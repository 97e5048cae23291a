// Enrolling across redirects (cli.hpp, enroll_following): a directory
// answers with Redirect{server, domain}; the wallet checks it
// (wallet-client/lib/redirect.hpp) and enrolls again at that server, over a
// new TLS connection whose server name is the redirect's domain. So the
// next server's certificate must chain to the wallet's trusted roots and
// name that domain, and the server must say it serves it. A server found by
// mDNS is held to the same two checks for the domain its TXT record named.
#include "cli.hpp"
#include "redirect.hpp"

namespace irp::cli {

Result<wallet::Outcome> enroll_following(Connection& at, wallet::Storage& storage, wallet::EnrollOptions o,
                                         crypto::Random& rng, const wallet::Clock& clock,
                                         std::chrono::milliseconds timeout, const std::function<void(const std::string&)>& note) {
    // Asking again where an earlier redirect led (a held request): that
    // server must still say it serves the domain.
    if (!at.via.empty()) o.expected_domain = at.server_name;
    // Where this enrollment starts, before discovery fills in a domain.
    const std::string start = where(at);
    std::vector<wallet::Hop> visited{{start, at.server_name}};
    for (;;) {
        Reached reached;
        auto t = connect(at, timeout, &reached);
        if (!t) return make_error(t.error().code, "cannot reach " + where(at) + ": " + t.error().message);
        if (at.mdns) {
            // The certificate named this domain; the server must say so too.
            at.server = reached.server;
            at.server_name = reached.domain;
            o.expected_domain = reached.domain;
        }
        auto r = wallet::enroll(**t, storage, o, rng, clock);
        if (!r || r->kind != wallet::Outcome::Kind::redirect) return r;
        auto hop = wallet::next_hop(r->redirect, visited);
        if (!hop) return make_error(hop.error().code, where(at) + " redirected to " + r->redirect.server + " (domain " +
                                                          r->redirect.domain + "): " + hop.error().message);
        if (note) note("redirected by " + where(at) + " to " + hop->server + " (domain " + hop->domain + ")");
        visited.push_back(*hop);
        if (at.via.empty()) at.via = start;
        at.server = hop->server;
        at.server_name = hop->domain;
        at.discover.clear();
        at.mdns = false;
        o.expected_domain = hop->domain;
    }
}

}  // namespace irp::cli
