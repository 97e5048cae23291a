// Tests for private keys at rest: encrypted PKCS#8 (PrivateKey::from_pem
// with a passphrase, to_encrypted_pem) and keys that never leave a PKCS#11
// token (PrivateKey::from_pkcs11), against SoftHSM2 (tests/crypto/softhsm.hpp).
// What the token signs is checked by OpenSSL, as in revocation_test.cpp.
#include <doctest/doctest.h>

#include <stdlib.h>
#include <sys/wait.h>

#include <atomic>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"
#include "irp/crypto/crypto.hpp"
#include "irp/crypto/revocation.hpp"
#include "irp/crypto/tls.hpp"
#include "softhsm.hpp"
#include "support/temp_dir.hpp"

namespace {

using irp_test::read_bytes;
using irp_test::read_text;
using irp_test::TempDir;
using irp_test::write_file;

using irp::Bytes;
using irp::Code;
using namespace irp::crypto;
using irp_softhsm::Curve;
using irp_softhsm::SoftHsm;

constexpr std::int64_t kDay = 24 * 3600;
std::int64_t now_s() { return static_cast<std::int64_t>(std::time(nullptr)); }

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

struct Run {
    int status = -1;
    std::string output;
};
Run run(const std::string& command) {
    Run r;
    FILE* p = popen((command + " 2>&1").c_str(), "r");
    REQUIRE(p != nullptr);
    char buf[4096];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, p)) > 0) r.output.append(buf, n);
    const int st = pclose(p);
    r.status = WIFEXITED(st) ? WEXITSTATUS(st) : -1;
    return r;
}

PrivateKey make_key(KeyAlgorithm alg, Random& rng) {
    auto k = PrivateKey::generate(alg, rng);
    REQUIRE(k.ok());
    return std::move(k.value());
}

PrivateKey token_key(const SoftHsm& hsm, const std::string& uri, const std::string& pin = irp_softhsm::kPin) {
    auto k = PrivateKey::from_pkcs11(hsm.module(), uri, pin);
    REQUIRE_MESSAGE(k.ok(), (k.ok() ? "" : k.error().message));
    return std::move(k.value());
}

std::string error_of(const irp::Result<PrivateKey>& r) {
    REQUIRE_FALSE(r.ok());
    return r.error().message;
}

// A software root (P-384) and an issuing CA whose key is `ca_key` (a
// token key), written as PEM into `dir`.
struct Hierarchy {
    std::int64_t now = now_s();
    PrivateKey root_key;
    Bytes root, ca;

    Hierarchy(const PrivateKey& ca_key, Random& rng, const TempDir& dir)
        : root_key(make_key(KeyAlgorithm::ecdsa_p384, rng)) {
        IssueProfile rp;
        rp.serial = random_serial(rng);
        rp.common_name = "IRP PKCS#11 Test Root";
        rp.not_before = now - 3600;
        rp.not_after = now + 3650 * kDay;
        rp.ca = true;
        auto r = issue_certificate(root_key, {}, root_key.public_key_der(), rp, rng);
        REQUIRE(r.ok());
        root = *r;
        IssueProfile cp = rp;
        cp.serial = random_serial(rng);
        cp.common_name = "IRP Domain CA in a token";
        cp.path_len = 0;
        auto c = issue_certificate(root_key, root, ca_key.public_key_der(), cp, rng);
        REQUIRE(c.ok());
        ca = *c;
        write_file(dir / "root.pem", to_pem(root, "CERTIFICATE"));
        write_file(dir / "ca.pem", to_pem(ca, "CERTIFICATE"));
        write_file(dir / "ca-and-root.pem", to_pem(ca, "CERTIFICATE") + to_pem(root, "CERTIFICATE"));
    }

    // A device certificate signed by `ca_key`.
    Bytes leaf(const PrivateKey& ca_key, const PrivateKey& device, Random& rng) const {
        IssueProfile lp;
        lp.serial = random_serial(rng);
        lp.common_name = "dev-0001";
        lp.serial_number = "dev-0001";
        lp.san_uris = {"urn:irp:example.test:dev-0001"};
        lp.not_before = now - 300;
        lp.not_after = now + 365 * kDay;
        lp.eku_client_auth = true;
        auto l = issue_certificate(ca_key, ca, device.public_key_der(), lp, rng);
        REQUIRE_MESSAGE(l.ok(), (l.ok() ? "" : l.error().message));
        return *l;
    }
};

}  // namespace

// ---- PKCS#11 URIs ------------------------------------------------------------------------

TEST_CASE("parse_pkcs11_uri: the RFC 7512 subset") {
    auto u = parse_pkcs11_uri("pkcs11:token=irp;object=domain-ca");
    REQUIRE(u.ok());
    CHECK(u->token == "irp");
    CHECK(u->object == "domain-ca");
    CHECK(u->id.empty());
    CHECK(u->pin_source.empty());

    u = parse_pkcs11_uri("pkcs11:token=My%20HSM;object=ca%3bkey;id=%01%02;type=private;serial=0042"
                         "?pin-source=file:/etc/irp/pin&module-path=/usr/lib/softhsm/libsofthsm2.so");
    REQUIRE_MESSAGE(u.ok(), (u.ok() ? "" : u.error().message));
    CHECK(u->token == "My HSM");
    CHECK(u->object == "ca;key");
    CHECK(u->id == Bytes{0x01, 0x02});
    CHECK(u->serial == "0042");
    CHECK(u->pin_source == "/etc/irp/pin");
    CHECK(u->module_path == "/usr/lib/softhsm/libsofthsm2.so");

    u = parse_pkcs11_uri("pkcs11:id=%0a?pin-source=file:///run/pin");
    REQUIRE(u.ok());
    CHECK(u->id == Bytes{0x0a});
    CHECK(u->pin_source == "/run/pin");

    const auto error = [](const char* text) {
        auto r = parse_pkcs11_uri(text);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::bad_argument);
        return r.error().message;
    };
    CHECK(contains(error("/etc/irp/domain-ca.key"), "must start with 'pkcs11:'"));
    CHECK(contains(error("pkcs11:token=irp"), "object="));
    CHECK(contains(error("pkcs11:token=irp;object=a;object=b"), "'object' is given twice"));
    CHECK(contains(error("pkcs11:token=irp;object=a;slot-id=3"), "unsupported path attribute 'slot-id'"));
    CHECK(contains(error("pkcs11:token=irp;object=a;type=public"), "type must be 'private'"));
    CHECK(contains(error("pkcs11:token=irp;object=a%zz"), "percent-encoding"));
    CHECK(contains(error("pkcs11:token=irp;object=a%4"), "percent-encoding"));
    CHECK(contains(error("pkcs11:token=irp;object"), "not name=value"));
    CHECK(contains(error("pkcs11:token=irp;object=a?pin-value=1234"), "pin-value is not accepted"));
    CHECK(contains(error("pkcs11:token=irp;object=a?pin-source=pin.txt"), "pin-source must be file:/absolute/path"));
    CHECK(contains(error("pkcs11:token=irp;object=a?module-path=softhsm.so"), "module-path must be an absolute path"));
    CHECK(contains(error("pkcs11:token=irp;object=a?module-name=softhsm2"), "unsupported query attribute"));
}

// ---- encrypted PKCS#8 ----------------------------------------------------------------------

TEST_CASE("encrypted PKCS#8: round trip, wrong passphrase, plain keys") {
    auto rng = deterministic_random(1101);
    const std::string pass = "correct horse battery staple";
    for (auto alg : {KeyAlgorithm::ecdsa_p256, KeyAlgorithm::ecdsa_p384, KeyAlgorithm::ed25519}) {
        CAPTURE(key_algorithm_name(alg));
        const auto key = make_key(alg, *rng);
        auto pem = key.to_encrypted_pem(pass, *rng);
        REQUIRE_MESSAGE(pem.ok(), (pem.ok() ? "" : pem.error().message));
        CHECK(contains(*pem, "-----BEGIN ENCRYPTED PRIVATE KEY-----"));
        CHECK_FALSE(contains(*pem, "-----BEGIN PRIVATE KEY-----"));

        auto back = PrivateKey::from_pem(*pem, pass);
        REQUIRE_MESSAGE(back.ok(), (back.ok() ? "" : back.error().message));
        CHECK(back->algorithm() == alg);
        CHECK(back->public_key_der() == key.public_key_der());
        CHECK_FALSE(back->in_token());
        const Bytes msg = {'h', 'i'};
        CHECK(verify_signature(key.public_key_der(), msg, back->sign(msg, *rng)));

        auto wrong = PrivateKey::from_pem(*pem, "Correct horse battery staple");
        REQUIRE_FALSE(wrong.ok());
        CHECK(wrong.error().code == Code::bad_argument);
        CHECK(contains(wrong.error().message, "wrong passphrase"));

        // Without a passphrase the message says what is missing.
        auto none = PrivateKey::from_pem(*pem);
        REQUIRE_FALSE(none.ok());
        CHECK(contains(none.error().message, "encrypted"));
        CHECK(contains(none.error().message, "passphrase"));

        // A plain key loads whatever the passphrase.
        auto plain = PrivateKey::from_pem(key.to_pem(), "unused");
        REQUIRE(plain.ok());
        CHECK(plain->public_key_der() == key.public_key_der());
    }
    const auto key = make_key(KeyAlgorithm::ecdsa_p256, *rng);
    auto empty = key.to_encrypted_pem("", *rng);
    REQUIRE_FALSE(empty.ok());
    CHECK(empty.error().code == Code::bad_argument);
}

TEST_CASE("encrypted PKCS#8: PBES2 with PBKDF2-SHA-256 and AES-256-CBC, read by OpenSSL; OpenSSL's keys read back") {
    if (run("command -v openssl").status != 0) {
        MESSAGE("skipped: openssl not installed");
        return;
    }
    auto rng = deterministic_random(1102);
    TempDir dir;
    const std::string pass = "s3cret passphrase";
    write_file(dir / "pass", pass + "\n");
    const auto key = make_key(KeyAlgorithm::ecdsa_p256, *rng);
    auto pem = key.to_encrypted_pem(pass, *rng);
    REQUIRE(pem.ok());
    write_file(dir / "enc.pem", *pem);

    auto r = run("openssl asn1parse -in " + dir / "enc.pem");
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(contains(r.output, ":PBES2"));
    CHECK(contains(r.output, ":PBKDF2"));
    CHECK(contains(r.output, ":hmacWithSHA256"));
    CHECK(contains(r.output, ":aes-256-cbc"));
    CHECK(contains(r.output, ":0927C0"));  // 600,000 iterations

    r = run("openssl pkey -in " + dir / "enc.pem" + " -passin file:" + dir / "pass" + " -pubout -outform DER -out " +
            dir / "pub.der");
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(read_bytes(dir / "pub.der") == key.public_key_der());

    // Keys encrypted by OpenSSL: PBKDF2 (its default) and scrypt.
    for (const std::string how : {"-v2 aes-256-cbc", "-scrypt"}) {
        CAPTURE(how);
        r = run("openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out " + dir / "plain.pem" +
                " && openssl pkcs8 -topk8 " + how + " -in " + dir / "plain.pem" + " -passout file:" + dir / "pass" +
                " -out " + dir / "ossl.pem");
        INFO(r.output);
        REQUIRE(r.status == 0);
        auto loaded = PrivateKey::from_pem(read_text(dir / "ossl.pem"), pass);
        REQUIRE_MESSAGE(loaded.ok(), (loaded.ok() ? "" : loaded.error().message));
        auto plain = PrivateKey::from_pem(read_text(dir / "plain.pem"));
        REQUIRE(plain.ok());
        CHECK(loaded->public_key_der() == plain->public_key_der());
    }
}

// ---- PKCS#11 -------------------------------------------------------------------------------

TEST_CASE("PKCS#11: a non-extractable P-256 key in SoftHSM2 signs certificates, CRLs and OCSP responses") {
    SoftHsm* hsm = SoftHsm::get();
    if (!hsm) return;
    hsm->generate("crypto-ca", {0x01}, Curve::p256);

    // The token keeps the private value to itself.
    const auto attrs = hsm->private_attributes("crypto-ca");
    REQUIRE(attrs.found);
    CHECK_FALSE(attrs.extractable);
    CHECK(attrs.sensitive);
    CHECK(attrs.never_extractable);
    CHECK(attrs.value_rv == CKR_ATTRIBUTE_SENSITIVE);

    auto rng = deterministic_random(1103);
    TempDir dir;
    {
        const auto ca_key = token_key(*hsm, "pkcs11:token=irp;object=crypto-ca");
        CHECK(ca_key.in_token());
        CHECK(ca_key.algorithm() == KeyAlgorithm::ecdsa_p256);
        CHECK(spki_algorithm(ca_key.public_key_der()) == KeyAlgorithm::ecdsa_p256);
        // Nor does the library export it.
        CHECK_THROWS_AS((void)ca_key.to_pem(), std::logic_error);
        CHECK_FALSE(ca_key.to_encrypted_pem("pass", *rng).ok());

        // The same key by id, with the public key read from the token.
        const auto by_id = token_key(*hsm, "pkcs11:token=irp;id=%01");
        CHECK(by_id.public_key_der() == ca_key.public_key_der());

        const Bytes msg = {'t', 'b', 's'};
        const Bytes sig = ca_key.sign(msg, *rng);
        REQUIRE_FALSE(sig.empty());
        CHECK(verify_signature(ca_key.public_key_der(), msg, sig));

        // A CSR (proof of possession through the token).
        auto csr = create_csr(ca_key, "IRP Domain CA", "", *rng);
        REQUIRE(csr.ok());
        CHECK(parse_and_verify_csr(*csr).ok());

        Hierarchy h(ca_key, *rng, dir);
        const auto device = make_key(KeyAlgorithm::ecdsa_p256, *rng);
        const Bytes leaf = h.leaf(ca_key, device, *rng);
        write_file(dir / "leaf.pem", to_pem(leaf, "CERTIFICATE"));
        CHECK(signed_by(leaf, h.ca));
        CHECK(verify_chain(leaf, {h.ca}, {h.root}, h.now, Usage::tls_client).ok());
        auto r = run("openssl verify -CAfile " + dir / "root.pem" + " -untrusted " + dir / "ca.pem" + " " +
                     dir / "leaf.pem");
        INFO(r.output);
        CHECK(r.status == 0);

        // CRL, checked by OpenSSL.
        auto info = parse_certificate(leaf);
        REQUIRE(info.ok());
        auto crl = issue_crl(ca_key, h.ca, {{info->serial, h.now - 60, 1}}, 7, h.now, h.now + kDay, *rng);
        REQUIRE_MESSAGE(crl.ok(), (crl.ok() ? "" : crl.error().message));
        write_file(dir / "crl.pem", to_pem(*crl, "X509 CRL"));
        r = run("openssl crl -in " + dir / "crl.pem" + " -CAfile " + dir / "ca-and-root.pem" + " -verify -noout");
        INFO(r.output);
        CHECK(r.status == 0);
        CHECK(contains(r.output, "verify OK"));

        // OCSP response to a request from `openssl ocsp`, checked by OpenSSL.
        r = run("openssl ocsp -issuer " + dir / "ca.pem" + " -no_nonce -cert " + dir / "leaf.pem" + " -reqout " +
                dir / "req.der");
        INFO(r.output);
        REQUIRE(r.status == 0);
        auto req = parse_ocsp_request(read_bytes(dir / "req.der"));
        REQUIRE(req.ok());
        auto resp = make_ocsp_response(ca_key, h.ca, {{req->ids[0], OcspStatus::revoked, h.now - 60, 1}},
                                       std::nullopt, h.now, h.now + kDay, *rng);
        REQUIRE_MESSAGE(resp.ok(), (resp.ok() ? "" : resp.error().message));
        write_file(dir / "resp.der", *resp);
        r = run("openssl ocsp -respin " + dir / "resp.der" + " -CAfile " + dir / "root.pem" + " -verify_other " +
                dir / "ca.pem" + " -issuer " + dir / "ca.pem" + " -cert " + dir / "leaf.pem" + " -no_nonce");
        INFO(r.output);
        CHECK(r.status == 0);
        CHECK(contains(r.output, "Response verify OK"));
        CHECK(contains(r.output, "leaf.pem: revoked"));
    }
    // Still non-extractable after all that signing.
    CHECK_FALSE(hsm->private_attributes("crypto-ca").extractable);
}

TEST_CASE("PKCS#11: P-384 and Ed25519 keys in the token") {
    SoftHsm* hsm = SoftHsm::get();
    if (!hsm) return;
    auto rng = deterministic_random(1104);
    const std::pair<Curve, KeyAlgorithm> kinds[] = {{Curve::p384, KeyAlgorithm::ecdsa_p384},
                                                    {Curve::ed25519, KeyAlgorithm::ed25519}};
    for (const auto& [curve, alg] : kinds) {
        const std::string label = std::string("crypto-") + key_algorithm_name(alg);
        CAPTURE(label);
        hsm->generate(label, {0x20, static_cast<std::uint8_t>(alg)}, curve);
        CHECK_FALSE(hsm->private_attributes(label).extractable);
        const auto key = token_key(*hsm, "pkcs11:token=irp;object=" + label);
        CHECK(key.algorithm() == alg);
        const Bytes msg(1000, 0x5a);
        CHECK(verify_signature(key.public_key_der(), msg, key.sign(msg, *rng)));
        TempDir dir;
        Hierarchy h(key, *rng, dir);
        const auto device = make_key(KeyAlgorithm::ecdsa_p256, *rng);
        const Bytes leaf = h.leaf(key, device, *rng);
        CHECK(verify_chain(leaf, {h.ca}, {h.root}, h.now, Usage::tls_client).ok());
        auto crl = issue_crl(key, h.ca, {}, 1, h.now, h.now + kDay, *rng);
        REQUIRE(crl.ok());
        write_file(dir / "crl.pem", to_pem(*crl, "X509 CRL"));
        const auto r = run("openssl crl -in " + dir / "crl.pem" + " -CAfile " + dir / "ca-and-root.pem" + " -verify -noout");
        INFO(r.output);
        CHECK(r.status == 0);
    }
}

TEST_CASE("PKCS#11: wrong PIN, unknown key or token, bad module: clear errors") {
    SoftHsm* hsm = SoftHsm::get();
    if (!hsm) return;
    hsm->generate("crypto-errors", {0x30}, Curve::p256);
    const std::string uri = "pkcs11:token=irp;object=crypto-errors";

    auto r = PrivateKey::from_pkcs11(hsm->module(), uri, "9999");
    CHECK(r.error().code == Code::bad_argument);
    CHECK(contains(error_of(r), "wrong PIN for token 'irp'"));
    CHECK(contains(error_of(r), "CKR_PIN_INCORRECT"));

    CHECK(contains(error_of(PrivateKey::from_pkcs11(hsm->module(), uri, "")), "needs a PIN"));

    const auto unknown = error_of(PrivateKey::from_pkcs11(hsm->module(), "pkcs11:token=irp;object=no-such-key", "1234"));
    CHECK(contains(unknown, "no private key object 'no-such-key' on token 'irp'"));
    CHECK(PrivateKey::from_pkcs11(hsm->module(), "pkcs11:token=irp;object=no-such-key", "1234").error().code ==
          Code::not_found);
    CHECK(contains(error_of(PrivateKey::from_pkcs11(hsm->module(), "pkcs11:token=irp;object=crypto-errors;id=%ff", "1234")),
                   "no private key"));

    const auto no_token = error_of(PrivateKey::from_pkcs11(hsm->module(), "pkcs11:token=other;object=x", "1234"));
    CHECK(contains(no_token, "no token labelled 'other'"));
    CHECK(contains(no_token, "(tokens: 'irp')"));

    const auto no_module = PrivateKey::from_pkcs11("/nonexistent/libpkcs11.so", uri, "1234");
    CHECK(no_module.error().code == Code::file_error);
    CHECK(contains(error_of(no_module), "cannot load PKCS#11 module '/nonexistent/libpkcs11.so'"));
    CHECK(contains(error_of(PrivateKey::from_pkcs11("", uri, "1234")), "no PKCS#11 module"));
    CHECK(contains(error_of(PrivateKey::from_pkcs11(hsm->module(), "pkcs11:token=irp", "1234")), "object="));

    // The module may come from the URI instead.
    auto via_uri = PrivateKey::from_pkcs11("", uri + "?module-path=" + hsm->module(), "1234");
    CHECK_MESSAGE(via_uri.ok(), (via_uri.ok() ? "" : via_uri.error().message));
}

TEST_CASE("PKCS#11: one key signs from several threads") {
    SoftHsm* hsm = SoftHsm::get();
    if (!hsm) return;
    hsm->generate("crypto-threads", {0x40}, Curve::p256);
    const auto key = token_key(*hsm, "pkcs11:token=irp;object=crypto-threads");
    const Bytes spki = key.public_key_der();
    std::atomic<int> good{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < 4; ++t)
        threads.emplace_back([&, t] {
            auto rng = system_random();
            for (int i = 0; i < 25; ++i) {
                const Bytes msg = {static_cast<std::uint8_t>(t), static_cast<std::uint8_t>(i)};
                if (verify_signature(spki, msg, key.sign(msg, *rng))) ++good;
            }
        });
    for (auto& th : threads) th.join();
    CHECK(good == 100);
}

TEST_CASE("PKCS#11: the key logs in again after the token dropped its session") {
    SoftHsm* hsm = SoftHsm::get();
    if (!hsm) return;
    hsm->generate("crypto-reconnect", {0x50}, Curve::p256);
    auto rng = deterministic_random(1105);
    const auto key = token_key(*hsm, "pkcs11:token=irp;object=crypto-reconnect");
    const Bytes msg = {1, 2, 3};
    CHECK(verify_signature(key.public_key_der(), msg, key.sign(msg, *rng)));
    hsm->close_all_sessions();
    CHECK(verify_signature(key.public_key_der(), msg, key.sign(msg, *rng)));
    CHECK(verify_signature(key.public_key_der(), msg, key.sign(msg, *rng)));
}

TEST_CASE("PKCS#11: a key made by pkcs11-tool (the operator's way) is non-extractable and signs") {
    SoftHsm* hsm = SoftHsm::get();
    if (!hsm) return;
    if (run("command -v pkcs11-tool").status != 0) {
        const char* req = std::getenv("IRP_REQUIRE_SOFTHSM");
        if (req && std::string(req) == "1") FAIL("pkcs11-tool (Debian: opensc) is required with IRP_REQUIRE_SOFTHSM=1");
        MESSAGE("skipped: pkcs11-tool is not installed (Debian: apt-get install opensc)");
        return;
    }
    const auto r = run("pkcs11-tool --module " + hsm->module() + " --token-label irp --login --pin 1234" +
                       " --keypairgen --key-type EC:prime256v1 --label tool-key --id 0a --usage-sign");
    INFO(r.output);
    REQUIRE(r.status == 0);
    const auto attrs = hsm->private_attributes("tool-key");
    REQUIRE(attrs.found);
    CHECK_FALSE(attrs.extractable);
    CHECK(attrs.sensitive);
    CHECK(attrs.value_rv == CKR_ATTRIBUTE_SENSITIVE);
    auto rng = deterministic_random(1106);
    const auto key = token_key(*hsm, "pkcs11:token=irp;object=tool-key;id=%0a");
    const Bytes msg = {9};
    CHECK(verify_signature(key.public_key_der(), msg, key.sign(msg, *rng)));
}

TEST_CASE("PKCS#11: a TLS server key in the token completes handshakes") {
    SoftHsm* hsm = SoftHsm::get();
    if (!hsm) return;
    hsm->generate("crypto-tls", {0x60}, Curve::p256);
    auto rng = deterministic_random(1107);
    auto key = std::make_shared<const PrivateKey>(token_key(*hsm, "pkcs11:token=irp;object=crypto-tls"));
    const auto root_key = make_key(KeyAlgorithm::ecdsa_p256, *rng);
    const auto now = now_s();
    IssueProfile rp;
    rp.serial = random_serial(*rng);
    rp.common_name = "IRP TLS Test Root";
    rp.not_before = now - 3600;
    rp.not_after = now + 365 * kDay;
    rp.ca = true;
    auto root = issue_certificate(root_key, {}, root_key.public_key_der(), rp, *rng);
    REQUIRE(root.ok());
    IssueProfile sp;
    sp.serial = random_serial(*rng);
    sp.common_name = "irp.test";
    sp.san_dns = {"irp.test"};
    sp.not_before = now - 3600;
    sp.not_after = now + 30 * kDay;
    sp.eku_server_auth = true;
    auto server_cert = issue_certificate(root_key, *root, key->public_key_der(), sp, *rng);
    REQUIRE(server_cert.ok());

    for (int round = 0; round < 3; ++round) {  // one ServerKeyExchange signature each
        CAPTURE(round);
        auto server = TlsEndpoint::server(TlsServerConfig{{*server_cert, *root}, key});
        auto client = TlsEndpoint::client(TlsClientConfig{{*root}, "irp.test"});
        REQUIRE(server);
        REQUIRE(client);
        for (int i = 0; i < 10 && !(client->handshake_complete() && server->handshake_complete()); ++i) {
            const Bytes to_server = client->take_ciphertext();
            if (!to_server.empty()) REQUIRE(server->receive_ciphertext(to_server).ok());
            const Bytes to_client = server->take_ciphertext();
            if (!to_client.empty()) {
                auto r = client->receive_ciphertext(to_client);
                REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
            }
        }
        REQUIRE(client->handshake_complete());
        REQUIRE(server->handshake_complete());
        CHECK(client->channel_binding() == server->channel_binding());
        REQUIRE(client->send_plaintext(Bytes{'p', 'i', 'n', 'g'}).ok());
        REQUIRE(server->receive_ciphertext(client->take_ciphertext()).ok());
        CHECK(server->take_plaintext() == Bytes{'p', 'i', 'n', 'g'});
    }
}
