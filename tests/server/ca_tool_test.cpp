// Tests for irp-ca's library (server/ca_tool): the offline root, domain CA
// keys and CSRs, CSR-based CA issuance with pathLen 0 and name constraints,
// the root's CRL numbers, rotation generations, the server TLS certificate
// and assembling a domain that `irp-server run` loads without the root key.
// Negative cases first in each group.
#include <doctest/doctest.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <string>
#include <vector>

#include "ca/authority.hpp"
#include "ca_tool/offline_ca.hpp"
#include "ca_tool/registry.hpp"
#include "config/config.hpp"
#include "irp/platform/files.hpp"
#include "test_domain.hpp"

using namespace irp;
using namespace irp::ca_tool;
using irp_test::file_mode;
using irp_test::kDay;
using irp_test::kNow;
using irp_test::pem_cert;
using irp_test::slurp;
using irp_test::spit;
using irp_test::TempDir;

namespace {

constexpr const char* kDomain = "plant.example";

template <typename T>
T ok(Result<T> r) {
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return std::move(r.value());
}

void ok(Result<void> r) { REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message)); }

template <typename T>
Error err(Result<T> r) {
    REQUIRE_FALSE(r.ok());
    return r.error();
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

bool contains(const Bytes& hay, const Bytes& needle) {
    return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

RootResult make_root(const std::string& dir, crypto::Random& rng) {
    RootOptions o;
    o.dir = dir;
    o.name = "Example IoT Root";
    o.now_unix = kNow;
    return ok(create_root(o, rng));
}

DomainKeyResult make_domain_key(const std::string& dir, crypto::Random& rng) {
    return ok(create_domain_key(DomainKeyOptions{dir, kDomain, crypto::KeyAlgorithm::ecdsa_p256}, rng));
}

SignDomainOptions sign_options(const std::string& root_dir, const std::string& csr) {
    SignDomainOptions o;
    o.root_dir = root_dir;
    o.csr_path = csr;
    o.domain = kDomain;
    o.now_unix = kNow;
    return o;
}

Bytes der_of_csr(const std::string& path) {
    auto blocks = crypto::pem_blocks(slurp(path), "CERTIFICATE REQUEST");
    REQUIRE(blocks.ok());
    REQUIRE(blocks->size() == 1);
    return blocks->front();
}

// A device certificate from `ca` as irp-server would issue it.
Bytes device_cert(const crypto::PrivateKey& ca_key, const Bytes& ca, const std::string& id, crypto::Random& rng) {
    auto key = ok(crypto::PrivateKey::generate(crypto::KeyAlgorithm::ecdsa_p256, rng));
    crypto::IssueProfile p;
    p.serial = crypto::random_serial(rng);
    p.common_name = id;
    p.serial_number = id;
    p.san_uris = {server::device_uri(kDomain, id)};
    p.not_before = kNow - 300;
    p.not_after = kNow + 30 * kDay;
    p.eku_client_auth = true;
    return ok(crypto::issue_certificate(ca_key, ca, key.public_key_der(), p, rng));
}

crypto::PrivateKey load_key(const std::string& path) { return ok(crypto::PrivateKey::from_pem(slurp(path))); }

// root/ and domain/ under one temporary directory, with a signed domain CA.
struct Ceremony {
    TempDir tmp;
    std::string root = tmp / "root";
    std::string domain = tmp / "domain";
    std::unique_ptr<crypto::Random> rng = crypto::deterministic_random(7);
    SignDomainResult signed_ca;

    explicit Ceremony(std::vector<std::string> permit_dns = {kDomain}) {
        make_root(root, *rng);
        make_domain_key(domain, *rng);
        auto o = sign_options(root, domain + "/domain-ca.csr");
        o.permit_dns = std::move(permit_dns);
        signed_ca = ok(sign_domain(o, *rng));
    }
};

}  // namespace

TEST_SUITE("ca_tool") {

TEST_CASE("names: DNS syntax, constraint matching, serials typed by people") {
    CHECK_FALSE(valid_dns_name(""));
    CHECK_FALSE(valid_dns_name("Plant.example"));
    CHECK_FALSE(valid_dns_name("-a.example"));
    CHECK_FALSE(valid_dns_name("a..example"));
    CHECK_FALSE(valid_dns_name(".plant.example"));
    CHECK_FALSE(valid_dns_name(std::string(64, 'a') + ".example"));
    CHECK(valid_dns_name(".plant.example", true));
    CHECK(valid_dns_name("plant.example"));
    CHECK(valid_dns_name("localhost"));

    CHECK_FALSE(dns_name_permitted("localhost", {"plant.example"}));
    CHECK_FALSE(dns_name_permitted("evilplant.example", {"plant.example"}));
    CHECK_FALSE(dns_name_permitted("plant.example", {".plant.example"}));
    CHECK(dns_name_permitted("plant.example", {"plant.example"}));
    CHECK(dns_name_permitted("irp.plant.example", {"plant.example"}));
    CHECK(dns_name_permitted("irp.plant.example", {".plant.example"}));
    CHECK(dns_name_permitted("anything", {}));

    CHECK(normalize_serial("xyz") == "");
    CHECK(normalize_serial("") == "");
    CHECK(normalize_serial("0x00AB:CD") == "abcd");
    CHECK(normalize_serial("7F3e") == "7f3e");
}

TEST_CASE("registry: round trip, malformed lines refused") {
    TempDir tmp;
    CHECK(err(read_registry(tmp.path())).code == Code::bad_argument);  // not a root directory
    std::vector<IssuedCa> cas = {{"0abc", kDomain, "IRP Domain CA plant.example", kNow, kNow + kDay, std::nullopt, 0},
                                 {"7f01", kDomain, "IRP Domain CA plant.example G2", kNow, kNow + kDay, kNow + 5, 2}};
    ok(write_registry(tmp.path(), cas));
    auto back = ok(read_registry(tmp.path()));
    REQUIRE(back.size() == 2);
    CHECK(back[0].serial_hex == "0abc");
    CHECK_FALSE(back[0].revoked_at);
    CHECK(back[1].subject_cn == "IRP Domain CA plant.example G2");
    CHECK(back[1].revoked_at == kNow + 5);
    CHECK(back[1].reason == 2);

    spit(tmp / kSerialsFile, slurp(tmp / kSerialsFile) + "zz\tbroken\n");
    CHECK(contains(err(read_registry(tmp.path())).message, ":6: malformed line"));

    CHECK(ok(last_crl_number(tmp.path())) == 0);
    ok(write_crl_number(tmp.path(), 41));
    CHECK(ok(last_crl_number(tmp.path())) == 41);
    spit(tmp / kCrlNumberFile, "-3\n");
    CHECK_FALSE(last_crl_number(tmp.path()).ok());
}

TEST_CASE("root create: refuses bad options and never overwrites") {
    TempDir tmp;
    auto rng = crypto::deterministic_random(1);
    RootOptions o;
    o.dir = tmp / "root";
    o.now_unix = kNow;
    CHECK(err(create_root(o, *rng)).code == Code::bad_argument);  // no name
    o.name = "Example IoT Root";
    o.key_type = crypto::KeyAlgorithm::ed25519;
    CHECK(err(create_root(o, *rng)).code == Code::bad_argument);
    o.key_type = crypto::KeyAlgorithm::ecdsa_p384;
    o.years = 0;
    CHECK(err(create_root(o, *rng)).code == Code::bad_argument);
    o.years = 20;

    const auto r = ok(create_root(o, *rng));
    CHECK(file_mode(o.dir) == 0700);
    CHECK(file_mode(r.key_path) == 0600);
    CHECK(file_mode(r.cert_path) == 0644);
    CHECK(ok(read_registry(o.dir)).empty());
    const Bytes root = pem_cert(r.cert_path);
    const auto info = ok(crypto::parse_certificate(root));
    CHECK(info.is_ca);
    CHECK_FALSE(info.path_len);
    CHECK(info.subject_cn == "Example IoT Root");
    CHECK(info.not_after == kNow + 20 * 365 * kDay);
    CHECK(crypto::signed_by(root, root));
    CHECK(load_key(r.key_path).algorithm() == crypto::KeyAlgorithm::ecdsa_p384);
    CHECK(r.fingerprint_sha256.size() == 32 * 3 - 1);

    const std::string key_before = slurp(r.key_path);
    const auto again = err(create_root(o, *rng));
    CHECK(again.code == Code::bad_argument);
    CHECK(contains(again.message, "never overwritten"));
    CHECK(slurp(r.key_path) == key_before);
    // Any one of the three files is enough to refuse.
    for (const char* f : {"root-ca.pem", "root-ca.key", "serials"}) {
        TempDir other;
        spit(other / f, "x");
        o.dir = other.path();
        CHECK_FALSE(create_root(o, *rng).ok());
    }
}

TEST_CASE("domain-key: a key where it lives and a CSR naming the domain") {
    TempDir tmp;
    auto rng = crypto::deterministic_random(2);
    CHECK(err(create_domain_key(DomainKeyOptions{tmp / "d", "Not A Domain", crypto::KeyAlgorithm::ecdsa_p256}, *rng)).code ==
          Code::bad_argument);
    CHECK_FALSE(create_domain_key(DomainKeyOptions{tmp / "d", kDomain, crypto::KeyAlgorithm::ed25519}, *rng).ok());

    const auto r = make_domain_key(tmp / "d", *rng);
    CHECK(file_mode(tmp / "d") == 0700);
    CHECK(file_mode(r.key_path) == 0600);
    const auto csr = ok(crypto::parse_and_verify_csr(der_of_csr(r.csr_path)));
    CHECK(csr.common_name == kDomain);
    CHECK(csr.public_key == load_key(r.key_path).public_key_der());

    const std::string key_before = slurp(r.key_path);
    CHECK(contains(err(create_domain_key(DomainKeyOptions{tmp / "d", kDomain, crypto::KeyAlgorithm::ecdsa_p256}, *rng)).message,
                   "irp-ca rotate"));
    CHECK(slurp(r.key_path) == key_before);
}

TEST_CASE("sign-domain: refusals leave nothing behind") {
    TempDir tmp;
    auto rng = crypto::deterministic_random(3);
    make_root(tmp / "root", *rng);
    const auto dk = make_domain_key(tmp / "d", *rng);

    SUBCASE("a CSR for another domain") {
        auto o = sign_options(tmp / "root", dk.csr_path);
        o.domain = "other.example";
        CHECK(contains(err(sign_domain(o, *rng)).message, "is for 'plant.example'"));
    }
    SUBCASE("a CSR whose signature does not verify (proof of possession)") {
        Bytes der = der_of_csr(dk.csr_path);
        der[der.size() - 3] ^= 0xff;
        spit(tmp / "bad.der", std::string(der.begin(), der.end()));
        CHECK(err(sign_domain(sign_options(tmp / "root", tmp / "bad.der"), *rng)).code == Code::bad_possession_proof);
    }
    SUBCASE("URI name constraints: urn:irp: device names have no host") {
        auto o = sign_options(tmp / "root", dk.csr_path);
        o.permit_uri_hosts = {kDomain};
        CHECK(contains(err(sign_domain(o, *rng)).message, "URI name constraints are refused"));
    }
    SUBCASE("a malformed DNS constraint") {
        auto o = sign_options(tmp / "root", dk.csr_path);
        o.permit_dns = {"Plant Example"};
        CHECK(err(sign_domain(o, *rng)).code == Code::bad_argument);
    }
    SUBCASE("an existing output file") {
        spit(tmp / "d/domain-ca.pem", "keep me");
        CHECK(contains(err(sign_domain(sign_options(tmp / "root", dk.csr_path), *rng)).message, "never overwritten"));
        CHECK(slurp(tmp / "d/domain-ca.pem") == "keep me");
    }
    SUBCASE("not a root directory") {
        CHECK_FALSE(sign_domain(sign_options(tmp / "d", dk.csr_path), *rng).ok());
    }
    CHECK(ok(read_registry(tmp / "root")).empty());
    CHECK(std::filesystem::is_empty(tmp / "root/issued"));
}

TEST_CASE("sign-domain: pathLen 0, keyUsage, name constraints parsed back, recorded at the root") {
    Ceremony c;
    const auto& s = c.signed_ca;
    CHECK(s.cert_path == c.domain + "/domain-ca.pem");
    CHECK(s.subject_cn == "IRP Domain CA plant.example");
    const Bytes root = pem_cert(c.root + "/root-ca.pem");
    const Bytes ca = pem_cert(s.cert_path);
    const auto info = ok(crypto::parse_certificate(ca));
    CHECK(info.is_ca);
    REQUIRE(info.path_len);
    CHECK(*info.path_len == 0);
    CHECK(info.permitted_dns == std::vector<std::string>{kDomain});
    CHECK(info.permitted_uri_hosts.empty());
    CHECK(info.public_key == load_key(c.domain + "/domain-ca.key").public_key_der());
    CHECK(info.authority_key_id == ok(crypto::parse_certificate(root)).subject_key_id);
    CHECK_FALSE(info.subject_key_id.empty());
    CHECK(crypto::signed_by(ca, root));
    // Name Constraints (2.5.29.30) critical; keyUsage (2.5.29.15) critical
    // with exactly keyCertSign + cRLSign (BIT STRING 0x06 = bits 5 and 6).
    CHECK(contains(ca, Bytes{0x06, 0x03, 0x55, 0x1d, 0x1e, 0x01, 0x01, 0xff}));
    CHECK(contains(ca, Bytes{0x06, 0x03, 0x55, 0x1d, 0x0f, 0x01, 0x01, 0xff, 0x04, 0x04, 0x03, 0x02, 0x01, 0x06}));

    const auto cas = ok(read_registry(c.root));
    REQUIRE(cas.size() == 1);
    CHECK(cas[0].serial_hex == s.serial_hex);
    CHECK(cas[0].domain == kDomain);
    CHECK(cas[0].not_after == kNow + 5 * 365 * kDay);
    CHECK(pem_cert(c.root + "/issued/" + s.serial_hex + ".pem") == ca);
    CHECK(std::any_of(s.warnings.begin(), s.warnings.end(), [](const std::string& w) { return contains(w, "'.'"); }));

    // The constraint is enforced by path validation (Botan): a device
    // certificate passes, a TLS certificate naming localhost does not.
    auto ca_key = load_key(c.domain + "/domain-ca.key");
    CHECK(crypto::verify_chain(device_cert(ca_key, ca, "cam-001", *c.rng), {ca}, {root}, kNow, crypto::Usage::tls_client).ok());
    auto tls_key = ok(crypto::PrivateKey::generate(crypto::KeyAlgorithm::ecdsa_p256, *c.rng));
    crypto::IssueProfile p;
    p.serial = crypto::random_serial(*c.rng);
    p.common_name = kDomain;
    p.san_dns = {kDomain, "localhost"};
    p.not_before = kNow - 300;
    p.not_after = kNow + kDay;
    p.eku_server_auth = true;
    const Bytes bad_tls = ok(crypto::issue_certificate(ca_key, ca, tls_key.public_key_der(), p, *c.rng));
    CHECK_FALSE(crypto::verify_chain(bad_tls, {ca}, {root}, kNow, crypto::Usage::tls_server).ok());
}

TEST_CASE("sign-domain: validity is clamped to the root; no constraints = no extension") {
    TempDir tmp;
    auto rng = crypto::deterministic_random(4);
    RootOptions ro;
    ro.dir = tmp / "root";
    ro.name = "Short Root";
    ro.years = 2;
    ro.now_unix = kNow;
    ok(create_root(ro, *rng));
    const auto dk = make_domain_key(tmp / "d", *rng);
    auto o = sign_options(tmp / "root", dk.csr_path);
    o.years = 5;
    o.crl_url = "http://pki.example/root.crl";
    const auto s = ok(sign_domain(o, *rng));
    CHECK(s.not_after == kNow + 2 * 365 * kDay);
    CHECK(std::any_of(s.warnings.begin(), s.warnings.end(), [](const std::string& w) { return contains(w, "clamped"); }));
    const auto info = ok(crypto::parse_certificate(pem_cert(s.cert_path)));
    CHECK(info.permitted_dns.empty());
    CHECK(info.crl_urls == std::vector<std::string>{"http://pki.example/root.crl"});
    CHECK_FALSE(contains(pem_cert(s.cert_path), Bytes{0x06, 0x03, 0x55, 0x1d, 0x1e}));
}

TEST_CASE("crypto: URI name constraints encode and parse back; refused in a leaf") {
    auto rng = crypto::deterministic_random(5);
    auto key = ok(crypto::PrivateKey::generate(crypto::KeyAlgorithm::ecdsa_p256, *rng));
    crypto::IssueProfile p;
    p.serial = crypto::random_serial(*rng);
    p.common_name = "CA";
    p.not_before = kNow;
    p.not_after = kNow + kDay;
    p.permitted_uri_hosts = {".plant.example"};
    CHECK(err(crypto::issue_certificate(key, {}, key.public_key_der(), p, *rng)).code == Code::bad_argument);  // not a CA
    p.ca = true;
    p.permitted_dns = {"plant.example", ".example.org"};
    const auto info = ok(crypto::parse_certificate(ok(crypto::issue_certificate(key, {}, key.public_key_der(), p, *rng))));
    CHECK(info.permitted_dns == std::vector<std::string>{"plant.example", ".example.org"});
    CHECK(info.permitted_uri_hosts == std::vector<std::string>{".plant.example"});
    CHECK_FALSE(info.path_len);
    p.permitted_dns = {"bad name\x01"};
    CHECK_FALSE(crypto::issue_certificate(key, {}, key.public_key_der(), p, *rng).ok());
}

TEST_CASE("root-crl: numbers strictly increase; revocations are listed and final") {
    Ceremony c;
    RootCrlOptions o;
    o.root_dir = c.root;
    o.now_unix = kNow;
    o.days = 0;
    CHECK(err(root_crl(o, *c.rng)).code == Code::bad_argument);
    o.days = 365;

    const auto first = ok(root_crl(o, *c.rng));
    CHECK(first.number == 1);
    CHECK(first.entries == 0);
    CHECK(first.next_update == kNow + 365 * kDay);
    CHECK(ok(last_crl_number(c.root)) == 1);
    CHECK(contains(slurp(first.pem_path), "-----BEGIN X509 CRL-----"));
    const std::string der1 = slurp(first.der_path);
    CHECK(static_cast<unsigned char>(der1[0]) == 0x30);

    Bytes serial;
    REQUIRE(from_hex(c.signed_ca.serial_hex, serial));
    CHECK_FALSE(contains(Bytes(der1.begin(), der1.end()), serial));

    o.revoke_serial = "0x00" + c.signed_ca.serial_hex;  // as typed: prefix, leading zeros, upper case
    std::transform(o.revoke_serial.begin() + 2, o.revoke_serial.end(), o.revoke_serial.begin() + 2,
                   [](char ch) { return static_cast<char>(std::toupper(static_cast<unsigned char>(ch))); });
    o.reason = 2;  // cACompromise
    o.now_unix = kNow + 100;
    const auto second = ok(root_crl(o, *c.rng));
    CHECK(second.number == 2);
    CHECK(second.entries == 1);
    const std::string der2 = slurp(second.der_path);
    CHECK(contains(Bytes(der2.begin(), der2.end()), serial));
    const auto cas = ok(read_registry(c.root));
    CHECK(cas[0].revoked_at == kNow + 100);
    CHECK(cas[0].reason == 2);

    CHECK(contains(err(root_crl(o, *c.rng)).message, "already revoked"));
    o.revoke_serial = "0badc0de";
    CHECK(contains(err(root_crl(o, *c.rng)).message, "not issued by this root"));
    o.revoke_serial = "not hex";
    CHECK(err(root_crl(o, *c.rng)).code == Code::bad_argument);
    CHECK(ok(last_crl_number(c.root)) == 2);  // refusals use no number

    o.revoke_serial.clear();
    const auto third = ok(root_crl(o, *c.rng));
    CHECK(third.number == 3);
    CHECK(third.entries == 1);
    // A number stored by an interrupted run is never reused.
    ok(write_crl_number(c.root, 10));
    CHECK(ok(root_crl(o, *c.rng)).number == 11);
}

TEST_CASE("rotate: a new generation with its own key, CSR and subject") {
    Ceremony c;
    const DomainKeyOptions d{c.domain, kDomain, crypto::KeyAlgorithm::ecdsa_p256};
    {
        TempDir empty;
        CHECK(contains(err(start_rotation(DomainKeyOptions{empty.path(), kDomain, crypto::KeyAlgorithm::ecdsa_p256}, *c.rng)).message,
                       "no domain-ca.pem"));
    }
    const auto g2 = ok(start_rotation(d, *c.rng));
    CHECK(g2.generation == 2);
    CHECK(g2.dir == generation_dir(c.domain, 2));
    CHECK(g2.dir == c.domain + "/generations/2");
    CHECK(file_mode(g2.key.key_path) == 0600);
    CHECK(file_mode(c.domain + "/generations") == 0700);
    CHECK(contains(err(start_rotation(d, *c.rng)).message, "not signed yet"));

    auto o = sign_options(c.root, g2.key.csr_path);
    o.permit_dns = {kDomain};
    const auto s2 = ok(sign_domain(o, *c.rng));
    CHECK(s2.cert_path == g2.dir + "/domain-ca.pem");
    CHECK(s2.subject_cn == "IRP Domain CA plant.example G2");
    const Bytes root = pem_cert(c.root + "/root-ca.pem");
    const Bytes ca1 = pem_cert(c.signed_ca.cert_path), ca2 = pem_cert(s2.cert_path);
    CHECK(crypto::signed_by(ca1, root));
    CHECK(crypto::signed_by(ca2, root));
    CHECK(ok(crypto::parse_certificate(ca1)).public_key != ok(crypto::parse_certificate(ca2)).public_key);
    CHECK(ok(read_registry(c.root)).size() == 2);
    CHECK(ok(start_rotation(d, *c.rng)).generation == 3);
}

TEST_CASE("server-tls: names within the CA's constraints") {
    Ceremony c;
    ServerTlsOptions o;
    o.dir = c.domain;
    o.domain = kDomain;
    o.now_unix = kNow;
    o.dns = {"other.example"};
    CHECK(contains(err(server_tls(o, *c.rng)).message, "outside the domain CA's name constraints"));
    o.dns = {};
    o.ips = {"300.1.1.1"};
    CHECK(err(server_tls(o, *c.rng)).code == Code::bad_argument);
    o.ips = {};
    o.generation = 2;
    CHECK_FALSE(server_tls(o, *c.rng).ok());  // no such generation
    o.generation = 1;

    const auto r = ok(server_tls(o, *c.rng));
    CHECK(r.san_dns == std::vector<std::string>{kDomain});  // localhost left out
    CHECK(r.warnings.size() == 1);
    CHECK(file_mode(r.key_path) == 0600);
    const Bytes tls = pem_cert(r.cert_path), ca = pem_cert(c.signed_ca.cert_path);
    CHECK(crypto::verify_chain(tls, {ca}, {pem_cert(c.root + "/root-ca.pem")}, kNow, crypto::Usage::tls_server).ok());
    CHECK(ok(crypto::parse_certificate(tls)).not_after == kNow + 730 * kDay);

    CHECK(contains(err(server_tls(o, *c.rng)).message, "--force"));
    o.force = true;
    CHECK(ok(server_tls(o, *c.rng)).cert_path == r.cert_path);
    CHECK(pem_cert(r.cert_path) != tls);
}

TEST_CASE("assemble: a domain irp-server loads, with no root key anywhere in it") {
    Ceremony c;
    ServerTlsOptions t;
    t.dir = c.domain;
    t.domain = kDomain;
    t.now_unix = kNow;
    ok(server_tls(t, *c.rng));
    AssembleOptions o;
    o.dir = c.domain;
    o.root_cert = c.root + "/root-ca.pem";
    o.domain = kDomain;
    o.listen = "127.0.0.1:0";
    o.now_unix = kNow;

    SUBCASE("the root key under the domain directory is refused, wherever it hides") {
        std::filesystem::create_directories(c.domain + "/backup/old");
        std::filesystem::copy_file(c.root + "/root-ca.key", c.domain + "/backup/old/k.pem");
        CHECK(contains(err(assemble(o, *c.rng)).message, "is the ROOT's private key"));
        CHECK_FALSE(irp::platform::file_exists(c.domain + "/server.toml"));
    }
    SUBCASE("not a root certificate") {
        o.root_cert = c.signed_ca.cert_path;
        CHECK(contains(err(assemble(o, *c.rng)).message, "not a self-signed root"));
    }
    SUBCASE("a missing piece names the command that makes it") {
        o.generation = 2;
        CHECK(contains(err(assemble(o, *c.rng)).message, "irp-ca sign-domain"));
    }
    SUBCASE("assembled, loaded, re-pointed at a new generation") {
        const auto r = ok(assemble(o, *c.rng));
        CHECK(r.config_path == c.domain + "/server.toml");
        CHECK(file_mode(c.domain + "/classes/default.secret") == 0600);
        CHECK(file_mode(c.domain + "/admin.token") == 0600);
        CHECK(irp::platform::file_exists(c.domain + "/irp.db"));
        const auto cfg = ok(server::load_config(r.config_path));
        CHECK(cfg.domain == kDomain);
        CHECK(cfg.ca_certificate == c.domain + "/domain-ca.pem");
        const auto m = ok(server::load_domain(cfg));
        CHECK(m.root_der == pem_cert(c.root + "/root-ca.pem"));
        CHECK(m.ca_der == pem_cert(c.signed_ca.cert_path));
        CHECK(contains(err(assemble(o, *c.rng)).message, "--force"));

        // Generation 2, then re-point: secrets and settings are kept.
        const std::string secret = slurp(c.domain + "/classes/default.secret");
        const auto g2 = ok(start_rotation(DomainKeyOptions{c.domain, kDomain, crypto::KeyAlgorithm::ecdsa_p256}, *c.rng));
        ok(sign_domain(sign_options(c.root, g2.key.csr_path), *c.rng));
        o.generation = 2;
        o.force = true;
        o.domain = "";
        CHECK(contains(err(assemble(o, *c.rng)).message, "server-tls"));  // no TLS certificate for generation 2 yet
        t.generation = 2;
        ok(server_tls(t, *c.rng));
        o.domain = "other.example";
        CHECK(contains(err(assemble(o, *c.rng)).message, "not 'other.example'"));
        o.domain = "";
        const auto r2 = ok(assemble(o, *c.rng));
        CHECK(r2.created.empty());
        const auto cfg2 = ok(server::load_config(r2.config_path));
        CHECK(cfg2.ca_certificate == g2.dir + "/domain-ca.pem");
        CHECK(cfg2.tls_key == g2.dir + "/server-tls.key");
        CHECK(cfg2.listen_port == 0);
        CHECK(slurp(c.domain + "/classes/default.secret") == secret);
        CHECK(ok(server::load_domain(cfg2)).ca_der == pem_cert(g2.dir + "/domain-ca.pem"));

        // The outgoing generation is retired, once; re-pointing back swaps them.
        CHECK(r2.retired == std::vector<std::string>{c.domain + "/domain-ca.pem"});
        REQUIRE(cfg2.retired.size() == 1);
        CHECK(cfg2.retired[0].ca_certificate == c.domain + "/domain-ca.pem");
        CHECK(cfg2.retired[0].ca_key == c.domain + "/domain-ca.key");
        const auto m2 = ok(server::load_domain(cfg2));
        REQUIRE(m2.retired.size() == 1);
        CHECK(m2.retired[0].ca_der == pem_cert(c.signed_ca.cert_path));
        CHECK(ok(assemble(o, *c.rng)).retired.empty());  // same generation again
        CHECK(ok(server::load_config(r2.config_path)).retired.size() == 1);
        o.generation = 1;
        CHECK(ok(assemble(o, *c.rng)).retired == std::vector<std::string>{g2.dir + "/domain-ca.pem"});
        const auto cfg1 = ok(server::load_config(r2.config_path));
        CHECK(cfg1.ca_certificate == c.domain + "/domain-ca.pem");
        REQUIRE(cfg1.retired.size() == 1);
        CHECK(cfg1.retired[0].ca_certificate == g2.dir + "/domain-ca.pem");
    }
}

}  // TEST_SUITE
