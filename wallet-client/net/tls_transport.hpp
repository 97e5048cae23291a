// The wallet's Transport over a real TLS connection (lib/net). Kept apart
// from the wallet core, which firmware links without any socket code.
#pragma once

#include <memory>

#include "idwallet.hpp"
#include "irp/net/client.hpp"

namespace irp::wallet {

class TlsTransport final : public Transport {
public:
    explicit TlsTransport(std::unique_ptr<net::TlsClientConnection> c) : c_(std::move(c)) {}
    Result<void> send(ByteView d) override { return c_->send(d); }
    Result<Bytes> receive(Time t) override { return c_->receive(t); }
    Bytes channel_binding() override { return c_->channel_binding(); }

private:
    std::unique_ptr<net::TlsClientConnection> c_;
};

}  // namespace irp::wallet
