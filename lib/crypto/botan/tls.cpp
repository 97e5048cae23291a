// TlsEndpoint on Botan 2's TLS channel, which is itself sans-I/O: we feed it
// ciphertext and collect what its callbacks emit.
#include <botan/auto_rng.h>
#include <botan/system_rng.h>
#include <botan/certstor.h>
#include <botan/credentials_manager.h>
#include <botan/tls_client.h>
#include <botan/tls_exceptn.h>
#include <botan/tls_policy.h>
#include <botan/tls_server.h>
#include <botan/tls_session_manager.h>
#include <botan/x509path.h>

#include <arpa/inet.h>

#include "botan_glue.hpp"
#include "irp/crypto/tls.hpp"

namespace irp::crypto {

namespace {

// docs/PROTOCOL.md, "Transport": TLS 1.2, ECDHE (X25519, P-256), AEAD only.
class IrpPolicy final : public Botan::TLS::Policy {
public:
    explicit IrpPolicy(bool require_client_cert) : require_client_cert_(require_client_cert) {}
    std::vector<std::string> allowed_ciphers() const override {
        return {"ChaCha20Poly1305", "AES-256/GCM", "AES-128/GCM"};
    }
    std::vector<std::string> allowed_macs() const override { return {"AEAD"}; }
    std::vector<std::string> allowed_key_exchange_methods() const override { return {"ECDH"}; }
    std::vector<std::string> allowed_signature_methods() const override { return {"ECDSA"}; }
    std::vector<Botan::TLS::Group_Params> key_exchange_groups() const override {
        return {Botan::TLS::Group_Params::X25519, Botan::TLS::Group_Params::SECP256R1};
    }
    bool allow_tls10() const override { return false; }
    bool allow_tls11() const override { return false; }
    bool allow_tls12() const override { return true; }
    bool allow_dtls10() const override { return false; }
    bool allow_dtls12() const override { return false; }
    bool allow_client_initiated_renegotiation() const override { return false; }
    bool allow_server_initiated_renegotiation() const override { return false; }
    bool negotiate_encrypt_then_mac() const override { return false; }
    bool include_time_in_hello_random() const override { return false; }
    std::size_t minimum_signature_strength() const override { return 110; }
    // The device does not check revocation of the server certificate yet:
    // it would need the CRL before it can reach the server that serves it
    // (docs/PROTOCOL.md, "Transport").
    bool require_cert_revocation_info() const override { return false; }
    // Certificate chains in a handshake (ours to a device, a device's to a
    // relying party) are a few KiB; Botan's default is no limit at all.
    size_t maximum_certificate_chain_size() const override { return 32 * 1024; }
    // A server with client roots (TlsServerConfig::client_roots) refuses a
    // client that sends no certificate; Botan asks for one whenever the
    // credentials name trusted CAs.
    bool require_client_certificate_authentication() const override { return require_client_cert_; }

private:
    bool require_client_cert_ = false;
};

const IrpPolicy& policy(bool require_client_cert = false) {
    static const IrpPolicy plain(false);
    static const IrpPolicy client_auth(true);
    return require_client_cert ? client_auth : plain;
}

// Shared by every connection's TLS channel, on several threads: it only
// hands out copies of the parsed chain and a pointer to a const key, and
// lets Botan read the client roots.
class ServerCredentials final : public Botan::Credentials_Manager, public TlsServerContext {
public:
    explicit ServerCredentials(const TlsServerConfig& cfg) : key_(cfg.key) {
        for (const auto& c : cfg.chain) chain_.emplace_back(c.data(), c.size());
        for (const auto& r : cfg.client_roots) client_roots_.add_certificate(Botan::X509_Certificate(r.data(), r.size()));
        wants_client_cert_ = !cfg.client_roots.empty();
    }
    bool wants_client_cert() const { return wants_client_cert_; }
    // Botan asks for a client certificate naming these CAs, and validates
    // the client's chain against them (TLS client usage).
    std::vector<Botan::Certificate_Store*> trusted_certificate_authorities(const std::string& type,
                                                                           const std::string&) override {
        if (type != "tls-server" || !wants_client_cert()) return {};
        return {&client_roots_};
    }
    std::vector<Botan::X509_Certificate> cert_chain(const std::vector<std::string>& key_types,
                                                    const std::string& type, const std::string&) override {
        if (type != "tls-server") return {};
        for (const auto& t : key_types)
            if (t == "ECDSA") return chain_;
        return {};
    }
    Botan::Private_Key* private_key_for(const Botan::X509_Certificate&, const std::string&, const std::string&) override {
        return key_->impl().key.get();
    }
    // The signers kept for our key, when `k` is it (what private_key_for gave Botan).
    SignerCache* signers_for(const Botan::Private_Key& k) const {
        return &k == key_->impl().key.get() ? &key_->impl().signers : nullptr;
    }

private:
    std::shared_ptr<const PrivateKey> key_;
    std::vector<Botan::X509_Certificate> chain_;
    Botan::Certificate_Store_In_Memory client_roots_;
    bool wants_client_cert_ = false;
};

class ClientCredentials final : public Botan::Credentials_Manager {
public:
    explicit ClientCredentials(const TlsClientConfig& cfg) {
        for (const auto& r : cfg.trusted_roots) store_.add_certificate(Botan::X509_Certificate(r.data(), r.size()));
    }
    std::vector<Botan::Certificate_Store*> trusted_certificate_authorities(const std::string&,
                                                                           const std::string&) override {
        return {&store_};
    }

private:
    Botan::Certificate_Store_In_Memory store_;
};

bool is_ipv4_literal(const std::string& s) {
    in_addr a{};
    return inet_pton(AF_INET, s.c_str(), &a) == 1;
}

class Endpoint final : public TlsEndpoint, public Botan::TLS::Callbacks {
public:
    // Server
    explicit Endpoint(std::shared_ptr<const TlsServerContext> ctx)
        : server_ctx_(std::move(ctx)),
          server_creds_(const_cast<ServerCredentials*>(dynamic_cast<const ServerCredentials*>(server_ctx_.get()))) {
        channel_ = std::make_unique<Botan::TLS::Server>(*this, sessions_, *server_creds_,
                                                        policy(server_creds_->wants_client_cert()), rng_);
    }
    // Client
    explicit Endpoint(const TlsClientConfig& cfg)
        : client_creds_(std::make_unique<ClientCredentials>(cfg)), server_name_(cfg.server_name) {
        // An IP literal is not sent as SNI and is matched against the
        // certificate's iPAddress SAN in tls_verify_cert_chain.
        const std::string sni = is_ipv4_literal(server_name_) ? "" : server_name_;
        channel_ = std::make_unique<Botan::TLS::Client>(*this, sessions_, *client_creds_, policy(), rng_,
                                                        Botan::TLS::Server_Information(sni),
                                                        Botan::TLS::Protocol_Version::TLS_V12);
    }

    Result<void> receive_ciphertext(ByteView data) override {
        if (failed_) return make_error(Code::tls_failure, failure_);
        try {
            channel_->received_data(data.data(), data.size());
        } catch (const std::exception& e) {
            failed_ = true;
            failure_ = std::string("TLS failed: ") + e.what();
        }
        if (failed_) return make_error(Code::tls_failure, failure_);
        return {};
    }
    Bytes take_ciphertext() override { return std::exchange(out_, {}); }
    Bytes take_plaintext() override { return std::exchange(in_, {}); }
    Result<void> send_plaintext(ByteView data) override {
        if (!channel_->is_active()) return make_error(Code::tls_failure, "TLS channel is not open");
        try {
            channel_->send(data.data(), data.size());
        } catch (const std::exception& e) {
            return make_error(Code::tls_failure, std::string("TLS send failed: ") + e.what());
        }
        return {};
    }
    bool handshake_complete() const override { return channel_->is_active(); }
    bool peer_closed() const override { return peer_closed_ || failed_; }
    void close() override {
        try {
            if (!channel_->is_closed()) channel_->close();
        } catch (const std::exception&) {
        }
    }
    Bytes channel_binding() const override {
        const auto key = channel_->key_material_export(kChannelBindingLabel, "", kChannelBindingSize);
        return Bytes(key.begin(), key.end());
    }
    std::vector<Bytes> peer_certificates() const override { return peer_certs_; }

    // Botan::TLS::Callbacks
    // The server's handshake signature, with a signer kept for the server key
    // instead of a new one per handshake (signer_cache.hpp).
    std::vector<uint8_t> tls_sign_message(const Botan::Private_Key& key, Botan::RandomNumberGenerator& rng,
                                          const std::string& emsa, Botan::Signature_Format format,
                                          const std::vector<uint8_t>& msg) override {
        SignerCache* cache = server_creds_ ? server_creds_->signers_for(key) : nullptr;
        if (!cache) return Botan::TLS::Callbacks::tls_sign_message(key, rng, emsa, format, msg);
        auto lease = cache->raw(key, emsa, format, rng);
        return lease.signer().sign_message(msg, rng);
    }
    void tls_emit_data(const uint8_t data[], size_t size) override { out_.insert(out_.end(), data, data + size); }
    void tls_record_received(uint64_t, const uint8_t data[], size_t size) override {
        in_.insert(in_.end(), data, data + size);
    }
    void tls_alert(Botan::TLS::Alert alert) override {
        if (alert.type() == Botan::TLS::Alert::CLOSE_NOTIFY || alert.is_fatal()) peer_closed_ = true;
        if (alert.is_fatal() && failure_.empty()) failure_ = "peer sent TLS alert: " + alert.type_string();
    }
    bool tls_session_established(const Botan::TLS::Session& session) override {
        // The RFC 5705 exporter binds IRP proofs to this connection only if
        // the master secret covers the whole handshake (RFC 7627); without
        // it a man in the middle could synchronise two connections' keys
        // (the triple-handshake attack).
        if (!session.supports_extended_master_secret())
            throw Botan::TLS::TLS_Exception(Botan::TLS::Alert::HANDSHAKE_FAILURE,
                                            "the peer does not support the extended master secret");
        if (server_creds_ != nullptr)
            for (const auto& c : session.peer_certs()) peer_certs_.push_back(c.BER_encode());
        return false;  // no resumption
    }

    void tls_verify_cert_chain(const std::vector<Botan::X509_Certificate>& chain,
                               const std::vector<std::shared_ptr<const Botan::OCSP::Response>>& ocsp,
                               const std::vector<Botan::Certificate_Store*>& roots, Botan::Usage_Type usage,
                               const std::string& hostname, const Botan::TLS::Policy& pol) override {
        if (!is_ipv4_literal(server_name_)) {
            Botan::TLS::Callbacks::tls_verify_cert_chain(chain, ocsp, roots, usage, hostname, pol);
            return;
        }
        // Chain checks without a host name, then the iPAddress SAN ourselves.
        Botan::TLS::Callbacks::tls_verify_cert_chain(chain, ocsp, roots, usage, "", pol);
        const auto ips = chain.at(0).subject_alt_name().get_attribute("IP");
        for (const auto& ip : ips)
            if (ip == server_name_) return;
        throw Botan::TLS::TLS_Exception(Botan::TLS::Alert::BAD_CERTIFICATE,
                                        "server certificate does not name " + server_name_);
    }

private:
    // The process-wide getrandom()-backed RNG: seeding a fresh DRBG per
    // connection was measurable per handshake.
    Botan::RandomNumberGenerator& rng_ = Botan::system_rng();
    Botan::TLS::Session_Manager_Noop sessions_;
    std::shared_ptr<const TlsServerContext> server_ctx_;
    ServerCredentials* server_creds_ = nullptr;
    std::unique_ptr<Botan::Credentials_Manager> client_creds_;
    std::string server_name_;
    std::unique_ptr<Botan::TLS::Channel> channel_;
    Bytes out_;
    Bytes in_;
    std::vector<Bytes> peer_certs_;  // server side: the client's chain, DER
    bool peer_closed_ = false;
    bool failed_ = false;
    std::string failure_;
};

}  // namespace

std::shared_ptr<const TlsServerContext> make_tls_server_context(const TlsServerConfig& cfg) {
    // Created non-const: Botan's Credentials_Manager interface is non-const
    // (it only reads here), and each endpoint casts the const away.
    return std::make_shared<ServerCredentials>(cfg);
}
std::unique_ptr<TlsEndpoint> TlsEndpoint::server(std::shared_ptr<const TlsServerContext> ctx) {
    return std::make_unique<Endpoint>(std::move(ctx));
}
std::unique_ptr<TlsEndpoint> TlsEndpoint::client(const TlsClientConfig& cfg) { return std::make_unique<Endpoint>(cfg); }

}  // namespace irp::crypto
