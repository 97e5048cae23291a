// Blocking TCP for the example video server: one listening socket, and
// accepted connections with a receive and send timeout (a client that stops
// half-way through a handshake cannot hold the server).
#pragma once

#include <cstdint>
#include <string>

#include "irp/base/error.hpp"

namespace video {

struct Listener {
    int fd = -1;
    std::uint16_t port = 0;  // the bound port (the one picked when 0 was asked for)
};

// "127.0.0.1:0" style address; IPv4 only.
irp::Result<Listener> listen_on(const std::string& host_port);

struct Accepted {
    int fd = -1;
    std::string peer = {};  // "127.0.0.1:51234"
};
// Blocks until a client connects; sets SO_RCVTIMEO/SO_SNDTIMEO to `timeout_ms`.
irp::Result<Accepted> accept_one(const Listener& l, int timeout_ms);

}  // namespace video
