// irp-ca: the offline-root workflow. The ceremony, step by step, with key
// locations and modes: docs/OPERATIONS.md.
//
//   root machine (offline)           domain server
//   ----------------------           -------------
//   root create                      domain-key            -> domain-ca.csr
//   sign-domain  <- domain-ca.csr    (carry domain-ca.pem back)
//   root-crl                         server-tls, assemble  -> irp-server run
//                                    rotate                -> generations/N/domain-ca.csr
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

#include "ca_tool/offline_ca.hpp"
#include "ca_tool/registry.hpp"
#include "revocation/revocation.hpp"

using namespace irp;

namespace {

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int fail(const Error& e) {
    std::fprintf(stderr, "irp-ca: %s\n", e.message.c_str());
    return e.category() == Category::usage ? 2 : 1;
}

void warn(const std::vector<std::string>& warnings) {
    for (const auto& w : warnings) std::fprintf(stderr, "irp-ca: note: %s\n", w.c_str());
}

std::string utc(std::int64_t t) {
    const std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    ::gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

// CLI11 check for --key-type.
struct KeyType {
    std::string name;
    Result<crypto::KeyAlgorithm> get() const {
        if (auto a = crypto::parse_key_algorithm(name)) return *a;
        return make_error(Code::bad_argument, "unknown --key-type '" + name + "'");
    }
};

int print_sign(const ca_tool::SignDomainResult& s) {
    warn(s.warnings);
    std::printf("%s\n", s.cert_path.c_str());
    std::fprintf(stderr, "signed '%s', serial %s, valid until %s\n  SHA-256 %s\n", s.subject_cn.c_str(),
                 s.serial_hex.c_str(), utc(s.not_after).c_str(), s.fingerprint_sha256.c_str());
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"irp-ca: offline root and domain issuing CAs for irp-server (docs/OPERATIONS.md)"};
    app.require_subcommand(1);
    auto rng = crypto::system_random();

    // root create
    ca_tool::RootOptions root;
    KeyType root_key{"ecdsa-p384"};
    auto* root_cmd = app.add_subcommand("root", "the offline root");
    root_cmd->require_subcommand(1);
    auto* root_create = root_cmd->add_subcommand("create", "create a root CA in --dir (never overwrites)");
    root_create->add_option("--dir", root.dir, "root directory (created 0700)")->required();
    root_create->add_option("--name", root.name, "subject CN, e.g. \"Example IoT Root\"")->required();
    root_create->add_option("--org", root.organization, "subject O");
    root_create->add_option("--years", root.years, "validity")->capture_default_str();
    root_create->add_option("--key-type", root_key.name, "ecdsa-p384 | ecdsa-p256")->capture_default_str();

    // domain-key
    ca_tool::DomainKeyOptions dk;
    KeyType dk_key{"ecdsa-p256"};
    auto* dk_cmd = app.add_subcommand("domain-key", "make the domain CA key and its CSR where the key will live");
    dk_cmd->add_option("--dir", dk.dir, "domain directory (created 0700)")->required();
    dk_cmd->add_option("--domain", dk.domain, "the domain's DNS name")->required();
    dk_cmd->add_option("--key-type", dk_key.name, "ecdsa-p256 | ecdsa-p384")->capture_default_str();

    // sign-domain
    ca_tool::SignDomainOptions sd;
    auto add_sign_options = [&sd](CLI::App* c, bool with_csr) {
        c->add_option("--root", sd.root_dir, "root directory")->required();
        if (with_csr) c->add_option("--csr", sd.csr_path, "the domain's domain-ca.csr")->required();
        c->add_option("--years", sd.years, "validity (clamped to the root's)")->capture_default_str();
        c->add_option("--permit-dns", sd.permit_dns, "Name Constraints: permitted DNS subtree (repeatable)");
        c->add_option("--permit-uri-domain", sd.permit_uri_hosts,
                      "Name Constraints: permitted URI host (refused for IRP device profiles, see docs/OPERATIONS.md)");
        c->add_option("--crl-url", sd.crl_url, "CRL distribution point: where the root's CRL is published");
        c->add_option("--cn", sd.subject_cn, "subject CN (default \"IRP Domain CA <domain>\", \" G<n>\" from the 2nd)");
    };
    auto* sd_cmd = app.add_subcommand("sign-domain", "sign a domain issuing CA (pathLen 0) from its CSR, with the root key");
    add_sign_options(sd_cmd, true);
    sd_cmd->add_option("--domain", sd.domain, "the domain; must match the CSR")->required();
    sd_cmd->add_option("--out", sd.out_path, "where to write the certificate (default: domain-ca.pem beside the CSR)");

    // rotate
    ca_tool::DomainKeyOptions rot;
    KeyType rot_key{"ecdsa-p256"};
    auto* rot_cmd = app.add_subcommand("rotate", "start a new domain CA generation (key + CSR in DIR/generations/N)");
    rot_cmd->add_option("--dir", rot.dir, "domain directory")->required();
    rot_cmd->add_option("--domain", rot.domain, "the domain's DNS name")->required();
    rot_cmd->add_option("--key-type", rot_key.name, "ecdsa-p256 | ecdsa-p384")->capture_default_str();
    auto* rot_root = rot_cmd->add_option("--root", sd.root_dir, "sign at once with this root (only where the root is)");
    rot_cmd->add_option("--years", sd.years, "with --root: validity")->capture_default_str();
    rot_cmd->add_option("--permit-dns", sd.permit_dns, "with --root: permitted DNS subtree (repeatable)");
    rot_cmd->add_option("--crl-url", sd.crl_url, "with --root: CRL distribution point of the root's CRL");

    // root-crl
    ca_tool::RootCrlOptions rc;
    std::string reason = "unspecified";
    auto* rc_cmd = app.add_subcommand("root-crl", "sign the root's CRL (optionally revoking a domain CA first)");
    rc_cmd->add_option("--root", rc.root_dir, "root directory")->required();
    auto* rc_serial = rc_cmd->add_option("--revoke-serial", rc.revoke_serial, "serial (hex) of a domain CA to revoke");
    rc_cmd->add_option("--reason", reason, "RFC 5280 reason: unspecified, keyCompromise, cACompromise, "
                                           "affiliationChanged, superseded, cessationOfOperation, privilegeWithdrawn")
        ->capture_default_str()
        ->needs(rc_serial);
    rc_cmd->add_option("--days", rc.days, "nextUpdate, days from now")->capture_default_str();

    // list
    std::string list_root;
    auto* list_cmd = app.add_subcommand("list", "list the CA certificates a root has issued");
    list_cmd->add_option("--root", list_root, "root directory")->required();

    // server-tls
    ca_tool::ServerTlsOptions tls;
    auto* tls_cmd = app.add_subcommand("server-tls", "issue the server's TLS certificate with the domain CA key");
    tls_cmd->add_option("--dir", tls.dir, "domain directory")->required();
    tls_cmd->add_option("--domain", tls.domain, "the domain's DNS name")->required();
    tls_cmd->add_option("--generation", tls.generation, "domain CA generation (1 = DIR itself)")->capture_default_str();
    tls_cmd->add_option("--dns", tls.dns, "SAN DNS names (default: the domain and localhost, as permitted)");
    tls_cmd->add_option("--ip", tls.ips, "SAN IPv4 addresses (default 127.0.0.1)");
    tls_cmd->add_option("--days", tls.days, "validity (clamped to the CA's)")->capture_default_str();
    tls_cmd->add_flag("--force", tls.force, "replace an existing server-tls.pem/.key");

    // assemble
    ca_tool::AssembleOptions as;
    auto* as_cmd = app.add_subcommand("assemble", "write server.toml, class secret and admin token (no root key needed)");
    as_cmd->add_option("--dir", as.dir, "domain directory")->required();
    as_cmd->add_option("--root-cert", as.root_cert, "the root certificate (root-ca.pem)")->required();
    as_cmd->add_option("--domain", as.domain, "the domain's DNS name (required for a new server.toml)");
    as_cmd->add_option("--generation", as.generation, "domain CA generation to serve")->capture_default_str();
    as_cmd->add_option("--class", as.class_name, "first device class")->capture_default_str();
    as_cmd->add_option("--listen", as.listen, "IRP listen address")->capture_default_str();
    as_cmd->add_option("--admin-listen", as.admin_listen, "admin API address (default 127.0.0.1:4605)");
    as_cmd->add_option("--http-listen", as.http_listen, "CRL/OCSP address (default 127.0.0.1:4680)");
    as_cmd->add_flag("--force", as.force, "re-point an existing server.toml at --generation (keeps its settings)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    const std::int64_t now = unix_now();

    if (*root_create) {
        auto kt = root_key.get();
        if (!kt) return fail(kt.error());
        root.key_type = *kt;
        root.now_unix = now;
        auto r = ca_tool::create_root(root, *rng);
        if (!r) return fail(r.error());
        std::printf("created root '%s'\n  certificate: %s\n  key:         %s (0600: keep this machine offline)\n"
                    "  SHA-256 %s\n",
                    root.name.c_str(), r->cert_path.c_str(), r->key_path.c_str(), r->fingerprint_sha256.c_str());
        return 0;
    }
    if (*dk_cmd) {
        auto kt = dk_key.get();
        if (!kt) return fail(kt.error());
        dk.key_type = *kt;
        auto r = ca_tool::create_domain_key(dk, *rng);
        if (!r) return fail(r.error());
        std::printf("%s\n", r->csr_path.c_str());
        std::fprintf(stderr, "key %s (0600, stays here); take the CSR to the root: irp-ca sign-domain --csr ...\n",
                     r->key_path.c_str());
        return 0;
    }
    if (*sd_cmd) {
        sd.now_unix = now;
        auto r = ca_tool::sign_domain(sd, *rng);
        if (!r) return fail(r.error());
        return print_sign(*r);
    }
    if (*rot_cmd) {
        auto kt = rot_key.get();
        if (!kt) return fail(kt.error());
        rot.key_type = *kt;
        auto r = ca_tool::start_rotation(rot, *rng);
        if (!r) return fail(r.error());
        std::fprintf(stderr, "generation %u: key %s\n", r->generation, r->key.key_path.c_str());
        if (!*rot_root) {
            std::printf("%s\n", r->key.csr_path.c_str());
            std::fprintf(stderr, "sign it at the root: irp-ca sign-domain --root ROOTDIR --csr domain-ca.csr --domain %s\n",
                         rot.domain.c_str());
            return 0;
        }
        sd.csr_path = r->key.csr_path;
        sd.domain = rot.domain;
        sd.now_unix = now;
        auto s = ca_tool::sign_domain(sd, *rng);
        if (!s) return fail(s.error());
        return print_sign(*s);
    }
    if (*rc_cmd) {
        const auto code = server::parse_reason(reason);
        if (!code) return fail(make_error(Code::bad_argument, "unknown --reason '" + reason + "'"));
        rc.reason = *code;
        rc.now_unix = now;
        auto r = ca_tool::root_crl(rc, *rng);
        if (!r) return fail(r.error());
        std::printf("%s\n%s\n", r->der_path.c_str(), r->pem_path.c_str());
        std::fprintf(stderr, "root CRL number %lld, %zu revoked, next update %s: re-sign before then\n",
                     static_cast<long long>(r->number), r->entries, utc(r->next_update).c_str());
        return 0;
    }
    if (*list_cmd) {
        auto cas = ca_tool::read_registry(list_root);
        if (!cas) return fail(cas.error());
        std::printf("%-34s %-24s %-21s %-21s %s\n", "SERIAL", "DOMAIN", "NOT AFTER", "REVOKED", "SUBJECT CN");
        for (const auto& c : *cas)
            std::printf("%-34s %-24s %-21s %-21s %s\n", c.serial_hex.c_str(), c.domain.c_str(), utc(c.not_after).c_str(),
                        c.revoked_at ? (utc(*c.revoked_at) + " " + server::reason_name(c.reason)).c_str() : "-",
                        c.subject_cn.c_str());
        return 0;
    }
    if (*tls_cmd) {
        tls.now_unix = now;
        auto r = ca_tool::server_tls(tls, *rng);
        if (!r) return fail(r.error());
        warn(r->warnings);
        std::printf("%s\n", r->cert_path.c_str());
        return 0;
    }
    if (*as_cmd) {
        as.now_unix = now;
        auto r = ca_tool::assemble(as, *rng);
        if (!r) return fail(r.error());
        for (const auto& f : r->created) std::fprintf(stderr, "created %s\n", f.c_str());
        for (const auto& f : r->retired)
            std::fprintf(stderr, "retired %s: it keeps signing CRLs and OCSP answers for what it issued\n", f.c_str());
        std::printf("%s\n", r->config_path.c_str());
        std::fprintf(stderr, "run: irp-server run --config %s\n", r->config_path.c_str());
        return 0;
    }
    return 2;
}
