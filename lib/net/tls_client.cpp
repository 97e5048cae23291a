// Blocking TLS client over Asio: each operation runs the private io_context
// until it completes or its timeout passes.
#include <asio.hpp>

#include "irp/net/client.hpp"

namespace irp::net {

using asio::ip::tcp;

struct TlsClientConnection::Impl {
    asio::io_context io;
    tcp::socket socket{io};
    std::unique_ptr<crypto::TlsEndpoint> tls;
    std::array<std::uint8_t, 16 * 1024> buf{};

    // Runs `io` until `done` or the timeout; cancels what is left.
    bool run_until(const bool& done, std::chrono::milliseconds timeout) {
        io.restart();
        io.run_for(timeout);
        if (done) return true;
        std::error_code ec;
        socket.cancel(ec);
        io.restart();
        io.run();
        return false;
    }

    Result<void> write_all(const Bytes& data, std::chrono::milliseconds timeout) {
        if (data.empty()) return {};
        bool done = false;
        std::error_code result;
        asio::async_write(socket, asio::buffer(data), [&](std::error_code ec, std::size_t) {
            result = ec;
            done = true;
        });
        if (!run_until(done, timeout)) return make_error(Code::deadline_exceeded, "write timed out");
        if (result) return make_error(Code::connection_closed, "write failed: " + result.message());
        return {};
    }

    // Reads once and feeds TLS; flushes whatever TLS wants to send.
    Result<void> read_once(std::chrono::milliseconds timeout) {
        bool done = false;
        std::error_code result;
        std::size_t got = 0;
        socket.async_read_some(asio::buffer(buf), [&](std::error_code ec, std::size_t n) {
            result = ec;
            got = n;
            done = true;
        });
        if (!run_until(done, timeout)) return make_error(Code::deadline_exceeded, "the server did not answer in time");
        if (result) return make_error(Code::connection_closed, "the server closed the connection");
        auto r = tls->receive_ciphertext(ByteView(buf.data(), got));
        (void)write_all(tls->take_ciphertext(), timeout);  // alerts included
        return r;
    }
};

TlsClientConnection::TlsClientConnection(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
TlsClientConnection::~TlsClientConnection() { close(); }

Result<std::unique_ptr<TlsClientConnection>> TlsClientConnection::connect(const std::string& host, std::uint16_t port,
                                                                          const crypto::TlsClientConfig& cfg,
                                                                          std::chrono::milliseconds timeout) {
    auto impl = std::make_unique<Impl>();
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    auto left = [&] {
        return std::max(std::chrono::milliseconds(1),
                        std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()));
    };
    std::error_code ec;
    tcp::resolver resolver(impl->io);
    const auto endpoints = resolver.resolve(host, std::to_string(port), ec);
    if (ec) return make_error(Code::connection_closed, "cannot resolve " + host + ": " + ec.message());
    bool done = false;
    std::error_code result;
    asio::async_connect(impl->socket, endpoints, [&](std::error_code e, const tcp::endpoint&) {
        result = e;
        done = true;
    });
    if (!impl->run_until(done, left())) return make_error(Code::deadline_exceeded, "connecting to " + host + " timed out");
    if (result)
        return make_error(Code::connection_closed,
                          "cannot connect to " + host + ":" + std::to_string(port) + ": " + result.message());
    impl->socket.set_option(tcp::no_delay(true), ec);

    impl->tls = crypto::TlsEndpoint::client(cfg);
    if (auto r = impl->write_all(impl->tls->take_ciphertext(), left()); !r) return r.error();
    while (!impl->tls->handshake_complete()) {
        if (auto r = impl->read_once(left()); !r) {
            if (r.error().code == Code::tls_failure) return r.error();
            return make_error(r.error().code, "TLS handshake with " + host + " failed: " + r.error().message);
        }
    }
    return std::unique_ptr<TlsClientConnection>(new TlsClientConnection(std::move(impl)));
}

Result<void> TlsClientConnection::send(ByteView plaintext) {
    if (auto r = impl_->tls->send_plaintext(plaintext); !r) return r;
    return impl_->write_all(impl_->tls->take_ciphertext(), std::chrono::seconds(30));
}

Result<Bytes> TlsClientConnection::receive(std::chrono::milliseconds timeout) {
    const auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
        Bytes plain = impl_->tls->take_plaintext();
        if (!plain.empty()) return plain;
        if (impl_->tls->peer_closed()) return make_error(Code::connection_closed, "the server closed the connection");
        const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now());
        if (left.count() <= 0) return make_error(Code::deadline_exceeded, "the server did not answer in time");
        if (auto r = impl_->read_once(left); !r) return r.error();
    }
}

Bytes TlsClientConnection::channel_binding() const { return impl_->tls->channel_binding(); }

void TlsClientConnection::close() {
    if (!impl_ || !impl_->socket.is_open()) return;
    impl_->tls->close();
    (void)impl_->write_all(impl_->tls->take_ciphertext(), std::chrono::milliseconds(500));
    std::error_code ec;
    impl_->socket.shutdown(tcp::socket::shutdown_both, ec);
    impl_->socket.close(ec);
}

Result<std::pair<std::string, std::uint16_t>> split_host_port(const std::string& s) {
    const auto colon = s.rfind(':');
    if (colon == std::string::npos) {
        if (s.empty()) return make_error(Code::bad_argument, "empty server address");
        return std::pair<std::string, std::uint16_t>{s, std::uint16_t{4604}};
    }
    const std::string host = s.substr(0, colon);
    const std::string port = s.substr(colon + 1);
    if (host.empty() || port.empty() || port.size() > 5 || port.find_first_not_of("0123456789") != std::string::npos)
        return make_error(Code::bad_argument, "server address '" + s + "' is not HOST:PORT");
    const unsigned long p = std::stoul(port);
    if (p == 0 || p > 65535) return make_error(Code::bad_argument, "port in '" + s + "' is out of range");
    return std::pair<std::string, std::uint16_t>{host, static_cast<std::uint16_t>(p)};
}

}  // namespace irp::net
