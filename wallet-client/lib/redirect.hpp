// Following a Redirect (docs/PROTOCOL.md, "Redirects and discovery"): what the wallet
// checks before it connects to the server a directory named. The
// connection itself is the caller's (it owns the transport): it must use
// the hop's domain as the TLS server name, so the next server's certificate
// has to chain to the wallet's trusted roots and name that domain, and pass
// the domain as EnrollOptions::expected_domain, so the server must also
// say it serves that domain.
#pragma once

#include <string>
#include <vector>

#include "irp/base/error.hpp"
#include "irp/core/messages.hpp"

namespace irp::wallet {

// A device follows at most this many redirects in one enrollment.
inline constexpr std::size_t kMaxRedirects = 4;

struct Hop {
    std::string server;  // host:port
    std::string domain;  // lower-case DNS name
    bool operator==(const Hop&) const = default;
};

// The next hop, or bad_redirect: `server` is not host:port (host a DNS name
// or an IPv4 address, port 1-65535), `domain` is not a lower-case DNS name,
// the server was visited already in this enrollment (`visited`, the first
// server included), or kMaxRedirects hops were followed already.
Result<Hop> next_hop(const Redirect& r, const std::vector<Hop>& visited);

}  // namespace irp::wallet
