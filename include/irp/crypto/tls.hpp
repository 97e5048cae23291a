// A sans-I/O TLS endpoint: ciphertext in, plaintext out, and the reverse.
// The network adapter (lib/net) moves bytes between this and a socket; the
// implementation (lib/crypto/botan/tls.cpp) is the only code that knows which
// TLS library runs underneath.
//
// Policy (docs/PROTOCOL.md, "Transport"): TLS 1.2 only, ECDHE over X25519 or
// P-256, AEAD suites only (AES-GCM, ChaCha20-Poly1305), ECDSA server keys.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"
#include "irp/crypto/crypto.hpp"

namespace irp::crypto {

struct TlsServerConfig {
    std::vector<Bytes> chain;  // DER: the server certificate first
    std::shared_ptr<const PrivateKey> key;
    // Non-empty (DER CA certificates): ask for a client certificate, and
    // refuse the handshake when the client sends none, its CertificateVerify
    // does not verify, or its chain does not validate to one of these roots
    // for TLS client use. Revocation and what the client may do are the
    // caller's to decide, from peer_certificates() (irp/rp/verifier.hpp).
    // Empty: no client certificate is asked for (the IRP port: devices
    // prove their keys inside the protocol, docs/PROTOCOL.md).
    std::vector<Bytes> client_roots = {};
};

struct TlsClientConfig {
    std::vector<Bytes> trusted_roots;  // DER
    // The name the server certificate must carry: a DNS name (SAN dNSName),
    // or an IPv4 literal (SAN iPAddress).
    std::string server_name;
};

// The RFC 5705 exporter label that binds IRP proofs to one TLS connection.
inline constexpr const char* kChannelBindingLabel = "EXPORTER-IRP-v1-channel-binding";
inline constexpr std::size_t kChannelBindingSize = 32;

// The server's parsed credentials, made once and shared by every
// connection (parsing the chain per handshake is measurable work).
class TlsServerContext {
public:
    virtual ~TlsServerContext() = default;
};
std::shared_ptr<const TlsServerContext> make_tls_server_context(const TlsServerConfig& cfg);

class TlsEndpoint {
public:
    virtual ~TlsEndpoint() = default;

    static std::unique_ptr<TlsEndpoint> server(std::shared_ptr<const TlsServerContext> ctx);
    static std::unique_ptr<TlsEndpoint> server(const TlsServerConfig& cfg) { return server(make_tls_server_context(cfg)); }
    static std::unique_ptr<TlsEndpoint> client(const TlsClientConfig& cfg);

    // Feeds bytes read from the network. An error is final: send what
    // take_ciphertext() still holds (the alert) and close.
    virtual Result<void> receive_ciphertext(ByteView data) = 0;
    // Bytes to write to the network.
    virtual Bytes take_ciphertext() = 0;
    // Application bytes received so far.
    virtual Bytes take_plaintext() = 0;
    // Encrypts application bytes; only after handshake_complete().
    virtual Result<void> send_plaintext(ByteView data) = 0;
    virtual bool handshake_complete() const = 0;
    // The peer sent close_notify or a fatal alert.
    virtual bool peer_closed() const = 0;
    virtual void close() = 0;
    // RFC 5705 keying material for kChannelBindingLabel, empty context.
    virtual Bytes channel_binding() const = 0;
    // Once the handshake is complete: the certificates the client sent
    // (DER, leaf first), checked as TlsServerConfig::client_roots says.
    // Empty for a client endpoint and for a server that asked for none.
    virtual std::vector<Bytes> peer_certificates() const = 0;
};

}  // namespace irp::crypto
