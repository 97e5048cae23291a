// The public HTTP listener (CRL, OCSP, account statements) on libmicrohttpd.
//
// This port faces relying parties, often the internet. It is event-driven: a
// few epoll threads serve every connection, so a peer that connects and stays
// silent, or trickles its request, holds a connection slot and a little
// memory, never a thread. Bounds, per connection:
//   - the request line and header fields fit in `connection_memory` (MHD's
//     per-connection pool), else MHD answers 431 (414 for a request line
//     alone) and closes;
//   - a body is at most `max_body` bytes: a longer declared one gets 413
//     before it is read; a chunked one that grows past it is closed;
//   - a connection silent for `idle_timeout_s` is closed;
//   - `max_connections` in all, and one source address (IPv6: one /64) has at
//     most `max_per_source` served: the first request on a connection beyond
//     that gets 503, code 503 `too_many_connections`, `Retry-After: 1`, and
//     the connection closes; such a connection has 1 s to send its request,
//     and a source with 4 of them waiting has further connections closed at
//     accept.
// Handlers run on the epoll threads and return whole answers (PublicAnswer).
#pragma once

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "irp/base/error.hpp"

namespace irp::server::admin {

struct PublicAnswer {
    int status = 200;
    std::string content_type;
    std::string body;
    std::vector<std::pair<std::string, std::string>> headers = {};
};

// method ("GET", "HEAD", "POST", ...), decoded path without the query, body.
using PublicHandler = std::function<PublicAnswer(const std::string& method, const std::string& path, const std::string& body)>;

struct PublicHttpLimits {
    unsigned threads = 8;                       // epoll threads; a slow handler (a CRL re-signed, a database wait) holds one
    unsigned max_connections = 4096;            // all sources together
    std::size_t max_per_source = 8;             // 0 = no bound
    unsigned idle_timeout_s = 10;               // a silent connection is closed
    std::size_t connection_memory = 64 * 1024;  // head and MHD's buffers, per connection
    std::size_t max_body = 64 * 1024;
};

// A JSON error like the admin API's: {"error":{"code":..,"name":..,"message":..}}.
PublicAnswer public_error(int status, Code code, const std::string& message);

class PublicHttpServer {
public:
    PublicHttpServer(PublicHttpLimits limits, PublicHandler handler);
    ~PublicHttpServer();
    PublicHttpServer(const PublicHttpServer&) = delete;
    PublicHttpServer& operator=(const PublicHttpServer&) = delete;

    // Binds host:port (port 0: any) and starts serving; returns the port.
    Result<std::uint16_t> start(const std::string& host, std::uint16_t port);
    void stop();

    // Changes max_per_source while serving (SIGHUP). Open connections stay.
    void set_max_per_source(std::size_t n);
    // Called for each connection refused by max_per_source. Set before start.
    std::function<void()> on_refused;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace irp::server::admin
