#include "listener.hpp"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

namespace video {

using irp::Code;
using irp::make_error;

irp::Result<Listener> listen_on(const std::string& host_port) {
    const auto colon = host_port.rfind(':');
    if (colon == std::string::npos) return make_error(Code::bad_argument, "--listen wants HOST:PORT, not " + host_port);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    const std::string host = host_port.substr(0, colon), port = host_port.substr(colon + 1);
    if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1 || port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535)
        return make_error(Code::bad_argument, "--listen wants an IPv4 HOST:PORT, not " + host_port);
    addr.sin_port = htons(static_cast<std::uint16_t>(std::stoul(port)));

    Listener l;
    l.fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (l.fd < 0) return make_error(Code::internal, std::string("socket: ") + std::strerror(errno));
    const int one = 1;
    ::setsockopt(l.fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (::bind(l.fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0 || ::listen(l.fd, 16) != 0) {
        const std::string why = std::strerror(errno);
        ::close(l.fd);
        return make_error(Code::bad_argument, "cannot listen on " + host_port + ": " + why);
    }
    socklen_t len = sizeof addr;
    ::getsockname(l.fd, reinterpret_cast<sockaddr*>(&addr), &len);
    l.port = ntohs(addr.sin_port);
    return l;
}

irp::Result<Accepted> accept_one(const Listener& l, int timeout_ms) {
    sockaddr_in addr{};
    socklen_t len = sizeof addr;
    Accepted a;
    do {
        a.fd = ::accept4(l.fd, reinterpret_cast<sockaddr*>(&addr), &len, SOCK_CLOEXEC);
    } while (a.fd < 0 && errno == EINTR);
    if (a.fd < 0) return make_error(Code::internal, std::string("accept: ") + std::strerror(errno));
    timeval tv{};
    tv.tv_sec = timeout_ms / 1000;
    tv.tv_usec = (timeout_ms % 1000) * 1000;
    ::setsockopt(a.fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(a.fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    char ip[INET_ADDRSTRLEN] = {};
    ::inet_ntop(AF_INET, &addr.sin_addr, ip, sizeof ip);
    a.peer = std::string(ip) + ":" + std::to_string(ntohs(addr.sin_port));
    return a;
}

}  // namespace video
