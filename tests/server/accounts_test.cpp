// Account statements as the server signs them (server/accounts/statement.*):
// what they say as ownership and revocation change, and the cache that keeps
// the public endpoint from signing on every request.
#include <doctest/doctest.h>

#include "accounts/statement.hpp"
#include "enroll_fixture.hpp"
#include "irp/rp/account.hpp"

using namespace irp;
using namespace irp::server;

TEST_CASE("account statements follow ownership and revocation, and are reused only while unchanged") {
    Fixture f;
    const std::int64_t validity = 3600;
    AccountStatements statements(f.d.material(), f.d.store(), *f.rng, validity, [&f] { return f.now; });
    const auto cam = f.enroll("cam-1");
    const Bytes& ca = f.d.material().ca_der;

    auto verified = [&](const Bytes& signed_statement) {
        auto s = rp::verify_account_statement(signed_statement, ca, f.now);
        REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
        return *s;
    };

    auto first = statements.signed_statement(cam.serial);
    REQUIRE(first.ok());
    auto s = verified(*first);
    CHECK(s.serial_hex == cam.serial);
    CHECK(s.device_id == "cam-1");
    CHECK(s.account == kProviderAccount);
    CHECK(s.active);
    CHECK(s.policy.empty());
    CHECK(s.next_update == f.now + validity);

    // Nothing changed: the same signed bytes, no new signature.
    f.now += 10;
    CHECK(statements.signed_statement(cam.serial).value() == *first);

    // Transferred: a new statement at once.
    const AuditEvent ev{f.now, "admin", "x", "", "", "", ""};
    REQUIRE(f.d.store().create_account(Account{"acme", Bytes{1}, "k", "", f.now}, ev).ok());
    Transfer t;
    t.id = "t-1";
    t.from_account = kProviderAccount;
    t.to_account = "acme";
    t.devices = {"cam-1"};
    t.created_at = f.now;
    REQUIRE(f.d.store().offer_transfer(t, ev).ok());
    REQUIRE(f.d.store().decide_transfer("t-1", TransferState::accepted, "stream service:video", "account:acme", f.now, ev).ok());
    auto moved = statements.signed_statement(cam.serial);
    REQUIRE(moved.ok());
    CHECK(*moved != *first);
    s = verified(*moved);
    CHECK(s.account == "acme");
    REQUIRE(s.policy.size() == 1);
    CHECK(s.policy.front() == crypto::Right{"stream", "service:video"});

    // Half the validity later: signed afresh even though nothing changed.
    f.now += validity / 2;
    auto later = statements.signed_statement(cam.serial);
    REQUIRE(later.ok());
    CHECK(*later != *moved);
    CHECK(verified(*later).produced_at == f.now);

    // Revoked: not active any more.
    REQUIRE(f.d.store().revoke(cam.serial, 1, f.now, ev).ok());
    CHECK_FALSE(verified(statements.signed_statement(cam.serial).value()).active);

    auto unknown = statements.signed_statement("00ff");
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().code == Code::unknown_certificate);
}
