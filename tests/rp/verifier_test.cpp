// The relying-party verifier (include/irp/rp/verifier.hpp) and the CRL
// checker under it (parse_and_verify_crl), on a PKI made by our own issuer.
#include <doctest/doctest.h>

#include <cstdint>
#include <string>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"
#include "irp/crypto/crypto.hpp"
#include "irp/crypto/revocation.hpp"
#include "irp/rp/verifier.hpp"
#include "rp/pki.hpp"

namespace {

using irp::Bytes;
using irp::Code;
using irp::rp::PeerIdentity;
using irp::rp::Verifier;
using irp::rp::VerifierOptions;
using namespace irp::crypto;
using namespace rp_test;

using Revocation = PeerIdentity::Revocation;

Verifier make_verifier(const Bytes& root, VerifierOptions options = {}) {
    auto v = Verifier::create({root}, options);
    REQUIRE_MESSAGE(v.ok(), (v.ok() ? "" : v.error().message));
    return std::move(v.value());
}

#define REQUIRE_OK(r) REQUIRE_MESSAGE((r).ok(), ((r).ok() ? std::string() : (r).error().message))

void check_fails(const irp::Result<PeerIdentity>& r, Code code, const std::string& needle) {
    REQUIRE_FALSE(r.ok());
    INFO(r.error().message);
    CHECK(r.error().code == code);
    CHECK(contains(r.error().message, needle));
}

void check_fails(const irp::Result<void>& r, Code code, const std::string& needle) {
    REQUIRE_FALSE(r.ok());
    INFO(r.error().message);
    CHECK(r.error().code == code);
    CHECK(contains(r.error().message, needle));
}

}  // namespace

// ---- parse_and_verify_crl --------------------------------------------------------

TEST_CASE("parse_and_verify_crl: the fields of a CRL from issue_crl") {
    Pki pki(30);
    const Bytes serial = pki.leaf_serial();
    const Bytes other = {0x01, 0x02, 0x03};
    const Bytes der = pki.crl({{serial, kT0 - 2 * kHour, 1}, {other, kT0 - 3 * kHour, 0}}, 7);
    auto info = parse_and_verify_crl(der, pki.ca);
    REQUIRE_OK(info);
    auto subject = certificate_subject_name(pki.ca);
    REQUIRE(subject.ok());
    CHECK(info->issuer_name == *subject);
    CHECK(info->this_update == kT0 - kHour);
    CHECK(info->next_update == kT0 + kDay);
    CHECK(info->crl_number == 7);
    REQUIRE(info->entries.size() == 2);
    CHECK(info->entries[0].serial == serial);
    CHECK(info->entries[0].revoked_at == kT0 - 2 * kHour);
    CHECK(info->entries[0].reason == 1);
    CHECK(info->entries[1].serial == other);
    CHECK(info->entries[1].reason == 0);

    // Empty, a CRL number past 32 bits, GeneralizedTime (2050 and later).
    const std::int64_t t2060 = 2'871'763'200;
    auto c2 = issue_crl(pki.ca_key, pki.ca, {}, (std::int64_t{1} << 40) + 5, t2060, t2060 + kDay, *pki.rng);
    REQUIRE_OK(c2);
    auto info2 = parse_and_verify_crl(*c2, pki.ca);
    REQUIRE_OK(info2);
    CHECK(info2->crl_number == (std::int64_t{1} << 40) + 5);
    CHECK(info2->this_update == t2060);
    CHECK(info2->entries.empty());
}

TEST_CASE("parse_and_verify_crl: malformed CRLs, the wrong issuer, a bad signature") {
    Pki pki(31);
    const Bytes der = pki.crl({{pki.leaf_serial(), kT0 - kHour, 1}}, 1);
    REQUIRE(parse_and_verify_crl(der, pki.ca).ok());  // control

    auto r = parse_and_verify_crl({}, pki.ca);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::malformed_message);
    r = parse_and_verify_crl(Bytes{0x30, 0x03, 0x02, 0x01, 0x01}, pki.ca);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::malformed_message);
    r = parse_and_verify_crl(Bytes(kMaxCrlBytes + 1, 0x30), pki.ca);
    REQUIRE_FALSE(r.ok());
    CHECK(contains(r.error().message, "larger than"));

    Bytes trailing = der;
    trailing.push_back(0x00);
    r = parse_and_verify_crl(trailing, pki.ca);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::malformed_message);

    // The last byte is inside the signature value.
    Bytes tampered = der;
    tampered.back() ^= 0x01;
    r = parse_and_verify_crl(tampered, pki.ca);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::identity_mismatch);
    CHECK(contains(r.error().message, "signature"));

    // Another CA's certificate: another name.
    r = parse_and_verify_crl(der, pki.root);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::identity_mismatch);
    CHECK(contains(r.error().message, "issuer"));

    // Not a CA certificate, or not a certificate.
    r = parse_and_verify_crl(der, pki.leaf);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::bad_argument);
    r = parse_and_verify_crl(der, Bytes{0x30, 0x00});
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::bad_argument);
}

// ---- Verifier ----------------------------------------------------------------------

TEST_CASE("Verifier::create refuses what cannot anchor a path") {
    Pki pki(40);
    CHECK(Verifier::create({pki.root}).ok());  // control
    CHECK(Verifier::create({pki.root, pki.ca}).ok());
    CHECK(Verifier::create({}).error().code == Code::bad_argument);
    CHECK(Verifier::create({Bytes{0x30, 0x00}}).error().code == Code::bad_argument);
    auto leaf = Verifier::create({pki.leaf});
    REQUIRE_FALSE(leaf.ok());
    CHECK(contains(leaf.error().message, "not a CA"));
    VerifierOptions bad;
    bad.crl_grace_s = -1;
    CHECK(Verifier::create({pki.root}, bad).error().code == Code::bad_argument);
}

TEST_CASE("verify_certificate: a good chain gives the identity, its rights, revocation unknown") {
    Pki pki(41);
    auto v = make_verifier(pki.root);
    auto peer = v.verify_certificate(pki.chain(), kT0);
    REQUIRE_OK(peer);
    CHECK(peer->device_id == "dev-1");
    CHECK(peer->serial_hex == irp::to_hex(pki.leaf_serial()));
    CHECK(contains(peer->issuer_subject, "Test Domain CA"));
    CHECK(peer->rights == default_rights());
    CHECK(peer->revocation == Revocation::unknown);
    CHECK(peer->revocation_checked_at == 0);

    CHECK(irp::rp::allows(*peer, "read", "device:cam-07"));
    CHECK(irp::rp::allows(*peer, "reboot", "device:door-1"));
    CHECK_FALSE(irp::rp::allows(*peer, "write", "device:cam-07"));
    CHECK_FALSE(irp::rp::allows(*peer, "ota.push", "service:other"));

    // A leaf without rights may do nothing.
    auto key2 = make_key(*pki.rng);
    auto bare = v.verify_certificate({pki.another_leaf(key2, "dev-2"), pki.ca}, kT0);
    REQUIRE_OK(bare);
    CHECK(bare->rights.empty());
    CHECK_FALSE(irp::rp::allows(*bare, "read", "device:cam-07"));
}

TEST_CASE("allows: false for a revoked identity whatever its rights") {
    PeerIdentity p;
    p.rights = {{"*", "*"}};
    p.revocation = Revocation::good;
    CHECK(irp::rp::allows(p, "read", "x"));
    p.revocation = Revocation::unknown;
    CHECK(irp::rp::allows(p, "read", "x"));
    p.revocation = Revocation::revoked;
    CHECK_FALSE(irp::rp::allows(p, "read", "x"));
}

TEST_CASE("verify_certificate: untrusted roots and incomplete chains are refused") {
    Pki pki(42);
    Pki other(43, "Other");
    Pki twin(44);  // the same names as pki, other keys
    auto v = make_verifier(pki.root);
    REQUIRE(v.verify_certificate(pki.chain(), kT0).ok());  // control

    check_fails(v.verify_certificate(other.chain(), kT0), Code::unknown_certificate, "does not validate");
    check_fails(v.verify_certificate(twin.chain(), kT0), Code::unknown_certificate, "does not validate");
    // The issuing CA is missing, or is another CA with the same name.
    check_fails(v.verify_certificate({pki.leaf}, kT0), Code::unknown_certificate, "does not validate");
    check_fails(v.verify_certificate({pki.leaf, twin.ca}, kT0), Code::unknown_certificate, "does not validate");
    // A verifier trusting the other root refuses ours.
    auto v2 = make_verifier(other.root);
    check_fails(v2.verify_certificate(pki.chain(), kT0), Code::unknown_certificate, "does not validate");
}

TEST_CASE("verify_certificate: expired and not yet valid certificates are refused") {
    Pki pki(45);
    auto v = make_verifier(pki.root);
    const std::int64_t not_after = kT0 + 90 * kDay;
    REQUIRE(v.verify_certificate(pki.chain(), not_after).ok());  // control: the last valid second
    check_fails(v.verify_certificate(pki.chain(), not_after + 1), Code::certificate_not_active, "not valid at");
    check_fails(v.verify_certificate(pki.chain(), kT0 - 2 * kDay), Code::certificate_not_active, "not valid at");
}

TEST_CASE("verify_certificate: chains are bounded, and a CA is no peer") {
    Pki pki(46);
    auto v = make_verifier(pki.root);
    check_fails(v.verify_certificate({}, kT0), Code::field_invalid, "1 to 4");
    check_fails(v.verify_certificate({pki.leaf, pki.ca, pki.ca, pki.ca, pki.ca}, kT0), Code::field_invalid, "1 to 4");
    CHECK(v.verify_certificate({pki.leaf, pki.ca, pki.root}, kT0).ok());  // the root may be sent along
    check_fails(v.verify_certificate({pki.leaf, Bytes(irp::rp::kMaxCertBytes + 1, 0x30)}, kT0), Code::field_invalid,
                "larger than");
    check_fails(v.verify_certificate({pki.ca, pki.root}, kT0), Code::field_invalid, "CA certificate");
    check_fails(v.verify_certificate({Bytes{0x30, 0x00}}, kT0), Code::field_invalid, "peer certificate");
}

TEST_CASE("verify_certificate: revoked after add_crl, with when and why") {
    Pki pki(47);
    auto v = make_verifier(pki.root);
    auto key2 = make_key(*pki.rng);
    const Bytes leaf2 = pki.another_leaf(key2, "dev-2");
    REQUIRE(v.verify_certificate(pki.chain(), kT0)->revocation == Revocation::unknown);

    // A CRL not listing it: good, as of the CRL's thisUpdate, once the
    // root's CRL (about the domain CA) is held too.
    REQUIRE_OK(v.add_crl(pki.crl({}, 1), pki.ca, kT0));
    CHECK(v.verify_certificate(pki.chain(), kT0)->revocation == Revocation::unknown);
    REQUIRE_OK(v.add_crl(pki.root_crl({}, 1, kT0 - 2 * kHour), pki.root, kT0));
    auto good = v.verify_certificate(pki.chain(), kT0);
    REQUIRE_OK(good);
    CHECK(good->revocation == Revocation::good);
    CHECK(good->revocation_checked_at == kT0 - 2 * kHour);  // the older of the two CRLs

    // The next CRL lists it.
    REQUIRE_OK(v.add_crl(pki.crl({{pki.leaf_serial(), kT0 - 2 * kHour, 1}}, 2), pki.ca, kT0));
    CHECK(v.crl_count() == 2);
    auto revoked = v.verify_certificate(pki.chain(), kT0);
    check_fails(revoked, Code::certificate_not_active, "revoked");
    CHECK(contains(revoked.error().message, "2023-11-14T20:13:20Z"));  // kT0 - 2 h
    CHECK(contains(revoked.error().message, "keyCompromise"));
    CHECK(contains(revoked.error().message, "dev-1"));

    // Its sibling is not listed.
    auto sibling = v.verify_certificate({leaf2, pki.ca}, kT0);
    REQUIRE_OK(sibling);
    CHECK(sibling->revocation == Revocation::good);
}

TEST_CASE("verify_certificate: a leaf issued by a root is checked against the root's CRL") {
    Pki pki(48);
    auto key = make_key(*pki.rng);
    const Bytes leaf = issue(pki.root_key, pki.root, key, leaf_profile(*pki.rng, "dev-r", {}), *pki.rng);
    auto serial = parse_certificate(leaf);
    REQUIRE(serial.ok());
    auto v = make_verifier(pki.root);
    REQUIRE(v.verify_certificate({leaf}, kT0).ok());
    auto crl = issue_crl(pki.root_key, pki.root, {{serial->serial, kT0 - kHour, 4}}, 1, kT0 - kHour, kT0 + kDay, *pki.rng);
    REQUIRE_OK(crl);
    REQUIRE_OK(v.add_crl(*crl, pki.root, kT0));
    check_fails(v.verify_certificate({leaf}, kT0), Code::certificate_not_active, "superseded");
    // The CA's own leaf is not covered by the root's CRL.
    CHECK(v.verify_certificate(pki.chain(), kT0)->revocation == Revocation::unknown);
}

TEST_CASE("verify_certificate: a stale CRL leaves revocation unknown; grace, maximum age, required freshness") {
    Pki pki(49);
    const Bytes crl = pki.crl({}, 1);  // thisUpdate kT0 - 1 h, nextUpdate kT0 + 1 day
    const std::int64_t next = kT0 + kDay;

    const Bytes root_crl = pki.root_crl({}, 1);  // thisUpdate kT0 - 1 h, nextUpdate kT0 + 30 days

    auto v = make_verifier(pki.root);
    REQUIRE_OK(v.add_crl(crl, pki.ca, kT0));
    REQUIRE_OK(v.add_crl(root_crl, pki.root, kT0));
    CHECK(v.verify_certificate(pki.chain(), next)->revocation == Revocation::good);
    auto stale = v.verify_certificate(pki.chain(), next + 1);
    REQUIRE_OK(stale);
    CHECK(stale->revocation == Revocation::unknown);
    CHECK(stale->revocation_checked_at == kT0 - kHour);

    VerifierOptions grace;
    grace.crl_grace_s = kHour;
    auto vg = make_verifier(pki.root, grace);
    REQUIRE_OK(vg.add_crl(crl, pki.ca, kT0));
    REQUIRE_OK(vg.add_crl(root_crl, pki.root, kT0));
    CHECK(vg.verify_certificate(pki.chain(), next + kHour)->revocation == Revocation::good);
    CHECK(vg.verify_certificate(pki.chain(), next + kHour + 1)->revocation == Revocation::unknown);

    VerifierOptions age;
    age.max_crl_age_s = kHour;
    auto va = make_verifier(pki.root, age);
    REQUIRE_OK(va.add_crl(crl, pki.ca, kT0));
    REQUIRE_OK(va.add_crl(root_crl, pki.root, kT0));
    CHECK(va.verify_certificate(pki.chain(), kT0)->revocation == Revocation::good);
    CHECK(va.verify_certificate(pki.chain(), kT0 + 1)->revocation == Revocation::unknown);

    VerifierOptions fresh;
    fresh.require_fresh_revocation = true;
    auto vf = make_verifier(pki.root, fresh);
    check_fails(vf.verify_certificate(pki.chain(), kT0), Code::certificate_not_active, "no CRL");
    REQUIRE_OK(vf.add_crl(crl, pki.ca, kT0));
    // The domain CA's own status is unknown until the root's CRL is held.
    check_fails(vf.verify_certificate(pki.chain(), kT0), Code::certificate_not_active, "no CRL is held for a CA");
    REQUIRE_OK(vf.add_crl(root_crl, pki.root, kT0));
    CHECK(vf.verify_certificate(pki.chain(), kT0)->revocation == Revocation::good);
    check_fails(vf.verify_certificate(pki.chain(), next + 1), Code::certificate_not_active, "stale");
}

TEST_CASE("verify_certificate: a stale CRL still refuses what it lists, except a hold") {
    Pki pki(50);
    auto key2 = make_key(*pki.rng);
    const Bytes leaf2 = pki.another_leaf(key2, "dev-2");
    auto serial2 = parse_certificate(leaf2);
    REQUIRE(serial2.ok());
    auto v = make_verifier(pki.root);
    REQUIRE_OK(v.add_crl(pki.crl({{pki.leaf_serial(), kT0 - kHour, 1}, {serial2->serial, kT0 - kHour, 6}}, 1), pki.ca,
                         kT0));
    const std::int64_t later = kT0 + 2 * kDay;  // past nextUpdate
    check_fails(v.verify_certificate(pki.chain(), later), Code::certificate_not_active, "revoked");
    check_fails(v.verify_certificate({leaf2, pki.ca}, kT0), Code::certificate_not_active, "certificateHold");
    auto held_stale = v.verify_certificate({leaf2, pki.ca}, later);
    REQUIRE_OK(held_stale);
    CHECK(held_stale->revocation == Revocation::unknown);
}

TEST_CASE("verify_certificate: a domain CA revoked by its root refuses every leaf under it") {
    Pki pki(54);
    auto v = make_verifier(pki.root);
    REQUIRE_OK(v.add_crl(pki.crl({}, 1), pki.ca, kT0));  // the leaf itself is not listed
    REQUIRE_OK(v.add_crl(pki.root_crl({}, 1), pki.root, kT0));
    REQUIRE(v.verify_certificate(pki.chain(), kT0)->revocation == Revocation::good);

    // The root's next CRL lists the domain CA (cACompromise).
    REQUIRE_OK(v.add_crl(pki.root_crl({{pki.ca_serial(), kT0 - kHour / 2, 2}}, 2), pki.root, kT0));
    auto r = v.verify_certificate(pki.chain(), kT0);
    check_fails(r, Code::certificate_not_active, "the CA O=\"example.test\",CN=\"Test Domain CA\"");
    CHECK(contains(r.error().message, "cACompromise"));
    CHECK(contains(r.error().message, "dev-1"));
    // Every leaf of that CA.
    auto key2 = make_key(*pki.rng);
    check_fails(v.verify_certificate({pki.another_leaf(key2, "dev-2"), pki.ca}, kT0), Code::certificate_not_active,
                "cACompromise");

    // Without the domain CA's own CRL, the root's CRL still refuses it.
    auto v2 = make_verifier(pki.root);
    REQUIRE_OK(v2.add_crl(pki.root_crl({{pki.ca_serial(), kT0 - kHour / 2, 2}}, 3), pki.root, kT0));
    check_fails(v2.verify_certificate(pki.chain(), kT0), Code::certificate_not_active, "cACompromise");

    // A stale root CRL leaves the path unknown, and still refuses what it lists.
    auto v3 = make_verifier(pki.root);
    REQUIRE_OK(v3.add_crl(pki.crl({}, 1, kT0 - kHour, kT0 + 60 * kDay), pki.ca, kT0));
    REQUIRE_OK(v3.add_crl(pki.root_crl({}, 1, kT0 - kHour, kT0 + kDay), pki.root, kT0));
    CHECK(v3.verify_certificate(pki.chain(), kT0 + 2 * kDay)->revocation == Revocation::unknown);
    VerifierOptions fresh;
    fresh.require_fresh_revocation = true;
    auto v4 = make_verifier(pki.root, fresh);
    REQUIRE_OK(v4.add_crl(pki.crl({}, 1, kT0 - kHour, kT0 + 60 * kDay), pki.ca, kT0));
    REQUIRE_OK(v4.add_crl(pki.root_crl({}, 1, kT0 - kHour, kT0 + kDay), pki.root, kT0));
    check_fails(v4.verify_certificate(pki.chain(), kT0 + 2 * kDay), Code::certificate_not_active, "stale");
}

TEST_CASE("verify_certificate: revocation follows the validated path, not a look-alike the peer adds") {
    // An expired sibling of the domain CA: same name, same key, another
    // serial. Botan rejects the path through it and takes the real CA; the
    // root has revoked the real CA, and must still refuse the peer.
    Pki pki(55);
    auto p = ca_profile(*pki.rng, "Test Domain CA");
    p.path_len = 0;
    p.not_before = kT0 - 60 * kDay;
    p.not_after = kT0 - 30 * kDay;
    const Bytes expired_twin = issue(pki.root_key, pki.root, pki.ca_key, p, *pki.rng);
    auto v = make_verifier(pki.root);
    REQUIRE_OK(v.add_crl(pki.crl({}, 1), pki.ca, kT0));
    REQUIRE_OK(v.add_crl(pki.root_crl({{pki.ca_serial(), kT0 - kHour / 2, 2}}, 1), pki.root, kT0));
    check_fails(v.verify_certificate({pki.leaf, expired_twin, pki.ca}, kT0), Code::certificate_not_active,
                "cACompromise");
    check_fails(v.verify_certificate({pki.leaf, pki.ca, expired_twin}, kT0), Code::certificate_not_active,
                "cACompromise");
}

TEST_CASE("add_crl: CRLs from the wrong CA or an untrusted CA are refused") {
    Pki pki(51);
    auto v = make_verifier(pki.root);
    const Bytes serial = pki.leaf_serial();

    // A second CA under the same root, with another name.
    auto ca2_key = make_key(*pki.rng);
    const Bytes ca2 = issue(pki.root_key, pki.root, ca2_key, ca_profile(*pki.rng, "Test Domain CA 2"), *pki.rng);
    auto crl2 = issue_crl(ca2_key, ca2, {{serial, kT0 - kHour, 1}}, 1, kT0 - kHour, kT0 + kDay, *pki.rng);
    REQUIRE_OK(crl2);
    check_fails(v.add_crl(*crl2, pki.ca, kT0), Code::identity_mismatch, "issuer");

    // A CA with our CA's name and another key: its CRL does not verify
    // under our CA, and, held as its own, does not apply to our CA's leaves.
    auto ca3_key = make_key(*pki.rng);
    const Bytes ca3 = issue(pki.root_key, pki.root, ca3_key, ca_profile(*pki.rng, "Test Domain CA"), *pki.rng);
    auto crl3 = issue_crl(ca3_key, ca3, {{serial, kT0 - kHour, 1}}, 1, kT0 - kHour, kT0 + kDay, *pki.rng);
    REQUIRE_OK(crl3);
    check_fails(v.add_crl(*crl3, pki.ca, kT0), Code::identity_mismatch, "signature");
    REQUIRE_OK(v.add_crl(*crl3, ca3, kT0));
    auto peer = v.verify_certificate(pki.chain(), kT0);
    REQUIRE_OK(peer);
    CHECK(peer->revocation == Revocation::unknown);

    // A CA that does not chain to the trusted root, with its own good CRL.
    Pki other(52, "Other");
    const Bytes other_crl = other.crl({}, 1);
    REQUIRE(parse_and_verify_crl(other_crl, other.ca).ok());  // control: the CRL itself is fine
    check_fails(v.add_crl(other_crl, other.ca, kT0), Code::unknown_certificate, "trusted root");

    // Not a CA; not a CRL; a tampered CRL.
    check_fails(v.add_crl(pki.crl({}, 1), pki.leaf, kT0), Code::bad_argument, "not a CA");
    check_fails(v.add_crl(Bytes{0x30, 0x00}, pki.ca, kT0), Code::malformed_message, "CRL");
    Bytes tampered = pki.crl({}, 1);
    tampered.back() ^= 0x01;
    check_fails(v.add_crl(tampered, pki.ca, kT0), Code::identity_mismatch, "signature");
    CHECK(v.crl_count() == 1);  // only ca3's
}

TEST_CASE("add_crl: the CRL number must not go backwards") {
    Pki pki(53);
    auto v = make_verifier(pki.root);
    const Bytes crl5 = pki.crl({}, 5);
    REQUIRE_OK(v.add_crl(crl5, pki.ca, kT0));
    check_fails(v.add_crl(pki.crl({}, 4), pki.ca, kT0), Code::already_exists, "not newer");
    CHECK(v.add_crl(crl5, pki.ca, kT0).ok());  // the same CRL again: a no-op
    // The same number with other content (a later thisUpdate, a listed leaf).
    check_fails(v.add_crl(pki.crl({{pki.leaf_serial(), kT0 - kHour, 1}}, 5, kT0 - 30), pki.ca, kT0),
                Code::already_exists, "not newer");
    REQUIRE_OK(v.add_crl(pki.root_crl({}, 1), pki.root, kT0));
    CHECK(v.verify_certificate(pki.chain(), kT0)->revocation == Revocation::good);

    REQUIRE_OK(v.add_crl(pki.crl({{pki.leaf_serial(), kT0 - kHour, 1}}, 6), pki.ca, kT0));
    check_fails(v.verify_certificate(pki.chain(), kT0), Code::certificate_not_active, "revoked");
    // Replaying the older, empty CRL does not un-revoke.
    check_fails(v.add_crl(crl5, pki.ca, kT0), Code::already_exists, "not newer");
    check_fails(v.verify_certificate(pki.chain(), kT0), Code::certificate_not_active, "revoked");
}

// ---- proof of possession ------------------------------------------------------------

TEST_CASE("peer_proof_message and make_challenge") {
    Bytes challenge(16);
    for (std::size_t i = 0; i < challenge.size(); ++i) challenge[i] = static_cast<std::uint8_t>(i);
    // Built from one literal: GCC 12 misreads insert() chains at -O2.
    const std::string label = "IRP/1 peer-proof";
    Bytes expected(label.begin(), label.end());
    expected.resize(label.size() + 4 + challenge.size());
    expected[label.size() + 3] = 0x10;
    std::copy(challenge.begin(), challenge.end(), expected.begin() + static_cast<std::ptrdiff_t>(label.size() + 4));
    CHECK(irp::rp::peer_proof_message(challenge) == expected);
    CHECK(irp::rp::peer_proof_message(Bytes(300, 0xaa))[16 + 2] == 0x01);  // 300 = 0x0000012c
    CHECK(irp::rp::peer_proof_message(Bytes(300, 0xaa))[16 + 3] == 0x2c);

    auto rng = system_random();
    const Bytes a = irp::rp::make_challenge(*rng);
    const Bytes b = irp::rp::make_challenge(*rng);
    CHECK(a.size() == 32);
    CHECK(b.size() == 32);
    CHECK(a != b);
}

TEST_CASE("verify_signed_challenge: good, wrong challenge, wrong key, bad sizes, revoked") {
    for (auto alg : {KeyAlgorithm::ecdsa_p256, KeyAlgorithm::ecdsa_p384, KeyAlgorithm::ed25519}) {
        CAPTURE(key_algorithm_name(alg));
        Pki pki(60, "Test", alg);
        auto v = make_verifier(pki.root);
        const Bytes challenge = irp::rp::make_challenge(*pki.rng);
        const Bytes sig = pki.leaf_key.sign(irp::rp::peer_proof_message(challenge), *pki.rng);
        REQUIRE_FALSE(sig.empty());

        auto ok = v.verify_signed_challenge(pki.chain(), challenge, sig, kT0);
        REQUIRE_OK(ok);
        CHECK(ok->device_id == "dev-1");
        CHECK(ok->rights == default_rights());

        // Another challenge.
        const Bytes other = irp::rp::make_challenge(*pki.rng);
        check_fails(v.verify_signed_challenge(pki.chain(), other, sig, kT0), Code::bad_possession_proof, "signature");
        // The challenge signed without the label.
        const Bytes raw = pki.leaf_key.sign(challenge, *pki.rng);
        check_fails(v.verify_signed_challenge(pki.chain(), challenge, raw, kT0), Code::bad_possession_proof,
                    "signature");
        // Another key, even one with its own valid certificate.
        auto key2 = make_key(*pki.rng, alg);
        const Bytes sig2 = key2.sign(irp::rp::peer_proof_message(challenge), *pki.rng);
        check_fails(v.verify_signed_challenge(pki.chain(), challenge, sig2, kT0), Code::bad_possession_proof,
                    "signature");
        CHECK(v.verify_signed_challenge({pki.another_leaf(key2, "dev-2"), pki.ca}, challenge, sig2, kT0).ok());

        // Challenge sizes: 16..64.
        for (std::size_t n : {std::size_t{15}, std::size_t{16}, std::size_t{64}, std::size_t{65}, std::size_t{0}}) {
            CAPTURE(n);
            const Bytes c = pki.rng->bytes(n);
            const Bytes s = pki.leaf_key.sign(irp::rp::peer_proof_message(c), *pki.rng);
            auto r = v.verify_signed_challenge(pki.chain(), c, s, kT0);
            if (n >= 16 && n <= 64) {
                CHECK(r.ok());
            } else {
                check_fails(r, Code::bad_argument, "challenge");
            }
        }
        // Signature sizes.
        check_fails(v.verify_signed_challenge(pki.chain(), challenge, Bytes{}, kT0), Code::field_invalid, "signature");
        check_fails(v.verify_signed_challenge(pki.chain(), challenge, Bytes(257, 0x30), kT0), Code::field_invalid,
                    "signature");

        // A good proof from a revoked certificate is still refused.
        REQUIRE_OK(v.add_crl(pki.crl({{pki.leaf_serial(), kT0 - kHour, 1}}, 1), pki.ca, kT0));
        check_fails(v.verify_signed_challenge(pki.chain(), challenge, sig, kT0), Code::certificate_not_active,
                    "revoked");
    }
}
