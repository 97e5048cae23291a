// The relying-party verifier (include/irp/rp/verifier.hpp), on the crypto
// interface only.
#include "irp/rp/verifier.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>

namespace irp::rp {

namespace {

using crypto::CertInfo;

// "2024-05-01T12:00:00Z", for messages.
std::string format_time(std::int64_t t) {
    using namespace std::chrono;
    const sys_seconds tp{seconds{t}};
    const auto day = floor<days>(tp);
    const year_month_day ymd{day};
    const hh_mm_ss hms{tp - day};
    char buf[48];
    std::snprintf(buf, sizeof buf, "%04d-%02u-%02uT%02ld:%02ld:%02ldZ", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  static_cast<long>(hms.hours().count()), static_cast<long>(hms.minutes().count()),
                  static_cast<long>(hms.seconds().count()));
    return buf;
}

constexpr int kCertificateHold = 6;

Result<void> check_chain_bounds(const std::vector<Bytes>& chain) {
    if (chain.empty() || chain.size() > kMaxChainCerts)
        return make_error(Code::field_invalid, "a peer chain holds 1 to " + std::to_string(kMaxChainCerts) +
                                                   " certificates, not " + std::to_string(chain.size()));
    for (const auto& c : chain)
        if (c.empty() || c.size() > kMaxCertBytes)
            return make_error(Code::field_invalid, "a certificate in the peer chain is empty or larger than " +
                                                       std::to_string(kMaxCertBytes) + " bytes");
    return {};
}

Bytes strip_leading_zeros(const Bytes& b) {
    std::size_t i = 0;
    while (i < b.size() && b[i] == 0) ++i;
    return Bytes(b.begin() + static_cast<std::ptrdiff_t>(i), b.end());
}

}  // namespace

Result<Verifier> Verifier::create(std::vector<Bytes> trusted_roots, VerifierOptions options) {
    if (trusted_roots.empty() || trusted_roots.size() > kMaxTrustedRoots)
        return make_error(Code::bad_argument, "a verifier needs 1 to " + std::to_string(kMaxTrustedRoots) +
                                                  " trusted roots, not " + std::to_string(trusted_roots.size()));
    if (options.crl_grace_s < 0 || options.max_crl_age_s < 0)
        return make_error(Code::bad_argument, "CRL grace and maximum age must not be negative");
    for (std::size_t i = 0; i < trusted_roots.size(); ++i) {
        const auto& r = trusted_roots[i];
        if (r.empty() || r.size() > kMaxCertBytes)
            return make_error(Code::bad_argument, "trusted root " + std::to_string(i) + " is empty or larger than " +
                                                      std::to_string(kMaxCertBytes) + " bytes");
        auto info = crypto::parse_certificate(r);
        if (!info)
            return make_error(Code::bad_argument, "trusted root " + std::to_string(i) + ": " + info.error().message);
        if (!info->is_ca)
            return make_error(Code::bad_argument, "trusted root " + std::to_string(i) + " (" + info->subject +
                                                      ") is not a CA certificate");
    }
    return Verifier(std::move(trusted_roots), options);
}

bool Verifier::stale(const HeldCrl& crl, std::int64_t now) const {
    if (now > crl.info.next_update && now - crl.info.next_update > options_.crl_grace_s) return true;
    if (options_.max_crl_age_s > 0 && now > crl.info.this_update &&
        now - crl.info.this_update > options_.max_crl_age_s)
        return true;
    return false;
}

Result<void> Verifier::add_crl(ByteView crl_der, ByteView issuer_ca_der, std::int64_t now) {
    if (issuer_ca_der.empty() || issuer_ca_der.size() > kMaxCertBytes)
        return make_error(Code::bad_argument, "the CRL issuer's certificate is empty or larger than " +
                                                  std::to_string(kMaxCertBytes) + " bytes");
    auto ca = crypto::parse_certificate(issuer_ca_der);
    if (!ca) return make_error(ca.error().code, "the CRL issuer's certificate: " + ca.error().message);
    if (!ca->is_ca) return make_error(Code::bad_argument, "the CRL issuer (" + ca->subject + ") is not a CA");
    // A trusted root is its own anchor (path validation of a root alone
    // finds no issuer to establish trust with); any other CA must validate.
    const bool is_root = std::any_of(roots_.begin(), roots_.end(), [&](const Bytes& r) {
        return std::equal(r.begin(), r.end(), issuer_ca_der.begin(), issuer_ca_der.end());
    });
    if (is_root) {
        if (now < ca->not_before || now > ca->not_after)
            return make_error(Code::certificate_not_active, "the CRL issuer (" + ca->subject + ") is not valid at " +
                                                                format_time(now));
    } else if (auto ok = crypto::verify_chain(issuer_ca_der, {}, roots_, now, crypto::Usage::any); !ok) {
        return make_error(ok.error().code, "the CRL issuer (" + ca->subject +
                                               ") does not validate to a trusted root: " + ok.error().message);
    }
    auto info = crypto::parse_and_verify_crl(crl_der, issuer_ca_der);
    if (!info) return info.error();
    IssuerKey key{ca->subject_name, ca->public_key};
    const auto held = crls_.find(key);
    if (held != crls_.end()) {
        const auto& old = held->second;
        if (info->crl_number == old.info.crl_number &&
            std::equal(crl_der.begin(), crl_der.end(), old.der.begin(), old.der.end()))
            return {};  // the same CRL again
        if (info->crl_number <= old.info.crl_number)
            return make_error(Code::already_exists,
                              "CRL number " + std::to_string(info->crl_number) + " of " + ca->subject +
                                  " is not newer than the held CRL's " + std::to_string(old.info.crl_number) +
                                  ": refused (CRL numbers must increase)");
    } else if (crls_.size() >= kMaxCrlIssuers) {
        return make_error(Code::bad_argument,
                          "CRLs of " + std::to_string(kMaxCrlIssuers) + " CAs are held already; no more");
    }

    HeldCrl crl;
    crl.der.assign(crl_der.begin(), crl_der.end());
    for (auto& e : info->entries) {
        Bytes serial = e.serial;
        crl.revoked.insert_or_assign(std::move(serial), std::move(e));
    }
    info->entries.clear();
    crl.info = std::move(*info);
    crls_.insert_or_assign(std::move(key), std::move(crl));
    return {};
}

Result<PeerIdentity> Verifier::verify_certificate(const std::vector<Bytes>& chain, std::int64_t now) const {
    if (auto ok = check_chain_bounds(chain); !ok) return ok.error();
    auto leaf = crypto::parse_certificate(chain.front());
    if (!leaf) return make_error(leaf.error().code, "the peer certificate: " + leaf.error().message);
    if (leaf->is_ca) return make_error(Code::field_invalid, "the peer certificate is a CA certificate");
    if (now < leaf->not_before || now > leaf->not_after)
        return make_error(Code::certificate_not_active,
                          "the peer certificate (serial " + to_hex(leaf->serial) + ") is not valid at " +
                              format_time(now) + ": valid from " + format_time(leaf->not_before) + " until " +
                              format_time(leaf->not_after));
    const std::vector<Bytes> intermediates(chain.begin() + 1, chain.end());
    std::vector<Bytes> path;  // the validated path: leaf first, trust anchor last
    if (auto ok = crypto::verify_chain(chain.front(), intermediates, roots_, now, crypto::Usage::tls_client, &path); !ok)
        return ok.error();
    if (path.size() < 2)  // a validated path holds the leaf and at least its trusted root
        return make_error(Code::unknown_certificate, "the peer certificate's validated path has no issuer");
    if (leaf->subject_cn.empty())
        return make_error(Code::field_invalid, "the peer certificate has no subject CN (device id)");

    PeerIdentity id;
    id.device_id = leaf->subject_cn;
    id.serial_hex = to_hex(strip_leading_zeros(leaf->serial));
    id.issuer_subject = leaf->issuer;
    id.rights = std::move(leaf->rights);

    // The CA that signed the leaf is the next certificate on the path Botan
    // validated, never merely one in the chain with a matching name: a peer
    // can add other certificates (an expired sibling of its CA with the
    // same key, say), and only the validated path counts.
    id.issuer_der = path[1];

    // Revocation, level by level along the validated path, as OpenSSL's
    // full-chain CRL check does: the leaf against the CRL of the CA that
    // signed it, then each CA below the root against the CRL of the CA
    // above it (a domain CA against its root's CRL). Good only when every
    // level was checked against a fresh CRL.
    const std::string who = "the peer certificate " + id.device_id + " (serial " + id.serial_hex + ")";
    bool all_fresh = true;
    bool any_missing = false;
    const HeldCrl* a_stale_crl = nullptr;
    crypto::CertInfo subject_info = std::move(*leaf);
    for (std::size_t level = 0; level + 1 < path.size(); ++level) {
        auto signer_info = crypto::parse_certificate(path[level + 1]);
        if (!signer_info) return make_error(signer_info.error().code, "a CA in the path: " + signer_info.error().message);
        const auto held = crls_.find(IssuerKey{signer_info->subject_name, signer_info->public_key});
        if (held == crls_.end()) {
            all_fresh = false;
            any_missing = true;
        } else {
            const HeldCrl& crl = held->second;
            if (id.revocation_checked_at == 0 || crl.info.this_update < id.revocation_checked_at)
                id.revocation_checked_at = crl.info.this_update;
            const bool is_stale = stale(crl, now);
            if (is_stale) {
                all_fresh = false;
                a_stale_crl = &crl;
            }
            const auto listed = crl.revoked.find(strip_leading_zeros(subject_info.serial));
            if (listed != crl.revoked.end() && !(is_stale && listed->second.reason == kCertificateHold)) {
                const auto& e = listed->second;
                const std::string what = level == 0 ? who
                                                    : "the CA " + subject_info.subject + " (serial " +
                                                          to_hex(strip_leading_zeros(subject_info.serial)) +
                                                          ") in the path of " + who;
                return make_error(Code::certificate_not_active,
                                  what + " is revoked: since " + format_time(e.revoked_at) + ", reason " +
                                      std::to_string(e.reason) + " (" + crypto::crl_reason_name(e.reason) +
                                      "), per CRL number " + std::to_string(crl.info.crl_number) + " of " +
                                      signer_info->subject + " (thisUpdate " + format_time(crl.info.this_update) +
                                      ")");
            }
        }
        subject_info = std::move(*signer_info);
    }
    id.revocation = all_fresh ? PeerIdentity::Revocation::good : PeerIdentity::Revocation::unknown;
    if (id.revocation == PeerIdentity::Revocation::unknown && options_.require_fresh_revocation)
        return make_error(Code::certificate_not_active,
                          who + ": revocation status unknown (" +
                              (any_missing ? std::string("no CRL is held for a CA in its path")
                                           : "a CRL in its path is stale: nextUpdate " +
                                                 format_time(a_stale_crl->info.next_update)) +
                              ") and fresh revocation is required");
    return id;
}

Result<PeerIdentity> Verifier::verify_signed_challenge(const std::vector<Bytes>& chain, ByteView challenge,
                                                       ByteView signature, std::int64_t now) const {
    if (challenge.size() < kMinChallengeBytes || challenge.size() > kMaxChallengeBytes)
        return make_error(Code::bad_argument, "a challenge is " + std::to_string(kMinChallengeBytes) + " to " +
                                                  std::to_string(kMaxChallengeBytes) + " bytes, not " +
                                                  std::to_string(challenge.size()));
    if (signature.empty() || signature.size() > kMaxSignatureBytes)
        return make_error(Code::field_invalid, "the peer's signature is empty or larger than " +
                                                   std::to_string(kMaxSignatureBytes) + " bytes");
    if (auto ok = check_chain_bounds(chain); !ok) return ok.error();
    // The signature first: it is one verification, the chain several.
    auto leaf = crypto::parse_certificate(chain.front());
    if (!leaf) return make_error(leaf.error().code, "the peer certificate: " + leaf.error().message);
    if (!crypto::verify_signature(leaf->public_key, peer_proof_message(challenge), signature))
        return make_error(Code::bad_possession_proof,
                          "the peer's signature over the challenge does not verify with its certificate's key");
    return verify_certificate(chain, now);
}

bool allows(const PeerIdentity& peer, std::string_view action, std::string_view target) {
    if (peer.revocation == PeerIdentity::Revocation::revoked) return false;
    return crypto::rights_allow(peer.rights, action, target);
}

Bytes peer_proof_message(ByteView challenge) {
    Bytes m = to_bytes(kPeerProofLabel);
    append_field(m, challenge);
    return m;
}

Bytes make_challenge(crypto::Random& rng) { return rng.bytes(kChallengeBytes); }

}  // namespace irp::rp
