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
#include "irp/crypto/rights.hpp"

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
    // PKCS#8 PEM, unencrypted. An encrypted key ("ENCRYPTED PRIVATE KEY")
    // fails with a message saying that it needs a passphrase.
    static Result<PrivateKey> from_pem(std::string_view pem);
    // PKCS#8 PEM encrypted with `passphrase` (PBES2: PBKDF2 or scrypt, with
    // AES-CBC, as written by to_encrypted_pem or `openssl pkcs8 -topk8`).
    // An unencrypted key loads too. A wrong passphrase is bad_argument.
    static Result<PrivateKey> from_pem(std::string_view pem, std::string_view passphrase);
    // A key that stays inside a PKCS#11 token. `uri` is a PKCS#11 URI
    // (parse_pkcs11_uri) naming the token and the private key; the Cryptoki
    // module is `module_path`, or the URI's module-path when that is empty.
    // `pin` is the user PIN; empty means no login (a token without
    // CKF_LOGIN_REQUIRED, or one with a protected authentication path such
    // as a PIN pad). The PIN is kept in memory to log in again when the
    // token drops the session. ECDSA P-256/P-384 (CKM_ECDSA, hashed here)
    // and Ed25519 (CKM_EDDSA) keys; the public key is read from the token
    // (the public-key object's CKA_EC_POINT and CKA_EC_PARAMS, else the
    // private key's CKA_PUBLIC_KEY_INFO). One session per key; signatures
    // through it are serialised by a mutex, so a key may be shared between
    // threads. Errors: file_error (module), bad_argument (URI, token, PIN),
    // not_found (the token holds no such private key), key_algorithm_not_allowed,
    // internal (other Cryptoki failures).
    static Result<PrivateKey> from_pkcs11(const std::string& module_path, std::string_view uri,
                                          std::string_view pin);
    // Generates a key pair inside the token `token_uri` names
    // (parse_pkcs11_token_uri: token label and/or serial; pin-source and
    // module-path are kept for pkcs11_uri()) with C_GenerateKeyPair, and
    // loads it as from_pkcs11 would. Both halves are token objects labelled
    // `label` with CKA_ID `id` (1..64 bytes; the caller makes the pair
    // unique, e.g. random bytes). The private key is CKA_PRIVATE,
    // CKA_SENSITIVE, not CKA_EXTRACTABLE, and may only sign; the public key
    // may only verify. ECDSA P-256 and P-384 (CKM_EC_KEY_PAIR_GEN) and
    // Ed25519 (CKM_EC_EDWARDS_KEY_PAIR_GEN, SoftHSM 2.6 has it). Errors as
    // from_pkcs11, plus key_algorithm_not_allowed when the token cannot
    // make that kind of key, already_exists when an object with that label
    // or id is on the token, and bad_argument for a label or id that is
    // empty or too long. A pair generated but then unusable is destroyed
    // again.
    static Result<PrivateKey> generate_in_token(const std::string& module_path, std::string_view token_uri,
                                                std::string_view label, ByteView id, KeyAlgorithm alg,
                                                std::string_view pin);

    PrivateKey(PrivateKey&&) noexcept;
    PrivateKey& operator=(PrivateKey&&) noexcept;
    ~PrivateKey();

    KeyAlgorithm algorithm() const;
    Bytes public_key_der() const;  // SubjectPublicKeyInfo
    // PKCS#8, unencrypted. A key in a token has no PEM: throws
    // std::logic_error (check in_token() first).
    std::string to_pem() const;
    // PKCS#8 encrypted with PBES2: PBKDF2-HMAC-SHA-256 (600,000 iterations)
    // and AES-256-CBC, which OpenSSL and every PKCS#8 reader understand.
    // Fails for an empty passphrase and for a key in a token.
    Result<std::string> to_encrypted_pem(std::string_view passphrase, Random& rng) const;
    // True for a key from from_pkcs11: its private value never leaves the token.
    bool in_token() const;
    // A key in a token: the PKCS#11 URI that loads it again with
    // from_pkcs11 (token, object, id, type=private; module-path, and the
    // pin-source of the URI it was loaded or generated with; never a PIN).
    // Empty for any other key.
    std::string pkcs11_uri() const;
    // Empty on failure (the random source or the PKCS#11 token failed);
    // never throws.
    Bytes sign(ByteView message, Random& rng) const;

    const Impl& impl() const { return *impl_; }

private:
    explicit PrivateKey(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> impl_;
};

// The subset of RFC 7512 PKCS#11 URIs that from_pkcs11 takes, e.g.
//   pkcs11:token=irp;object=domain-ca;id=%01?pin-source=file:/etc/irp/pin
// Path attributes: token (label), serial (token serial number), object
// (CKA_LABEL), id (CKA_ID, percent-encoded bytes), type (only "private").
// Query attributes: pin-source (a file: URI or absolute path holding the
// PIN) and module-path. Values are percent-decoded. pin-value is refused
// (a PIN does not belong in a config file), as is any other attribute.
// At least one of object and id is required.
struct Pkcs11Uri {
    std::string token;
    std::string serial;
    std::string object;
    Bytes id;
    std::string pin_source;   // absolute file path; empty = none
    std::string module_path;  // empty = none
};
inline bool is_pkcs11_uri(std::string_view s) { return s.starts_with("pkcs11:"); }
Result<Pkcs11Uri> parse_pkcs11_uri(std::string_view uri);
// The same syntax naming a token only (generate_in_token): object, id and
// type are refused; neither token nor serial is required (any one token).
Result<Pkcs11Uri> parse_pkcs11_token_uri(std::string_view uri);
// Writes `u` back as a URI (percent-encoding what needs it; an id byte by
// byte), type=private when it names a key. Parsing the result gives `u`.
std::string format_pkcs11_uri(const Pkcs11Uri& u);

// Destroys the private key `uri` names (parse_pkcs11_uri) and the
// public-key objects with its CKA_ID (else its label) on the same token,
// in a read-write session logged in with `pin`. The module is
// `module_path`, else the URI's module-path. A key that is not there (any
// more) is not an error: destroying is idempotent, so an interrupted
// clean-up can simply run again. Several private keys matching is
// bad_argument (nothing is destroyed). Errors otherwise as from_pkcs11.
Result<void> destroy_pkcs11_key(const std::string& module_path, std::string_view uri, std::string_view pin);

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
    std::string common_name;                 // subject CN ("" when absent)
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
    Bytes subject_name;  // raw DER of the subject / issuer Name, for exact comparison
    Bytes issuer_name;
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
    std::optional<std::size_t> path_len;  // CA with a basicConstraints pathLenConstraint
    // Name Constraints (RFC 5280 4.2.1.10), permitted subtrees by type.
    std::vector<std::string> permitted_dns;
    std::vector<std::string> permitted_uri_hosts;
    // The device rights extension (irp/crypto/rights.hpp); empty when absent.
    // A malformed one makes parse_certificate fail.
    std::vector<Right> rights;
};

Result<CertInfo> parse_certificate(ByteView der);
// Raw DER of the issuer / subject Name, for exact comparison.
Result<Bytes> certificate_issuer_name(ByteView der);
Result<Bytes> certificate_subject_name(ByteView der);
// Are the certificate's subject and issuer Names the same (a root, or a
// self-issued CA)? One parse.
Result<bool> is_self_issued(ByteView der);

std::string to_pem(ByteView der, std::string_view label);
// Every PEM block with `label` in `pem`, as DER, in order.
Result<std::vector<Bytes>> pem_blocks(std::string_view pem, std::string_view label);

enum class Usage : std::uint8_t { any, tls_client, tls_server };

// Full path validation of `leaf` through `intermediates` to one of `roots`
// at time `at` (Unix seconds): signatures, validity, basic constraints,
// key usage, and the extended key usage for `usage`. When `path` is given
// and the chain validates, it receives the validated path as DER, leaf
// first and trust anchor last, so a caller can tell which certificate's
// key the leaf's signature was checked with.
Result<void> verify_chain(ByteView leaf, const std::vector<Bytes>& intermediates,
                          const std::vector<Bytes>& roots, std::int64_t at, Usage usage,
                          std::vector<Bytes>* path = nullptr);

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
    // CA only: a critical Name Constraints extension with these permitted
    // subtrees (dNSName, and uniformResourceIdentifier host or ".domain").
    // ASCII names only; none given = no extension.
    std::vector<std::string> permitted_dns;
    std::vector<std::string> permitted_uri_hosts;
    // When non-empty: the non-critical device rights extension
    // (irp/crypto/rights.hpp) with these rights, 1..64 of them, each valid
    // by right_problem(); otherwise bad_argument.
    std::vector<Right> rights;
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
