// A blocking TLS client connection for devices and tools: connect, send,
// receive with a timeout. Each call runs the Asio context only as long as it
// needs to, so no thread is started.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"
#include "irp/crypto/tls.hpp"

namespace irp::net {

class TlsClientConnection {
public:
    // Resolves, connects and completes the TLS handshake within `timeout`.
    static Result<std::unique_ptr<TlsClientConnection>> connect(const std::string& host, std::uint16_t port,
                                                                const crypto::TlsClientConfig& cfg,
                                                                std::chrono::milliseconds timeout);
    ~TlsClientConnection();

    Result<void> send(ByteView plaintext);
    // Returns the application bytes available within `timeout` (at least
    // one), or connection_closed / deadline_exceeded / tls_failure.
    Result<Bytes> receive(std::chrono::milliseconds timeout);
    Bytes channel_binding() const;
    void close();

    struct Impl;

private:
    explicit TlsClientConnection(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Splits "host:port"; the port defaults to 4604.
Result<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& s);

}  // namespace irp::net
