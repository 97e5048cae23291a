#include "ca/authority.hpp"

#include <algorithm>
#include <cstdlib>
#include <optional>

#include "irp/platform/files.hpp"

namespace irp::server {

namespace {

Result<Bytes> load_one_cert(const std::string& path) {
    auto text = platform::read_file(path);
    if (!text) return text.error();
    auto blocks = crypto::pem_blocks(*text, "CERTIFICATE");
    if (!blocks) return make_error(Code::config_invalid, "'" + path + "': " + blocks.error().message);
    if (blocks->size() != 1)
        return make_error(Code::config_invalid, "'" + path + "' must hold exactly one certificate");
    return std::move(blocks->front());
}

// A secret read from a file: the first line, without its line ending.
Result<std::string> read_secret(const std::string& path, const std::string& what) {
    auto text = platform::read_file(path, 4096);
    if (!text) return text.error();
    std::string s = text->substr(0, text->find_first_of("\r\n"));
    std::fill(text->begin(), text->end(), '\0');
    if (s.empty()) return make_error(Code::config_invalid, what + " file '" + path + "' is empty");
    return s;
}

// Wipes a secret before its memory is released.
struct Secret {
    std::optional<std::string> value;
    ~Secret() {
        if (value) std::fill(value->begin(), value->end(), '\0');
    }
};

// The passphrase for encrypted PEM keys: domain.key_passphrase_file, else
// the environment variable IRP_KEY_PASSPHRASE, else none.
Result<void> key_passphrase(const Config& cfg, Secret& out) {
    if (!cfg.key_passphrase_file.empty()) {
        auto p = read_secret(cfg.key_passphrase_file, "the key passphrase");
        if (!p) return p.error();
        out.value = std::move(p.value());
    } else if (const char* env = std::getenv("IRP_KEY_PASSPHRASE"); env && *env) {
        out.value = env;
    }
    return {};
}

// `setting` ("domain.ca_key") names a PEM file or a PKCS#11 URI.
Result<crypto::PrivateKey> open_key(const Config& cfg, const std::string& setting, const std::string& ref,
                                    const Secret& passphrase) {
    if (crypto::is_pkcs11_uri(ref)) {
        const std::string shown = setting + " (" + ref.substr(0, ref.find('?')) + ")";
        auto uri = crypto::parse_pkcs11_uri(ref);
        if (!uri) return make_error(Code::config_invalid, shown + ": " + uri.error().message);
        const std::string module = uri->module_path.empty() ? cfg.pkcs11_module : uri->module_path;
        if (module.empty())
            return make_error(Code::config_invalid,
                              shown + " is a PKCS#11 key: set domain.pkcs11_module (or module-path in the URI)");
        // The PIN: the URI's pin-source file, else IRP_PKCS11_PIN.
        Secret pin;
        if (!uri->pin_source.empty()) {
            auto p = read_secret(uri->pin_source, "the PKCS#11 PIN");
            if (!p) return make_error(Code::config_invalid, shown + ": " + p.error().message);
            pin.value = std::move(p.value());
        } else if (const char* env = std::getenv("IRP_PKCS11_PIN"); env && *env) {
            pin.value = env;
        }
        const std::string_view pin_text = pin.value ? std::string_view(*pin.value) : std::string_view();
        auto key = crypto::PrivateKey::from_pkcs11(module, ref, pin_text);
        if (!key) {
            std::string msg = shown + ": " + key.error().message;
            if (!pin.value && msg.find("needs a PIN") != std::string::npos)
                msg += " (pin-source=file:/path in the URI, or IRP_PKCS11_PIN)";
            return make_error(Code::config_invalid, msg);
        }
        return key;
    }
    auto text = platform::read_file(ref);
    if (!text) return text.error();
    const bool encrypted = text->find("-----BEGIN ENCRYPTED PRIVATE KEY-----") != std::string::npos;
    if (encrypted && !passphrase.value)
        return make_error(Code::config_invalid,
                          "key '" + ref + "' (" + setting +
                              ") is encrypted: set domain.key_passphrase_file or IRP_KEY_PASSPHRASE");
    auto key = passphrase.value ? crypto::PrivateKey::from_pem(*text, *passphrase.value)
                                : crypto::PrivateKey::from_pem(*text);
    if (!key) {
        const std::string source = cfg.key_passphrase_file.empty() ? std::string("IRP_KEY_PASSPHRASE")
                                                                    : "'" + cfg.key_passphrase_file + "'";
        return make_error(Code::config_invalid, "'" + ref + "': " + key.error().message +
                                                    (encrypted ? " (passphrase from " + source + ")" : ""));
    }
    return key;
}

Result<std::shared_ptr<const crypto::PrivateKey>> load_key(const Config& cfg, const std::string& setting,
                                                           const std::string& ref, const Secret& passphrase,
                                                           ByteView cert_der) {
    auto key = open_key(cfg, setting, ref, passphrase);
    if (!key) return key.error();
    auto info = crypto::parse_certificate(cert_der);
    if (!info) return info.error();
    if (key->public_key_der() != info->public_key)
        return make_error(Code::config_invalid, "key '" + ref + "' does not match its certificate");
    return std::make_shared<const crypto::PrivateKey>(std::move(key.value()));
}

// A domain CA certificate (`what` names it in errors): a CA, signed by the
// root, with a subject key identifier, whose hex is its issuer id in the
// store and in CRL URLs.
Result<crypto::CertInfo> check_domain_ca(const std::string& what, const std::string& path, ByteView ca_der,
                                         ByteView root_der, const std::string& root_path) {
    auto info = crypto::parse_certificate(ca_der);
    if (!info) return info.error();
    if (!info->is_ca) return make_error(Code::config_invalid, "'" + path + "' is not a CA certificate");
    if (!crypto::signed_by(ca_der, root_der))
        return make_error(Code::config_invalid, what + " is not signed by the root in '" + root_path + "'");
    if (info->subject_key_id.empty())
        return make_error(Code::config_invalid, "'" + path + "' has no subject key identifier");
    return info;
}

// The i-th [[domain.retired]] entry, checked as the current CA is.
Result<RetiredCaMaterial> load_retired(const Config& cfg, std::size_t i, ByteView root_der, const Secret& passphrase) {
    const RetiredCa& r = cfg.retired[i];
    RetiredCaMaterial out;
    auto der = load_one_cert(r.ca_certificate);
    if (!der) return der.error();
    out.ca_der = std::move(der.value());
    auto info = check_domain_ca("the retired CA '" + r.ca_certificate + "'", r.ca_certificate, out.ca_der, root_der,
                                cfg.root_certificate);
    if (!info) return info.error();
    out.ca_info = std::move(info.value());
    out.issuer_id = to_hex(out.ca_info.subject_key_id);
    const std::string setting = "domain.retired[" + std::to_string(i + 1) + "].ca_key";
    auto key = load_key(cfg, setting, r.ca_key, passphrase, out.ca_der);
    if (!key) return key.error();
    out.ca_key = std::move(key.value());
    return out;
}

// Every retired CA, each with an issuer id of its own: the id chooses the
// CA for a CRL request, an OCSP CertID's store lookup and a renewal.
Result<std::vector<RetiredCaMaterial>> load_retired_cas(const Config& cfg, const DomainMaterial& m,
                                                        const Secret& passphrase) {
    std::vector<RetiredCaMaterial> out;
    for (std::size_t i = 0; i < cfg.retired.size(); ++i) {
        auto ca = load_retired(cfg, i, m.root_der, passphrase);
        if (!ca) return ca.error();
        const std::string& path = cfg.retired[i].ca_certificate;
        if (ca->issuer_id == m.issuer_id)
            return make_error(Code::config_invalid, "the retired CA '" + path + "' is the current domain CA (key identifier " +
                                                        ca->issuer_id + "); remove it from [[domain.retired]]");
        for (const auto& earlier : out)
            if (earlier.issuer_id == ca->issuer_id)
                return make_error(Code::config_invalid, "the retired CA '" + path + "' is listed twice (key identifier " +
                                                            ca->issuer_id + ")");
        out.push_back(std::move(ca.value()));
    }
    return out;
}

}  // namespace

std::string crl_url(std::string_view base_url, std::string_view issuer_id) {
    return std::string(base_url) + "/crl/" + std::string(issuer_id) + ".crl";
}
std::string ocsp_url(std::string_view base_url) { return std::string(base_url) + "/ocsp"; }

std::string device_uri(std::string_view domain, std::string_view device_id) {
    return "urn:irp:" + std::string(domain) + ":" + std::string(device_id);
}

Result<std::map<std::string, Bytes>> load_class_secrets(const Config& cfg) {
    std::map<std::string, Bytes> out;
    for (const auto& [name, cls] : cfg.classes) {
        if (cls.secret_file.empty()) {  // the class does not accept "token"
            out[name] = {};
            continue;
        }
        auto secret = platform::read_hex_secret(cls.secret_file, 16, "class secret");
        if (!secret) return secret.error();
        out[name] = std::move(secret.value());
    }
    return out;
}

Result<DomainMaterial> load_domain(const Config& cfg) {
    DomainMaterial m;
    m.domain = cfg.domain;
    auto root = load_one_cert(cfg.root_certificate);
    if (!root) return root.error();
    auto ca = load_one_cert(cfg.ca_certificate);
    if (!ca) return ca.error();
    auto tls = load_one_cert(cfg.tls_certificate);
    if (!tls) return tls.error();
    m.root_der = std::move(root.value());
    m.ca_der = std::move(ca.value());

    auto ca_info = check_domain_ca("the domain CA", cfg.ca_certificate, m.ca_der, m.root_der, cfg.root_certificate);
    if (!ca_info) return ca_info.error();
    if (!crypto::signed_by(*tls, m.ca_der))
        return make_error(Code::config_invalid, "the TLS certificate is not issued by the domain CA");
    m.ca_info = std::move(ca_info.value());
    m.issuer_id = to_hex(m.ca_info.subject_key_id);

    Secret passphrase;
    if (auto r = key_passphrase(cfg, passphrase); !r) return r.error();
    auto ca_key = load_key(cfg, "domain.ca_key", cfg.ca_key, passphrase, m.ca_der);
    if (!ca_key) return ca_key.error();
    m.ca_key = std::move(ca_key.value());
    auto tls_key = load_key(cfg, "domain.tls_key", cfg.tls_key, passphrase, *tls);
    if (!tls_key) return tls_key.error();
    m.tls_key = std::move(tls_key.value());
    if (m.tls_key->algorithm() == crypto::KeyAlgorithm::ed25519)
        return make_error(Code::config_invalid, "the TLS key '" + cfg.tls_key + "' must be ECDSA (TLS 1.2 serves ECDSA certificates only)");
    // The root is left out of the served chain (RFC 5246 7.4.2): every peer
    // holds it as its trust anchor, so sending it costs each handshake half a
    // kilobyte and the peer a parse, for nothing.
    m.tls_chain = {std::move(tls.value()), m.ca_der};
    auto retired = load_retired_cas(cfg, m, passphrase);
    if (!retired) return retired.error();
    m.retired = std::move(retired.value());

    auto secrets = load_class_secrets(cfg);
    if (!secrets) return secrets.error();
    m.class_secrets = std::move(secrets.value());
    return m;
}

Result<IssuedCertificate> Authority::issue_device(const std::string& device_id, ByteView public_key,
                                                  std::int64_t now, const std::vector<crypto::Right>& rights) const {
    crypto::IssueProfile p;
    p.serial = crypto::random_serial(rng_, 127);
    p.common_name = device_id;
    p.serial_number = device_id;
    p.san_uris = {device_uri(m_.domain, device_id)};
    ProfileSettings settings;
    {
        std::lock_guard lock(mu_);
        settings = p_;
    }
    p.not_before = std::max(now - settings.backdate_s, m_.ca_info.not_before);
    p.not_after = std::min(now + settings.validity_s, m_.ca_info.not_after);
    if (p.not_after <= now)
        return make_error(Code::issuance_failed, "the domain CA certificate has expired; rotate the CA");
    p.eku_client_auth = true;
    if (!settings.crl_url.empty()) p.crl_urls = {settings.crl_url};
    if (!settings.ocsp_url.empty()) p.ocsp_urls = {settings.ocsp_url};
    p.rights = rights;
    auto der = crypto::issue_certificate(*m_.ca_key, m_.ca_der, public_key, p, rng_);
    if (!der) return der.error();
    // random_serial leaves no leading zero byte, so this is the serial as
    // a parser reads it back (authority tests compare the two).
    return IssuedCertificate{std::move(*der), to_hex(p.serial), p.not_before, p.not_after};
}

}  // namespace irp::server
