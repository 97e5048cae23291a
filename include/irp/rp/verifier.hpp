// The relying party's side of IRP identities: checks a peer device's
// certificate chain against trusted roots, its revocation against CRLs the
// caller fetched, and its proof of possession of the key, and reports who
// the peer is and what it may do (its rights, irp/crypto/rights.hpp).
//
// No I/O and no clock: the caller fetches CRLs (from the CRL Distribution
// Point URLs, CertInfo::crl_urls) and passes "now" (Unix seconds) in. Errors
// are values; nothing throws. A Verifier is not thread-safe: add_crl
// changes it, so guard it, or give each thread its own.
#pragma once

#include <cstddef>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"
#include "irp/crypto/crypto.hpp"
#include "irp/crypto/revocation.hpp"
#include "irp/crypto/rights.hpp"

namespace irp::rp {

inline constexpr std::size_t kMaxChainCerts = 4;         // leaf + up to 3 CAs
inline constexpr std::size_t kMaxCertBytes = 8 * 1024;   // per certificate, DER
inline constexpr std::size_t kMaxTrustedRoots = 64;
inline constexpr std::size_t kMaxCrlIssuers = 256;       // CAs with a held CRL
inline constexpr std::size_t kMaxSignatureBytes = 256;
inline constexpr std::size_t kMinChallengeBytes = 16;
inline constexpr std::size_t kMaxChallengeBytes = 64;
inline constexpr std::size_t kChallengeBytes = 32;       // what make_challenge returns

struct PeerIdentity {
    std::string device_id;       // the leaf's subject CN
    std::string serial_hex;      // the leaf's serial, lower-case hex, no leading zero bytes
    std::string issuer_subject;  // the leaf's issuer, for display
    // The CA certificate whose key signed the leaf (from the chain or the
    // trusted roots). Pass it, not chain[1], to verify_account_statement: a
    // peer can put any certificate into its chain.
    Bytes issuer_der;
    std::vector<crypto::Right> rights;
    enum class Revocation { good, revoked, unknown };
    // good: fresh CRLs list neither the leaf (its issuer's CRL) nor any CA
    // below the root in its path (the CRL of the CA above). unknown: a CRL
    // for some level is not held, or is stale. The verifier
    // never returns revoked (it fails instead); allows() refuses it.
    Revocation revocation = Revocation::unknown;
    std::int64_t revocation_checked_at = 0;  // oldest thisUpdate of the CRLs consulted; 0 = none
    std::int64_t revoked_at = 0;             // revoked only
    int reason = 0;                          // revoked only: RFC 5280 CRLReason
};

struct VerifierOptions {
    // A held CRL is stale once `now` is past its nextUpdate + crl_grace_s,
    // or, when max_crl_age_s > 0, more than max_crl_age_s after its
    // thisUpdate. A stale CRL leaves revocation unknown, except that a
    // certificate it lists (other than on hold) is still refused:
    // revocation is permanent.
    std::int64_t crl_grace_s = 0;
    std::int64_t max_crl_age_s = 0;
    // Refuse a peer whose revocation is unknown (certificate_not_active).
    bool require_fresh_revocation = false;
};

class Verifier {
public:
    // `trusted_roots`: DER CA certificates (1..kMaxTrustedRoots, each at
    // most kMaxCertBytes) that anchor every path. bad_argument otherwise.
    static Result<Verifier> create(std::vector<Bytes> trusted_roots, VerifierOptions options = {});

    // Holds `crl_der` as the revocation list of the CA `issuer_ca_der`.
    // The CA certificate must validate to a trusted root at `now` on its own
    // (it is a root or issued by one; error from crypto::verify_chain), the
    // CRL must verify under it (crypto::parse_and_verify_crl), and its CRL
    // Number must be greater than that of the CRL already held for that CA
    // (same Name and key): a smaller number, or the same number with other
    // bytes, is refused with already_exists; the same CRL again is a no-op.
    // A stale CRL is accepted (it still lists revoked certificates).
    Result<void> add_crl(ByteView crl_der, ByteView issuer_ca_der, std::int64_t now);

    // `chain`: the peer's certificates, leaf first, then the CAs that issued
    // it (1..kMaxChainCerts, each 1..kMaxCertBytes, else field_invalid). The
    // leaf must be an end-entity certificate with a subject CN, valid at
    // `now` (certificate_not_active otherwise), whose path validates to a
    // trusted root with the TLS client usage (crypto::verify_chain; its
    // error, e.g. unknown_certificate). Its rights extension, if any, must
    // decode (field_invalid). Then revocation, level by level up to the
    // root: the leaf against the CRL held for the CA that signed it, and
    // each CA below the root against the CRL held for the CA above it (a
    // domain CA against its root's CRL). Listed at any level ->
    // certificate_not_active, saying which certificate, when and why;
    // every level checked against a fresh CRL -> good; else unknown (or
    // certificate_not_active with require_fresh_revocation).
    Result<PeerIdentity> verify_certificate(const std::vector<Bytes>& chain, std::int64_t now) const;

    // verify_certificate, and `signature` (1..kMaxSignatureBytes) by the
    // leaf's key over peer_proof_message(challenge). `challenge` is the one
    // this relying party sent (make_challenge; kMinChallengeBytes to
    // kMaxChallengeBytes, else bad_argument); the caller must use each
    // challenge once only. A signature that does not verify is
    // bad_possession_proof.
    Result<PeerIdentity> verify_signed_challenge(const std::vector<Bytes>& chain, ByteView challenge,
                                                 ByteView signature, std::int64_t now) const;

    const VerifierOptions& options() const { return options_; }
    std::size_t crl_count() const { return crls_.size(); }

private:
    struct HeldCrl {
        Bytes der;
        crypto::CrlInfo info;                           // entries moved to `revoked`
        std::map<Bytes, crypto::CrlEntry> revoked;      // by serial
    };
    // A CA: its subject Name DER and its SubjectPublicKeyInfo.
    using IssuerKey = std::pair<Bytes, Bytes>;

    Verifier(std::vector<Bytes> roots, VerifierOptions options)
        : roots_(std::move(roots)), options_(options) {}
    bool stale(const HeldCrl& crl, std::int64_t now) const;

    std::vector<Bytes> roots_;
    VerifierOptions options_;
    std::map<IssuerKey, HeldCrl> crls_;
};

// false when `peer` is revoked; otherwise crypto::rights_allow(peer.rights, ...).
bool allows(const PeerIdentity& peer, std::string_view action, std::string_view target);

// The bytes a peer signs to prove possession of its key:
//   "IRP/1 peer-proof" (16 ASCII bytes, no terminator)
//   || u32 big-endian length of challenge || challenge
// The peer signs them with crypto::PrivateKey::sign (ECDSA: DER signature
// with SHA-256 for P-256 / SHA-384 for P-384; Ed25519: pure).
inline constexpr std::string_view kPeerProofLabel = "IRP/1 peer-proof";
Bytes peer_proof_message(ByteView challenge);

// kChallengeBytes fresh random bytes from `rng`.
Bytes make_challenge(crypto::Random& rng);

}  // namespace irp::rp
