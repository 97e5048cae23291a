// Validation of an issued certificate before anything is installed. The
// order follows docs/PROTOCOL.md's install-error table: the first check that
// fails names the error.
#include <algorithm>

#include "idwallet.hpp"

namespace irp::wallet {

namespace {
InstallFailure failure(InstallStatus s, std::string msg) { return InstallFailure{s, std::move(msg)}; }
}  // namespace

std::optional<InstallFailure> validate_issued(const Issued& issued, const Expectation& e) {
    if (issued.certificate.empty()) return failure(InstallStatus::no_certificate, "the answer holds no certificate");
    auto info = crypto::parse_certificate(issued.certificate);
    if (!info) return failure(InstallStatus::malformed_certificate, info.error().message);

    if (info->public_key != e.public_key)
        return failure(InstallStatus::public_key_mismatch, "the certificate is for a key this device did not generate");

    const std::string uri = "urn:irp:" + e.domain + ":" + e.device_id;
    const bool uri_ok = std::find(info->san_uris.begin(), info->san_uris.end(), uri) != info->san_uris.end();
    if (info->subject_cn != e.device_id || info->subject_serial_number != e.device_id || !uri_ok)
        return failure(InstallStatus::identity_mismatch, "the certificate does not name device '" + e.device_id + "'");

    if (issued.chain.empty()) return failure(InstallStatus::issuer_mismatch, "the answer holds no issuing CA certificate");
    const auto& issuer = issued.chain.front();
    auto ca_info = crypto::parse_certificate(issuer);
    // A CA certificate Botan reads but parse_certificate refuses (say, a
    // malformed rights extension) is a validity_error further down, as the
    // install-error table says; only a name that differs is issuer_mismatch.
    auto ca_subject = ca_info ? Result<Bytes>(ca_info->subject_name) : crypto::certificate_subject_name(issuer);
    if (!ca_subject || info->issuer_name != *ca_subject)
        return failure(InstallStatus::issuer_mismatch, "the certificate's issuer is not the CA sent with it");

    // Only our trusted roots are anchors: the root the server sends along
    // is ignored for trust. The path is validated once, up front; its
    // verdict is reported below, in the table's order.
    std::vector<Bytes> intermediates;
    for (const auto& c : issued.chain)
        if (auto self = crypto::is_self_issued(c); self && !*self) intermediates.push_back(c);
    std::vector<Bytes> path;
    auto chain = crypto::verify_chain(issued.certificate, intermediates, e.trusted_roots, e.now,
                                      crypto::Usage::tls_client, &path);

    // A validated path whose second certificate is the CA sent along has
    // checked the leaf's signature with that CA's key already: one ECDSA
    // verification fewer per enrollment. Otherwise check it here, so a bad
    // signature is told apart from an untrusted chain.
    const bool signature_checked = chain && path.size() >= 2 && path[1] == issuer;
    if (!signature_checked && !crypto::signed_by(issued.certificate, issuer))
        return failure(InstallStatus::bad_signature, "the certificate's signature does not verify with the issuing CA's key");

    if (e.now < info->not_before || e.now > info->not_after)
        return failure(InstallStatus::validity_error, "the certificate is not valid now");
    if (!ca_info || info->not_after > ca_info->not_after)
        return failure(InstallStatus::validity_error, "the certificate outlives its issuing CA");

    if (info->is_ca || !info->key_usage_digital_signature || !info->eku_client_auth)
        return failure(InstallStatus::profile_mismatch,
                       "the certificate lacks digitalSignature / clientAuth or is a CA certificate");

    if (!chain) return failure(InstallStatus::untrusted_chain, chain.error().message);
    return std::nullopt;
}

}  // namespace irp::wallet
