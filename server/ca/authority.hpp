// The domain's issuing CA: loads the hierarchy named in the config and
// issues device certificates to the profile in docs/PROTOCOL.md
// ("Certificate profile").
#pragma once

#include <map>
#include <mutex>
#include <memory>
#include <string>
#include <vector>

#include "config/config.hpp"
#include "irp/crypto/crypto.hpp"

namespace irp::server {

// A domain CA of an earlier generation ([[domain.retired]]). It signs the
// CRL and the OCSP answers for the certificates it issued, never a new
// certificate, and renewals still accept its certificates
// (docs/OPERATIONS.md, "Key rotation").
struct RetiredCaMaterial {
    Bytes ca_der;
    crypto::CertInfo ca_info;
    std::string issuer_id;  // hex SKI, as the store's `issuer`
    std::shared_ptr<const crypto::PrivateKey> ca_key;
};

struct DomainMaterial {
    std::string domain;
    Bytes root_der;
    Bytes ca_der;
    crypto::CertInfo ca_info;
    std::string issuer_id;  // hex SKI of the issuing CA
    std::shared_ptr<const crypto::PrivateKey> ca_key;
    std::vector<Bytes> tls_chain;  // server cert, issuing CA (not the root: peers hold it)
    std::shared_ptr<const crypto::PrivateKey> tls_key;
    std::map<std::string, Bytes> class_secrets;  // class id -> secret
    std::vector<RetiredCaMaterial> retired;      // config order
};

// Reads and cross-checks every file the config names: the CA certificate
// must be a CA signed by the root, the keys must match their certificates,
// each class secret must be at least 16 bytes of hex. Each retired CA gets
// the checks of the current one (a CA, signed by the root, its key
// matching); its issuer id must differ from the current CA's and from every
// other retired CA's.
//
// Keys (domain.ca_key, domain.tls_key) are PKCS#8 PEM files or PKCS#11 URIs.
// An encrypted PEM key ("ENCRYPTED PRIVATE KEY") is decrypted with the first
// line of domain.key_passphrase_file or, when that is not set, with the
// environment variable IRP_KEY_PASSPHRASE; one passphrase serves both keys.
// A PKCS#11 key is opened through domain.pkcs11_module (or the URI's
// module-path) and logs in with the PIN in the URI's pin-source file or,
// without one, the environment variable IRP_PKCS11_PIN. Every failure is
// config_invalid and names the setting or the key file.
Result<DomainMaterial> load_domain(const Config& cfg);
// The class secrets alone (what a reload re-reads).
Result<std::map<std::string, Bytes>> load_class_secrets(const Config& cfg);

struct ProfileSettings {
    std::int64_t validity_s = 365LL * 24 * 3600;
    std::int64_t backdate_s = 300;
    std::string crl_url;   // CRL distribution point written into certificates ("" = none)
    std::string ocsp_url;  // AIA OCSP responder ("" = none)
};

// A certificate just issued, with the fields the store records, as they
// were written (so the caller does not parse the certificate again).
struct IssuedCertificate {
    Bytes der;
    std::string serial_hex;  // lower-case hex, no leading zero byte (as to_hex of the parsed serial)
    std::int64_t not_before = 0;
    std::int64_t not_after = 0;
};

class Authority {
public:
    Authority(const DomainMaterial& m, ProfileSettings p, crypto::Random& rng) : m_(m), p_(p), rng_(rng) {}

    // A device certificate: random 127-bit serial, subject CN and
    // serialNumber = device id, SAN URI urn:irp:<domain>:<device-id>,
    // keyUsage digitalSignature (critical), EKU clientAuth, AKI/SKI,
    // notBefore = now - backdate, notAfter = min(now + validity, CA notAfter).
    // `rights`, when any, become the device rights extension
    // (irp/crypto/rights.hpp).
    Result<IssuedCertificate> issue_device(const std::string& device_id, ByteView public_key, std::int64_t now_unix,
                                           const std::vector<crypto::Right>& rights = {}) const;

    const DomainMaterial& material() const { return m_; }
    // SIGHUP: lifetime and backdating apply to certificates issued afterwards.
    void set_profile(ProfileSettings p) {
        std::lock_guard lock(mu_);
        p_ = std::move(p);
    }

private:
    const DomainMaterial& m_;
    mutable std::mutex mu_;  // guards p_ (a reload may replace it)
    ProfileSettings p_;
    crypto::Random& rng_;
};

std::string device_uri(std::string_view domain, std::string_view device_id);
// Where relying parties find revocation data (docs/OPERATIONS.md).
std::string crl_url(std::string_view base_url, std::string_view issuer_id);
std::string ocsp_url(std::string_view base_url);

}  // namespace irp::server
