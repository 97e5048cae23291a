// Tests for the crypto interface IRP owns (include/irp/crypto/crypto.hpp),
// run against today's Botan 2 implementation: hashes, keys, signatures,
// PKCS#10, issuance, parsing and path validation of a three-level PKI.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"
#include "irp/crypto/crypto.hpp"

namespace {

using irp::Bytes;
using irp::Code;
using namespace irp::crypto;

constexpr KeyAlgorithm kAlgorithms[] = {KeyAlgorithm::ecdsa_p256, KeyAlgorithm::ecdsa_p384, KeyAlgorithm::ed25519};

Bytes hex(std::string_view h) {
    Bytes b;
    REQUIRE(irp::from_hex(h, b));
    return b;
}

Bytes digest_bytes(const Digest& d) { return Bytes(d.begin(), d.end()); }

PrivateKey make_key(KeyAlgorithm alg, Random& rng) {
    auto k = PrivateKey::generate(alg, rng);
    REQUIRE(k.ok());
    return std::move(k.value());
}

// Fixed times (Unix seconds) so certificates do not depend on the clock.
constexpr std::int64_t kT0 = 1'700'000'000;  // 2023-11-14
constexpr std::int64_t kDay = 86'400;

}  // namespace

// ---- randomness, hashes, MACs -----------------------------------------------------

TEST_CASE("deterministic_random: same seed, same bytes; another seed, other bytes") {
    auto a = deterministic_random(1234);
    auto b = deterministic_random(1234);
    auto c = deterministic_random(1235);
    const Bytes a1 = a->bytes(64);
    CHECK(a1 == b->bytes(64));
    CHECK(a1 != c->bytes(64));
    // The stream goes on: the next draw differs from the first.
    const Bytes a2 = a->bytes(64);
    CHECK(a2 != a1);
    CHECK(a2 == b->bytes(64));
}

TEST_CASE("deterministic_random keeps going for many draws") {
    auto r = deterministic_random(9);
    for (int i = 0; i < 5000; ++i) (void)r->bytes(16);
    CHECK(r->bytes(200'000).size() == 200'000);
}

TEST_CASE("system_random gives fresh bytes") {
    auto r = system_random();
    const Bytes a = r->bytes(32);
    const Bytes b = r->bytes(32);
    CHECK(a.size() == 32);
    CHECK(a != b);
}

TEST_CASE("sha256 and hmac_sha256 known answers") {
    // FIPS 180-2, "abc".
    CHECK(digest_bytes(sha256(irp::as_bytes("abc"))) ==
          hex("ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"));
    // RFC 4231, test case 2.
    CHECK(digest_bytes(hmac_sha256(irp::as_bytes("Jefe"), irp::as_bytes("what do ya want for nothing?"))) ==
          hex("5bdcc146bf60754e6a042426089575c75a003f089d2739839dec58b964ec3843"));
}

TEST_CASE("constant_time_equal") {
    const Bytes a = {1, 2, 3}, b = {1, 2, 3}, c = {1, 2, 4}, d = {1, 2};
    CHECK(constant_time_equal(a, b));
    CHECK_FALSE(constant_time_equal(a, c));
    CHECK_FALSE(constant_time_equal(a, d));
    CHECK(constant_time_equal(Bytes{}, Bytes{}));
}

TEST_CASE("key algorithm names") {
    for (auto alg : kAlgorithms) CHECK(parse_key_algorithm(key_algorithm_name(alg)) == alg);
    CHECK(std::string(key_algorithm_name(KeyAlgorithm::ecdsa_p256)) == "ecdsa-p256");
    CHECK(std::string(key_algorithm_name(KeyAlgorithm::ecdsa_p384)) == "ecdsa-p384");
    CHECK(std::string(key_algorithm_name(KeyAlgorithm::ed25519)) == "ed25519");
    CHECK_FALSE(parse_key_algorithm("rsa-2048").has_value());
    CHECK_FALSE(parse_key_algorithm("").has_value());
}

// ---- keys and signatures --------------------------------------------------------------

TEST_CASE("keys: generate, PEM round trip, sign and verify") {
    auto rng = deterministic_random(1);
    for (auto alg : kAlgorithms) {
        const std::string alg_name = key_algorithm_name(alg);
        CAPTURE(alg_name);
        const PrivateKey key = make_key(alg, *rng);
        CHECK(key.algorithm() == alg);
        const Bytes spki = key.public_key_der();
        REQUIRE_FALSE(spki.empty());
        CHECK(spki_algorithm(spki) == alg);

        const std::string pem = key.to_pem();
        CHECK(pem.find("-----BEGIN PRIVATE KEY-----") != std::string::npos);
        auto back = PrivateKey::from_pem(pem);
        REQUIRE(back.ok());
        CHECK(back->algorithm() == alg);
        CHECK(back->public_key_der() == spki);

        const Bytes msg = irp::to_bytes("the message");
        const Bytes sig = key.sign(msg, *rng);
        CHECK(verify_signature(spki, msg, sig));
        // The reloaded key signs for the same public key.
        CHECK(verify_signature(spki, msg, back->sign(msg, *rng)));

        CHECK_FALSE(verify_signature(spki, irp::to_bytes("another message"), sig));
        const PrivateKey other = make_key(alg, *rng);
        CHECK_FALSE(verify_signature(other.public_key_der(), msg, sig));
        Bytes bad = sig;
        bad[bad.size() / 2] ^= 0x40;
        CHECK_FALSE(verify_signature(spki, msg, bad));
        CHECK_FALSE(verify_signature(spki, msg, Bytes{}));
    }
}

TEST_CASE("keys of another algorithm do not verify each other's signatures") {
    auto rng = deterministic_random(2);
    const PrivateKey p256 = make_key(KeyAlgorithm::ecdsa_p256, *rng);
    const PrivateKey ed = make_key(KeyAlgorithm::ed25519, *rng);
    const Bytes msg = irp::to_bytes("m");
    CHECK_FALSE(verify_signature(ed.public_key_der(), msg, p256.sign(msg, *rng)));
    CHECK_FALSE(verify_signature(p256.public_key_der(), msg, ed.sign(msg, *rng)));
}

TEST_CASE("key generation is reproducible from a deterministic source") {
    for (auto alg : kAlgorithms) {
        const std::string alg_name = key_algorithm_name(alg);
        CAPTURE(alg_name);
        auto r1 = deterministic_random(77);
        auto r2 = deterministic_random(77);
        CHECK(make_key(alg, *r1).public_key_der() == make_key(alg, *r2).public_key_der());
    }
}

TEST_CASE("bad key input is refused") {
    auto r = PrivateKey::from_pem("not a key");
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::file_error);
    CHECK_FALSE(spki_algorithm(irp::to_bytes("not a key")).has_value());
    CHECK_FALSE(verify_signature(irp::to_bytes("not a key"), irp::to_bytes("m"), Bytes(64, 1)));
}

// ---- PKCS#10 ------------------------------------------------------------------------------

TEST_CASE("a CSR carries its challenge and algorithm, and its self-signature verifies") {
    auto rng = deterministic_random(3);
    for (auto alg : kAlgorithms) {
        const std::string alg_name = key_algorithm_name(alg);
        CAPTURE(alg_name);
        const PrivateKey key = make_key(alg, *rng);
        const std::string challenge(64, 'a');  // a hex transcript is 64 characters
        auto csr = create_csr(key, "dev-1", challenge, *rng);
        REQUIRE(csr.ok());
        auto info = parse_and_verify_csr(*csr);
        REQUIRE(info.ok());
        CHECK(info->challenge == challenge);
        CHECK(info->algorithm == alg);
        CHECK(info->public_key == key.public_key_der());
        CHECK_FALSE(info->requests_ca);
        // The fields Botan's create_cert_req wrote before create_csr encoded
        // the request itself: the name, and an extension request holding
        // only basicConstraints (cA false).
        CHECK(info->common_name == "dev-1");
        CHECK(info->extension_oids == std::vector<std::string>{"2.5.29.19"});
    }
}

TEST_CASE("a damaged CSR is refused") {
    auto rng = deterministic_random(4);
    const PrivateKey key = make_key(KeyAlgorithm::ecdsa_p256, *rng);
    auto csr = create_csr(key, "dev-1", "challenge", *rng);
    REQUIRE(csr.ok());

    SUBCASE("not DER") {
        auto r = parse_and_verify_csr(irp::to_bytes("hello"));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::invalid_csr);
    }
    SUBCASE("empty") {
        auto r = parse_and_verify_csr(Bytes{});
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::invalid_csr);
    }
    SUBCASE("truncated") {
        Bytes t = *csr;
        t.resize(t.size() - 10);
        auto r = parse_and_verify_csr(t);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::invalid_csr);
    }
    SUBCASE("signature byte flipped") {
        Bytes t = *csr;
        t[t.size() - 2] ^= 0x01;
        auto r = parse_and_verify_csr(t);
        REQUIRE_FALSE(r.ok());
        CHECK((r.error().code == Code::bad_possession_proof || r.error().code == Code::invalid_csr));
    }
    SUBCASE("challenge changed after signing") {
        // The challenge is inside the signed part: editing it breaks the signature.
        Bytes t = *csr;
        const std::string from = "challenge", to = "challengf";
        auto it = std::search(t.begin(), t.end(), from.begin(), from.end());
        REQUIRE(it != t.end());
        std::copy(to.begin(), to.end(), it);
        auto r = parse_and_verify_csr(t);
        REQUIRE_FALSE(r.ok());
        CHECK((r.error().code == Code::bad_possession_proof || r.error().code == Code::invalid_csr));
    }
    SUBCASE("a certificate is not a CSR") {
        IssueProfile p;
        p.serial = {1};
        p.common_name = "x";
        p.not_before = kT0;
        p.not_after = kT0 + kDay;
        auto cert = issue_certificate(key, {}, key.public_key_der(), p, *rng);
        REQUIRE(cert.ok());
        auto r = parse_and_verify_csr(*cert);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::invalid_csr);
    }
}

// ---- a three-level PKI --------------------------------------------------------------------

namespace {

struct Pki {
    std::unique_ptr<Random> rng = deterministic_random(5);
    PrivateKey root_key = make_key(KeyAlgorithm::ecdsa_p384, *rng);
    PrivateKey ca_key = make_key(KeyAlgorithm::ecdsa_p256, *rng);
    PrivateKey leaf_key = make_key(KeyAlgorithm::ed25519, *rng);
    Bytes root, ca, leaf;
    IssueProfile leaf_profile;

    static IssueProfile ca_profile(std::string cn, Random& rng, std::optional<std::size_t> path_len) {
        IssueProfile p;
        p.serial = random_serial(rng);
        p.common_name = std::move(cn);
        p.organization = "IRP Test";
        p.not_before = kT0 - kDay;
        p.not_after = kT0 + 3650 * kDay;
        p.ca = true;
        p.path_len = path_len;
        return p;
    }

    Pki() {
        auto r = issue_certificate(root_key, {}, root_key.public_key_der(), ca_profile("Test Root", *rng, {}), *rng);
        REQUIRE(r.ok());
        root = *r;
        auto c = issue_certificate(root_key, root, ca_key.public_key_der(), ca_profile("Test Domain CA", *rng, 0),
                                   *rng);
        REQUIRE(c.ok());
        ca = *c;
        leaf_profile.serial = random_serial(*rng);
        leaf_profile.common_name = "dev-1";
        leaf_profile.serial_number = "dev-1";
        leaf_profile.san_uris = {"irp://example.test/device/dev-1"};
        leaf_profile.not_before = kT0;
        leaf_profile.not_after = kT0 + 365 * kDay;
        leaf_profile.eku_client_auth = true;
        auto l = issue_certificate(ca_key, ca, leaf_key.public_key_der(), leaf_profile, *rng);
        REQUIRE(l.ok());
        leaf = *l;
    }
};

}  // namespace

TEST_CASE("issued certificates parse back with the profile's fields") {
    Pki pki;
    auto leaf = parse_certificate(pki.leaf);
    REQUIRE(leaf.ok());
    CHECK(leaf->serial == pki.leaf_profile.serial);
    CHECK(leaf->subject_cn == "dev-1");
    CHECK(leaf->subject_serial_number == "dev-1");
    CHECK(leaf->san_uris == std::vector<std::string>{"irp://example.test/device/dev-1"});
    CHECK(leaf->san_dns.empty());
    CHECK(leaf->public_key == pki.leaf_key.public_key_der());
    CHECK(leaf->not_before == kT0);
    CHECK(leaf->not_after == kT0 + 365 * kDay);
    CHECK_FALSE(leaf->is_ca);
    CHECK(leaf->key_usage_digital_signature);
    CHECK(leaf->eku_client_auth);
    CHECK_FALSE(leaf->eku_server_auth);
    CHECK(leaf->issuer.find("Test Domain CA") != std::string::npos);

    auto ca = parse_certificate(pki.ca);
    REQUIRE(ca.ok());
    CHECK(ca->is_ca);
    CHECK(ca->subject_cn == "Test Domain CA");
    CHECK(ca->subject_serial_number.empty());
    CHECK(ca->issuer.find("Test Root") != std::string::npos);
    CHECK_FALSE(ca->key_usage_digital_signature);
    CHECK_FALSE(ca->subject_key_id.empty());
    // The leaf names its issuer's key; the CA names the root's.
    CHECK(leaf->authority_key_id == ca->subject_key_id);
    auto root = parse_certificate(pki.root);
    REQUIRE(root.ok());
    CHECK(root->is_ca);
    CHECK(root->subject == root->issuer);
    CHECK(ca->authority_key_id == root->subject_key_id);
    CHECK(root->authority_key_id == root->subject_key_id);

    // Raw names compare exactly along the chain.
    auto leaf_issuer = certificate_issuer_name(pki.leaf);
    auto ca_subject = certificate_subject_name(pki.ca);
    REQUIRE(leaf_issuer.ok());
    REQUIRE(ca_subject.ok());
    CHECK(*leaf_issuer == *ca_subject);
    CHECK(*certificate_subject_name(pki.root) == *certificate_issuer_name(pki.root));
}

TEST_CASE("a server certificate carries serverAuth and its DNS names") {
    Pki pki;
    IssueProfile p;
    p.serial = random_serial(*pki.rng);
    p.common_name = "ca.example.test";
    p.san_dns = {"ca.example.test"};
    p.san_ips = {"192.0.2.1"};
    p.not_before = kT0;
    p.not_after = kT0 + 30 * kDay;
    p.eku_server_auth = true;
    auto cert = issue_certificate(pki.ca_key, pki.ca, pki.leaf_key.public_key_der(), p, *pki.rng);
    REQUIRE(cert.ok());
    auto info = parse_certificate(*cert);
    REQUIRE(info.ok());
    CHECK(info->eku_server_auth);
    CHECK_FALSE(info->eku_client_auth);
    CHECK(info->san_dns == std::vector<std::string>{"ca.example.test"});
    CHECK(verify_chain(*cert, {pki.ca}, {pki.root}, kT0 + kDay, Usage::tls_server).ok());
    CHECK_FALSE(verify_chain(*cert, {pki.ca}, {pki.root}, kT0 + kDay, Usage::tls_client).ok());
}

TEST_CASE("verify_chain") {
    Pki pki;
    const std::int64_t now = kT0 + kDay;
    SUBCASE("a client certificate validates for tls_client and any") {
        CHECK(verify_chain(pki.leaf, {pki.ca}, {pki.root}, now, Usage::tls_client).ok());
        CHECK(verify_chain(pki.leaf, {pki.ca}, {pki.root}, now, Usage::any).ok());
    }
    SUBCASE("but not for tls_server") {
        auto r = verify_chain(pki.leaf, {pki.ca}, {pki.root}, now, Usage::tls_server);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::unknown_certificate);
    }
    SUBCASE("the wrong root") {
        auto other_key = make_key(KeyAlgorithm::ecdsa_p384, *pki.rng);
        auto other = issue_certificate(other_key, {}, other_key.public_key_der(),
                                       Pki::ca_profile("Test Root", *pki.rng, {}), *pki.rng);
        REQUIRE(other.ok());
        CHECK_FALSE(verify_chain(pki.leaf, {pki.ca}, {*other}, now, Usage::tls_client).ok());
        CHECK_FALSE(verify_chain(pki.leaf, {pki.ca}, {}, now, Usage::tls_client).ok());
    }
    SUBCASE("the intermediate missing") {
        CHECK_FALSE(verify_chain(pki.leaf, {}, {pki.root}, now, Usage::tls_client).ok());
    }
    SUBCASE("after not_after, before not_before") {
        CHECK(verify_chain(pki.leaf, {pki.ca}, {pki.root}, kT0 + 365 * kDay - 1, Usage::tls_client).ok());
        CHECK_FALSE(verify_chain(pki.leaf, {pki.ca}, {pki.root}, kT0 + 365 * kDay + 1, Usage::tls_client).ok());
        CHECK_FALSE(verify_chain(pki.leaf, {pki.ca}, {pki.root}, kT0 - 1, Usage::tls_client).ok());
    }
    SUBCASE("the CA's path length 0 forbids a CA below it") {
        auto sub_key = make_key(KeyAlgorithm::ecdsa_p256, *pki.rng);
        auto sub = issue_certificate(pki.ca_key, pki.ca, sub_key.public_key_der(),
                                     Pki::ca_profile("Sub CA", *pki.rng, {}), *pki.rng);
        REQUIRE(sub.ok());
        auto leaf2 = issue_certificate(sub_key, *sub, pki.leaf_key.public_key_der(), pki.leaf_profile, *pki.rng);
        REQUIRE(leaf2.ok());
        CHECK_FALSE(verify_chain(*leaf2, {*sub, pki.ca}, {pki.root}, now, Usage::tls_client).ok());
    }
    SUBCASE("a leaf cannot act as a CA") {
        auto key2 = make_key(KeyAlgorithm::ecdsa_p256, *pki.rng);
        IssueProfile p = pki.leaf_profile;
        p.serial = random_serial(*pki.rng);
        auto below_leaf = issue_certificate(pki.leaf_key, pki.leaf, key2.public_key_der(), p, *pki.rng);
        REQUIRE(below_leaf.ok());
        CHECK_FALSE(verify_chain(*below_leaf, {pki.leaf, pki.ca}, {pki.root}, now, Usage::tls_client).ok());
    }
    SUBCASE("garbage in") {
        auto r = verify_chain(irp::to_bytes("junk"), {pki.ca}, {pki.root}, now, Usage::tls_client);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::field_invalid);
    }
}

TEST_CASE("signed_by") {
    Pki pki;
    CHECK(signed_by(pki.leaf, pki.ca));
    CHECK(signed_by(pki.ca, pki.root));
    CHECK(signed_by(pki.root, pki.root));
    CHECK_FALSE(signed_by(pki.leaf, pki.root));
    CHECK_FALSE(signed_by(pki.ca, pki.leaf));
    CHECK_FALSE(signed_by(irp::to_bytes("junk"), pki.ca));
    Bytes tampered = pki.leaf;
    tampered[tampered.size() - 3] ^= 0x01;
    CHECK_FALSE(signed_by(tampered, pki.ca));
}

TEST_CASE("parse_certificate refuses garbage") {
    auto r = parse_certificate(irp::to_bytes("junk"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::field_invalid);
    CHECK_FALSE(certificate_issuer_name(Bytes{}).ok());
    CHECK_FALSE(certificate_subject_name(Bytes{}).ok());
}

TEST_CASE("issue_certificate refuses a public key that is not SPKI") {
    auto rng = deterministic_random(6);
    const PrivateKey key = make_key(KeyAlgorithm::ecdsa_p256, *rng);
    IssueProfile p;
    p.serial = {1};
    p.common_name = "x";
    p.not_before = kT0;
    p.not_after = kT0 + kDay;
    auto r = issue_certificate(key, {}, irp::to_bytes("not a key"), p, *rng);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::issuance_failed);
}

// ---- serials and PEM --------------------------------------------------------------------

TEST_CASE("random_serial") {
    auto rng = deterministic_random(7);
    const Bytes a = random_serial(*rng);
    const Bytes b = random_serial(*rng);
    CHECK(a.size() == 16);  // 127 bits
    CHECK(a != b);
    std::set<Bytes> seen;
    for (int i = 0; i < 500; ++i) {
        const Bytes s = random_serial(*rng);
        REQUIRE(s.size() == 16);
        CHECK((s[0] & 0x80) == 0);  // positive
        CHECK(s[0] != 0);           // no leading zero byte
        seen.insert(s);
    }
    CHECK(seen.size() == 500);

    CHECK(random_serial(*rng, 64).size() == 8);
    CHECK(random_serial(*rng, 159).size() == 20);
    const Bytes s128 = random_serial(*rng, 128);
    CHECK(s128.size() == 16);
    CHECK((s128[0] & 0x80) == 0);
    // Clamped to 64..159 bits.
    CHECK(random_serial(*rng, 8).size() == 8);
    CHECK(random_serial(*rng, 400).size() == 20);
}

TEST_CASE("a random serial survives issuance unchanged") {
    Pki pki;
    for (int i = 0; i < 20; ++i) {
        IssueProfile p = pki.leaf_profile;
        p.serial = random_serial(*pki.rng);
        auto cert = issue_certificate(pki.ca_key, pki.ca, pki.leaf_key.public_key_der(), p, *pki.rng);
        REQUIRE(cert.ok());
        CHECK(parse_certificate(*cert)->serial == p.serial);
    }
}

TEST_CASE("pem_blocks returns the blocks with the label, in order") {
    Pki pki;
    const std::string bundle = to_pem(pki.leaf, "CERTIFICATE") + to_pem(pki.leaf_key.public_key_der(), "PUBLIC KEY") +
                               "\n" + to_pem(pki.ca, "CERTIFICATE") + "\r\n\r\n" + to_pem(pki.root, "CERTIFICATE");
    auto certs = pem_blocks(bundle, "CERTIFICATE");
    REQUIRE(certs.ok());
    CHECK(*certs == std::vector<Bytes>{pki.leaf, pki.ca, pki.root});
    auto keys = pem_blocks(bundle, "PUBLIC KEY");
    REQUIRE(keys.ok());
    CHECK(*keys == std::vector<Bytes>{pki.leaf_key.public_key_der()});
    auto none = pem_blocks(bundle, "X509 CRL");
    REQUIRE(none.ok());
    CHECK(none->empty());
    auto empty = pem_blocks("", "CERTIFICATE");
    REQUIRE(empty.ok());
    CHECK(empty->empty());

    CHECK(to_pem(pki.root, "CERTIFICATE").rfind("-----BEGIN CERTIFICATE-----", 0) == 0);
    auto broken = pem_blocks("-----BEGIN CERTIFICATE-----\n!!!!\n-----END CERTIFICATE-----\n", "CERTIFICATE");
    REQUIRE_FALSE(broken.ok());
    CHECK(broken.error().code == Code::file_error);
}
