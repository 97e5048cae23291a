// Tests for the revocation artefacts (include/irp/crypto/revocation.hpp):
// CRLs and OCSP responses are checked by real relying parties, OpenSSL
// (openssl crl / verify / ocsp) and GnuTLS (certtool), run as processes on
// files in a temporary directory. Requests come from `openssl ocsp`.
#include <doctest/doctest.h>

#include "support/der.hpp"

#include <stdlib.h>  // mkdtemp
#include <sys/wait.h>

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <cstdio>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <iterator>
#include <optional>
#include <string>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"
#include "irp/crypto/crypto.hpp"
#include "irp/crypto/revocation.hpp"
#include "support/temp_dir.hpp"

namespace {

using irp_test::read_bytes;
using irp_test::read_text;
using irp_test::TempDir;
using irp_test::write_file;

using irp::Bytes;
using irp::Code;
using namespace irp::crypto;

constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kDay = 24 * kHour;

// Relying parties check thisUpdate/nextUpdate and validity against their
// own clock, so everything here is relative to the real time.
std::int64_t now_s() { return static_cast<std::int64_t>(std::time(nullptr)); }

std::string upper_hex(const Bytes& b) {
    std::string h = irp::to_hex(b);
    std::transform(h.begin(), h.end(), h.begin(), [](unsigned char c) { return static_cast<char>(std::toupper(c)); });
    return h;
}

bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

bool contains(const Bytes& haystack, const Bytes& needle) {
    return std::search(haystack.begin(), haystack.end(), needle.begin(), needle.end()) != haystack.end();
}

std::size_t count_of(const std::string& haystack, const std::string& needle) {
    std::size_t n = 0;
    for (auto pos = haystack.find(needle); pos != std::string::npos; pos = haystack.find(needle, pos + 1)) ++n;
    return n;
}



struct Run {
    int status = -1;
    std::string output;  // stdout and stderr together
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

bool have_tool(const std::string& name) { return run("command -v " + name).status == 0; }

PrivateKey make_key(KeyAlgorithm alg, Random& rng) {
    auto k = PrivateKey::generate(alg, rng);
    REQUIRE(k.ok());
    return std::move(k.value());
}

Bytes issue(const PrivateKey& issuer_key, const Bytes& issuer_cert, const PrivateKey& subject, IssueProfile p,
            Random& rng) {
    if (p.serial.empty()) p.serial = random_serial(rng);
    auto c = issue_certificate(issuer_key, issuer_cert, subject.public_key_der(), p, rng);
    REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
    return c.value();
}

Bytes serial_of(const Bytes& cert) {
    auto info = parse_certificate(cert);
    REQUIRE(info.ok());
    return info->serial;
}

// Root (P-384) -> issuing CA (pathLen 0, `ca_alg`) -> device leaf (P-256),
// written as PEM files into `dir`.
struct Pki {
    std::int64_t now = now_s();
    PrivateKey root_key, ca_key, leaf_key;
    Bytes root, ca, leaf;

    Pki(Random& rng, const TempDir& dir, KeyAlgorithm ca_alg = KeyAlgorithm::ecdsa_p256, IssueProfile leaf_extra = {})
        : root_key(make_key(KeyAlgorithm::ecdsa_p384, rng)),
          ca_key(make_key(ca_alg, rng)),
          leaf_key(make_key(KeyAlgorithm::ecdsa_p256, rng)) {
        IssueProfile rp;
        rp.common_name = "IRP Revocation Test Root";
        rp.organization = "example.test";
        rp.not_before = now - kHour;
        rp.not_after = now + 3650 * kDay;
        rp.ca = true;
        root = issue(root_key, {}, root_key, rp, rng);

        IssueProfile cp = rp;
        cp.common_name = "IRP Domain CA example.test";
        cp.path_len = 0;
        ca = issue(root_key, root, ca_key, cp, rng);

        IssueProfile lp = std::move(leaf_extra);
        lp.common_name = "dev-0001";
        lp.serial_number = "dev-0001";
        lp.san_uris = {"urn:irp:example.test:dev-0001"};
        lp.not_before = now - 300;
        lp.not_after = now + 365 * kDay;
        lp.eku_client_auth = true;
        leaf = issue(ca_key, ca, leaf_key, lp, rng);

        write_file(dir / "root.pem", to_pem(root, "CERTIFICATE"));
        write_file(dir / "ca.pem", to_pem(ca, "CERTIFICATE"));
        write_file(dir / "leaf.pem", to_pem(leaf, "CERTIFICATE"));
        write_file(dir / "ca-and-root.pem", to_pem(ca, "CERTIFICATE") + to_pem(root, "CERTIFICATE"));
    }
};

// ---- hand-made DER, for requests OpenSSL would not send ----------------------------

using irp_test::cat;
using irp_test::tlv;

const Bytes kSha1Oid = {0x06, 0x05, 0x2b, 0x0e, 0x03, 0x02, 0x1a};
const Bytes kNonceOid = {0x06, 0x09, 0x2b, 0x06, 0x01, 0x05, 0x05, 0x07, 0x30, 0x01, 0x02};
const Bytes kNull = {0x05, 0x00};

Bytes cert_id(const Bytes& serial_content) {
    return tlv(0x30, cat({tlv(0x30, cat({kSha1Oid, kNull})), tlv(0x04, Bytes(20, 0x11)), tlv(0x04, Bytes(20, 0x22)),
                          tlv(0x02, serial_content)}));
}

// OCSPRequest { TBSRequest { [version] requestList [extensions] } }
Bytes ocsp_request(const std::vector<Bytes>& ids, const Bytes& extensions = {}, const Bytes& version = {}) {
    Bytes list;
    for (const auto& id : ids) list = cat({list, tlv(0x30, id)});
    Bytes tbs = version;
    tbs = cat({tbs, tlv(0x30, list)});
    if (!extensions.empty()) tbs = cat({tbs, tlv(0xa2, tlv(0x30, extensions))});
    return tlv(0x30, tlv(0x30, tbs));
}

Bytes nonce_extension(const Bytes& extn_value) { return tlv(0x30, cat({kNonceOid, tlv(0x04, extn_value)})); }

const char* sig_name(KeyAlgorithm a) {
    switch (a) {
        case KeyAlgorithm::ecdsa_p256: return "ecdsa-with-SHA256";
        case KeyAlgorithm::ecdsa_p384: return "ecdsa-with-SHA384";
        case KeyAlgorithm::ed25519: return "ED25519";
    }
    return "?";
}

// `openssl ocsp` to make a request for the leaf; `extra` options go
// between -issuer and -cert (-serial needs the issuer, -sha256 must
// precede the -cert it applies to).
OcspRequestInfo openssl_request(const TempDir& dir, const std::string& extra, const std::string& file = "req.der") {
    const auto r = run("openssl ocsp -issuer " + dir / "ca.pem" + " " + extra + " -cert " + dir / "leaf.pem" +
                       " -reqout " + dir / file);
    INFO(r.output);
    REQUIRE(r.status == 0);
    auto info = parse_ocsp_request(read_bytes(dir / file));
    REQUIRE_MESSAGE(info.ok(), (info.ok() ? "" : info.error().message));
    return info.value();
}

// Verifies `resp` with OpenSSL: the CA is found through -verify_other (the
// response carries no certificates) and chains to the root.
Run openssl_check_response(const TempDir& dir, const Bytes& resp, const std::string& args) {
    write_file(dir / "resp.der", resp);
    return run("openssl ocsp -respin " + dir / "resp.der" + " -CAfile " + dir / "root.pem" + " -verify_other " +
               dir / "ca.pem" + " -resp_text " + args);
}

std::string leaf_args(const TempDir& dir) {
    return "-issuer " + dir / "ca.pem" + " -cert " + dir / "leaf.pem";
}

}  // namespace

// ---- CRL ---------------------------------------------------------------------------

TEST_CASE("issue_crl: OpenSSL and GnuTLS verify it; the listed leaf is revoked, with an empty CRL it is not") {
    auto rng = deterministic_random(501);
    for (auto alg : {KeyAlgorithm::ecdsa_p256, KeyAlgorithm::ecdsa_p384, KeyAlgorithm::ed25519}) {
        CAPTURE(key_algorithm_name(alg));
        TempDir dir;
        Pki pki(*rng, dir, alg);
        const Bytes leaf_serial = serial_of(pki.leaf);
        const Bytes other_serial = random_serial(*rng);

        const std::vector<CrlEntry> entries = {{leaf_serial, pki.now - 60, 1}, {other_serial, pki.now - 120, 0}};
        auto crl = issue_crl(pki.ca_key, pki.ca, entries, 42, pki.now - 60, pki.now + kDay, *rng);
        REQUIRE_MESSAGE(crl.ok(), (crl.ok() ? "" : crl.error().message));
        write_file(dir / "crl.pem", to_pem(*crl, "X509 CRL"));

        // The signature, checked against the CA (and its chain).
        auto r = run("openssl crl -in " + dir / "crl.pem" + " -CAfile " + dir / "ca-and-root.pem" + " -verify -noout");
        INFO(r.output);
        CHECK(r.status == 0);
        CHECK(contains(r.output, "verify OK"));

        // The content.
        r = run("openssl crl -in " + dir / "crl.pem" + " -text -noout");
        INFO(r.output);
        REQUIRE(r.status == 0);
        CHECK(contains(r.output, "Version 2 (0x1)"));
        CHECK(contains(r.output, std::string("Signature Algorithm: ") + sig_name(alg)));
        CHECK(contains(r.output, "Issuer: O = example.test, CN = IRP Domain CA example.test"));
        CHECK(contains(r.output, "X509v3 CRL Number: \n                42\n"));
        CHECK(contains(r.output, "X509v3 Authority Key Identifier"));
        CHECK(contains(r.output, "Serial Number: " + upper_hex(leaf_serial)));
        CHECK(contains(r.output, "Serial Number: " + upper_hex(other_serial)));
        CHECK(contains(r.output, "Key Compromise"));
        // Reason 0 (unspecified) has no reasonCode entry extension.
        CHECK(count_of(r.output, "X509v3 CRL Reason Code") == 1);

        // Byte-level: the issuer is the CA's subject Name, the AKI its SKI.
        auto ca_name = certificate_subject_name(pki.ca);
        REQUIRE(ca_name.ok());
        CHECK(contains(*crl, *ca_name));
        auto ca_info = parse_certificate(pki.ca);
        REQUIRE(ca_info.ok());
        CHECK(contains(*crl, tlv(0x80, ca_info->subject_key_id)));

        // A relying party checking the leaf against this CRL refuses it.
        write_file(dir / "crl.pem", to_pem(*crl, "X509 CRL"));
        const std::string verify = "openssl verify -crl_check -CAfile " + dir / "root.pem" + " -untrusted " +
                                   dir / "ca.pem" + " -CRLfile " + dir / "crl.pem" + " " + dir / "leaf.pem";
        r = run(verify);
        INFO(r.output);
        CHECK(r.status != 0);
        CHECK(contains(r.output, "certificate revoked"));

        // GnuTLS verifies the CRL's signature with the CA.
        if (have_tool("certtool")) {
            r = run("certtool --verify-crl --load-ca-certificate " + dir / "ca.pem" + " --infile " + dir / "crl.pem");
            INFO(r.output);
            CHECK(r.status == 0);
            CHECK(contains(r.output, "Verified."));
            // ... and not with the root.
            r = run("certtool --verify-crl --load-ca-certificate " + dir / "root.pem" + " --infile " + dir / "crl.pem");
            CHECK(r.status != 0);
        } else {
            WARN_MESSAGE(false, "certtool not installed (apt-get install gnutls-bin): GnuTLS CRL check skipped");
        }

        // An empty CRL: no revokedCertificates, and the leaf verifies.
        auto empty = issue_crl(pki.ca_key, pki.ca, {}, 43, pki.now - 60, pki.now + kDay, *rng);
        REQUIRE(empty.ok());
        write_file(dir / "crl.pem", to_pem(*empty, "X509 CRL"));
        r = run("openssl crl -in " + dir / "crl.pem" + " -text -noout");
        CHECK(contains(r.output, "No Revoked Certificates."));
        CHECK(contains(r.output, "X509v3 CRL Number: \n                43\n"));
        r = run(verify);
        INFO(r.output);
        CHECK(r.status == 0);
        CHECK(contains(r.output, "leaf.pem: OK"));
    }
}

TEST_CASE("issue_crl: UTCTime before 2050, GeneralizedTime from 2050; big CRL numbers") {
    auto rng = deterministic_random(502);
    TempDir dir;
    Pki pki(*rng, dir);
    constexpr std::int64_t k2051 = 2'556'144'000;  // 2051-01-01T00:00:00Z
    const Bytes serial = serial_of(pki.leaf);
    auto crl = issue_crl(pki.ca_key, pki.ca, {{serial, pki.now - 60, 4}}, 4'000'000'000LL, pki.now - 60, k2051, *rng);
    REQUIRE(crl.ok());
    write_file(dir / "crl.der", *crl);
    auto r = run("openssl asn1parse -inform DER -in " + dir / "crl.der");
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(count_of(r.output, "prim: UTCTIME") == 2);  // thisUpdate, revocationDate
    CHECK(count_of(r.output, "prim: GENERALIZEDTIME") == 1);
    CHECK(contains(r.output, "prim: GENERALIZEDTIME   :20510101000000Z"));
    r = run("openssl crl -inform DER -in " + dir / "crl.der" + " -text -noout");
    INFO(r.output);
    CHECK(contains(r.output, "Next Update: Jan  1 00:00:00 2051 GMT"));
    CHECK(contains(r.output, "4000000000"));
    CHECK(contains(r.output, "Superseded"));
}

TEST_CASE("issue_crl: bad arguments are refused") {
    auto rng = deterministic_random(503);
    TempDir dir;
    Pki pki(*rng, dir);
    const Bytes s = serial_of(pki.leaf);
    const auto t = pki.now;
    auto code = [&](const std::vector<CrlEntry>& e, std::int64_t number, std::int64_t tu, std::int64_t nu) {
        auto c = issue_crl(pki.ca_key, pki.ca, e, number, tu, nu, *rng);
        return c.ok() ? Code::ok : c.error().code;
    };
    CHECK(code({{s, t, 0}}, 1, t, t + kDay) == Code::ok);
    CHECK(code({{s, t, 10}}, 1, t, t + kDay) == Code::ok);
    CHECK(code({{s, t, 7}}, 1, t, t + kDay) == Code::bad_argument);   // 7 is not a CRLReason
    CHECK(code({{s, t, 11}}, 1, t, t + kDay) == Code::bad_argument);
    CHECK(code({{s, t, -1}}, 1, t, t + kDay) == Code::bad_argument);
    CHECK(code({{s, t, 1}, {s, t, 2}}, 1, t, t + kDay) == Code::bad_argument);  // listed twice
    CHECK(code({{Bytes{}, t, 1}}, 1, t, t + kDay) == Code::bad_argument);
    CHECK(code({}, -1, t, t + kDay) == Code::bad_argument);
    CHECK(code({}, 1, t, t) == Code::bad_argument);
    CHECK(code({}, 1, t, 300'000'000'000LL) == Code::bad_argument);  // past 9999
    // The root's key with the CA's certificate, and a certificate that is not one.
    auto wrong = issue_crl(pki.root_key, pki.ca, {}, 1, t, t + kDay, *rng);
    REQUIRE_FALSE(wrong.ok());
    CHECK(wrong.error().code == Code::bad_argument);
    auto garbage = issue_crl(pki.ca_key, irp::as_bytes("not a certificate"), {}, 1, t, t + kDay, *rng);
    REQUIRE_FALSE(garbage.ok());
    CHECK(garbage.error().code == Code::bad_argument);
    // A leaf cannot sign CRLs (no cRLSign).
    auto leaf = issue_crl(pki.leaf_key, pki.leaf, {}, 1, t, t + kDay, *rng);
    REQUIRE_FALSE(leaf.ok());
    CHECK(leaf.error().code == Code::bad_argument);
}

// ---- CRL distribution points and OCSP URL in certificates ----------------------------

TEST_CASE("issue_certificate: CRL Distribution Points and Authority Information Access") {
    auto rng = deterministic_random(504);
    TempDir dir;
    IssueProfile extra;
    extra.crl_urls = {"http://crl.example.test/ca.crl", "http://crl2.example.test/ca.crl"};
    extra.ocsp_urls = {"http://ocsp.example.test/"};
    Pki pki(*rng, dir, KeyAlgorithm::ecdsa_p256, extra);

    auto r = run("openssl x509 -in " + dir / "leaf.pem" + " -noout -text");
    INFO(r.output);
    REQUIRE(r.status == 0);
    CHECK(contains(r.output, "X509v3 CRL Distribution Points: \n"));
    CHECK(contains(r.output, "Full Name:\n                  URI:http://crl.example.test/ca.crl\n"
                             "                  URI:http://crl2.example.test/ca.crl\n"));
    CHECK(contains(r.output, "Authority Information Access: \n                OCSP - URI:http://ocsp.example.test/\n"));

    auto info = parse_certificate(pki.leaf);
    REQUIRE(info.ok());
    CHECK(info->crl_urls == extra.crl_urls);
    CHECK(info->ocsp_url == "http://ocsp.example.test/");

    // The certificate still validates, for OpenSSL and for us.
    r = run("openssl verify -CAfile " + dir / "root.pem" + " -untrusted " + dir / "ca.pem" + " " + dir / "leaf.pem");
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(verify_chain(pki.leaf, {pki.ca}, {pki.root}, pki.now, Usage::tls_client).ok());

    // None asked for: neither extension; the CA certificates have none.
    auto ca_info = parse_certificate(pki.ca);
    REQUIRE(ca_info.ok());
    CHECK(ca_info->crl_urls.empty());
    CHECK(ca_info->ocsp_url.empty());
    r = run("openssl x509 -in " + dir / "ca.pem" + " -noout -text");
    CHECK_FALSE(contains(r.output, "CRL Distribution Points"));
    CHECK_FALSE(contains(r.output, "Authority Information Access"));

    // Two OCSP responders.
    IssueProfile two;
    two.common_name = "dev-0002";
    two.serial = random_serial(*rng);
    two.not_before = pki.now;
    two.not_after = pki.now + kDay;
    two.ocsp_urls = {"http://ocsp1.example.test/", "http://ocsp2.example.test/"};
    auto cert = issue_certificate(pki.ca_key, pki.ca, pki.leaf_key.public_key_der(), two, *rng);
    REQUIRE(cert.ok());
    write_file(dir / "two.pem", to_pem(*cert, "CERTIFICATE"));
    r = run("openssl x509 -in " + dir / "two.pem" + " -noout -text");
    CHECK(contains(r.output, "OCSP - URI:http://ocsp1.example.test/\n"
                             "                OCSP - URI:http://ocsp2.example.test/\n"));
    CHECK_FALSE(contains(r.output, "CRL Distribution Points"));

    // A URI that is not printable ASCII is refused.
    two.ocsp_urls = {"http://ocsp.example.test/a b"};
    auto bad = issue_certificate(pki.ca_key, pki.ca, pki.leaf_key.public_key_der(), two, *rng);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == Code::bad_argument);
}

// ---- OCSP requests -------------------------------------------------------------------

TEST_CASE("parse_ocsp_request: requests made by openssl ocsp") {
    auto rng = deterministic_random(505);
    TempDir dir;
    Pki pki(*rng, dir);
    const Bytes leaf_serial = serial_of(pki.leaf);

    SUBCASE("SHA-1 CertID with a nonce") {
        const auto info = openssl_request(dir, "-nonce");
        REQUIRE(info.ids.size() == 1);
        const auto& id = info.ids[0];
        CHECK(id.hash_oid == "1.3.14.3.2.26");
        CHECK(id.serial == leaf_serial);
        CHECK(id.issuer_name_hash.size() == 20);
        CHECK(id.issuer_key_hash.size() == 20);
        CHECK(ocsp_id_matches_issuer(id, pki.ca));
        CHECK_FALSE(ocsp_id_matches_issuer(id, pki.root));
        CHECK_FALSE(ocsp_id_matches_issuer(id, pki.leaf));
        CHECK_FALSE(ocsp_id_matches_issuer(id, irp::as_bytes("garbage")));
        // The CertID bytes are kept as sent.
        CHECK(contains(read_bytes(dir / "req.der"), id.der));
        // The nonce is the inner OCTET STRING, as OpenSSL prints it.
        REQUIRE(info.nonce.has_value());
        CHECK(info.nonce->size() == 16);
        const auto r = run("openssl ocsp -reqin " + dir / "req.der" + " -req_text");
        INFO(r.output);
        CHECK(contains(r.output, "OCSP Nonce: \n            0410" + upper_hex(*info.nonce) + "\n"));
    }
    SUBCASE("without a nonce") {
        const auto info = openssl_request(dir, "-no_nonce");
        REQUIRE(info.ids.size() == 1);
        CHECK(info.ids[0].serial == leaf_serial);
        CHECK_FALSE(info.nonce.has_value());
    }
    SUBCASE("SHA-256 CertID") {
        const auto info = openssl_request(dir, "-sha256");
        REQUIRE(info.ids.size() == 1);
        CHECK(info.ids[0].hash_oid == "2.16.840.1.101.3.4.2.1");
        CHECK(info.ids[0].issuer_name_hash.size() == 32);
        CHECK(info.ids[0].serial == leaf_serial);
        CHECK(ocsp_id_matches_issuer(info.ids[0], pki.ca));
        CHECK_FALSE(ocsp_id_matches_issuer(info.ids[0], pki.root));
        // Another hash OID: no match.
        auto id = info.ids[0];
        id.hash_oid = "1.2.3.4";
        CHECK_FALSE(ocsp_id_matches_issuer(id, pki.ca));
    }
    SUBCASE("several certificates; at most 16") {
        std::string serials;
        for (int i = 1; i < 16; ++i) serials += " -serial " + std::to_string(0x1000 + i);
        const auto info = openssl_request(dir, "-no_nonce" + serials);
        REQUIRE(info.ids.size() == 16);
        CHECK(info.ids[0].serial == Bytes{0x10, 0x01});
        CHECK(info.ids[15].serial == leaf_serial);
        for (const auto& id : info.ids) CHECK(ocsp_id_matches_issuer(id, pki.ca));

        const auto r = run("openssl ocsp -no_nonce -issuer " + dir / "ca.pem" + serials + " -serial 4242 -cert " +
                           dir / "leaf.pem" + " -reqout " + dir / "req17.der");
        REQUIRE(r.status == 0);
        const auto too_many = parse_ocsp_request(read_bytes(dir / "req17.der"));
        REQUIRE_FALSE(too_many.ok());
        CHECK(too_many.error().code == Code::malformed_message);
        CHECK(contains(too_many.error().message, "more than 16"));
    }
}

TEST_CASE("parse_ocsp_request: malformed requests give malformed_message, never an exception") {
    auto rng = deterministic_random(506);
    TempDir dir;
    Pki pki(*rng, dir);
    const Bytes good = [&] {
        openssl_request(dir, "-nonce");
        return read_bytes(dir / "req.der");
    }();
    auto is_malformed = [](const Bytes& der) {
        const auto r = parse_ocsp_request(der);
        if (r.ok()) return false;
        CHECK(r.error().code == Code::malformed_message);
        CHECK_FALSE(r.error().message.empty());
        return true;
    };

    CHECK(is_malformed({}));
    CHECK(is_malformed(irp::to_bytes("garbage, not DER")));
    CHECK(is_malformed({0x30, 0x80}));
    CHECK(is_malformed({0x30, 0x84, 0xff, 0xff, 0xff, 0xff}));
    // Every truncation; a trailing byte.
    for (std::size_t n = 0; n < good.size(); ++n) {
        CAPTURE(n);
        CHECK(is_malformed(Bytes(good.begin(), good.begin() + static_cast<std::ptrdiff_t>(n))));
    }
    Bytes trailing = good;
    trailing.push_back(0);
    CHECK(is_malformed(trailing));
    // Over 8 KiB.
    CHECK(is_malformed(tlv(0x30, Bytes(9000, 0))));

    // Every single-byte corruption either parses or is malformed_message.
    for (std::size_t i = 0; i < good.size(); ++i) {
        for (std::uint8_t x : {0x01, 0x80, 0xff}) {
            Bytes m = good;
            m[i] ^= x;
            const auto r = parse_ocsp_request(m);
            if (!r.ok()) CHECK(r.error().code == Code::malformed_message);
        }
    }

    // Hand-made: well-formed ones parse ...
    const Bytes id = cert_id({0x01, 0x02});
    auto ok = parse_ocsp_request(ocsp_request({id}));
    REQUIRE(ok.ok());
    CHECK(ok->ids[0].serial == Bytes{0x01, 0x02});
    CHECK(ok->ids[0].der == id);
    CHECK_FALSE(ok->nonce.has_value());
    ok = parse_ocsp_request(ocsp_request({id}, {}, tlv(0xa0, {0x02, 0x01, 0x00})));  // explicit v1
    CHECK(ok.ok());
    ok = parse_ocsp_request(ocsp_request({id}, nonce_extension(tlv(0x04, {0xaa}))));
    REQUIRE(ok.ok());
    CHECK(ok->nonce == Bytes{0xaa});
    ok = parse_ocsp_request(ocsp_request({cert_id({0x00, 0x80})}));  // positive, with its sign byte
    REQUIRE(ok.ok());
    CHECK(ok->ids[0].serial == Bytes{0x80});
    // ... with a requestor name, per-request extensions and a signature too.
    const Bytes requestor = tlv(0xa1, tlv(0x86, irp::to_bytes("urn:x")));
    const Bytes single_ext = tlv(0xa0, tlv(0x30, tlv(0x30, cat({kNonceOid, tlv(0x04, {0x04, 0x01, 0x01})}))));
    const Bytes full = tlv(0x30, cat({tlv(0x30, cat({requestor, tlv(0x30, tlv(0x30, cat({id, single_ext})))})),
                                      tlv(0xa0, tlv(0x30, Bytes{0x05, 0x00}))}));
    ok = parse_ocsp_request(full);
    REQUIRE_MESSAGE(ok.ok(), (ok.ok() ? "" : ok.error().message));
    CHECK(ok->ids.size() == 1);

    // ... and malformed ones do not.
    CHECK(is_malformed(ocsp_request({})));                                          // no CertID
    CHECK(is_malformed(ocsp_request({id}, {}, tlv(0xa0, {0x02, 0x01, 0x01}))));    // v2
    CHECK(is_malformed(ocsp_request({cert_id({0xff})})));                          // negative serial
    CHECK(is_malformed(ocsp_request({id}, nonce_extension({0xaa, 0xbb}))));        // nonce not wrapped
    CHECK(is_malformed(ocsp_request({id}, nonce_extension(tlv(0x04, {})))));       // empty nonce
    CHECK(is_malformed(ocsp_request({id}, nonce_extension(tlv(0x04, Bytes(33, 1))))));  // > 32 bytes
    CHECK(is_malformed(ocsp_request({id}, cat({nonce_extension(tlv(0x04, {1})), nonce_extension(tlv(0x04, {2}))}))));
    CHECK(is_malformed(tlv(0x30, tlv(0x30, cat({tlv(0x30, tlv(0x30, id)), Bytes{0x02, 0x01, 0x00}})))));
    // A CertID with hash parameters that are not NULL, or missing parts.
    CHECK(is_malformed(ocsp_request({tlv(0x30, cat({tlv(0x30, cat({kSha1Oid, Bytes{0x02, 0x01, 0x00}})),
                                                    tlv(0x04, Bytes(20, 1)), tlv(0x04, Bytes(20, 2)),
                                                    tlv(0x02, {1})}))})));
    CHECK(is_malformed(ocsp_request({tlv(0x30, cat({tlv(0x30, kSha1Oid), tlv(0x04, Bytes(20, 1))}))})));
}

// ---- OCSP responses ------------------------------------------------------------------

TEST_CASE("make_ocsp_response: OpenSSL verifies good, revoked and unknown answers") {
    auto rng = deterministic_random(507);
    TempDir dir;
    Pki pki(*rng, dir);
    const auto info = openssl_request(dir, "-no_nonce");
    REQUIRE(info.ids.size() == 1);
    const auto now = pki.now;
    const std::string args = leaf_args(dir) + " -no_nonce";

    SUBCASE("good") {
        auto resp = make_ocsp_response(pki.ca_key, pki.ca, {{info.ids[0], OcspStatus::good}}, std::nullopt, now,
                                       now + kDay, *rng);
        REQUIRE_MESSAGE(resp.ok(), (resp.ok() ? "" : resp.error().message));
        const auto r = openssl_check_response(dir, *resp, args);
        INFO(r.output);
        CHECK(r.status == 0);
        CHECK(contains(r.output, "Response verify OK"));
        CHECK(contains(r.output, "leaf.pem: good"));
        CHECK(contains(r.output, "OCSP Response Status: successful (0x0)"));
        CHECK(contains(r.output, "Response Type: Basic OCSP Response"));
        CHECK(contains(r.output, "Signature Algorithm: ecdsa-with-SHA256"));
        CHECK(contains(r.output, "Next Update:"));
        CHECK_FALSE(contains(r.output, "Certificate:"));  // no certs: the CA signs directly
        CHECK(contains(*resp, info.ids[0].der));          // the CertID echoed as received

        // Without the CA at hand (-issuer and -verify_other both supply
        // it) OpenSSL cannot find the signer: the response carries no
        // certificate.
        const auto bare = run("openssl ocsp -respin " + dir / "resp.der" + " -CAfile " + dir / "root.pem");
        CHECK(bare.status != 0);
        CHECK(contains(bare.output, "signer certificate not found"));
    }
    SUBCASE("revoked, keyCompromise") {
        auto resp = make_ocsp_response(pki.ca_key, pki.ca, {{info.ids[0], OcspStatus::revoked, now - kHour, 1}},
                                       std::nullopt, now, now + kDay, *rng);
        REQUIRE(resp.ok());
        const auto r = openssl_check_response(dir, *resp, args);
        INFO(r.output);
        CHECK(r.status == 0);
        CHECK(contains(r.output, "Response verify OK"));
        CHECK(contains(r.output, "leaf.pem: revoked"));
        CHECK(contains(r.output, "Reason: keyCompromise"));
        CHECK(contains(r.output, "Revocation Time:"));
    }
    SUBCASE("revoked, no reason") {
        auto resp = make_ocsp_response(pki.ca_key, pki.ca, {{info.ids[0], OcspStatus::revoked, now - kHour, 0}},
                                       std::nullopt, now, now + kDay, *rng);
        REQUIRE(resp.ok());
        const auto r = openssl_check_response(dir, *resp, args);
        INFO(r.output);
        CHECK(contains(r.output, "Response verify OK"));
        CHECK(contains(r.output, "leaf.pem: revoked"));
        CHECK_FALSE(contains(r.output, "Reason:"));
    }
    SUBCASE("unknown") {
        auto resp = make_ocsp_response(pki.ca_key, pki.ca, {{info.ids[0], OcspStatus::unknown}}, std::nullopt, now,
                                       now + kDay, *rng);
        REQUIRE(resp.ok());
        const auto r = openssl_check_response(dir, *resp, args);
        INFO(r.output);
        CHECK(r.status == 0);
        CHECK(contains(r.output, "Response verify OK"));
        CHECK(contains(r.output, "leaf.pem: unknown"));
    }
    SUBCASE("a CertID encoded from its fields (no DER kept) matches too") {
        OcspCertId id = info.ids[0];
        id.der.clear();
        auto resp = make_ocsp_response(pki.ca_key, pki.ca, {{id, OcspStatus::good}}, std::nullopt, now, now + kDay,
                                       *rng);
        REQUIRE(resp.ok());
        CHECK(contains(*resp, info.ids[0].der));  // OpenSSL's CertID is DER with NULL parameters
        const auto r = openssl_check_response(dir, *resp, args);
        INFO(r.output);
        CHECK(contains(r.output, "Response verify OK"));
        CHECK(contains(r.output, "leaf.pem: good"));
    }
    SUBCASE("the response of another CA does not verify") {
        TempDir other_dir;
        Pki other(*rng, other_dir);
        auto resp = make_ocsp_response(other.ca_key, other.ca, {{info.ids[0], OcspStatus::good}}, std::nullopt, now,
                                       now + kDay, *rng);
        REQUIRE(resp.ok());
        const auto r = openssl_check_response(dir, *resp, args);
        INFO(r.output);
        CHECK(r.status != 0);
        CHECK_FALSE(contains(r.output, "Response verify OK"));
    }
}

TEST_CASE("make_ocsp_response: several answers, SHA-256 CertIDs, an Ed25519 CA") {
    auto rng = deterministic_random(508);
    SUBCASE("two CertIDs, SHA-256") {
        TempDir dir;
        Pki pki(*rng, dir);
        const auto info = openssl_request(dir, "-sha256 -no_nonce -serial 4660");
        REQUIRE(info.ids.size() == 2);
        CHECK(info.ids[0].serial == Bytes{0x12, 0x34});
        auto resp = make_ocsp_response(
            pki.ca_key, pki.ca,
            {{info.ids[0], OcspStatus::revoked, pki.now - kDay, 4}, {info.ids[1], OcspStatus::good}}, std::nullopt,
            pki.now, pki.now + kHour, *rng);
        REQUIRE(resp.ok());
        const auto r = openssl_check_response(dir, *resp,
                                              "-sha256 -no_nonce -issuer " + dir / "ca.pem" + " -serial 4660 -cert " +
                                                  dir / "leaf.pem");
        INFO(r.output);
        CHECK(r.status == 0);
        CHECK(contains(r.output, "Response verify OK"));
        CHECK(contains(r.output, "4660: revoked"));
        CHECK(contains(r.output, "Reason: superseded"));
        CHECK(contains(r.output, "leaf.pem: good"));
        CHECK(contains(r.output, "Hash Algorithm: sha256"));
    }
    SUBCASE("Ed25519 CA") {
        TempDir dir;
        Pki pki(*rng, dir, KeyAlgorithm::ed25519);
        const auto info = openssl_request(dir, "-nonce");
        CHECK(ocsp_id_matches_issuer(info.ids.at(0), pki.ca));
        auto resp = make_ocsp_response(pki.ca_key, pki.ca, {{info.ids[0], OcspStatus::good}}, info.nonce, pki.now,
                                       pki.now + kHour, *rng);
        REQUIRE(resp.ok());
        auto r = openssl_check_response(dir, *resp, leaf_args(dir) + " -no_nonce");
        INFO(r.output);
        CHECK(r.status == 0);
        CHECK(contains(r.output, "Response verify OK"));
        CHECK(contains(r.output, "Signature Algorithm: ED25519"));
        CHECK(contains(r.output, "leaf.pem: good"));
        r = openssl_check_response(dir, *resp, "-reqin " + dir / "req.der");
        INFO(r.output);
        CHECK(r.status == 0);
        CHECK(contains(r.output, "Response verify OK"));
        CHECK_FALSE(contains(r.output, "Nonce Verify error"));
        CHECK_FALSE(contains(r.output, "WARNING"));
    }
    SUBCASE("P-384 CA") {
        TempDir dir;
        Pki pki(*rng, dir, KeyAlgorithm::ecdsa_p384);
        const auto info = openssl_request(dir, "-no_nonce");
        auto resp = make_ocsp_response(pki.ca_key, pki.ca, {{info.ids.at(0), OcspStatus::good}}, std::nullopt,
                                       pki.now, pki.now + kHour, *rng);
        REQUIRE(resp.ok());
        const auto r = openssl_check_response(dir, *resp, leaf_args(dir) + " -no_nonce");
        INFO(r.output);
        CHECK(contains(r.output, "Response verify OK"));
        CHECK(contains(r.output, "Signature Algorithm: ecdsa-with-SHA384"));
        CHECK(contains(r.output, "leaf.pem: good"));
    }
}

TEST_CASE("make_ocsp_response: the nonce is echoed and OpenSSL checks it against the request") {
    auto rng = deterministic_random(509);
    TempDir dir;
    Pki pki(*rng, dir);
    const auto info = openssl_request(dir, "-nonce");
    REQUIRE(info.nonce.has_value());
    const std::string reqin = "-reqin " + dir / "req.der";

    auto resp = make_ocsp_response(pki.ca_key, pki.ca, {{info.ids[0], OcspStatus::good}}, info.nonce, pki.now,
                                   pki.now + kHour, *rng);
    REQUIRE(resp.ok());
    auto r = openssl_check_response(dir, *resp, reqin);
    INFO(r.output);
    CHECK(r.status == 0);
    CHECK(contains(r.output, "Response verify OK"));
    CHECK(contains(r.output, "OCSP Nonce: \n            0410" + upper_hex(*info.nonce) + "\n"));
    CHECK(contains(r.output, "Cert Status: good"));
    CHECK_FALSE(contains(r.output, "Nonce Verify error"));
    CHECK_FALSE(contains(r.output, "WARNING: no nonce in response"));

    // Another request's nonce: OpenSSL refuses the response.
    const auto other = openssl_request(dir, "-nonce", "req2.der");
    REQUIRE(other.nonce.has_value());
    REQUIRE(other.nonce != info.nonce);
    resp = make_ocsp_response(pki.ca_key, pki.ca, {{info.ids[0], OcspStatus::good}}, other.nonce, pki.now,
                              pki.now + kHour, *rng);
    REQUIRE(resp.ok());
    r = openssl_check_response(dir, *resp, reqin);
    INFO(r.output);
    CHECK(r.status != 0);
    CHECK(contains(r.output, "Nonce Verify error"));

    // No nonce in the response to a request with one: OpenSSL warns.
    resp = make_ocsp_response(pki.ca_key, pki.ca, {{info.ids[0], OcspStatus::good}}, std::nullopt, pki.now,
                              pki.now + kHour, *rng);
    REQUIRE(resp.ok());
    r = openssl_check_response(dir, *resp, reqin);
    INFO(r.output);
    CHECK(contains(r.output, "WARNING: no nonce in response"));
}

TEST_CASE("make_ocsp_response: bad arguments are refused") {
    auto rng = deterministic_random(510);
    TempDir dir;
    Pki pki(*rng, dir);
    const auto id = openssl_request(dir, "-no_nonce").ids.at(0);
    const auto t = pki.now;
    auto code = [&](const PrivateKey& key, const std::vector<OcspSingle>& answers, const std::optional<Bytes>& nonce,
                    std::int64_t produced, std::int64_t next) {
        auto r = make_ocsp_response(key, pki.ca, answers, nonce, produced, next, *rng);
        return r.ok() ? Code::ok : r.error().code;
    };
    CHECK(code(pki.ca_key, {{id, OcspStatus::good}}, Bytes(32, 1), t, t + 1) == Code::ok);
    CHECK(code(pki.ca_key, {}, std::nullopt, t, t + kHour) == Code::bad_argument);
    CHECK(code(pki.ca_key, {{id, OcspStatus::good}}, std::nullopt, t, t) == Code::bad_argument);
    CHECK(code(pki.ca_key, {{id, OcspStatus::revoked, t, 7}}, std::nullopt, t, t + kHour) == Code::bad_argument);
    CHECK(code(pki.ca_key, {{id, OcspStatus::good}}, Bytes{}, t, t + kHour) == Code::bad_argument);
    CHECK(code(pki.ca_key, {{id, OcspStatus::good}}, Bytes(33, 1), t, t + kHour) == Code::bad_argument);
    CHECK(code(pki.root_key, {{id, OcspStatus::good}}, std::nullopt, t, t + kHour) == Code::bad_argument);
    OcspCertId bad = id;
    bad.der.clear();
    bad.hash_oid = "not an oid";
    CHECK(code(pki.ca_key, {{bad, OcspStatus::good}}, std::nullopt, t, t + kHour) == Code::bad_argument);
}

TEST_CASE("ocsp_error_response: just a responseStatus, as OpenSSL reads it") {
    CHECK(ocsp_error_response(1) == Bytes{0x30, 0x03, 0x0a, 0x01, 0x01});
    CHECK(ocsp_error_response(6) == Bytes{0x30, 0x03, 0x0a, 0x01, 0x06});
    CHECK(ocsp_error_response(0) == ocsp_error_response(2));   // "successful" needs responseBytes
    CHECK(ocsp_error_response(4) == ocsp_error_response(2));   // unused value
    CHECK(ocsp_error_response(-1) == ocsp_error_response(2));
    TempDir dir;
    const std::pair<int, const char*> cases[] = {
        {1, "malformedrequest (1)"}, {2, "internalerror (2)"}, {3, "trylater (3)"}, {6, "unauthorized (6)"}};
    for (const auto& [status, text] : cases) {
        write_file(dir / "err.der", ocsp_error_response(status));
        const auto r = run("openssl ocsp -respin " + dir / "err.der" + " -noverify -resp_text");
        INFO(r.output);
        CHECK(contains(r.output, std::string("Responder Error: ") + text));
    }
}
