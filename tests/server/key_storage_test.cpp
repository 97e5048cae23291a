// Tests for the domain's private keys at rest as load_domain reads them:
// encrypted PKCS#8 files (domain.key_passphrase_file, IRP_KEY_PASSPHRASE)
// and keys in a PKCS#11 token (pkcs11: URIs, domain.pkcs11_module,
// pin-source, IRP_PKCS11_PIN), against SoftHSM2 (tests/crypto/softhsm.hpp).
#include <doctest/doctest.h>

#include <cstdlib>
#include <string>

#include "../crypto/softhsm.hpp"
#include "ca/authority.hpp"
#include "config/config.hpp"
#include "irp/crypto/revocation.hpp"
#include "test_domain.hpp"

using namespace irp;
using namespace irp::server;
using irp_test::kDay;
using irp_test::kNow;
using irp_test::pem_cert;
using irp_test::slurp;
using irp_test::spit;
using irp_test::TempDir;

namespace {

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

std::string replace(std::string text, const std::string& from, const std::string& to) {
    const auto at = text.find(from);
    REQUIRE_MESSAGE(at != std::string::npos, "'" << from << "' not in the text");
    return text.replace(at, from.size(), to);
}

// Sets an environment variable for one scope.
class EnvVar {
public:
    EnvVar(const char* name, const std::string& value) : name_(name) { ::setenv(name, value.c_str(), 1); }
    ~EnvVar() { ::unsetenv(name_); }
    EnvVar(const EnvVar&) = delete;
    EnvVar& operator=(const EnvVar&) = delete;

private:
    const char* name_;
};

// A domain from init_domain in `tmp`/domain; returns the config path.
std::string make_domain(const TempDir& tmp, std::uint64_t seed) {
    auto rng = crypto::deterministic_random(seed);
    InitOptions o;
    o.dir = tmp / "domain";
    o.domain = "plant.example";
    o.now_unix = kNow;
    auto r = init_domain(o, *rng);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return r->config_path;
}

Config load_ok(const std::string& path) {
    auto cfg = load_config(path);
    REQUIRE_MESSAGE(cfg.ok(), (cfg.ok() ? "" : cfg.error().message));
    return cfg.value();
}

crypto::PrivateKey pem_key(const std::string& path) {
    auto k = crypto::PrivateKey::from_pem(slurp(path));
    REQUIRE(k.ok());
    return std::move(k.value());
}

std::string error_of(const Result<DomainMaterial>& m) {
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().code == Code::config_invalid);
    return m.error().message;
}

// A device certificate from the loaded domain, checked up to the root.
void issue_and_verify(const DomainMaterial& m) {
    auto rng = crypto::deterministic_random(77);
    auto device = crypto::PrivateKey::generate(crypto::KeyAlgorithm::ecdsa_p256, *rng);
    REQUIRE(device.ok());
    Authority ca(m, ProfileSettings{}, *rng);
    auto cert = ca.issue_device("dev-0001", device->public_key_der(), kNow);
    REQUIRE_MESSAGE(cert.ok(), (cert.ok() ? "" : cert.error().message));
    auto chain = crypto::verify_chain(cert->der, {m.ca_der}, {m.root_der}, kNow + 60, crypto::Usage::tls_client);
    CHECK_MESSAGE(chain.ok(), (chain.ok() ? "" : chain.error().message));
    // What the store records is taken from issue_device's answer, not parsed
    // again: it must be what the certificate says.
    for (int i = 0; i < 32; ++i) {
        auto more = ca.issue_device("dev-" + std::to_string(i), device->public_key_der(), kNow + i);
        REQUIRE(more.ok());
        auto parsed = crypto::parse_certificate(more->der);
        REQUIRE(parsed.ok());
        CHECK(more->serial_hex == to_hex(parsed->serial));
        CHECK(more->not_before == parsed->not_before);
        CHECK(more->not_after == parsed->not_after);
    }
}

}  // namespace

// ---- encrypted PKCS#8 -------------------------------------------------------------------------

TEST_CASE("load_domain: encrypted PEM keys need the passphrase from key_passphrase_file or IRP_KEY_PASSPHRASE") {
    TempDir tmp;
    const std::string config_path = make_domain(tmp, 31);
    const std::string dir = tmp / "domain";
    auto rng = crypto::deterministic_random(32);
    for (const char* stem : {"domain-ca", "server-tls"}) {
        auto enc = pem_key(dir + "/" + stem + ".key").to_encrypted_pem("pass phrase 1", *rng);
        REQUIRE(enc.ok());
        spit(dir + "/" + stem + ".key", *enc);
    }
    ::unsetenv("IRP_KEY_PASSPHRASE");

    SUBCASE("without a passphrase: a clear error naming the key file") {
        const auto msg = error_of(load_domain(load_ok(config_path)));
        CHECK(contains(msg, dir + "/domain-ca.key"));
        CHECK(contains(msg, "is encrypted"));
        CHECK(contains(msg, "domain.key_passphrase_file"));
        CHECK(contains(msg, "IRP_KEY_PASSPHRASE"));
    }
    SUBCASE("key_passphrase_file in the config (relative to it); one trailing newline is not part of it") {
        spit(dir + "/key.pass", "pass phrase 1\n");
        spit(config_path, replace(slurp(config_path), "tls_key = \"server-tls.key\"\n",
                                  "tls_key = \"server-tls.key\"\nkey_passphrase_file = \"key.pass\"\n"));
        const Config cfg = load_ok(config_path);
        CHECK(cfg.key_passphrase_file == dir + "/key.pass");
        CHECK(contains(render_config(cfg), "key_passphrase_file = \"key.pass\""));
        auto m = load_domain(cfg);
        REQUIRE_MESSAGE(m.ok(), (m.ok() ? "" : m.error().message));
        CHECK(m->ca_key->public_key_der() == crypto::parse_certificate(m->ca_der)->public_key);
        issue_and_verify(*m);
    }
    SUBCASE("a wrong passphrase names the key and where the passphrase came from") {
        spit(dir + "/key.pass", "pass phrase 2\n");
        Config cfg = load_ok(config_path);
        cfg.key_passphrase_file = dir + "/key.pass";
        const auto msg = error_of(load_domain(cfg));
        CHECK(contains(msg, dir + "/domain-ca.key"));
        CHECK(contains(msg, "wrong passphrase"));
        CHECK(contains(msg, dir + "/key.pass"));
    }
    SUBCASE("an empty or missing passphrase file") {
        spit(dir + "/key.pass", "\n");
        Config cfg = load_ok(config_path);
        cfg.key_passphrase_file = dir + "/key.pass";
        CHECK(contains(error_of(load_domain(cfg)), "is empty"));
        cfg.key_passphrase_file = dir + "/no-such.pass";
        auto m = load_domain(cfg);
        REQUIRE_FALSE(m.ok());
        CHECK(contains(m.error().message, "no-such.pass"));
    }
    SUBCASE("IRP_KEY_PASSPHRASE; the file wins when both are set") {
        {
            EnvVar env("IRP_KEY_PASSPHRASE", "pass phrase 1");
            auto m = load_domain(load_ok(config_path));
            REQUIRE_MESSAGE(m.ok(), (m.ok() ? "" : m.error().message));
            issue_and_verify(*m);
        }
        EnvVar env("IRP_KEY_PASSPHRASE", "not it");
        CHECK(contains(error_of(load_domain(load_ok(config_path))), "(passphrase from IRP_KEY_PASSPHRASE)"));
        spit(dir + "/key.pass", "pass phrase 1");
        Config cfg = load_ok(config_path);
        cfg.key_passphrase_file = dir + "/key.pass";
        CHECK(load_domain(cfg).ok());
    }
}

// ---- PKCS#11 ----------------------------------------------------------------------------------

namespace {

// Replaces the domain CA and TLS keys of an init_domain domain with keys in
// the token ("<prefix>-ca", "<prefix>-tls"): new certificates for them, the
// CA one signed by the (software, offline) root.
void move_keys_into_token(irp_softhsm::SoftHsm& hsm, const std::string& dir, const std::string& prefix,
                          std::uint8_t id) {
    if (!hsm.private_attributes(prefix + "-ca").found) {  // once: doctest re-runs the case per SUBCASE
        hsm.generate(prefix + "-ca", {id}, irp_softhsm::Curve::p256);
        hsm.generate(prefix + "-tls", {static_cast<std::uint8_t>(id + 1)}, irp_softhsm::Curve::p256);
    }
    auto rng = crypto::deterministic_random(id);
    const auto root_key = pem_key(dir + "/root-ca.key");
    const Bytes root = pem_cert(dir + "/root-ca.pem");
    auto ca_key = crypto::PrivateKey::from_pkcs11(hsm.module(), "pkcs11:token=irp;object=" + prefix + "-ca", "1234");
    REQUIRE_MESSAGE(ca_key.ok(), (ca_key.ok() ? "" : ca_key.error().message));
    auto tls_key = crypto::PrivateKey::from_pkcs11(hsm.module(), "pkcs11:token=irp;object=" + prefix + "-tls", "1234");
    REQUIRE(tls_key.ok());

    crypto::IssueProfile ca_p;
    ca_p.serial = crypto::random_serial(*rng);
    ca_p.common_name = "IRP Domain CA plant.example (HSM)";
    ca_p.organization = "plant.example";
    ca_p.not_before = kNow - 3600;
    ca_p.not_after = kNow + 10 * 365 * kDay;
    ca_p.ca = true;
    ca_p.path_len = 0;
    auto ca = crypto::issue_certificate(root_key, root, ca_key->public_key_der(), ca_p, *rng);
    REQUIRE(ca.ok());
    crypto::IssueProfile tls_p;
    tls_p.serial = crypto::random_serial(*rng);
    tls_p.common_name = "plant.example";
    tls_p.san_dns = {"plant.example", "localhost"};
    tls_p.not_before = kNow - 3600;
    tls_p.not_after = kNow + 2 * 365 * kDay;
    tls_p.eku_server_auth = true;
    auto tls = crypto::issue_certificate(*ca_key, *ca, tls_key->public_key_der(), tls_p, *rng);  // through the token
    REQUIRE(tls.ok());
    spit(dir + "/domain-ca.pem", crypto::to_pem(*ca, "CERTIFICATE"));
    spit(dir + "/server-tls.pem", crypto::to_pem(*tls, "CERTIFICATE"));
}

std::string with_keys(std::string toml, const std::string& ca_key, const std::string& tls_key,
                      const std::string& extra) {
    toml = replace(toml, "ca_key = \"domain-ca.key\"", "ca_key = \"" + ca_key + "\"");
    return replace(toml, "tls_key = \"server-tls.key\"\n", "tls_key = \"" + tls_key + "\"\n" + extra);
}

}  // namespace

TEST_CASE("load_domain: the domain CA and TLS keys in a PKCS#11 token (SoftHSM2)") {
    irp_softhsm::SoftHsm* hsm = irp_softhsm::SoftHsm::get();
    if (!hsm) return;
    TempDir tmp;
    const std::string config_path = make_domain(tmp, 41);
    const std::string dir = tmp / "domain";
    move_keys_into_token(*hsm, dir, "srv", 0x10);
    spit(dir + "/pin", "1234\n");
    const std::string original = slurp(config_path);
    const std::string module_line = "pkcs11_module = \"" + hsm->module() + "\"\n";
    ::unsetenv("IRP_PKCS11_PIN");

    SUBCASE("pin-source files: load_domain, issue, CRL and OCSP through the token") {
        const std::string q = "?pin-source=file:" + dir + "/pin";
        spit(config_path, with_keys(original, "pkcs11:token=irp;object=srv-ca" + q, "pkcs11:token=irp;object=srv-tls" + q,
                                    module_line));
        const Config cfg = load_ok(config_path);
        CHECK(cfg.ca_key == "pkcs11:token=irp;object=srv-ca" + q);  // not resolved as a path
        CHECK(cfg.pkcs11_module == hsm->module());
        CHECK(contains(render_config(cfg), "ca_key = \"pkcs11:token=irp;object=srv-ca" + q + "\""));

        auto m = load_domain(cfg);
        REQUIRE_MESSAGE(m.ok(), (m.ok() ? "" : m.error().message));
        CHECK(m->ca_key->in_token());
        CHECK(m->tls_key->in_token());
        issue_and_verify(*m);

        auto rng = crypto::deterministic_random(42);
        auto crl = crypto::issue_crl(*m->ca_key, m->ca_der, {{Bytes{0x01, 0x23}, kNow - 60, 1}}, 1, kNow, kNow + kDay, *rng);
        CHECK_MESSAGE(crl.ok(), (crl.ok() ? "" : crl.error().message));
        const auto sig = m->tls_key->sign(Bytes{1, 2, 3}, *rng);  // as the TLS handshake does
        CHECK(crypto::verify_signature(m->tls_key->public_key_der(), Bytes{1, 2, 3}, sig));
    }
    SUBCASE("IRP_PKCS11_PIN when the URI has no pin-source") {
        spit(config_path, with_keys(original, "pkcs11:token=irp;object=srv-ca", "pkcs11:token=irp;object=srv-tls", module_line));
        {
            EnvVar pin("IRP_PKCS11_PIN", "1234");
            auto m = load_domain(load_ok(config_path));
            REQUIRE_MESSAGE(m.ok(), (m.ok() ? "" : m.error().message));
            issue_and_verify(*m);
        }
        const auto msg = error_of(load_domain(load_ok(config_path)));
        CHECK(contains(msg, "domain.ca_key (pkcs11:token=irp;object=srv-ca)"));
        CHECK(contains(msg, "needs a PIN"));
        CHECK(contains(msg, "IRP_PKCS11_PIN"));
    }
    SUBCASE("a wrong PIN") {
        spit(dir + "/pin", "4321\n");
        const std::string q = "?pin-source=file:" + dir + "/pin";
        spit(config_path, with_keys(original, "pkcs11:token=irp;object=srv-ca" + q, "server-tls.key", module_line));
        const auto msg = error_of(load_domain(load_ok(config_path)));
        CHECK(contains(msg, "domain.ca_key"));
        CHECK(contains(msg, "wrong PIN for token 'irp'"));
        CHECK_FALSE(contains(msg, "4321"));
    }
    SUBCASE("an unknown object label") {
        spit(config_path, with_keys(original, "pkcs11:token=irp;object=nope?pin-source=file:" + dir + "/pin",
                                    "server-tls.key", module_line));
        CHECK(contains(error_of(load_domain(load_ok(config_path))), "no private key object 'nope' on token 'irp'"));
    }
    SUBCASE("the TLS key's label for the CA key: it does not match the CA certificate") {
        const std::string q = "?pin-source=file:" + dir + "/pin";
        spit(config_path, with_keys(original, "pkcs11:token=irp;object=srv-tls" + q, "pkcs11:token=irp;object=srv-tls" + q,
                                    module_line));
        CHECK(contains(error_of(load_domain(load_ok(config_path))), "does not match its certificate"));
    }
    SUBCASE("no module") {
        spit(config_path, with_keys(original, "pkcs11:token=irp;object=srv-ca?pin-source=file:" + dir + "/pin",
                                    "server-tls.key", ""));
        CHECK(contains(error_of(load_domain(load_ok(config_path))), "set domain.pkcs11_module"));
    }
    SUBCASE("a malformed URI is a config error with its line") {
        spit(config_path, with_keys(original, "pkcs11:token=irp;object=srv-ca?pin-value=1234", "server-tls.key", module_line));
        auto cfg = load_config(config_path);
        REQUIRE_FALSE(cfg.ok());
        CHECK(cfg.error().code == Code::config_invalid);
        CHECK(contains(cfg.error().message, "server.toml:"));
        CHECK(contains(cfg.error().message, "'domain.ca_key': PKCS#11 URI: pin-value is not accepted"));
    }
}
