// A cpp-httplib server whose connections read each request within bounds:
// the admin port (the public port is public_http.hpp).
//
// cpp-httplib 0.11 (Debian 12) reads a request line and header fields with
// no size limit, and gives a peer 5 s per read with no limit on the whole
// request. That let one peer make the server hold gigabytes (a request line
// that never ends: 4 connections sending 1 GB each took the process to
// 4.4 GB), or keep a worker thread forever by trickling a byte every few
// seconds. This server reads every connection
// through a stream of ours that enforces, per request:
//   - the head (request line and header fields, up to the empty line) is at
//     most `max_head` bytes, else the peer gets 431 and the connection closes;
//   - the whole request (head and body) arrives within `request_deadline` of
//     the moment the server started reading it, else 408 and close.
// The body stays bounded by set_payload_max_length, as before. Parsing,
// routing and responses are cpp-httplib's; the keep-alive loop is ours (it
// keeps bytes already read for the next request, which cpp-httplib 0.11's
// own loop drops, so pipelined requests are answered).
#pragma once

#include <httplib.h>

#include <chrono>
#include <cstddef>

namespace irp::server::admin {

struct HttpLimits {
    std::size_t max_head = 32 * 1024;
    std::chrono::milliseconds request_deadline{10'000};
    // Worker threads: each serves one connection at a time, including while
    // it waits for a peer's first byte or next keep-alive request (5 s).
    std::size_t threads = 8;
};

class BoundedHttpServer final : public httplib::Server {
public:
    explicit BoundedHttpServer(HttpLimits limits = {}) : limits_(limits) {
        new_task_queue = [n = limits_.threads] { return new httplib::ThreadPool(n); };
    }
    const HttpLimits& limits() const { return limits_; }

private:
    bool process_and_close_socket(socket_t sock) override;
    HttpLimits limits_;
};

}  // namespace irp::server::admin
