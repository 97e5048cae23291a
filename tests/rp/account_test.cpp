// Account statements (include/irp/rp/account.hpp): what a domain CA signs
// about a certificate's account and policy, and the relying party's check.
#include <doctest/doctest.h>

#include "irp/rp/account.hpp"
#include "rp/pki.hpp"

namespace {

using irp::Bytes;
using irp::Code;
using namespace irp::crypto;
using namespace irp::rp;
using namespace rp_test;

AccountStatus status_for(const Pki& pki, const std::string& account, bool active = true) {
    AccountStatus s;
    s.serial_hex = irp::to_hex(pki.leaf_serial());
    s.domain = "example";
    s.device_id = "dev-1";
    s.account = account;
    s.active = active;
    s.policy = {{"stream", "service:video"}, {"read", "device:cam-*"}};
    s.produced_at = kT0;
    s.next_update = kT0 + kHour;
    return s;
}

Bytes signed_by(const PrivateKey& key, const Bytes& ca_der, const AccountStatus& s, Random& rng) {
    auto ca = parse_certificate(ca_der);
    REQUIRE(ca.ok());
    auto body = encode_account_statement(s, ca->subject_key_id);
    REQUIRE(body.ok());
    return encode_signed_account_statement(*body, key.sign(account_statement_message(*body), rng));
}

PeerIdentity peer_of(Pki& pki) {
    auto v = Verifier::create({pki.root});
    REQUIRE(v.ok());
    auto p = v->verify_certificate(pki.chain(), kT0);
    REQUIRE(p.ok());
    return *p;
}

}  // namespace

TEST_CASE("an account statement signed by the issuing CA verifies and carries account and policy") {
    Pki pki(41);
    const auto st = status_for(pki, "acme");
    auto v = verify_account_statement(signed_by(pki.ca_key, pki.ca, st, *pki.rng), pki.ca, kT0 + 10);
    REQUIRE(v.ok());
    CHECK(v->serial_hex == st.serial_hex);
    CHECK(v->account == "acme");
    CHECK(v->active);
    CHECK(v->domain == "example");
    CHECK(v->policy == st.policy);
    CHECK(v->next_update == kT0 + kHour);

    const auto peer = peer_of(pki);
    CHECK(peer.serial_hex == st.serial_hex);
    CHECK(account_allows(peer, *v, "acme", "stream", "service:video"));
    CHECK(account_allows(peer, *v, "", "read", "device:cam-07"));
    // Default deny, and only in the named account.
    CHECK_FALSE(account_allows(peer, *v, "acme", "write", "service:video"));
    CHECK_FALSE(account_allows(peer, *v, "other", "stream", "service:video"));
}

TEST_CASE("account statements from another CA, tampered, stale or about another certificate are refused") {
    Pki pki(42), other(43, "Other");
    const auto st = status_for(pki, "acme");
    const Bytes good = signed_by(pki.ca_key, pki.ca, st, *pki.rng);

    SUBCASE("signed by another CA's key") {
        auto v = verify_account_statement(signed_by(other.ca_key, pki.ca, st, *pki.rng), pki.ca, kT0);
        REQUIRE_FALSE(v.ok());
        CHECK(v.error().code == Code::bad_possession_proof);
    }
    SUBCASE("checked against another CA") {
        auto v = verify_account_statement(good, other.ca, kT0);
        REQUIRE_FALSE(v.ok());
        CHECK(v.error().code == Code::bad_possession_proof);
    }
    SUBCASE("naming another CA's key id, though signed by this one") {
        auto oca = parse_certificate(other.ca);
        REQUIRE(oca.ok());
        auto body = encode_account_statement(st, oca->subject_key_id);
        REQUIRE(body.ok());
        auto forged = encode_signed_account_statement(*body, pki.ca_key.sign(account_statement_message(*body), *pki.rng));
        auto v = verify_account_statement(forged, pki.ca, kT0);
        REQUIRE_FALSE(v.ok());
        CHECK(v.error().code == Code::unknown_certificate);
    }
    SUBCASE("one flipped byte") {
        for (std::size_t i : {std::size_t{5}, good.size() / 2, good.size() - 3}) {
            Bytes bad = good;
            bad[i] ^= 0x01;
            auto v = verify_account_statement(bad, pki.ca, kT0);
            CHECK_FALSE(v.ok());
        }
    }
    SUBCASE("out of date, or produced in the future") {
        auto late = verify_account_statement(good, pki.ca, kT0 + kHour);
        REQUIRE_FALSE(late.ok());
        CHECK(late.error().code == Code::certificate_not_active);
        auto early = verify_account_statement(good, pki.ca, kT0 - kStatementClockSkewS - 1);
        REQUIRE_FALSE(early.ok());
        CHECK(early.error().code == Code::certificate_not_active);
        CHECK(verify_account_statement(good, pki.ca, kT0 - kStatementClockSkewS).ok());
    }
    SUBCASE("empty or oversized") {
        auto e = verify_account_statement(Bytes{}, pki.ca, kT0);
        REQUIRE_FALSE(e.ok());
        CHECK(e.error().code == Code::malformed_message);
        auto big = verify_account_statement(Bytes(kMaxAccountStatementBytes + 1, 0x0a), pki.ca, kT0);
        REQUIRE_FALSE(big.ok());
        CHECK(big.error().code == Code::malformed_message);
    }
    SUBCASE("about another certificate: the relying party does not let it stand for this peer") {
        auto s2 = st;
        s2.serial_hex = "0123456789abcdef";
        auto v = verify_account_statement(signed_by(pki.ca_key, pki.ca, s2, *pki.rng), pki.ca, kT0);
        REQUIRE(v.ok());
        CHECK_FALSE(account_allows(peer_of(pki), *v, "acme", "stream", "service:video"));
    }
}

TEST_CASE("an inactive certificate, a revoked peer or an empty policy allow nothing") {
    Pki pki(44);
    auto peer = peer_of(pki);
    auto inactive = verify_account_statement(signed_by(pki.ca_key, pki.ca, status_for(pki, "acme", false), *pki.rng),
                                             pki.ca, kT0);
    REQUIRE(inactive.ok());
    CHECK_FALSE(inactive->active);
    CHECK_FALSE(account_allows(peer, *inactive, "acme", "stream", "service:video"));

    auto active = verify_account_statement(signed_by(pki.ca_key, pki.ca, status_for(pki, "acme"), *pki.rng), pki.ca, kT0);
    REQUIRE(active.ok());
    peer.revocation = PeerIdentity::Revocation::revoked;
    CHECK_FALSE(account_allows(peer, *active, "acme", "stream", "service:video"));

    // The provider's account: registered, but no customer policy yet.
    auto provider = status_for(pki, "provider");
    provider.policy.clear();
    auto p = verify_account_statement(signed_by(pki.ca_key, pki.ca, provider, *pki.rng), pki.ca, kT0);
    REQUIRE(p.ok());
    CHECK_FALSE(account_allows(peer_of(pki), *p, "provider", "stream", "service:video"));
}

TEST_CASE("encode_account_statement refuses what it could not sign faithfully") {
    Pki pki(45);
    auto s = status_for(pki, "acme");
    s.serial_hex = "xyz";
    CHECK(encode_account_statement(s, Bytes{1, 2}).error().code == Code::bad_argument);
    s = status_for(pki, "acme");
    s.policy.push_back({"BAD ACTION", "x"});
    CHECK(encode_account_statement(s, Bytes{1, 2}).error().code == Code::bad_argument);
}

TEST_CASE("a device cannot vouch for itself by putting its own CA into its chain") {
    Pki pki(46);
    // The device makes a "CA" of its own and signs a statement with it.
    auto attacker_key = make_key(*pki.rng);
    const Bytes attacker_ca = issue(attacker_key, {}, attacker_key, ca_profile(*pki.rng, "Test Domain CA"), *pki.rng);
    auto v = Verifier::create({pki.root});
    REQUIRE(v.ok());
    auto peer = v->verify_certificate({pki.leaf, attacker_ca, pki.ca}, kT0);
    REQUIRE(peer.ok());
    // The verifier names the CA whose key signed the leaf, not chain[1].
    CHECK(peer->issuer_der == pki.ca);

    const Bytes forged = signed_by(attacker_key, attacker_ca, status_for(pki, "acme"), *pki.rng);
    // Checked against the right CA, the forgery fails; against chain[1] it would pass.
    auto refused = verify_account_statement(forged, peer->issuer_der, kT0);
    REQUIRE_FALSE(refused.ok());
    CHECK(refused.error().code == Code::bad_possession_proof);
    CHECK(verify_account_statement(forged, attacker_ca, kT0).ok());

    // The leaf itself is no CA to check a statement against.
    auto not_ca = verify_account_statement(forged, pki.leaf, kT0);
    REQUIRE_FALSE(not_ca.ok());
    CHECK(not_ca.error().code == Code::bad_argument);
}
