// The parts of mDNS discovery that need no daemon (include/irp/net/mdns.hpp):
// the TXT record both sides agree on, and the choice among answers. The
// browse itself is in mdns_avahi.cpp; a build without Avahi gets the stub at
// the end of this file.
#include "irp/net/mdns.hpp"

#include <algorithm>
#include <map>
#include <string_view>

#include "irp/core/transcript.hpp"

namespace irp::net {

namespace {

constexpr std::size_t kMaxTxtString = 255;  // one DNS character-string

std::string lower(std::string_view s) {
    std::string out(s);
    for (char& c : out)
        if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
    return out;
}

// Text from the network, for an error message: printable ASCII, bounded.
std::string shown(std::string_view s, std::size_t max = 64) {
    std::string out;
    for (const unsigned char c : s.substr(0, max)) out += (c >= 0x20 && c < 0x7f && c != '\'') ? static_cast<char>(c) : '?';
    return s.size() > max ? out + "..." : out;
}

bool looks_like_address(std::string_view d) { return d.find_first_not_of("0123456789.") == std::string_view::npos; }

}  // namespace

std::vector<std::string> irp_txt_record(const std::string& domain) {
    return {std::string("txtvers=") + kMdnsTxtVersion, "domain=" + domain};
}

Result<std::string> parse_irp_txt(const std::vector<std::string>& txt) {
    std::map<std::string, std::string> seen;  // txtvers and domain only
    const std::size_t n = std::min(txt.size(), kMaxMdnsTxtStrings);
    for (std::size_t i = 0; i < n; ++i) {
        const std::string& s = txt[i];
        if (s.size() > kMaxTxtString)
            return make_error(Code::field_invalid, "a TXT string is longer than 255 bytes");
        const std::size_t eq = s.find('=');
        const std::string key = lower(std::string_view(s).substr(0, eq));
        if (key != "txtvers" && key != "domain") continue;  // RFC 6763 6.4: unknown keys are ignored
        if (eq == std::string::npos)
            return make_error(Code::field_invalid, "TXT key '" + key + "' has no value");
        // RFC 6763 would take the first of two; an IRP server never sends two,
        // so two are a forgery or a fault, and the answer is ignored.
        if (!seen.emplace(key, s.substr(eq + 1)).second)
            return make_error(Code::field_invalid, "TXT key '" + key + "' is given twice");
    }
    const auto version = seen.find("txtvers");
    if (version == seen.end()) return make_error(Code::field_invalid, "the TXT record has no txtvers");
    if (version->second != kMdnsTxtVersion)
        return make_error(Code::field_invalid, "TXT version '" + shown(version->second, 16) + "' is not " + kMdnsTxtVersion);
    const auto domain = seen.find("domain");
    if (domain == seen.end()) return make_error(Code::field_invalid, "the TXT record names no domain");
    const std::string& d = domain->second;
    if (!is_valid_dns_name(d, true) || looks_like_address(d))
        return make_error(Code::field_invalid, "TXT domain '" + shown(d) + "' is not a lower-case DNS name");
    return d;
}

std::string describe(const MdnsAnswer& a) {
    return "'" + shown(a.instance) + "' at " + a.address + ":" + std::to_string(a.port);
}

Result<MdnsChoice> choose_mdns_servers(const std::vector<MdnsAnswer>& answers, const std::string& domain) {
    MdnsChoice out;
    // Domains in the order they first answered, each with its answers.
    std::vector<std::pair<std::string, std::vector<const MdnsAnswer*>>> by_domain;
    for (const auto& a : answers) {
        auto d = parse_irp_txt(a.txt);
        if (!d) {
            out.skipped.push_back(describe(a) + ": " + d.error().message);
            continue;
        }
        if (a.address.empty() || a.port == 0) {
            out.skipped.push_back(describe(a) + ": no address or port");
            continue;
        }
        auto it = std::find_if(by_domain.begin(), by_domain.end(), [&](const auto& e) { return e.first == *d; });
        if (it == by_domain.end()) it = by_domain.insert(by_domain.end(), {*d, {}});
        it->second.push_back(&a);
    }
    const auto listing = [&] {
        std::string s;
        for (const auto& [d, list] : by_domain) {
            s += (s.empty() ? "" : "; ") + d + " (";
            for (std::size_t i = 0; i < list.size(); ++i) s += (i ? ", " : "") + describe(*list[i]);
            s += ")";
        }
        for (const auto& why : out.skipped) s += (s.empty() ? "ignored " : "; ignored ") + why;
        return s;
    };
    if (by_domain.empty())
        return make_error(Code::deadline_exceeded, out.skipped.empty() ? std::string("no IRP server answered")
                                                                        : "no usable answer: " + listing());
    const auto chosen = domain.empty() ? by_domain.begin()
                                       : std::find_if(by_domain.begin(), by_domain.end(),
                                                      [&](const auto& e) { return e.first == domain; });
    if (chosen == by_domain.end())
        return make_error(Code::deadline_exceeded, "no server of domain " + domain + " answered; answered: " + listing());
    if (domain.empty() && by_domain.size() > 1)
        return make_error(Code::bad_argument, "several IRP domains answered: " + listing() + "; name the one to enroll in");
    out.domain = chosen->first;
    for (const MdnsAnswer* a : chosen->second) {
        const std::string at = a->address + ":" + std::to_string(a->port);
        if (std::find(out.servers.begin(), out.servers.end(), at) == out.servers.end()) out.servers.push_back(at);
    }
    return out;
}

#ifndef IRP_HAVE_AVAHI
bool mdns_supported() { return false; }

Result<std::vector<MdnsAnswer>> browse_irp_mdns(std::chrono::milliseconds) {
    return make_error(Code::bad_argument, "this build has no mDNS (Avahi) support (build with -DIRP_WITH_AVAHI=ON)");
}
#endif

}  // namespace irp::net
