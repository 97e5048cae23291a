// The narrow crypto interface IRP owns. Everything the protocol and the
// applications need from a crypto library goes through these declarations;
// lib/crypto/botan/ implements them with Botan 2. Moving to another library
// (Botan 3) means re-implementing that one folder.
#pragma once

#include <array>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"

namespace irp::crypto {

using Digest = std::array<std::uint8_t, 32>;

// A source of randomness. The protocol core never creates one: its callers
// hand one in, so tests and simulators can run deterministically.
class Random {
public:
    virtual ~Random() = default;
    virtual void fill(std::span<std::uint8_t> out) = 0;
    Bytes bytes(std::size_t n) {
        Bytes b(n);
        fill(b);
        return b;
    }
};

// The operating system's CSPRNG (getrandom), via the crypto library.
std::unique_ptr<Random> system_random();
// HMAC_DRBG(SHA-256) seeded from `seed`: reproducible, for tests only.
std::unique_ptr<Random> deterministic_random(std::uint64_t seed);

Digest sha256(ByteView data);
Digest hmac_sha256(ByteView key, ByteView message);
bool constant_time_equal(ByteView a, ByteView b);

enum class KeyAlgorithm : std::uint8_t { ecdsa_p256 = 1, ed25519 = 2, ecdsa_p384 = 3 };
const char* key_algorithm_name(KeyAlgorithm a);  // "ecdsa-p256", ...
std::optional<KeyAlgorithm> parse_key_algorithm(std::string_view name);

// An asymmetric private key. Opaque: the implementation's key type never
// appears in this header.
class PrivateKey {
public:
    struct Impl;
    static Result<PrivateKey> generate(KeyAlgorithm alg, Random& rng);
    // PKCS#8 PEM, unencrypted.
    static Result<PrivateKey> from_pem(std::string_view pem);

    PrivateKey(PrivateKey&&) noexcept;
    PrivateKey& operator=(PrivateKey&&) noexcept;
    ~PrivateKey();

    KeyAlgorithm algorithm() const;
    Bytes public_key_der() const;  // SubjectPublicKeyInfo
    std::string to_pem() const;    // PKCS#8
    // Empty on failure (the random source failed); never throws.
    Bytes sign(ByteView message, Random& rng) const;

    const Impl& impl() const { return *impl_; }

private:
    explicit PrivateKey(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// Verifies `signature` over `message` with the SubjectPublicKeyInfo `spki`.
// ECDSA signatures are DER-encoded (as in X.509); Ed25519 is pure.
bool verify_signature(ByteView spki, ByteView message, ByteView signature);
std::optional<KeyAlgorithm> spki_algorithm(ByteView spki);

// ---- PKCS#10 --------------------------------------------------------------

struct CsrInfo {
    Bytes public_key;  // SubjectPublicKeyInfo
    KeyAlgorithm algorithm = KeyAlgorithm::ecdsa_p256;
    std::string challenge;                   // PKCS#9 challengePassword
    std::vector<std::string> extension_oids; // requested extensions, dotted
    bool requests_ca = false;                // basicConstraints cA=TRUE requested
};

Result<Bytes> create_csr(const PrivateKey& key, std::string_view common_name,
                         std::string_view challenge, Random& rng);
// Parses a DER PKCS#10 request and verifies its self-signature (the proof
// of possession). Fails with invalid_csr or bad_possession_proof.
Result<CsrInfo> parse_and_verify_csr(ByteView der);

// ---- X.509 ----------------------------------------------------------------

struct CertInfo {
    Bytes serial;  // big-endian magnitude, no sign byte
    std::string subject;  // RFC 4514-ish string, for display
    std::string issuer;
    std::string subject_cn;
    std::string subject_serial_number;
    std::vector<std::string> san_uris;
    std::vector<std::string> san_dns;
    Bytes public_key;  // SubjectPublicKeyInfo
    Bytes subject_key_id;
    Bytes authority_key_id;
    std::int64_t not_before = 0;  // seconds since the Unix epoch
    std::int64_t not_after = 0;
    bool is_ca = false;
    bool key_usage_digital_signature = false;
    bool eku_client_auth = false;
    bool eku_server_auth = false;
    std::vector<std::string> crl_urls;  // CRL Distribution Points (full-name URIs)
    std::string ocsp_url;               // Authority Information Access, OCSP
};

Result<CertInfo> parse_certificate(ByteView der);
// Raw DER of the issuer / subject Name, for exact comparison.
Result<Bytes> certificate_issuer_name(ByteView der);
Result<Bytes> certificate_subject_name(ByteView der);

std::string to_pem(ByteView der, std::string_view label);
// Every PEM block with `label` in `pem`, as DER, in order.
Result<std::vector<Bytes>> pem_blocks(std::string_view pem, std::string_view label);

enum class Usage : std::uint8_t { any, tls_client, tls_server };

// Full path validation of `leaf` through `intermediates` to one of `roots`
// at time `at` (Unix seconds): signatures, validity, basic constraints,
// key usage, and the extended key usage for `usage`.
Result<void> verify_chain(ByteView leaf, const std::vector<Bytes>& intermediates,
                          const std::vector<Bytes>& roots, std::int64_t at, Usage usage);

// Does the certificate's signature verify under `issuer`'s public key?
bool signed_by(ByteView cert, ByteView issuer_cert);

struct IssueProfile {
    Bytes serial;  // positive, big-endian
    std::string common_name;
    std::string serial_number;        // subject serialNumber; empty = none
    std::string organization;         // subject O; empty = none
    std::vector<std::string> san_uris;
    std::vector<std::string> san_dns;
    std::vector<std::string> san_ips;  // dotted IPv4
    std::int64_t not_before = 0;
    std::int64_t not_after = 0;
    bool ca = false;
    std::optional<std::size_t> path_len;  // CA only
    bool eku_client_auth = false;
    bool eku_server_auth = false;
    // When non-empty: a CRL Distribution Points extension (one distribution
    // point naming these URIs) and an Authority Information Access
    // extension with these OCSP responder URIs. ASCII URIs only.
    std::vector<std::string> crl_urls;
    std::vector<std::string> ocsp_urls;
};

// Issues a certificate for `subject_public_key` signed by `issuer_key`.
// With an empty `issuer_cert` the certificate is self-signed (a root).
Result<Bytes> issue_certificate(const PrivateKey& issuer_key, ByteView issuer_cert,
                                ByteView subject_public_key, const IssueProfile& profile,
                                Random& rng);

// Base64 (RFC 4648, with or without padding; URL-safe characters accepted).
std::optional<Bytes> base64_decode(std::string_view text);
std::string base64_encode(ByteView data);

// A fresh random positive serial of `bits` bits (<= 159) from `rng`.
Bytes random_serial(Random& rng, unsigned bits = 127);

}  // namespace irp::crypto
