// DNS SRV lookup through libresolv (res_nquery, ns_parserr): the system
// resolver, its configuration and its parser; nothing of DNS is parsed here
// by hand.
#include "irp/net/srv.hpp"

#include "irp/core/transcript.hpp"

#include <arpa/nameser.h>
#include <netdb.h>
#include <netinet/in.h>
#include <resolv.h>

#include <algorithm>
#include <vector>
#include <cstring>
#include <map>

namespace irp::net {

namespace {

// A DNS name with room for "_irp._tcp." in front (the whole query name
// stays within 253 characters); no trailing dot: it is also the TLS name.
bool valid_domain(const std::string& d) { return d.size() <= 240 && is_valid_dns_name(d, false); }

}  // namespace

std::vector<SrvTarget> order_srv(std::vector<SrvTarget> records, const std::function<double()>& uniform) {
    std::stable_sort(records.begin(), records.end(),
                     [](const SrvTarget& a, const SrvTarget& b) { return a.priority < b.priority; });
    std::vector<SrvTarget> out;
    out.reserve(records.size());
    auto begin = records.begin();
    while (begin != records.end()) {
        auto end = std::find_if(begin, records.end(), [&](const SrvTarget& r) { return r.priority != begin->priority; });
        std::vector<SrvTarget> group(begin, end);
        while (!group.empty()) {
            std::uint64_t total = 0;
            for (const auto& r : group) total += r.weight;
            std::size_t pick = 0;
            if (total > 0) {
                const double draw = std::clamp(uniform(), 0.0, 0.999999999) * static_cast<double>(total);
                std::uint64_t sum = 0;
                for (pick = 0; pick < group.size(); ++pick) {
                    sum += group[pick].weight;
                    if (draw < static_cast<double>(sum)) break;
                }
                pick = std::min(pick, group.size() - 1);
            }
            out.push_back(group[pick]);
            group.erase(group.begin() + static_cast<std::ptrdiff_t>(pick));
        }
        begin = end;
    }
    return out;
}

Result<std::vector<SrvTarget>> resolve_irp_srv(const std::string& domain) {
    if (!valid_domain(domain)) return make_error(Code::bad_argument, "'" + domain + "' is not a DNS name");
    const std::string qname = "_irp._tcp." + domain;
    struct __res_state state;
    std::memset(&state, 0, sizeof state);
    if (res_ninit(&state) != 0) return make_error(Code::connection_closed, "cannot initialise the DNS resolver");
    // Seconds, not the resolver's default of 5 s x 2 tries per name server.
    state.retrans = 2;
    state.retry = 2;
    // Room for the largest DNS message, so an answer is never cut short.
    std::vector<unsigned char> answer(NS_MAXMSG);
    const int len = res_nquery(&state, qname.c_str(), ns_c_in, ns_t_srv, answer.data(), static_cast<int>(answer.size()));
    const int herr = state.res_h_errno;
    std::vector<SrvTarget> records;
    if (len < 0) {
        res_nclose(&state);
        if (herr == HOST_NOT_FOUND || herr == NO_DATA)
            return make_error(Code::not_found, "no SRV record " + qname);
        return make_error(Code::connection_closed, "DNS lookup of " + qname + " failed (try again later)");
    }
    ns_msg msg;
    if (ns_initparse(answer.data(), std::min<int>(len, static_cast<int>(answer.size())), &msg) != 0) {
        res_nclose(&state);
        return make_error(Code::connection_closed, "the DNS answer for " + qname + " does not parse");
    }
    const int count = ns_msg_count(msg, ns_s_an);
    for (int i = 0; i < count && records.size() < 64; ++i) {
        ns_rr rr;
        if (ns_parserr(&msg, ns_s_an, i, &rr) != 0) break;
        if (ns_rr_type(rr) != ns_t_srv || ns_rr_rdlen(rr) < 7) continue;
        const unsigned char* rd = ns_rr_rdata(rr);
        SrvTarget t;
        t.priority = static_cast<std::uint16_t>(ns_get16(rd));
        t.weight = static_cast<std::uint16_t>(ns_get16(rd + 2));
        t.port = static_cast<std::uint16_t>(ns_get16(rd + 4));
        char name[NS_MAXDNAME];
        if (ns_name_uncompress(ns_msg_base(msg), ns_msg_end(msg), rd + 6, name, sizeof name) < 0) continue;
        t.host = name;
        while (!t.host.empty() && t.host.back() == '.') t.host.pop_back();
        if (t.host.empty() || t.port == 0) continue;  // "." : decidedly not available here (RFC 2782)
        records.push_back(std::move(t));
    }
    res_nclose(&state);
    if (records.empty()) return make_error(Code::not_found, "no usable SRV record " + qname);
    return records;
}

}  // namespace irp::net
