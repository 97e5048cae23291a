// create_csr and issue_certificate encode what they sign themselves (with
// Botan's DER encoder) instead of going through Botan's create_cert_req and
// X509_CA::make_cert, which decode their own output again. These cases pin
// that the bytes to be signed are exactly the ones Botan's builders make for
// the same input, for every key algorithm: a change to either side shows here.
// Botan is used directly, as the reference only.
#include <doctest/doctest.h>

#include <botan/bigint.h>
#include <botan/data_src.h>
#include <botan/pkcs10.h>
#include <botan/pkcs8.h>
#include <botan/pubkey.h>
#include <botan/system_rng.h>
#include <botan/x509_ca.h>
#include <botan/x509cert.h>
#include <botan/x509self.h>

#include <memory>
#include <string>
#include <vector>

#include "irp/crypto/crypto.hpp"

namespace {

using irp::Bytes;
using namespace irp::crypto;

constexpr std::int64_t kT0 = 1'700'000'000;
constexpr KeyAlgorithm kAlgorithms[] = {KeyAlgorithm::ecdsa_p256, KeyAlgorithm::ecdsa_p384, KeyAlgorithm::ed25519};

std::unique_ptr<Botan::Private_Key> as_botan(const PrivateKey& k) {
    const std::string pem = k.to_pem();
    Botan::DataSource_Memory src(pem);
    return Botan::PKCS8::load_key(src);
}

std::string hash_for(KeyAlgorithm a) {
    return a == KeyAlgorithm::ed25519 ? "Pure" : a == KeyAlgorithm::ecdsa_p384 ? "SHA-384" : "SHA-256";
}

PrivateKey key(KeyAlgorithm alg, Random& rng) {
    auto k = PrivateKey::generate(alg, rng);
    REQUIRE(k.ok());
    return std::move(k.value());
}

}  // namespace

TEST_CASE("create_csr signs the CertificationRequestInfo Botan's create_cert_req would") {
    auto rng = deterministic_random(91);
    for (const auto alg : kAlgorithms) {
        CAPTURE(key_algorithm_name(alg));
        const PrivateKey k = key(alg, *rng);
        for (const std::string& challenge : {std::string(64, 'c'), std::string()}) {
            auto ours = create_csr(k, "dev-1", challenge, *rng);
            REQUIRE(ours.ok());
            const Botan::PKCS10_Request parsed(*ours);  // also verifies its self-signature
            Botan::X509_Cert_Options opts;
            opts.common_name = "dev-1";
            opts.challenge = challenge;
            Botan::System_RNG brng;
            const auto reference = Botan::X509::create_cert_req(opts, *as_botan(k), hash_for(alg), brng);
            CHECK(parsed.signed_body() == reference.signed_body());
            CHECK(parsed.signature_algorithm() == reference.signature_algorithm());
        }
    }
}

TEST_CASE("issue_certificate signs the TBSCertificate Botan's X509_CA::make_cert would") {
    auto rng = deterministic_random(92);
    for (const auto alg : kAlgorithms) {
        CAPTURE(key_algorithm_name(alg));
        const PrivateKey ca = key(alg, *rng);
        IssueProfile rp;
        rp.serial = {0x11, 0x22, 0x33};
        rp.common_name = "Root";
        rp.organization = "example.test";
        rp.ca = true;
        rp.path_len = 1;
        rp.not_before = kT0;
        rp.not_after = kT0 + 3650 * 86400;
        auto root = issue_certificate(ca, {}, ca.public_key_der(), rp, *rng);
        REQUIRE(root.ok());
        const PrivateKey dev = key(KeyAlgorithm::ecdsa_p256, *rng);
        IssueProfile p;
        p.serial = {0x42, 0x05, 0x06, 0x07};
        p.common_name = "dev-1";
        p.serial_number = "dev-1";
        p.san_uris = {"urn:irp:example.test:dev-1"};
        p.eku_client_auth = true;
        p.crl_urls = {"http://ca.example.test/crl/1.crl"};
        p.ocsp_urls = {"http://ca.example.test/ocsp"};
        p.rights = {{"read", "device:cam-*"}};
        p.not_before = kT0;
        p.not_after = kT0 + 90 * 86400;
        auto leaf = issue_certificate(ca, *root, dev.public_key_der(), p, *rng);
        REQUIRE(leaf.ok());
        for (const Bytes* der : {&*root, &*leaf}) {
            const Botan::X509_Certificate c(der->data(), der->size());
            const auto bk = as_botan(ca);
            Botan::System_RNG brng;
            Botan::AlgorithmIdentifier sig_algo;
            auto signer = Botan::X509_Object::choose_sig_format(sig_algo, *bk, brng, hash_for(alg), "");
            const auto reference = Botan::X509_CA::make_cert(
                signer.get(), brng, Botan::BigInt(c.serial_number()), sig_algo, c.subject_public_key_info(),
                c.not_before(), c.not_after(), c.issuer_dn(), c.subject_dn(), c.v3_extensions());
            CHECK(c.tbs_data() == reference.tbs_data());
            CHECK(c.check_signature(*bk));  // signed by the CA's key
        }
    }
}
