#include "redirect.hpp"

#include "irp/core/transcript.hpp"

#include <algorithm>

namespace irp::wallet {

namespace {

bool valid_server(std::string_view s) {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    const std::string_view port = s.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return false;
    const unsigned long p = std::stoul(std::string(port));
    return p >= 1 && p <= 65535 && is_valid_dns_name(s.substr(0, colon), false);
}

}  // namespace

Result<Hop> next_hop(const Redirect& r, const std::vector<Hop>& visited) {
    if (!valid_server(r.server))
        return make_error(Code::bad_redirect, "the redirect names no usable server (want host:port)");
    // A domain is a name: an all-numeric last label would make it an IPv4
    // address as a TLS server name.
    const auto last = r.domain.substr(r.domain.rfind('.') == std::string::npos ? 0 : r.domain.rfind('.') + 1);
    const bool numeric = !last.empty() && std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!is_valid_dns_name(r.domain, true) || numeric)
        return make_error(Code::bad_redirect, "the redirect names no usable domain (want a lower-case DNS name)");
    if (visited.size() > kMaxRedirects)
        return make_error(Code::bad_redirect, "more than " + std::to_string(kMaxRedirects) + " redirects");
    if (std::any_of(visited.begin(), visited.end(), [&](const Hop& h) { return h.server == r.server; }))
        return make_error(Code::bad_redirect, "redirected back to " + r.server + ", which was visited already");
    return Hop{r.server, r.domain};
}

}  // namespace irp::wallet
