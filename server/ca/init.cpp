#include "ca/init.hpp"

#include <filesystem>
#include <sys/stat.h>

#include "config/config.hpp"
#include "irp/core/transcript.hpp"
#include "irp/platform/files.hpp"
#include "store/store.hpp"

namespace irp::server {

namespace {

constexpr std::int64_t kDay = 24 * 3600;

struct Issued {
    crypto::PrivateKey key;
    Bytes cert;
};

Result<Issued> make_cert(const crypto::PrivateKey* issuer_key, ByteView issuer_cert, crypto::IssueProfile p,
                         crypto::Random& rng) {
    auto key = crypto::PrivateKey::generate(crypto::KeyAlgorithm::ecdsa_p256, rng);
    if (!key) return key.error();
    p.serial = crypto::random_serial(rng);
    const crypto::PrivateKey& signer = issuer_key ? *issuer_key : key.value();
    auto cert = crypto::issue_certificate(signer, issuer_cert, key->public_key_der(), p, rng);
    if (!cert) return cert.error();
    return Issued{std::move(key.value()), std::move(cert.value())};
}

Result<void> write_pair(const std::string& dir, const std::string& stem, const Issued& i) {
    if (auto r = platform::write_file_atomic(dir + "/" + stem + ".key", i.key.to_pem(), 0600); !r) return r;
    return platform::write_file_atomic(dir + "/" + stem + ".pem", crypto::to_pem(i.cert, "CERTIFICATE"), 0644);
}

}  // namespace

Result<InitResult> init_domain(const InitOptions& o, crypto::Random& rng) {
    const std::string dir = std::filesystem::absolute(o.dir).lexically_normal().string();
    const std::string config_path = dir + "/server.toml";
    if (platform::file_exists(config_path) && !o.force)
        return make_error(Code::bad_argument, "'" + config_path + "' exists; pass --force to replace the domain");
    if (!is_valid_identifier(o.class_name))
        return make_error(Code::bad_argument, "class name must be 1-64 characters from [A-Za-z0-9._-]");
    // Validate the would-be config (domain, listen address) before a single
    // key is written, by the same parser `run` uses.
    Config cfg;
    cfg.config_dir = dir;
    const auto colon = o.listen.rfind(':');
    const std::string port = colon == std::string::npos ? "" : o.listen.substr(colon + 1);
    if (colon == std::string::npos || port.empty() || port.size() > 5 ||
        port.find_first_not_of("0123456789") != std::string::npos || std::stoul(port) > 65535)
        return make_error(Code::bad_argument, "--listen must be HOST:PORT with a port from 0 to 65535");
    cfg.listen_host = o.listen.substr(0, colon);
    cfg.listen_port = static_cast<std::uint16_t>(std::stoul(port));
    cfg.domain = o.domain;
    cfg.root_certificate = dir + "/root-ca.pem";
    cfg.ca_certificate = dir + "/domain-ca.pem";
    cfg.ca_key = dir + "/domain-ca.key";
    cfg.tls_certificate = dir + "/server-tls.pem";
    cfg.tls_key = dir + "/server-tls.key";
    cfg.database = dir + "/irp.db";
    const std::string secret_path = dir + "/classes/" + o.class_name + ".secret";
    cfg.classes[o.class_name] = ClassConfig{o.class_name, secret_path};
    cfg.admin_token_file = dir + "/admin.token";
    if (!o.admin_listen.empty()) cfg.admin_listen = o.admin_listen;
    if (!o.http_listen.empty()) cfg.http_listen = o.http_listen;
    const std::string text = render_config(cfg);
    if (auto check = parse_config(text, config_path); !check)
        return make_error(Code::bad_argument, check.error().message);

    if (auto r = platform::make_dirs(dir, 0700); !r) return r.error();
    if (auto r = platform::make_dirs(dir + "/classes", 0700); !r) return r.error();
    // An existing directory is tightened too: it is about to hold CA keys.
    if (::chmod(dir.c_str(), 0700) != 0 || ::chmod((dir + "/classes").c_str(), 0700) != 0)
        return make_error(Code::file_error, "cannot set mode 0700 on '" + dir + "'");

    crypto::IssueProfile root_p;
    root_p.common_name = "IRP Root CA";
    root_p.organization = o.domain;
    root_p.not_before = o.now_unix - 3600;
    root_p.not_after = o.now_unix + 20 * 365 * kDay;
    root_p.ca = true;
    auto root = make_cert(nullptr, {}, root_p, rng);
    if (!root) return root.error();

    crypto::IssueProfile ca_p;
    ca_p.common_name = "IRP Domain CA " + o.domain;
    ca_p.organization = o.domain;
    ca_p.not_before = o.now_unix - 3600;
    ca_p.not_after = o.now_unix + 10 * 365 * kDay;
    ca_p.ca = true;
    ca_p.path_len = 0;
    auto ca = make_cert(&root->key, root->cert, ca_p, rng);
    if (!ca) return ca.error();

    crypto::IssueProfile tls_p;
    tls_p.common_name = o.domain;
    tls_p.organization = o.domain;
    tls_p.san_dns = {o.domain, "localhost"};
    tls_p.san_ips = {"127.0.0.1"};
    tls_p.not_before = o.now_unix - 3600;
    tls_p.not_after = o.now_unix + 2 * 365 * kDay;
    tls_p.eku_server_auth = true;
    auto tls = make_cert(&ca->key, ca->cert, tls_p, rng);
    if (!tls) return tls.error();

    for (auto [stem, issued] : {std::pair{"root-ca", &*root}, {"domain-ca", &*ca}, {"server-tls", &*tls}})
        if (auto r = write_pair(dir, stem, *issued); !r) return r.error();

    if (auto r = platform::write_file_atomic(secret_path, to_hex(rng.bytes(32)) + "\n", 0600); !r) return r.error();
    if (auto r = platform::write_file_atomic(cfg.admin_token_file, to_hex(rng.bytes(32)) + "\n", 0600); !r) return r.error();
    if (auto r = platform::write_file_atomic(config_path, text, 0644); !r) return r.error();

    auto store = open_sqlite_store(cfg.database);
    if (!store) return store.error();
    return InitResult{config_path, cfg.root_certificate};
}

}  // namespace irp::server
