#include "tls_connection.hpp"

#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>
#include <cstring>
#include <string>

namespace video {

using irp::Code;
using irp::make_error;

TlsConnection::TlsConnection(int fd, std::shared_ptr<const irp::crypto::TlsServerContext> ctx)
    : fd_(fd), tls_(irp::crypto::TlsEndpoint::server(std::move(ctx))) {}

TlsConnection::~TlsConnection() {
    if (fd_ >= 0) ::close(fd_);
}

irp::Result<void> TlsConnection::flush() {
    const irp::Bytes out = tls_->take_ciphertext();
    std::size_t done = 0;
    while (done < out.size()) {
        const ssize_t n = ::send(fd_, out.data() + done, out.size() - done, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return make_error(Code::connection_closed, std::string("send: ") + std::strerror(errno));
        done += static_cast<std::size_t>(n);
    }
    return {};
}

irp::Result<void> TlsConnection::handshake() {
    // One deadline and one byte budget for the whole handshake: the socket's
    // receive timeout is per recv, so without them a client sending a byte
    // every few seconds would hold this one-connection-at-a-time server.
    constexpr std::size_t kMaxHandshakeBytes = 64 * 1024;
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(10);
    std::size_t received = 0;
    std::uint8_t buf[16 * 1024];
    while (!tls_->handshake_complete()) {
        if (std::chrono::steady_clock::now() > deadline)
            return make_error(Code::deadline_exceeded, "the client took more than 10 s for the TLS handshake");
        const ssize_t n = ::recv(fd_, buf, sizeof buf, 0);
        if (n < 0 && errno == EINTR) continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return make_error(Code::deadline_exceeded, "the client took too long for the TLS handshake");
        if (n <= 0) return make_error(Code::connection_closed, "the client closed the connection during the handshake");
        received += static_cast<std::size_t>(n);
        if (received > kMaxHandshakeBytes)
            return make_error(Code::frame_too_large, "the client sent more than 64 KiB of handshake");
        auto fed = tls_->receive_ciphertext(irp::ByteView(buf, static_cast<std::size_t>(n)));
        (void)flush();  // the next flight, or the alert that ends it
        if (!fed) return fed.error();
        if (tls_->peer_closed()) return make_error(Code::connection_closed, "the client ended the handshake");
    }
    return {};
}

irp::Result<void> TlsConnection::send(std::string_view text) {
    if (auto r = tls_->send_plaintext(irp::ByteView(reinterpret_cast<const std::uint8_t*>(text.data()), text.size()));
        !r)
        return r;
    return flush();
}

void TlsConnection::close() {
    tls_->close();
    (void)flush();
    ::shutdown(fd_, SHUT_WR);
    // Read what the client still sends (its close_notify) before the socket
    // closes: closing with unread bytes sends a reset, which can make the
    // client drop the answer it has not read yet.
    timeval tv{1, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    std::uint8_t buf[4096];
    for (int i = 0; i < 16 && ::recv(fd_, buf, sizeof buf, 0) > 0; ++i) {
    }
}

}  // namespace video
