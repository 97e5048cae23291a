// One TLS connection on an accepted socket, through the project's sans-I/O
// endpoint (irp/crypto/tls.hpp): this file moves bytes between the socket
// and the endpoint, blocking, until the handshake is done or fails.
#pragma once

#include <memory>
#include <string_view>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"
#include "irp/crypto/tls.hpp"

namespace video {

class TlsConnection {
public:
    // Takes ownership of `fd` (closed by the destructor).
    TlsConnection(int fd, std::shared_ptr<const irp::crypto::TlsServerContext> ctx);
    ~TlsConnection();
    TlsConnection(const TlsConnection&) = delete;
    TlsConnection& operator=(const TlsConnection&) = delete;

    // Reads and writes until the handshake completes. On failure the alert
    // the endpoint produced has been sent; the error says why (a missing or
    // untrusted client certificate, a timeout, the peer went away).
    irp::Result<void> handshake();
    // The client's certificates, leaf first (DER), once handshake() is ok.
    std::vector<irp::Bytes> peer_certificates() const { return tls_->peer_certificates(); }
    irp::Result<void> send(std::string_view text);
    // close_notify, then the socket is shut down for writing.
    void close();

private:
    irp::Result<void> flush();

    int fd_ = -1;
    std::unique_ptr<irp::crypto::TlsEndpoint> tls_;
};

}  // namespace video
