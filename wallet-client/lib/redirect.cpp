#include "redirect.hpp"

#include <algorithm>

namespace irp::wallet {

namespace {

bool dns_label_char(char c, bool lower_only) {
    return (c >= 'a' && c <= 'z') || (!lower_only && c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '-';
}

// RFC 1123 host name: labels of 1-63 letters, digits and '-' (not at either
// end), 253 characters at most. An IPv4 address passes too.
bool valid_dns_name(std::string_view s, bool lower_only) {
    if (s.empty() || s.size() > 253) return false;
    std::size_t start = 0;
    while (start <= s.size()) {
        std::size_t dot = s.find('.', start);
        if (dot == std::string_view::npos) dot = s.size();
        const std::string_view label = s.substr(start, dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
        if (!std::all_of(label.begin(), label.end(), [&](char c) { return dns_label_char(c, lower_only); })) return false;
        start = dot + 1;
    }
    return true;
}

bool valid_server(std::string_view s) {
    const auto colon = s.rfind(':');
    if (colon == std::string_view::npos || colon == 0) return false;
    const std::string_view port = s.substr(colon + 1);
    if (port.empty() || port.size() > 5 || !std::all_of(port.begin(), port.end(), [](char c) { return c >= '0' && c <= '9'; }))
        return false;
    const unsigned long p = std::stoul(std::string(port));
    return p >= 1 && p <= 65535 && valid_dns_name(s.substr(0, colon), false);
}

}  // namespace

Result<Hop> next_hop(const Redirect& r, const std::vector<Hop>& visited) {
    if (!valid_server(r.server))
        return make_error(Code::bad_redirect, "the redirect names no usable server (want host:port)");
    // A domain is a name: an all-numeric last label would make it an IPv4
    // address as a TLS server name.
    const auto last = r.domain.substr(r.domain.rfind('.') == std::string::npos ? 0 : r.domain.rfind('.') + 1);
    const bool numeric = !last.empty() && std::all_of(last.begin(), last.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!valid_dns_name(r.domain, true) || numeric)
        return make_error(Code::bad_redirect, "the redirect names no usable domain (want a lower-case DNS name)");
    if (visited.size() > kMaxRedirects)
        return make_error(Code::bad_redirect, "more than " + std::to_string(kMaxRedirects) + " redirects");
    if (std::any_of(visited.begin(), visited.end(), [&](const Hop& h) { return h.server == r.server; }))
        return make_error(Code::bad_redirect, "redirected back to " + r.server + ", which was visited already");
    return Hop{r.server, r.domain};
}

}  // namespace irp::wallet
