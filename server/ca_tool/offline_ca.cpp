#include "ca_tool/offline_ca.hpp"

#include <sys/stat.h>

#include <algorithm>
#include <cctype>
#include <filesystem>

#include "ca/authority.hpp"
#include "ca_tool/registry.hpp"
#include "config/config.hpp"
#include "irp/core/transcript.hpp"
#include "irp/crypto/revocation.hpp"
#include "irp/platform/files.hpp"
#include "store/store.hpp"

namespace irp::ca_tool {

namespace fs = std::filesystem;

namespace {

constexpr std::int64_t kDay = 24 * 3600;
constexpr std::int64_t kBackdate = 3600;  // clock skew between the ceremony machine and relying parties

std::string absolute(const std::string& path) { return fs::absolute(path).lexically_normal().string(); }

std::string fingerprint(ByteView der) {
    const auto d = crypto::sha256(der);
    std::string hex = to_hex(ByteView(d.data(), d.size())), out;
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        if (i) out += ':';
        out += static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i])));
        out += static_cast<char>(std::toupper(static_cast<unsigned char>(hex[i + 1])));
    }
    return out;
}

Result<void> private_dir(const std::string& dir) {
    if (auto r = platform::make_dirs(dir, 0700); !r) return r;
    // An existing directory is tightened too: it is about to hold a CA key.
    if (::chmod(dir.c_str(), 0700) != 0) return make_error(Code::file_error, "cannot set mode 0700 on '" + dir + "'");
    return {};
}

Result<void> refuse_existing(const std::vector<std::string>& paths, const std::string& hint) {
    for (const auto& p : paths)
        if (platform::file_exists(p)) return make_error(Code::bad_argument, "'" + p + "' exists; " + hint);
    return {};
}

Result<Bytes> read_cert(const std::string& path) {
    auto text = platform::read_file(path);
    if (!text) return text.error();
    auto blocks = crypto::pem_blocks(*text, "CERTIFICATE");
    if (!blocks) return make_error(Code::file_error, "'" + path + "': " + blocks.error().message);
    if (blocks->size() != 1) return make_error(Code::file_error, "'" + path + "' must hold exactly one certificate");
    return std::move(blocks->front());
}

// A certificate and the key that must match it.
struct Signer {
    Bytes cert;
    crypto::CertInfo info;
    crypto::PrivateKey key;
};

Result<Signer> load_signer(const std::string& cert_path, const std::string& key_path) {
    auto cert = read_cert(cert_path);
    if (!cert) return cert.error();
    auto info = crypto::parse_certificate(*cert);
    if (!info) return make_error(Code::file_error, "'" + cert_path + "': " + info.error().message);
    if (!info->is_ca) return make_error(Code::file_error, "'" + cert_path + "' is not a CA certificate");
    auto text = platform::read_file(key_path);
    if (!text) return text.error();
    auto key = crypto::PrivateKey::from_pem(*text);
    if (!key) return make_error(Code::file_error, "'" + key_path + "': " + key.error().message);
    if (key->public_key_der() != info->public_key)
        return make_error(Code::file_error, "key '" + key_path + "' does not match '" + cert_path + "'");
    return Signer{std::move(cert.value()), std::move(info.value()), std::move(key.value())};
}

bool ecdsa(crypto::KeyAlgorithm a) {
    return a == crypto::KeyAlgorithm::ecdsa_p256 || a == crypto::KeyAlgorithm::ecdsa_p384;
}

Result<void> write_key(const std::string& path, const crypto::PrivateKey& key) {
    return platform::write_file_atomic(path, key.to_pem(), 0600);
}

Result<void> write_cert(const std::string& path, ByteView der) {
    return platform::write_file_atomic(path, crypto::to_pem(der, "CERTIFICATE"), 0644);
}

Result<Bytes> read_csr(const std::string& path) {
    auto text = platform::read_file(path);
    if (!text) return text.error();
    if (text->find("-----BEGIN") == std::string::npos) return Bytes(text->begin(), text->end());  // DER
    for (const char* label : {"CERTIFICATE REQUEST", "NEW CERTIFICATE REQUEST"}) {
        auto blocks = crypto::pem_blocks(*text, label);
        if (!blocks) return make_error(Code::file_error, "'" + path + "': " + blocks.error().message);
        if (blocks->size() == 1) return std::move(blocks->front());
    }
    return make_error(Code::file_error, "'" + path + "' must hold exactly one CERTIFICATE REQUEST");
}

Result<DomainKeyResult> write_key_and_csr(const std::string& dir, const DomainKeyOptions& o, crypto::Random& rng) {
    if (!ecdsa(o.key_type)) return make_error(Code::bad_argument, "a domain CA key must be ecdsa-p256 or ecdsa-p384");
    if (auto r = private_dir(dir); !r) return r.error();
    auto key = crypto::PrivateKey::generate(o.key_type, rng);
    if (!key) return key.error();
    auto csr = crypto::create_csr(*key, o.domain, "", rng);
    if (!csr) return csr.error();
    DomainKeyResult out{dir + "/domain-ca.key", dir + "/domain-ca.csr"};
    if (auto r = write_key(out.key_path, *key); !r) return r.error();
    if (auto r = platform::write_file_atomic(out.csr_path, crypto::to_pem(*csr, "CERTIFICATE REQUEST"), 0644); !r)
        return r.error();
    return out;
}

std::string strip_zeros(std::string hex) {
    const auto nz = hex.find_first_not_of('0');
    return nz == std::string::npos ? "0" : hex.substr(nz);
}

// Valid dotted IPv4 (what IssueProfile::san_ips takes).
bool valid_ipv4(const std::string& s) {
    int parts = 0;
    std::size_t i = 0;
    while (i <= s.size()) {
        const auto dot = std::min(s.find('.', i), s.size());
        const std::string part = s.substr(i, dot - i);
        if (part.empty() || part.size() > 3 || part.find_first_not_of("0123456789") != std::string::npos ||
            std::stoi(part) > 255)
            return false;
        ++parts;
        i = dot + 1;
    }
    return parts == 4;
}

// No file under `dir` may hold the root's private key (the point of the
// offline root). Files that are not PKCS#8 PEM keys are skipped.
Result<void> refuse_root_key(const std::string& dir, ByteView root_spki) {
    std::error_code ec;
    for (auto it = fs::recursive_directory_iterator(dir, ec); !ec && it != fs::recursive_directory_iterator();
         it.increment(ec)) {
        if (!it->is_regular_file(ec) || it->file_size(ec) > (1u << 20)) continue;
        auto text = platform::read_file(it->path().string());
        if (!text || text->find("PRIVATE KEY-----") == std::string::npos) continue;
        auto key = crypto::PrivateKey::from_pem(*text);
        if (key && key->public_key_der() == Bytes(root_spki.begin(), root_spki.end()))
            return make_error(Code::bad_argument, "'" + it->path().string() +
                                                      "' is the ROOT's private key: move it back to the offline root "
                                                      "machine and destroy this copy; a server never needs it");
    }
    if (ec) return make_error(Code::file_error, "cannot scan '" + dir + "': " + ec.message());
    return {};
}

Result<void> parse_listen(const std::string& listen, std::string& host, std::uint16_t& port) {
    const auto colon = listen.rfind(':');
    const std::string p = colon == std::string::npos ? "" : listen.substr(colon + 1);
    if (colon == std::string::npos || p.empty() || p.size() > 5 || p.find_first_not_of("0123456789") != std::string::npos ||
        std::stoul(p) > 65535)
        return make_error(Code::bad_argument, "--listen must be HOST:PORT with a port from 0 to 65535");
    host = listen.substr(0, colon);
    port = static_cast<std::uint16_t>(std::stoul(p));
    return {};
}

}  // namespace

// ---- helpers ------------------------------------------------------------------

std::string generation_dir(const std::string& domain_dir, unsigned generation) {
    return generation <= 1 ? domain_dir : domain_dir + "/generations/" + std::to_string(generation);
}

bool valid_dns_name(std::string_view name, bool subtree) {
    if (subtree && !name.empty() && name.front() == '.') name.remove_prefix(1);
    return is_valid_dns_name(name, true);
}

bool dns_name_permitted(std::string_view name, const std::vector<std::string>& permitted) {
    if (permitted.empty()) return true;
    for (std::string_view c : permitted) {
        if (c.empty()) continue;
        if (c.front() == '.') {
            if (name.size() > c.size() && name.substr(name.size() - c.size()) == c) return true;
        } else if (name == c || (name.size() > c.size() && name.substr(name.size() - c.size()) == c &&
                                 name[name.size() - c.size() - 1] == '.')) {
            return true;
        }
    }
    return false;
}

std::string normalize_serial(std::string_view text) {
    std::string s;
    if (text.size() > 2 && text[0] == '0' && (text[1] == 'x' || text[1] == 'X')) text.remove_prefix(2);
    for (char c : text) {
        if (c == ':') continue;
        if (!std::isxdigit(static_cast<unsigned char>(c))) return "";
        s += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    }
    return s.empty() ? "" : strip_zeros(s);
}

// ---- the root -----------------------------------------------------------------

Result<RootResult> create_root(const RootOptions& o, crypto::Random& rng) {
    if (o.name.empty()) return make_error(Code::bad_argument, "the root needs a --name");
    if (o.years < 1 || o.years > 50) return make_error(Code::bad_argument, "--years must be from 1 to 50");
    if (!ecdsa(o.key_type)) return make_error(Code::bad_argument, "the root key must be ecdsa-p384 or ecdsa-p256");
    const std::string dir = absolute(o.dir);
    RootResult out{dir + "/root-ca.pem", dir + "/root-ca.key", ""};
    if (auto r = refuse_existing({out.cert_path, out.key_path, dir + "/" + kSerialsFile},
                                 "a root already lives here and is never overwritten");
        !r)
        return r.error();
    if (auto r = private_dir(dir); !r) return r.error();
    if (auto r = private_dir(dir + "/issued"); !r) return r.error();

    auto key = crypto::PrivateKey::generate(o.key_type, rng);
    if (!key) return key.error();
    crypto::IssueProfile p;
    p.serial = crypto::random_serial(rng);
    p.common_name = o.name;
    p.organization = o.organization;
    p.not_before = o.now_unix - kBackdate;
    p.not_after = o.now_unix + o.years * 365 * kDay;
    p.ca = true;  // no pathLen: the root may later certify more than issuing CAs
    auto cert = crypto::issue_certificate(*key, {}, key->public_key_der(), p, rng);
    if (!cert) return cert.error();
    if (auto r = write_key(out.key_path, *key); !r) return r.error();
    if (auto r = write_cert(out.cert_path, *cert); !r) return r.error();
    if (auto r = write_registry(dir, {}); !r) return r.error();
    out.fingerprint_sha256 = fingerprint(*cert);
    return out;
}

Result<SignDomainResult> sign_domain(const SignDomainOptions& o, crypto::Random& rng) {
    if (!valid_dns_name(o.domain)) return make_error(Code::bad_argument, "--domain must be a lower-case DNS name");
    if (o.years < 1 || o.years > 30) return make_error(Code::bad_argument, "--years must be from 1 to 30");
    if (!o.permit_uri_hosts.empty())
        return make_error(Code::bad_argument,
                          "URI name constraints are refused: device certificates name urn:irp:<domain>:<device-id>, "
                          "which has no host, so OpenSSL (\"unsupported or invalid name syntax\") and the wallet "
                          "would reject every device certificate this CA issues; use --permit-dns");
    for (const auto& d : o.permit_dns)
        if (!valid_dns_name(d, true))
            return make_error(Code::bad_argument, "--permit-dns '" + d + "' is not a lower-case DNS name (or .name)");
    const std::string root_dir = absolute(o.root_dir);
    auto root = load_signer(root_dir + "/root-ca.pem", root_dir + "/root-ca.key");
    if (!root) return root.error();
    auto registry = read_registry(root_dir);
    if (!registry) return registry.error();

    const std::string csr_path = absolute(o.csr_path);
    auto csr_der = read_csr(csr_path);
    if (!csr_der) return csr_der.error();
    auto csr = crypto::parse_and_verify_csr(*csr_der);
    if (!csr) return make_error(csr.error().code, "'" + csr_path + "': " + csr.error().message);
    if (csr->common_name != o.domain)
        return make_error(Code::bad_argument, "the CSR is for '" + csr->common_name + "', not for --domain '" + o.domain +
                                                  "': is this the right request?");
    if (!ecdsa(csr->algorithm))
        return make_error(Code::bad_argument, "the CSR's key is " + std::string(crypto::key_algorithm_name(csr->algorithm)) +
                                                  "; a domain CA key must be ecdsa-p256 or ecdsa-p384");
    if (csr->public_key == root->info.public_key)
        return make_error(Code::bad_argument, "the CSR carries the root's own key");

    const std::string out_path =
        o.out_path.empty() ? fs::path(csr_path).parent_path().string() + "/domain-ca.pem" : absolute(o.out_path);
    if (auto r = refuse_existing({out_path}, "choose another --out; an issued certificate is never overwritten"); !r)
        return r.error();

    SignDomainResult out;
    const auto prior = std::count_if(registry->begin(), registry->end(),
                                     [&](const IssuedCa& c) { return c.domain == o.domain; });
    out.subject_cn = !o.subject_cn.empty() ? o.subject_cn
                     : prior == 0          ? "IRP Domain CA " + o.domain
                                           : "IRP Domain CA " + o.domain + " G" + std::to_string(prior + 1);
    crypto::IssueProfile p;
    p.serial = crypto::random_serial(rng);
    p.common_name = out.subject_cn;
    p.organization = o.domain;
    p.not_before = std::max(o.now_unix - kBackdate, root->info.not_before);
    p.not_after = std::min(o.now_unix + o.years * 365 * kDay, root->info.not_after);
    if (p.not_after <= o.now_unix) return make_error(Code::bad_argument, "the root certificate has expired");
    if (p.not_after < o.now_unix + o.years * 365 * kDay)
        out.warnings.push_back("validity clamped to the root's notAfter");
    p.ca = true;
    p.path_len = 0;
    p.permitted_dns = o.permit_dns;
    if (!o.crl_url.empty()) p.crl_urls = {o.crl_url};
    auto cert = crypto::issue_certificate(root->key, root->cert, csr->public_key, p, rng);
    if (!cert) return cert.error();
    auto info = crypto::parse_certificate(*cert);
    if (!info || !info->is_ca || info->path_len != std::optional<std::size_t>(0) || !crypto::signed_by(*cert, root->cert))
        return make_error(Code::internal, "the issued CA certificate does not check out");
    out.serial_hex = to_hex(info->serial);
    out.not_after = info->not_after;
    out.fingerprint_sha256 = fingerprint(*cert);

    if (!o.permit_dns.empty()) {
        if (!dns_name_permitted(o.domain, o.permit_dns))
            out.warnings.push_back("the domain '" + o.domain + "' itself is outside --permit-dns: the server's TLS "
                                   "certificate will need other names (irp-ca server-tls --dns)");
        out.warnings.push_back("under DNS name constraints OpenSSL checks a device certificate's CN as a host name "
                               "when it contains a dot: device ids with '.' would fail OpenSSL validation");
    }

    // The root remembers every certificate that leaves it before it leaves.
    if (std::any_of(registry->begin(), registry->end(), [&](const IssuedCa& c) { return c.serial_hex == out.serial_hex; }))
        return make_error(Code::internal, "serial collision; run again");
    if (auto r = write_cert(root_dir + "/issued/" + out.serial_hex + ".pem", *cert); !r) return r.error();
    registry->push_back(IssuedCa{out.serial_hex, o.domain, out.subject_cn, o.now_unix, info->not_after, std::nullopt, 0});
    if (auto r = write_registry(root_dir, *registry); !r) return r.error();
    if (auto r = write_cert(out_path, *cert); !r) return r.error();
    out.cert_path = out_path;
    return out;
}

Result<RootCrlResult> root_crl(const RootCrlOptions& o, crypto::Random& rng) {
    if (o.days < 1 || o.days > 3650) return make_error(Code::bad_argument, "--days must be from 1 to 3650");
    const std::string root_dir = absolute(o.root_dir);
    auto root = load_signer(root_dir + "/root-ca.pem", root_dir + "/root-ca.key");
    if (!root) return root.error();
    auto registry = read_registry(root_dir);
    if (!registry) return registry.error();
    auto last = last_crl_number(root_dir);
    if (!last) return last.error();

    if (!o.revoke_serial.empty()) {
        const std::string want = normalize_serial(o.revoke_serial);
        if (want.empty()) return make_error(Code::bad_argument, "--revoke-serial must be hex");
        auto it = std::find_if(registry->begin(), registry->end(),
                               [&](const IssuedCa& c) { return strip_zeros(c.serial_hex) == want; });
        if (it == registry->end())
            return make_error(Code::bad_argument, "serial " + want + " was not issued by this root (see " + root_dir + "/" +
                                                      kSerialsFile + ")");
        if (it->revoked_at) return make_error(Code::bad_argument, "serial " + want + " is already revoked");
        it->revoked_at = o.now_unix;
        it->reason = o.reason;
    }

    std::vector<crypto::CrlEntry> entries;
    for (const auto& c : *registry) {
        if (!c.revoked_at) continue;
        Bytes serial;
        if (!from_hex(c.serial_hex, serial)) return make_error(Code::file_error, "bad serial in registry: " + c.serial_hex);
        entries.push_back(crypto::CrlEntry{std::move(serial), *c.revoked_at, c.reason});
    }
    RootCrlResult out;
    out.number = *last + 1;
    out.entries = entries.size();
    out.next_update = o.now_unix + o.days * kDay;
    auto crl = crypto::issue_crl(root->key, root->cert, entries, out.number, o.now_unix, out.next_update, rng);
    if (!crl) return crl.error();
    // Number first: a crash afterwards leaves a gap, never a reused number.
    if (auto r = write_crl_number(root_dir, out.number); !r) return r.error();
    if (auto r = write_registry(root_dir, *registry); !r) return r.error();
    out.der_path = root_dir + "/root.crl";
    out.pem_path = root_dir + "/root.crl.pem";
    if (auto r = platform::write_file_atomic(out.der_path, std::string(crl->begin(), crl->end()), 0644); !r)
        return r.error();
    if (auto r = platform::write_file_atomic(out.pem_path, crypto::to_pem(*crl, "X509 CRL"), 0644); !r) return r.error();
    return out;
}

// ---- the domain ---------------------------------------------------------------

Result<DomainKeyResult> create_domain_key(const DomainKeyOptions& o, crypto::Random& rng) {
    if (!valid_dns_name(o.domain)) return make_error(Code::bad_argument, "--domain must be a lower-case DNS name");
    const std::string dir = absolute(o.dir);
    if (auto r = refuse_existing({dir + "/domain-ca.key", dir + "/domain-ca.csr", dir + "/domain-ca.pem"},
                                 "this directory already has a domain CA; start a new generation with `irp-ca rotate`");
        !r)
        return r.error();
    return write_key_and_csr(dir, o, rng);
}

Result<RotateResult> start_rotation(const DomainKeyOptions& o, crypto::Random& rng) {
    if (!valid_dns_name(o.domain)) return make_error(Code::bad_argument, "--domain must be a lower-case DNS name");
    const std::string dir = absolute(o.dir);
    if (!platform::file_exists(dir + "/domain-ca.pem"))
        return make_error(Code::bad_argument, "'" + dir + "' has no domain-ca.pem: rotation starts from a signed domain CA");
    unsigned newest = 1;
    std::error_code ec;
    if (fs::is_directory(dir + "/generations", ec))
        for (const auto& e : fs::directory_iterator(dir + "/generations", ec)) {
            const std::string name = e.path().filename().string();
            if (name.empty() || name.size() > 6 || name.find_first_not_of("0123456789") != std::string::npos) continue;
            newest = std::max(newest, static_cast<unsigned>(std::stoul(name)));
        }
    if (newest > 1 && !platform::file_exists(generation_dir(dir, newest) + "/domain-ca.pem"))
        return make_error(Code::bad_argument, "generation " + std::to_string(newest) + " is not signed yet: sign " +
                                                  generation_dir(dir, newest) + "/domain-ca.csr at the root, or remove it");
    if (auto r = private_dir(dir + "/generations"); !r) return r.error();
    RotateResult out;
    out.generation = newest + 1;
    out.dir = generation_dir(dir, out.generation);
    auto key = write_key_and_csr(out.dir, o, rng);
    if (!key) return key.error();
    out.key = std::move(key.value());
    return out;
}

Result<ServerTlsResult> server_tls(const ServerTlsOptions& o, crypto::Random& rng) {
    if (!valid_dns_name(o.domain)) return make_error(Code::bad_argument, "--domain must be a lower-case DNS name");
    if (o.days < 1 || o.days > 3650) return make_error(Code::bad_argument, "--days must be from 1 to 3650");
    const std::string gd = generation_dir(absolute(o.dir), o.generation);
    auto ca = load_signer(gd + "/domain-ca.pem", gd + "/domain-ca.key");
    if (!ca) return ca.error();
    ServerTlsResult out{gd + "/server-tls.pem", gd + "/server-tls.key", {}, {}};
    if (!o.force)
        if (auto r = refuse_existing({out.cert_path, out.key_path}, "pass --force to replace the TLS certificate"); !r)
            return r.error();

    const auto& permitted = ca->info.permitted_dns;
    if (o.dns.empty()) {
        for (const std::string& name : {o.domain, std::string("localhost")}) {
            if (dns_name_permitted(name, permitted))
                out.san_dns.push_back(name);
            else
                out.warnings.push_back("left out '" + name + "': the domain CA's name constraints do not permit it");
        }
    } else {
        for (const auto& name : o.dns) {
            if (!valid_dns_name(name)) return make_error(Code::bad_argument, "--dns '" + name + "' is not a lower-case DNS name");
            if (!dns_name_permitted(name, permitted))
                return make_error(Code::bad_argument, "--dns '" + name + "' is outside the domain CA's name constraints");
            out.san_dns.push_back(name);
        }
    }
    const std::vector<std::string> ips = o.ips.empty() ? std::vector<std::string>{"127.0.0.1"} : o.ips;
    for (const auto& ip : ips)
        if (!valid_ipv4(ip)) return make_error(Code::bad_argument, "--ip '" + ip + "' is not a dotted IPv4 address");

    auto key = crypto::PrivateKey::generate(crypto::KeyAlgorithm::ecdsa_p256, rng);  // TLS 1.2 serves ECDSA only
    if (!key) return key.error();
    crypto::IssueProfile p;
    p.serial = crypto::random_serial(rng);
    p.common_name = o.domain;
    p.organization = o.domain;
    p.san_dns = out.san_dns;
    p.san_ips = ips;
    p.not_before = std::max(o.now_unix - kBackdate, ca->info.not_before);
    p.not_after = std::min(o.now_unix + o.days * kDay, ca->info.not_after);
    if (p.not_after <= o.now_unix) return make_error(Code::bad_argument, "the domain CA certificate has expired");
    p.eku_server_auth = true;
    auto cert = crypto::issue_certificate(ca->key, ca->cert, key->public_key_der(), p, rng);
    if (!cert) return cert.error();
    if (auto r = write_key(out.key_path, *key); !r) return r.error();
    if (auto r = write_cert(out.cert_path, *cert); !r) return r.error();
    return out;
}

namespace {

// Points cfg at the CA in `incoming_cert` and `incoming_key`, retiring the
// CA it named before. Returns the certificate path retired now, or "".
std::string repoint_ca(server::Config& cfg, const std::string& incoming_cert, const std::string& incoming_key) {
    auto& retired = cfg.retired;
    std::erase_if(retired, [&](const server::RetiredCa& r) { return absolute(r.ca_certificate) == incoming_cert; });
    std::string moved;
    const bool outgoing = !cfg.ca_certificate.empty() && absolute(cfg.ca_certificate) != incoming_cert;
    if (outgoing && std::ranges::none_of(retired, [&](const server::RetiredCa& r) {
            return absolute(r.ca_certificate) == absolute(cfg.ca_certificate);
        })) {
        retired.push_back(server::RetiredCa{cfg.ca_certificate, cfg.ca_key});
        moved = cfg.ca_certificate;
    }
    cfg.ca_certificate = incoming_cert;
    cfg.ca_key = incoming_key;
    return moved;
}

}  // namespace

Result<AssembleResult> assemble(const AssembleOptions& o, crypto::Random& rng) {
    const std::string dir = absolute(o.dir);
    const std::string gd = generation_dir(dir, o.generation);
    for (const auto& [file, how] : {std::pair{"domain-ca.pem", "irp-ca sign-domain"}, {"domain-ca.key", "irp-ca domain-key"},
                                    {"server-tls.pem", "irp-ca server-tls"}, {"server-tls.key", "irp-ca server-tls"}})
        if (!platform::file_exists(gd + "/" + file))
            return make_error(Code::bad_argument, "'" + gd + "/" + file + "' is missing (made by `" + how + "`)");

    auto root = read_cert(absolute(o.root_cert));
    if (!root) return root.error();
    auto root_info = crypto::parse_certificate(*root);
    if (!root_info) return root_info.error();
    if (!root_info->is_ca || !crypto::signed_by(*root, *root))
        return make_error(Code::bad_argument, "'" + o.root_cert + "' is not a self-signed root CA certificate");
    if (auto r = refuse_root_key(dir, root_info->public_key); !r) return r.error();

    AssembleResult out;
    out.config_path = dir + "/server.toml";
    server::Config cfg;
    const bool existing = platform::file_exists(out.config_path);
    if (existing) {
        if (!o.force)
            return make_error(Code::bad_argument, "'" + out.config_path +
                                                      "' exists; pass --force to point it at this generation (its other "
                                                      "settings are kept)");
        auto loaded = server::load_config(out.config_path);
        if (!loaded) return loaded.error();
        cfg = std::move(loaded.value());
        if (!o.domain.empty() && o.domain != cfg.domain)
            return make_error(Code::bad_argument, "'" + out.config_path + "' is for domain '" + cfg.domain + "', not '" + o.domain + "'");
    } else {
        if (!valid_dns_name(o.domain)) return make_error(Code::bad_argument, "--domain must be a lower-case DNS name");
        if (!is_valid_identifier(o.class_name))
            return make_error(Code::bad_argument, "class name must be 1-64 characters from [A-Za-z0-9._-]");
        cfg.config_dir = dir;
        if (auto r = parse_listen(o.listen, cfg.listen_host, cfg.listen_port); !r) return r.error();
        cfg.domain = o.domain;
        cfg.database = dir + "/irp.db";
        cfg.classes[o.class_name] = server::ClassConfig{o.class_name, dir + "/classes/" + o.class_name + ".secret"};
        cfg.admin_token_file = dir + "/admin.token";
        if (!o.admin_listen.empty()) cfg.admin_listen = o.admin_listen;
        if (!o.http_listen.empty()) cfg.http_listen = o.http_listen;
    }
    cfg.root_certificate = dir + "/root-ca.pem";
    if (auto moved = repoint_ca(cfg, gd + "/domain-ca.pem", gd + "/domain-ca.key"); !moved.empty())
        out.retired.push_back(std::move(moved));
    cfg.tls_certificate = gd + "/server-tls.pem";
    cfg.tls_key = gd + "/server-tls.key";
    const std::string text = server::render_config(cfg);
    if (auto check = server::parse_config(text, out.config_path); !check)
        return make_error(Code::bad_argument, check.error().message);

    if (auto r = private_dir(dir); !r) return r.error();
    if (platform::file_exists(cfg.root_certificate)) {
        auto have = read_cert(cfg.root_certificate);
        if (!have || *have != *root) {
            if (!o.force)
                return make_error(Code::bad_argument, "'" + cfg.root_certificate +
                                                          "' holds another root; pass --force to replace it");
            if (auto r = write_cert(cfg.root_certificate, *root); !r) return r.error();
        }
    } else {
        if (auto r = write_cert(cfg.root_certificate, *root); !r) return r.error();
        out.created.push_back(cfg.root_certificate);
    }
    // Secrets are created once and never replaced: the manufacturer derives
    // every device's bootstrap token from the class secret.
    for (const auto& [name, cls] : cfg.classes) {
        if (platform::file_exists(cls.secret_file)) continue;
        if (auto r = private_dir(fs::path(cls.secret_file).parent_path().string()); !r) return r.error();
        if (auto r = platform::write_file_atomic(cls.secret_file, to_hex(rng.bytes(32)) + "\n", 0600); !r) return r.error();
        out.created.push_back(cls.secret_file);
    }
    if (!cfg.admin_token_file.empty() && !platform::file_exists(cfg.admin_token_file)) {
        if (auto r = platform::write_file_atomic(cfg.admin_token_file, to_hex(rng.bytes(32)) + "\n", 0600); !r)
            return r.error();
        out.created.push_back(cfg.admin_token_file);
    }
    // What `irp-server run` will check, checked before it can fail there.
    if (auto m = server::load_domain(cfg); !m) return m.error();
    if (auto r = platform::write_file_atomic(out.config_path, text, 0644); !r) return r.error();
    if (cfg.storage_url.empty() && !platform::file_exists(cfg.database)) {
        auto store = server::open_sqlite_store(cfg.database);
        if (!store) return store.error();
        out.created.push_back(cfg.database);
    }
    return out;
}

}  // namespace irp::ca_tool
