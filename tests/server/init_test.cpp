// Tests for `irp-server init` (init_domain) and load_domain: the files and
// their modes, the certificate hierarchy it builds, and the cross-checks
// load_domain makes before the server starts.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <string>
#include <vector>

#include "ca/authority.hpp"
#include "ca/init.hpp"
#include "config/config.hpp"
#include "test_domain.hpp"

using namespace irp;
using namespace irp::server;
using irp_test::file_mode;
using irp_test::kDay;
using irp_test::kNow;
using irp_test::pem_cert;
using irp_test::slurp;
using irp_test::spit;
using irp_test::TempDir;

namespace {

InitOptions options(const std::string& dir) {
    InitOptions o;
    o.dir = dir;
    o.domain = "plant.example";
    o.class_name = "sensor-v1";
    o.now_unix = kNow;
    return o;
}

InitResult init_ok(const InitOptions& o, std::uint64_t seed = 1) {
    auto rng = crypto::deterministic_random(seed);
    auto r = init_domain(o, *rng);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return r.value();
}

Config load_ok(const std::string& path) {
    auto cfg = load_config(path);
    REQUIRE_MESSAGE(cfg.ok(), (cfg.ok() ? "" : cfg.error().message));
    return cfg.value();
}

std::string octal(int mode) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0%o", static_cast<unsigned>(mode));
    return buf;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

// The DER value of the basicConstraints extension (OID 2.5.29.19) of a
// certificate, i.e. the content of its extnValue OCTET STRING; empty when
// the certificate has none. Enough DER for what issue_certificate writes.
Bytes basic_constraints_value(const Bytes& der) {
    const Bytes oid = {0x06, 0x03, 0x55, 0x1d, 0x13};
    auto it = std::search(der.begin(), der.end(), oid.begin(), oid.end());
    if (it == der.end()) return {};
    std::size_t i = static_cast<std::size_t>(it - der.begin()) + oid.size();
    if (i + 3 <= der.size() && der[i] == 0x01 && der[i + 1] == 0x01) i += 3;  // critical BOOLEAN
    if (i + 2 > der.size() || der[i] != 0x04) return {};
    const std::size_t len = der[i + 1];
    if (len >= 0x80 || i + 2 + len > der.size()) return {};
    return Bytes(der.begin() + static_cast<long>(i + 2), der.begin() + static_cast<long>(i + 2 + len));
}

bool is_critical_basic_constraints(const Bytes& der) {
    const Bytes pattern = {0x06, 0x03, 0x55, 0x1d, 0x13, 0x01, 0x01, 0xff};
    return std::search(der.begin(), der.end(), pattern.begin(), pattern.end()) != der.end();
}

}  // namespace

TEST_CASE("init creates the domain's files with private modes") {
    TempDir tmp;
    const std::string dir = tmp / "new/domain";  // parents are created too
    const auto res = init_ok(options(dir));
    CHECK(res.config_path == dir + "/server.toml");
    CHECK(res.root_path == dir + "/root-ca.pem");

    for (const char* f : {"server.toml", "root-ca.pem", "domain-ca.pem", "server-tls.pem", "irp.db"})
        CHECK_MESSAGE(file_mode(dir + "/" + f) >= 0, std::string(f) << " is missing");
    for (const char* f : {"root-ca.key", "domain-ca.key", "server-tls.key", "classes/sensor-v1.secret"})
        CHECK_MESSAGE(file_mode(dir + "/" + f) == 0600, std::string(f) << " has mode " << octal(file_mode(dir + "/" + f)));
    CHECK(file_mode(dir) == 0700);
    CHECK(file_mode(dir + "/classes") == 0700);
    // Certificates are public; nothing is writable by others.
    for (const char* f : {"server.toml", "root-ca.pem", "domain-ca.pem", "server-tls.pem"})
        CHECK_MESSAGE((file_mode(dir + "/" + f) & 0022) == 0, std::string(f) << " is group/world writable");

    // 32 random bytes of class secret, as hex.
    std::string secret = slurp(dir + "/classes/sensor-v1.secret");
    CHECK(secret.back() == '\n');
    secret.pop_back();
    Bytes raw;
    CHECK(from_hex(secret, raw));
    CHECK(raw.size() == 32);
    // No stray temporary files from the atomic writes.
    for (const auto& e : std::filesystem::directory_iterator(dir))
        CHECK_MESSAGE(e.path().filename().string().front() != '.', "stray file " << e.path());
}

TEST_CASE("init refuses to replace an existing domain unless forced") {
    TempDir tmp;
    const std::string dir = tmp / "domain";
    init_ok(options(dir), 1);
    const std::string root_before = slurp(dir + "/root-ca.pem");
    const std::string key_before = slurp(dir + "/domain-ca.key");

    auto rng = crypto::deterministic_random(2);
    auto again = init_domain(options(dir), *rng);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == Code::bad_argument);
    CHECK(contains(again.error().message, "server.toml"));
    CHECK(contains(again.error().message, "--force"));
    CHECK(slurp(dir + "/root-ca.pem") == root_before);
    CHECK(slurp(dir + "/domain-ca.key") == key_before);

    auto o = options(dir);
    o.force = true;
    auto forced = init_domain(o, *rng);
    REQUIRE_MESSAGE(forced.ok(), (forced.ok() ? "" : forced.error().message));
    CHECK(slurp(dir + "/root-ca.pem") != root_before);
    CHECK(slurp(dir + "/domain-ca.key") != key_before);
    auto m = load_domain(load_ok(forced->config_path));
    CHECK_MESSAGE(m.ok(), (m.ok() ? "" : m.error().message));
}

TEST_CASE("init refuses an invalid class name and writes nothing") {
    TempDir tmp;
    const std::string dir = tmp / "domain";
    auto o = options(dir);
    o.class_name = "../escape";
    auto rng = crypto::deterministic_random(1);
    auto r = init_domain(o, *rng);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::bad_argument);
    CHECK(file_mode(dir + "/server.toml") == -1);
    CHECK(file_mode(tmp / "escape.secret") == -1);
}

TEST_CASE("the config init writes loads, and so does the domain it names") {
    TempDir tmp;
    const std::string dir = tmp / "domain";
    auto o = options(dir);
    o.listen = "0.0.0.0:5000";
    const auto res = init_ok(o);
    const Config cfg = load_ok(res.config_path);
    CHECK(cfg.domain == "plant.example");
    CHECK(cfg.listen_host == "0.0.0.0");
    CHECK(cfg.listen_port == 5000);
    CHECK(cfg.config_dir == dir);
    CHECK(cfg.root_certificate == dir + "/root-ca.pem");
    CHECK(cfg.ca_certificate == dir + "/domain-ca.pem");
    CHECK(cfg.ca_key == dir + "/domain-ca.key");
    CHECK(cfg.tls_certificate == dir + "/server-tls.pem");
    CHECK(cfg.tls_key == dir + "/server-tls.key");
    CHECK(cfg.database == dir + "/irp.db");
    REQUIRE(cfg.classes.size() == 1);
    REQUIRE(cfg.classes.count("sensor-v1") == 1);
    CHECK(cfg.classes.at("sensor-v1").secret_file == dir + "/classes/sensor-v1.secret");

    auto m = load_domain(cfg);
    REQUIRE_MESSAGE(m.ok(), (m.ok() ? "" : m.error().message));
    CHECK(m->domain == "plant.example");
    CHECK(m->root_der == pem_cert(dir + "/root-ca.pem"));
    CHECK(m->ca_der == pem_cert(dir + "/domain-ca.pem"));
    REQUIRE(m->tls_chain.size() == 2);  // the root is the peer's trust anchor, not sent
    CHECK(m->tls_chain[0] == pem_cert(dir + "/server-tls.pem"));
    CHECK(m->tls_chain[1] == m->ca_der);
    CHECK(m->issuer_id == to_hex(m->ca_info.subject_key_id));
    CHECK_FALSE(m->issuer_id.empty());
    REQUIRE(m->ca_key);
    REQUIRE(m->tls_key);
    auto ca_info = crypto::parse_certificate(m->ca_der);
    REQUIRE(ca_info.ok());
    CHECK(m->ca_key->public_key_der() == ca_info->public_key);
    REQUIRE(m->class_secrets.count("sensor-v1") == 1);
    Bytes secret;
    std::string hex = slurp(dir + "/classes/sensor-v1.secret");
    hex.pop_back();
    REQUIRE(from_hex(hex, secret));
    CHECK(m->class_secrets.at("sensor-v1") == secret);

    // The store init created opens and is empty.
    auto store = open_sqlite_store(cfg.database);
    REQUIRE(store.ok());
    auto n = (*store)->count_certificates();
    REQUIRE(n.ok());
    CHECK(*n == 0);
}

TEST_CASE("the TLS certificate serves the domain and localhost") {
    TempDir tmp;
    const std::string dir = tmp / "domain";
    init_ok(options(dir));
    const Bytes tls = pem_cert(dir + "/server-tls.pem");
    const Bytes ca = pem_cert(dir + "/domain-ca.pem");
    const Bytes root = pem_cert(dir + "/root-ca.pem");
    auto info = crypto::parse_certificate(tls);
    REQUIRE(info.ok());
    CHECK(std::find(info->san_dns.begin(), info->san_dns.end(), "plant.example") != info->san_dns.end());
    CHECK(std::find(info->san_dns.begin(), info->san_dns.end(), "localhost") != info->san_dns.end());
    CHECK(info->eku_server_auth);
    CHECK_FALSE(info->eku_client_auth);
    CHECK_FALSE(info->is_ca);
    CHECK(info->key_usage_digital_signature);
    CHECK(info->subject_cn == "plant.example");
    CHECK(crypto::signed_by(tls, ca));
    const auto as_server = crypto::verify_chain(tls, {ca}, {root}, kNow, crypto::Usage::tls_server);
    CHECK_MESSAGE(as_server.ok(), (as_server.ok() ? "" : as_server.error().message));
    // serverAuth only: it cannot pose as a device.
    CHECK_FALSE(crypto::verify_chain(tls, {ca}, {root}, kNow, crypto::Usage::tls_client).ok());
    // Its key file holds the matching key.
    auto key = crypto::PrivateKey::from_pem(slurp(dir + "/server-tls.key"));
    REQUIRE(key.ok());
    CHECK(key->public_key_der() == info->public_key);
}

TEST_CASE("the domain CA is a CA with pathLen 0 signed by the root") {
    TempDir tmp;
    const std::string dir = tmp / "domain";
    init_ok(options(dir));
    const Bytes root = pem_cert(dir + "/root-ca.pem");
    const Bytes ca = pem_cert(dir + "/domain-ca.pem");

    auto root_info = crypto::parse_certificate(root);
    auto ca_info = crypto::parse_certificate(ca);
    REQUIRE(root_info.ok());
    REQUIRE(ca_info.ok());
    CHECK(root_info->is_ca);
    CHECK(ca_info->is_ca);
    CHECK(crypto::signed_by(root, root));
    CHECK(crypto::signed_by(ca, root));
    CHECK_FALSE(crypto::signed_by(root, ca));
    CHECK(ca_info->authority_key_id == root_info->subject_key_id);
    CHECK(ca_info->issuer == root_info->subject);
    CHECK(ca_info->not_before == kNow - 3600);
    CHECK(ca_info->not_after == kNow + 10 * 365 * kDay);
    CHECK(root_info->not_after == kNow + 20 * 365 * kDay);

    // basicConstraints, critical: cA TRUE, pathLenConstraint 0 ...
    CHECK(is_critical_basic_constraints(ca));
    CHECK(basic_constraints_value(ca) == Bytes{0x30, 0x06, 0x01, 0x01, 0xff, 0x02, 0x01, 0x00});
    // ... while the root's path length is unconstrained.
    CHECK(basic_constraints_value(root) == Bytes{0x30, 0x03, 0x01, 0x01, 0xff});

    // And pathLen 0 is what validation sees: a leaf straight from the domain
    // CA validates, a leaf under a sub-CA the domain CA signed does not.
    auto ca_key = crypto::PrivateKey::from_pem(slurp(dir + "/domain-ca.key"));
    REQUIRE(ca_key.ok());
    auto rng = crypto::deterministic_random(9);
    auto sub_key = crypto::PrivateKey::generate(crypto::KeyAlgorithm::ecdsa_p256, *rng);
    auto leaf_key = crypto::PrivateKey::generate(crypto::KeyAlgorithm::ecdsa_p256, *rng);
    REQUIRE(sub_key.ok());
    REQUIRE(leaf_key.ok());
    crypto::IssueProfile sub_p;
    sub_p.serial = crypto::random_serial(*rng);
    sub_p.common_name = "rogue sub-CA";
    sub_p.not_before = kNow - 60;
    sub_p.not_after = kNow + kDay;
    sub_p.ca = true;
    auto sub = crypto::issue_certificate(*ca_key, ca, sub_key->public_key_der(), sub_p, *rng);
    REQUIRE(sub.ok());
    crypto::IssueProfile leaf_p;
    leaf_p.serial = crypto::random_serial(*rng);
    leaf_p.common_name = "dev";
    leaf_p.not_before = kNow - 60;
    leaf_p.not_after = kNow + kDay;
    leaf_p.eku_client_auth = true;
    auto direct = crypto::issue_certificate(*ca_key, ca, leaf_key->public_key_der(), leaf_p, *rng);
    auto nested = crypto::issue_certificate(*sub_key, *sub, leaf_key->public_key_der(), leaf_p, *rng);
    REQUIRE(direct.ok());
    REQUIRE(nested.ok());
    const auto ok = crypto::verify_chain(*direct, {ca}, {root}, kNow, crypto::Usage::tls_client);
    CHECK_MESSAGE(ok.ok(), (ok.ok() ? "" : ok.error().message));
    CHECK_FALSE(crypto::verify_chain(*nested, {*sub, ca}, {root}, kNow, crypto::Usage::tls_client).ok());
}

TEST_CASE("load_domain refuses a CA key that does not match the CA certificate") {
    TempDir tmp;
    const std::string dir = tmp / "domain";
    const auto res = init_ok(options(dir));
    // Swap the two keys: each is a valid P-256 key, for the wrong certificate.
    const std::string ca_key = slurp(dir + "/domain-ca.key");
    const std::string tls_key = slurp(dir + "/server-tls.key");
    REQUIRE(ca_key != tls_key);
    spit(dir + "/domain-ca.key", tls_key);
    spit(dir + "/server-tls.key", ca_key);

    auto m = load_domain(load_ok(res.config_path));
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().code == Code::config_invalid);
    CHECK_MESSAGE(contains(m.error().message, dir + "/domain-ca.key"), m.error().message);
    CHECK_MESSAGE(contains(m.error().message, "does not match"), m.error().message);
}

TEST_CASE("load_domain refuses a TLS key that does not match the TLS certificate") {
    TempDir tmp;
    const std::string dir = tmp / "domain";
    const auto res = init_ok(options(dir));
    spit(dir + "/server-tls.key", slurp(dir + "/root-ca.key"));
    auto m = load_domain(load_ok(res.config_path));
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().code == Code::config_invalid);
    CHECK_MESSAGE(contains(m.error().message, dir + "/server-tls.key"), m.error().message);
}

TEST_CASE("load_domain refuses a CA certificate the root did not sign") {
    TempDir tmp;
    const std::string dir = tmp / "domain";
    const auto res = init_ok(options(dir), 1);
    TempDir other_tmp;
    init_ok(options(other_tmp / "domain"), 2);
    spit(dir + "/root-ca.pem", slurp(other_tmp / "domain/root-ca.pem"));
    auto m = load_domain(load_ok(res.config_path));
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().code == Code::config_invalid);
    CHECK_MESSAGE(contains(m.error().message, "not signed by the root"), m.error().message);
}

TEST_CASE("load_domain refuses a domain CA certificate that is not a CA") {
    TempDir tmp;
    const std::string dir = tmp / "domain";
    const auto res = init_ok(options(dir));
    // The root re-certifies the domain CA's own key, but as an end entity:
    // keys, signatures and the TLS certificate still all match.
    auto root_key = crypto::PrivateKey::from_pem(slurp(dir + "/root-ca.key"));
    auto ca_key = crypto::PrivateKey::from_pem(slurp(dir + "/domain-ca.key"));
    REQUIRE(root_key.ok());
    REQUIRE(ca_key.ok());
    auto rng = crypto::deterministic_random(4);
    crypto::IssueProfile p;
    p.serial = crypto::random_serial(*rng);
    p.common_name = "IRP Domain CA plant.example";
    p.organization = "plant.example";
    p.not_before = kNow - 3600;
    p.not_after = kNow + 365 * kDay;
    auto not_ca = crypto::issue_certificate(*root_key, pem_cert(dir + "/root-ca.pem"), ca_key->public_key_der(), p, *rng);
    REQUIRE(not_ca.ok());
    spit(dir + "/domain-ca.pem", crypto::to_pem(*not_ca, "CERTIFICATE"));

    auto m = load_domain(load_ok(res.config_path));
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().code == Code::config_invalid);
    CHECK_MESSAGE(contains(m.error().message, "not a CA certificate"), m.error().message);
}

TEST_CASE("load_domain refuses a class secret shorter than 16 bytes") {
    TempDir tmp;
    const std::string dir = tmp / "domain";
    const auto res = init_ok(options(dir));
    const std::string secret_path = dir + "/classes/sensor-v1.secret";
    const Config cfg = load_ok(res.config_path);

    SUBCASE("15 bytes") {
        spit(secret_path, "00112233445566778899aabbccddee\n");
        auto m = load_domain(cfg);
        REQUIRE_FALSE(m.ok());
        CHECK(m.error().code == Code::config_invalid);
        CHECK_MESSAGE(contains(m.error().message, secret_path), m.error().message);
        CHECK_MESSAGE(contains(m.error().message, "16 bytes"), m.error().message);
    }
    SUBCASE("4 bytes") {
        spit(secret_path, "00112233");
        auto m = load_domain(cfg);
        REQUIRE_FALSE(m.ok());
        CHECK(m.error().code == Code::config_invalid);
    }
    SUBCASE("not hex") {
        spit(secret_path, "zz112233445566778899aabbccddeeff\n");
        auto m = load_domain(cfg);
        REQUIRE_FALSE(m.ok());
        CHECK(m.error().code == Code::config_invalid);
    }
    SUBCASE("16 bytes is enough") {
        spit(secret_path, "00112233445566778899aabbccddeeff\n");
        auto m = load_domain(cfg);
        REQUIRE_MESSAGE(m.ok(), (m.ok() ? "" : m.error().message));
        CHECK(to_hex(m->class_secrets.at("sensor-v1")) == "00112233445566778899aabbccddeeff");
    }
}
