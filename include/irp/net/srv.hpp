// Finding a domain's IRP server without configuration: DNS SRV records
// `_irp._tcp.<domain>` (RFC 2782), through the system resolver
// (/etc/resolv.conf). The TLS server name stays the domain asked about,
// never the SRV target: the records are not signed, so the target only
// says where to connect, and the server must still prove it serves the
// domain (docs/PROTOCOL.md, "Discovery").
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "irp/base/error.hpp"

namespace irp::net {

struct SrvTarget {
    std::string host;  // without the trailing dot
    std::uint16_t port = 0;
    std::uint16_t priority = 0;
    std::uint16_t weight = 0;
};

// The SRV records of `_irp._tcp.<domain>`, as the DNS answered (at most
// 64); order_srv gives the order to try them. Errors: bad_argument (not a DNS name), not_found (no such
// name, or no SRV record, or only the "." target that says "no service
// here"), connection_closed (the resolver could not be asked, or failed
// for now: try again later).
Result<std::vector<SrvTarget>> resolve_irp_srv(const std::string& domain);

// RFC 2782's order, nearly: lowest priority first; within one priority,
// drawn at random with chances in proportion to the weights (uniform() in
// [0, 1)). Weight-0 records come after the weighted ones, in the order
// given (RFC 2782 gives them a very small chance of coming first).
std::vector<SrvTarget> order_srv(std::vector<SrvTarget> records, const std::function<double()>& uniform);

}  // namespace irp::net
