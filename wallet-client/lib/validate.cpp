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
    auto leaf_issuer = crypto::certificate_issuer_name(issued.certificate);
    auto ca_subject = crypto::certificate_subject_name(issuer);
    if (!leaf_issuer || !ca_subject || *leaf_issuer != *ca_subject)
        return failure(InstallStatus::issuer_mismatch, "the certificate's issuer is not the CA sent with it");

    if (!crypto::signed_by(issued.certificate, issuer))
        return failure(InstallStatus::bad_signature, "the certificate's signature does not verify with the issuing CA's key");

    if (e.now < info->not_before || e.now > info->not_after)
        return failure(InstallStatus::validity_error, "the certificate is not valid now");
    auto ca_info = crypto::parse_certificate(issuer);
    if (!ca_info || info->not_after > ca_info->not_after)
        return failure(InstallStatus::validity_error, "the certificate outlives its issuing CA");

    if (info->is_ca || !info->key_usage_digital_signature || !info->eku_client_auth)
        return failure(InstallStatus::profile_mismatch,
                       "the certificate lacks digitalSignature / clientAuth or is a CA certificate");

    // Only our trusted roots are anchors: the root the server sends along
    // is ignored for trust.
    std::vector<Bytes> intermediates;
    for (const auto& c : issued.chain) {
        auto subj = crypto::certificate_subject_name(c);
        auto iss = crypto::certificate_issuer_name(c);
        if (subj && iss && *subj != *iss) intermediates.push_back(c);
    }
    if (auto r = crypto::verify_chain(issued.certificate, intermediates, e.trusted_roots, e.now, crypto::Usage::tls_client); !r)
        return failure(InstallStatus::untrusted_chain, r.error().message);
    return std::nullopt;
}

}  // namespace irp::wallet
