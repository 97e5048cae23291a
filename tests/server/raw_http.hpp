// Raw HTTP over loopback sockets, for the listener tests: what a peer sends
// byte for byte, and everything it gets back. Linux routes all of
// 127.0.0.0/8 to loopback, so a client bound to 127.0.0.2 is another source.
#pragma once

#include <doctest/doctest.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cstdint>
#include <string>
#include <thread>

namespace irp::test {

// A connection to 127.0.0.1:port from `source` (127.0.0.1 unless told),
// with a 3 s receive timeout.
inline int connect_loopback(int port, const char* source = nullptr) {
    const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
    if (source) {
        sockaddr_in from{};
        from.sin_family = AF_INET;
        REQUIRE(::inet_pton(AF_INET, source, &from.sin_addr) == 1);
        REQUIRE(::bind(fd, reinterpret_cast<sockaddr*>(&from), sizeof from) == 0);
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(static_cast<std::uint16_t>(port));
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    REQUIRE(::connect(fd, reinterpret_cast<sockaddr*>(&a), sizeof a) == 0);
    timeval tv{3, 0};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

inline void send_all(int fd, const std::string& s) {
    for (std::size_t off = 0; off < s.size();) {
        const ssize_t r = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
        if (r <= 0) return;  // the server may close on us: that is what some cases expect
        off += static_cast<std::size_t>(r);
    }
}

// Everything the server sends until it closes (or 3 s pass).
inline std::string read_all(int fd) {
    std::string out;
    char buf[4096];
    for (;;) {
        const ssize_t r = ::recv(fd, buf, sizeof buf, 0);
        if (r <= 0) break;
        out.append(buf, static_cast<std::size_t>(r));
    }
    return out;
}

inline int count(const std::string& hay, const std::string& needle) {
    int n = 0;
    for (auto p = hay.find(needle); p != std::string::npos; p = hay.find(needle, p + 1)) ++n;
    return n;
}

// Sends `request` on a new connection (while reading, so a server that
// answers early is not blocked) and returns all the answer.
inline std::string roundtrip(int port, const std::string& request, const char* source = nullptr) {
    const int fd = connect_loopback(port, source);
    std::thread sender([&] { send_all(fd, request); });
    std::string out = read_all(fd);
    sender.join();
    ::close(fd);
    return out;
}

}  // namespace irp::test
