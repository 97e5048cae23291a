// Revocation artefacts any standard relying party can check: RFC 5280 v2
// CRLs and RFC 6960 OCSP responses, both signed directly by the issuing CA
// (no delegated CRL issuer, no delegated OCSP responder certificate).
// Implemented with Botan 2 in lib/crypto/botan/revocation.cpp; like the rest
// of the crypto interface, nothing here throws.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"
#include "irp/crypto/crypto.hpp"

namespace irp::crypto {

// ---- CRL (RFC 5280 section 5) -------------------------------------------------

struct CrlEntry {
    Bytes serial;             // positive, big-endian magnitude (as CertInfo::serial)
    std::int64_t revoked_at;  // Unix seconds
    std::int32_t reason;      // RFC 5280 CRLReason; 0 (unspecified) = no reasonCode entry extension
};

// RFC 5280 5.3.1 CRLReason name ("keyCompromise", ...); "unknown" for a code it does not define.
const char* crl_reason_name(std::int32_t reason);

// A DER v2 CRL signed by `ca_key`, whose certificate is `ca_cert` (DER):
// issuer = the CA certificate's subject Name byte for byte, the signature
// algorithm matching the key (ecdsa-with-SHA256 / -SHA384, Ed25519),
// revokedCertificates omitted when `entries` is empty, and the non-critical
// crlExtensions Authority Key Identifier (the CA's SKI) and CRL Number.
// Times are Unix seconds, encoded as UTCTime for 1950-2049 and as
// GeneralizedTime otherwise. Fails with bad_argument for an invalid reason
// (not 0..10, or 7), a negative CRL number, next_update <= this_update, a
// duplicate or empty serial, or a key that does not match `ca_cert`.
Result<Bytes> issue_crl(const PrivateKey& ca_key, ByteView ca_cert, const std::vector<CrlEntry>& entries,
                        std::int64_t crl_number, std::int64_t this_update, std::int64_t next_update,
                        Random& rng);

// ---- OCSP (RFC 6960) -----------------------------------------------------------

struct OcspCertId {
    std::string hash_oid;  // dotted, e.g. "1.3.14.3.2.26" (SHA-1)
    Bytes issuer_name_hash;
    Bytes issuer_key_hash;
    Bytes serial;  // positive, big-endian magnitude
    // The CertID exactly as received (set by parse_ocsp_request).
    // make_ocsp_response echoes these bytes when set and encodes the fields
    // above (hash parameters NULL, as OpenSSL sends them) when empty.
    Bytes der;
};

struct OcspRequestInfo {
    std::vector<OcspCertId> ids;  // 1..16
    // The nonce (RFC 8954: 1..32 bytes): the inner OCTET STRING of the
    // id-pkix-ocsp-nonce extension, exactly as sent.
    std::optional<Bytes> nonce;
};

inline constexpr std::size_t kOcspMaxRequestBytes = 8 * 1024;
inline constexpr std::size_t kOcspMaxCertIds = 16;

// Parses a DER OCSPRequest (RFC 6960 4.1.1). The optional signature is
// ignored. Anything malformed, larger than kOcspMaxRequestBytes or asking
// about more than kOcspMaxCertIds certificates fails with malformed_message.
Result<OcspRequestInfo> parse_ocsp_request(ByteView der);

// Does `id` name the CA whose certificate is `ca_cert`? Compares the issuer
// name and key hashes (SHA-1 or SHA-256, by `id.hash_oid`) with those of the
// CA's subject Name DER and subjectPublicKey BIT STRING contents.
bool ocsp_id_matches_issuer(const OcspCertId& id, ByteView ca_cert);

enum class OcspStatus { good, revoked, unknown };

struct OcspSingle {
    OcspCertId id;
    OcspStatus status = OcspStatus::unknown;
    std::int64_t revoked_at = 0;  // revoked only, Unix seconds
    std::int32_t reason = 0;      // revoked only; RFC 5280 CRLReason, 0 = omitted
};

// A successful DER OCSPResponse carrying a BasicOCSPResponse signed by
// `ca_key` (certificate `ca_cert`): responderID byKey, producedAt and every
// thisUpdate = `produced_at`, nextUpdate = `next_update`, the nonce echoed
// in responseExtensions when given, and no certificates (the CA signs
// directly). Fails with bad_argument for no answers, next_update <=
// produced_at, an invalid reason, or a key that does not match `ca_cert`.
Result<Bytes> make_ocsp_response(const PrivateKey& ca_key, ByteView ca_cert, const std::vector<OcspSingle>& answers,
                                 const std::optional<Bytes>& nonce, std::int64_t produced_at,
                                 std::int64_t next_update, Random& rng);

// An unsuccessful OCSPResponse (responseStatus only): 1 malformedRequest,
// 2 internalError, 3 tryLater, 5 sigRequired, 6 unauthorized. Any other
// value gives internalError.
Bytes ocsp_error_response(int status);

// ---- CRL checking, for relying parties (lib/crypto/botan/crl_parse.cpp) ---------

inline constexpr std::size_t kMaxCrlBytes = 4 * 1024 * 1024;

struct CrlInfo {
    Bytes issuer_name;  // the CRL's issuer Name, DER (equal to the issuer certificate's subject)
    std::int64_t this_update = 0;  // Unix seconds
    std::int64_t next_update = 0;
    std::int64_t crl_number = 0;   // the CRL Number extension
    // In CRL order; serials as in CertInfo::serial (no leading zero bytes),
    // reason 0 when the entry has no reasonCode.
    std::vector<CrlEntry> entries;
};

// Parses a DER X.509 v1/v2 CRL (at most kMaxCrlBytes) and verifies that the
// CA whose certificate is `issuer_cert_der` issued it: its issuer Name
// equals the certificate's subject Name byte for byte and its signature
// verifies with the certificate's key. Refused with malformed_message: a CRL
// that does not parse, is not DER or has trailing data, lacks nextUpdate or
// the CRL Number (or has one that does not fit 63 bits), has nextUpdate
// before thisUpdate, an invalid reason code, or any critical CRL or entry
// extension (delta CRLs, indirect CRLs and issuing distribution points are
// not supported, so such a CRL must not be used: RFC 5280 5.2 and 5.3).
// With bad_argument: an issuer certificate that does not parse, is not a CA,
// or whose key usage lacks cRLSign. With identity_mismatch: another issuer
// Name, or a signature that does not verify. Time validity is not checked
// here: the caller compares this_update / next_update with its clock.
Result<CrlInfo> parse_and_verify_crl(ByteView crl_der, ByteView issuer_cert_der);

}  // namespace irp::crypto
