// The device rights extension (include/irp/crypto/rights.hpp): encoding,
// bounded decoding, issuance and parsing, and the matching rules.
#include <doctest/doctest.h>

#include <botan/asn1_obj.h>
#include <botan/bigint.h>
#include <botan/data_src.h>
#include <botan/pkcs8.h>
#include <botan/pubkey.h>
#include <botan/system_rng.h>
#include <botan/x509_ca.h>
#include <botan/x509_ext.h>
#include <botan/x509cert.h>

#include <algorithm>
#include <chrono>
#include <memory>
#include <string>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"
#include "irp/crypto/crypto.hpp"
#include "irp/crypto/rights.hpp"
#include "irp/rp/verifier.hpp"
#include "rp/pki.hpp"
#include "support/der.hpp"

namespace {

using irp::Bytes;
using irp::Code;
using irp_test::cat;
using irp_test::tlv;
using namespace irp::crypto;
using namespace rp_test;

Bytes utf8(const std::string& s) { return tlv(0x0c, irp::to_bytes(s)); }
Bytes right_der(const std::string& action, const std::string& target) { return tlv(0x30, cat({utf8(action), utf8(target)})); }

Bytes seq_of(const std::vector<Bytes>& items) {
    Bytes content;
    for (const auto& i : items) content.insert(content.end(), i.begin(), i.end());
    return tlv(0x30, content);
}

void check_malformed(const Bytes& der, const std::string& needle) {
    CAPTURE(needle);
    auto r = decode_rights(der);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::malformed_message);
    INFO(r.error().message);
    CHECK(contains(r.error().message, needle));
}

// An extension with a value of our choosing, for certificates our issuer
// would refuse to make.
class RawExtension final : public Botan::Certificate_Extension {
public:
    RawExtension(const char* oid, std::vector<uint8_t> value) : oid_(oid), value_(std::move(value)) {}
    Botan::OID oid_of() const override { return oid_; }
    std::string oid_name() const override { return ""; }
    RawExtension* copy() const override { return new RawExtension(*this); }
    void contents_to(Botan::Data_Store&, Botan::Data_Store&) const override {}

private:
    std::vector<uint8_t> encode_inner() const override { return value_; }
    void decode_inner(const std::vector<uint8_t>& v) override { value_ = v; }
    Botan::OID oid_;
    std::vector<uint8_t> value_;
};

// A correctly signed device certificate from `pki`'s CA whose rights
// extension value is `value`, made with Botan directly.
Bytes leaf_with_rights_value(Pki& pki, const Bytes& value) {
    Botan::System_RNG rng;
    const std::string pem = pki.ca_key.to_pem();
    Botan::DataSource_Memory src(pem);
    std::unique_ptr<Botan::Private_Key> ca_key(Botan::PKCS8::load_key(src));
    const Botan::X509_Certificate ca(pki.ca);
    Botan::AlgorithmIdentifier sig_algo;
    auto signer = Botan::X509_Object::choose_sig_format(sig_algo, *ca_key, rng, "SHA-256", "");
    Botan::X509_DN subject;
    subject.add_attribute("X520.CommonName", "dev-raw");
    Botan::Extensions ext;
    ext.add(new Botan::Cert_Extension::Key_Usage(Botan::DIGITAL_SIGNATURE), true);
    ext.add(new Botan::Cert_Extension::Extended_Key_Usage({Botan::OID::from_string("PKIX.ClientAuth")}), false);
    ext.add(new Botan::Cert_Extension::Authority_Key_ID(ca.subject_key_id()), false);
    ext.add(new RawExtension(kRightsExtensionOid, value), false);
    const auto tp = [](std::int64_t t) { return std::chrono::system_clock::time_point(std::chrono::seconds(t)); };
    const auto cert = Botan::X509_CA::make_cert(signer.get(), rng, Botan::BigInt(77), sig_algo, pki.leaf_key.public_key_der(),
                                                Botan::X509_Time(tp(kT0 - kDay)), Botan::X509_Time(tp(kT0 + kDay)),
                                                ca.subject_dn(), subject, ext);
    return cert.BER_encode();
}

}  // namespace

TEST_CASE("rights: the OID is a well-formed dotted OID, and the UUID-derived one is recorded") {
    const std::string oid = kRightsExtensionOid;
    CHECK(oid.starts_with("1.3.6.1.4.1.32473."));  // RFC 5612 documentation PEN: a placeholder
    const std::string uuid_oid = kRightsExtensionUuidOid;
    CHECK(uuid_oid == "2.25.181043755602903423326237719906123367161");
}

TEST_CASE("rights: round trip through issue_certificate and parse_certificate") {
    Pki pki(11);
    auto info = parse_certificate(pki.leaf);
    REQUIRE(info.ok());
    CHECK(info->rights == default_rights());

    // The extension is there, non-critical, under our OID: the DER holds the
    // encoded value.
    auto value = encode_rights(default_rights());
    REQUIRE(value.ok());
    CHECK(std::search(pki.leaf.begin(), pki.leaf.end(), value->begin(), value->end()) != pki.leaf.end());

    // No rights, no extension.
    auto bare = pki.another_leaf(pki.leaf_key, "dev-2");
    auto bare_info = parse_certificate(bare);
    REQUIRE(bare_info.ok());
    CHECK(bare_info->rights.empty());
    CHECK(std::search(bare.begin(), bare.end(), value->begin(), value->end()) == bare.end());

    // The largest list survives too.
    std::vector<Right> many;
    for (int i = 0; i < 64; ++i)
        many.push_back({std::string(60, 'a') + std::to_string(1000 + i), "device:" + std::string(119, 'x') + "-*"});
    auto big = pki.another_leaf(pki.leaf_key, "dev-3", many);
    auto big_info = parse_certificate(big);
    REQUIRE(big_info.ok());
    CHECK(big_info->rights == many);
}

TEST_CASE("rights: issue_certificate refuses rights it could not encode") {
    Pki pki(12);
    auto try_issue = [&](std::vector<Right> rights, bool ca = false) {
        auto p = leaf_profile(*pki.rng, "dev-x", std::move(rights));
        p.ca = ca;
        if (ca) p.eku_client_auth = false;
        return issue_certificate(pki.ca_key, pki.ca, pki.leaf_key.public_key_der(), p, *pki.rng);
    };
    std::vector<Right> too_many(65, Right{"read", "device:a"});
    std::vector<Right> max(64, Right{"read", "device:a"});
    CHECK(try_issue(max).ok());  // control: 64 is allowed
    auto r = try_issue(too_many);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::bad_argument);
    CHECK(contains(r.error().message, "more than 64"));

    for (const auto& bad : std::vector<Right>{{"Read", "device:a"},
                                              {"read all", "device:a"},
                                              {"", "device:a"},
                                              {std::string(65, 'a'), "device:a"},
                                              {"read", ""},
                                              {"read", "device a"},
                                              {"read", "device:\xc3\xa9"},
                                              {"read", "dev*ice"},
                                              {"read", std::string(129, 't')},
                                              {"**", "device:a"}}) {
        CAPTURE(bad.action);
        CAPTURE(bad.target);
        CHECK_FALSE(right_problem(bad).empty());
        auto e = try_issue({bad});
        REQUIRE_FALSE(e.ok());
        CHECK(e.error().code == Code::bad_argument);
    }
    // Good ones, at the limits.
    for (const auto& good : std::vector<Right>{{"*", "*"},
                                               {"a.b_c-9", "x"},
                                               {std::string(64, 'z'), std::string(128, '~')},
                                               {"read", "device:cam-*"}}) {
        CAPTURE(good.action);
        CHECK(right_problem(good).empty());
    }
    // Rights describe devices, not CAs.
    auto on_ca = try_issue({{"read", "x"}}, true);
    REQUIRE_FALSE(on_ca.ok());
    CHECK(contains(on_ca.error().message, "end-entity"));
}

TEST_CASE("decode_rights: hand-made DER, good and bad") {
    // Control: the hand-made encoding is what encode_rights writes, and decodes.
    const Bytes good = seq_of({right_der("read", "device:cam-*"), right_der("*", "*")});
    auto enc = encode_rights({{"read", "device:cam-*"}, {"*", "*"}});
    REQUIRE(enc.ok());
    CHECK(*enc == good);
    auto dec = decode_rights(good);
    REQUIRE(dec.ok());
    CHECK(dec->size() == 2);
    CHECK((*dec)[0] == Right{"read", "device:cam-*"});

    check_malformed({}, "empty");
    check_malformed({0xff, 0x00, 0x01}, "rights extension");
    check_malformed(tlv(0x31, right_der("read", "x")), "not a SEQUENCE");         // SET
    check_malformed(seq_of({}), "no rights");                                        // SIZE (1..64)
    check_malformed(cat({good, Bytes{0x00}}), "trailing data");                      // after the list
    check_malformed(seq_of({tlv(0x30, utf8("read"))}), "rights extension");          // no target
    check_malformed(seq_of({tlv(0x30, cat({utf8("read"), utf8("x"), utf8("y")}))}), "trailing data in an IrpRight");
    check_malformed(seq_of({tlv(0x30, cat({tlv(0x13, irp::to_bytes("read")), utf8("x")}))}),
                    "action is not a UTF8String");                                   // PrintableString
    check_malformed(seq_of({tlv(0x30, cat({utf8("read"), tlv(0x16, irp::to_bytes("x"))}))}),
                    "target is not a UTF8String");                                   // IA5String
    check_malformed(seq_of({utf8("read")}), "not a SEQUENCE");                       // an IrpRight that is a string
    check_malformed(seq_of({right_der(std::string(65, 'a'), "x")}), "action");
    check_malformed(seq_of({right_der("read", std::string(129, 'x'))}), "target");
    check_malformed(seq_of({right_der("READ", "x")}), "action");
    check_malformed(seq_of({right_der("read", "a b")}), "target");
    check_malformed(seq_of({right_der("read", "a*b")}), "'*'");
    check_malformed(seq_of({right_der("read", std::string("a\0b", 3))}), "target");

    std::vector<Bytes> entries(64, right_der("read", "x"));
    CHECK(decode_rights(seq_of(entries)).ok());  // control: 64
    entries.push_back(right_der("read", "x"));
    check_malformed(seq_of(entries), "more than 64");

    // BER that is not DER: a long-form length where the short form fits,
    // and an indefinite length.
    Bytes long_form = {0x30, 0x81, static_cast<std::uint8_t>(good.size() - 2)};
    long_form.insert(long_form.end(), good.begin() + 2, good.end());
    check_malformed(long_form, "not DER");
    Bytes indefinite = {0x30, 0x80};
    indefinite.insert(indefinite.end(), good.begin() + 2, good.end());
    indefinite.insert(indefinite.end(), {0x00, 0x00});
    check_malformed(indefinite, "rights extension");  // Botan reads the end-of-contents as an element
}

TEST_CASE("rights: a signed certificate with a malformed rights extension is refused") {
    Pki pki(13);
    auto verifier = irp::rp::Verifier::create({pki.root});
    REQUIRE(verifier.ok());

    // Control: the same construction with a good value is accepted.
    auto value = encode_rights({{"read", "device:x"}});
    REQUIRE(value.ok());
    const Bytes ok_cert = leaf_with_rights_value(pki, *value);
    auto ok_info = parse_certificate(ok_cert);
    REQUIRE(ok_info.ok());
    CHECK(ok_info->rights == std::vector<Right>{{"read", "device:x"}});
    auto ok_peer = verifier->verify_certificate({ok_cert, pki.ca}, kT0);
    REQUIRE_MESSAGE(ok_peer.ok(), (ok_peer.ok() ? "" : ok_peer.error().message));
    CHECK(ok_peer->device_id == "dev-raw");

    std::vector<Bytes> sixty_five(65, right_der("read", "x"));
    for (const auto& bad : std::vector<Bytes>{{0x04, 0x02, 0xde, 0xad},  // an OCTET STRING
                                              seq_of(sixty_five),
                                              seq_of({right_der("Read", "x")}),
                                              cat({*value, Bytes{0x05, 0x00}})}) {
        const Bytes cert = leaf_with_rights_value(pki, bad);
        CHECK(signed_by(cert, pki.ca));  // a real signature: only the extension is wrong
        auto info = parse_certificate(cert);
        REQUIRE_FALSE(info.ok());
        CHECK(info.error().code == Code::field_invalid);
        CHECK(contains(info.error().message, "rights extension"));
        CHECK(contains(info.error().message, kRightsExtensionOid));
        auto peer = verifier->verify_certificate({cert, pki.ca}, kT0);
        REQUIRE_FALSE(peer.ok());
        CHECK(contains(peer.error().message, "rights extension"));
    }
}

TEST_CASE("rights_allow: exact, wildcard and prefix matches; everything else is denied") {
    const std::vector<Right> rights = {{"read", "device:cam-*"},
                                       {"ota.push", "service:updates"},
                                       {"*", "device:door-1"},
                                       {"status", "*"}};
    // Exact.
    CHECK(rights_allow(rights, "ota.push", "service:updates"));
    CHECK_FALSE(rights_allow(rights, "ota.push", "service:updates2"));
    CHECK_FALSE(rights_allow(rights, "ota.push", "service:update"));
    CHECK_FALSE(rights_allow(rights, "ota.pull", "service:updates"));
    // Prefix wildcard.
    CHECK(rights_allow(rights, "read", "device:cam-07"));
    CHECK(rights_allow(rights, "read", "device:cam-"));
    CHECK_FALSE(rights_allow(rights, "read", "device:cam"));
    CHECK_FALSE(rights_allow(rights, "read", "device:door-1x"));
    CHECK_FALSE(rights_allow(rights, "write", "device:cam-07"));
    CHECK_FALSE(rights_allow(rights, "read", "Device:cam-07"));  // case-sensitive
    // Any action on one target.
    CHECK(rights_allow(rights, "write", "device:door-1"));
    CHECK(rights_allow(rights, "read", "device:door-1"));
    CHECK_FALSE(rights_allow(rights, "write", "device:door-2"));
    // One action on any target.
    CHECK(rights_allow(rights, "status", "anything:at-all"));
    CHECK_FALSE(rights_allow(rights, "statuses", "anything:at-all"));
    // The requested action is not a pattern.
    CHECK_FALSE(rights_allow({{"read", "x"}}, "*", "x"));
    CHECK_FALSE(rights_allow({{"re*", "x"}}, "read", "x"));  // '*' is no wildcard inside an action
    // Default deny, and empty requests.
    CHECK_FALSE(rights_allow({}, "read", "device:cam-07"));
    CHECK_FALSE(rights_allow({{"*", "*"}}, "", "x"));
    CHECK_FALSE(rights_allow({{"*", "*"}}, "read", ""));
    CHECK(rights_allow({{"*", "*"}}, "read", "x"));
    // Hand-made ill-formed rights match nothing.
    CHECK_FALSE(rights_allow({{"read", "a*b"}}, "read", "a*b"));
    CHECK_FALSE(rights_allow({{"", "x"}}, "", "x"));
}
