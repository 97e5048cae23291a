// Randomness, hashes, MACs, keys and raw signatures, on Botan 2.
#include <botan/auto_rng.h>
#include <botan/base64.h>
#include <botan/ber_dec.h>
#include <botan/ec_group.h>
#include <botan/ecdsa.h>
#include <botan/ed25519.h>
#include <botan/hash.h>
#include <botan/hmac_drbg.h>
#include <botan/mac.h>
#include <botan/mem_ops.h>
#include <botan/pkcs8.h>
#include <botan/pubkey.h>
#include <botan/system_rng.h>
#include <botan/x509_key.h>

#include <mutex>
#include <stdexcept>

#include "botan_glue.hpp"

namespace irp::crypto {

namespace {

class SystemRandom final : public Random {
public:
    void fill(std::span<std::uint8_t> out) override { Botan::system_rng().randomize(out.data(), out.size()); }
};

class DeterministicRandom final : public Random {
public:
    explicit DeterministicRandom(std::uint64_t seed) : drbg_(Botan::MessageAuthenticationCode::create_or_throw("HMAC(SHA-256)")) {
        std::uint8_t material[48] = {};
        for (int i = 0; i < 8; ++i) material[i] = static_cast<std::uint8_t>(seed >> (8 * i));
        drbg_.initialize_with(material, sizeof material);
    }
    void fill(std::span<std::uint8_t> out) override {
        std::lock_guard lock(mu_);
        drbg_.randomize(out.data(), out.size());
    }

private:
    std::mutex mu_;
    Botan::HMAC_DRBG drbg_;
};

}  // namespace

std::unique_ptr<Random> system_random() { return std::make_unique<SystemRandom>(); }
std::unique_ptr<Random> deterministic_random(std::uint64_t seed) {
    return std::make_unique<DeterministicRandom>(seed);
}

Digest sha256(ByteView data) {
    auto h = Botan::HashFunction::create_or_throw("SHA-256");
    h->update(data.data(), data.size());
    Digest out;
    h->final(out.data());
    return out;
}

Digest hmac_sha256(ByteView key, ByteView message) {
    auto mac = Botan::MessageAuthenticationCode::create_or_throw("HMAC(SHA-256)");
    mac->set_key(key.data(), key.size());
    mac->update(message.data(), message.size());
    Digest out;
    mac->final(out.data());
    return out;
}

bool constant_time_equal(ByteView a, ByteView b) {
    if (a.size() != b.size()) return false;
    return Botan::constant_time_compare(a.data(), b.data(), a.size());
}

const char* key_algorithm_name(KeyAlgorithm a) {
    switch (a) {
        case KeyAlgorithm::ecdsa_p256: return "ecdsa-p256";
        case KeyAlgorithm::ecdsa_p384: return "ecdsa-p384";
        case KeyAlgorithm::ed25519: return "ed25519";
    }
    return "unknown";
}

std::optional<KeyAlgorithm> parse_key_algorithm(std::string_view name) {
    for (auto a : {KeyAlgorithm::ecdsa_p256, KeyAlgorithm::ecdsa_p384, KeyAlgorithm::ed25519})
        if (name == key_algorithm_name(a)) return a;
    return std::nullopt;
}

const char* padding_for(KeyAlgorithm a) {
    switch (a) {
        case KeyAlgorithm::ecdsa_p256: return "EMSA1(SHA-256)";
        case KeyAlgorithm::ecdsa_p384: return "EMSA1(SHA-384)";
        case KeyAlgorithm::ed25519: return "Pure";
    }
    return "Pure";
}

const char* x509_hash_for(KeyAlgorithm a) {
    switch (a) {
        case KeyAlgorithm::ecdsa_p256: return "SHA-256";
        case KeyAlgorithm::ecdsa_p384: return "SHA-384";
        case KeyAlgorithm::ed25519: return "SHA-512";
    }
    return "SHA-256";
}

// ECDSA signatures are DER SEQUENCEs (as in X.509); Ed25519 has only its
// fixed 64-byte encoding, and Botan refuses DER_SEQUENCE for it.
namespace {
Botan::Signature_Format signature_format_for(KeyAlgorithm a) {
    return a == KeyAlgorithm::ed25519 ? Botan::IEEE_1363 : Botan::DER_SEQUENCE;
}
}  // namespace

std::optional<KeyAlgorithm> algorithm_of(const Botan::Public_Key& key) {
    if (key.algo_name() == "Ed25519") return KeyAlgorithm::ed25519;
    if (key.algo_name() == "ECDSA") {
        const auto& group = dynamic_cast<const Botan::EC_PublicKey&>(key).domain();
        if (group == Botan::EC_Group("secp256r1")) return KeyAlgorithm::ecdsa_p256;
        if (group == Botan::EC_Group("secp384r1")) return KeyAlgorithm::ecdsa_p384;
    }
    return std::nullopt;
}

PrivateKey::PrivateKey(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
PrivateKey::PrivateKey(PrivateKey&&) noexcept = default;
PrivateKey& PrivateKey::operator=(PrivateKey&&) noexcept = default;
PrivateKey::~PrivateKey() = default;

Result<PrivateKey> PrivateKey::generate(KeyAlgorithm alg, Random& rng) {
    BotanRng brng(rng);
    auto impl = std::make_unique<Impl>();
    impl->algorithm = alg;
    try {
    switch (alg) {
        case KeyAlgorithm::ecdsa_p256:
            impl->key = std::make_unique<Botan::ECDSA_PrivateKey>(brng, Botan::EC_Group("secp256r1"));
            break;
        case KeyAlgorithm::ecdsa_p384:
            impl->key = std::make_unique<Botan::ECDSA_PrivateKey>(brng, Botan::EC_Group("secp384r1"));
            break;
        case KeyAlgorithm::ed25519:
            impl->key = std::make_unique<Botan::Ed25519_PrivateKey>(brng);
            break;
    }
    } catch (const std::exception& e) {
        return make_error(Code::internal, std::string("key generation failed: ") + e.what());
    }
    return PrivateKey(std::move(impl));
}

namespace {

constexpr std::string_view kEncryptedLabel = "-----BEGIN ENCRYPTED PRIVATE KEY-----";

Result<std::unique_ptr<PrivateKey::Impl>> adopt(std::unique_ptr<Botan::Private_Key> key) {
    const auto alg = algorithm_of(*key);
    if (!alg) return make_error(Code::key_algorithm_not_allowed, "unsupported key type " + key->algo_name());
    auto impl = std::make_unique<PrivateKey::Impl>();
    impl->key = std::move(key);
    impl->algorithm = *alg;
    return impl;
}

}  // namespace

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem) {
    if (pem.find(kEncryptedLabel) != std::string_view::npos)
        return make_error(Code::bad_argument, "the PKCS#8 key is encrypted: a passphrase is needed to load it");
    try {
        Botan::DataSource_Memory src(reinterpret_cast<const uint8_t*>(pem.data()), pem.size());
        auto impl = adopt(Botan::PKCS8::load_key(src));
        if (!impl) return impl.error();
        return PrivateKey(std::move(impl.value()));
    } catch (const std::exception& e) {
        return make_error(Code::file_error, std::string("not a PKCS#8 private key: ") + e.what());
    }
}

Result<PrivateKey> PrivateKey::from_pem(std::string_view pem, std::string_view passphrase) {
    if (pem.find(kEncryptedLabel) == std::string_view::npos) return from_pem(pem);
    std::unique_ptr<Botan::Private_Key> key;
    try {
        Botan::DataSource_Memory src(reinterpret_cast<const uint8_t*>(pem.data()), pem.size());
        key = Botan::PKCS8::load_key(src, [&] { return std::string(passphrase); });
    } catch (const std::exception& e) {
        // A wrong passphrase shows up as bad CBC padding or, rarely, as
        // garbage that does not decode: the two are indistinguishable.
        return make_error(Code::bad_argument,
                          std::string("cannot decrypt the PKCS#8 key: wrong passphrase, or a damaged file (") +
                              e.what() + ")");
    }
    auto impl = adopt(std::move(key));
    if (!impl) return impl.error();
    return PrivateKey(std::move(impl.value()));
}

KeyAlgorithm PrivateKey::algorithm() const { return impl_->algorithm; }

Bytes PrivateKey::public_key_der() const { return impl_->key->subject_public_key(); }

bool PrivateKey::in_token() const { return impl_->token; }

std::string PrivateKey::to_pem() const {
    if (impl_->token) throw std::logic_error("a key in a PKCS#11 token cannot be exported as PEM");
    return Botan::PKCS8::PEM_encode(*impl_->key);
}

// PBKDF2 rather than scrypt: Botan 2 would tune scrypt to N = 2^17, which
// OpenSSL 3 refuses to decrypt (its 32 MiB scrypt memory cap), and a fixed
// iteration count (OWASP's 2023 figure for PBKDF2-HMAC-SHA-256) costs the
// same on every machine instead of whatever the writer's CPU tuned it to.
constexpr std::size_t kPbkdf2Iterations = 600'000;

Result<std::string> PrivateKey::to_encrypted_pem(std::string_view passphrase, Random& rng) const {
    if (impl_->token) return make_error(Code::bad_argument, "a key in a PKCS#11 token cannot be exported");
    if (passphrase.empty()) return make_error(Code::bad_argument, "the passphrase must not be empty");
    try {
        BotanRng brng(rng);
        return Botan::PKCS8::PEM_encode_encrypted_pbkdf_iter(*impl_->key, brng, std::string(passphrase),
                                                             kPbkdf2Iterations, "AES-256/CBC", "SHA-256");
    } catch (const std::exception& e) {
        return make_error(Code::internal, std::string("cannot encrypt the key: ") + e.what());
    }
}

Bytes PrivateKey::sign(ByteView message, Random& rng) const {
    try {
        BotanRng brng(rng);
        auto lease = impl_->signers.raw(*impl_->key, padding_for(impl_->algorithm),
                                        signature_format_for(impl_->algorithm), brng);
        return lease.signer().sign_message(message.data(), message.size(), brng);
    } catch (const std::exception&) {
        return {};  // documented: empty on failure
    }
}

std::optional<KeyAlgorithm> spki_algorithm(ByteView spki) {
    try {
        Botan::DataSource_Memory src(spki.data(), spki.size());
        std::unique_ptr<Botan::Public_Key> key(Botan::X509::load_key(src));
        return algorithm_of(*key);
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

bool verify_signature(ByteView spki, ByteView message, ByteView signature) {
    try {
        Botan::DataSource_Memory src(spki.data(), spki.size());
        std::unique_ptr<Botan::Public_Key> key(Botan::X509::load_key(src));
        const auto alg = algorithm_of(*key);
        if (!alg) return false;
        Botan::PK_Verifier verifier(*key, padding_for(*alg), signature_format_for(*alg));
        return verifier.verify_message(message.data(), message.size(), signature.data(), signature.size());
    } catch (const std::exception&) {
        return false;
    }
}

std::optional<Bytes> base64_decode(std::string_view text) {
    std::string t(text);
    for (char& c : t) {  // the URL-safe alphabet, as some OCSP clients send it
        if (c == '-') c = '+';
        if (c == '_') c = '/';
    }
    while (t.size() % 4 != 0) t.push_back('=');
    try {
        const auto out = Botan::base64_decode(t, false);
        return Bytes(out.begin(), out.end());
    } catch (const std::exception&) {
        return std::nullopt;
    }
}

std::string base64_encode(ByteView data) { return Botan::base64_encode(data.data(), data.size()); }

}  // namespace irp::crypto
