// The whole exchange: wallet::enroll / wallet::renew against the real server
// side (core ServerSession + EnrollService + SQLite store + a domain made by
// init_domain), connected in memory instead of over TLS sockets.
#include <doctest/doctest.h>

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "../server/test_domain.hpp"
#include "enroll_service.hpp"
#include "idwallet.hpp"
#include "irp/crypto/revocation.hpp"
#include "revocation/revocation.hpp"
#include "irp/core/frame.hpp"
#include "irp/core/server_session.hpp"
#include "irp/core/transcript.hpp"
#include "in_memory_server.hpp"

using namespace irp;
using irp_test::InMemoryTransport;
using irp_test::kDay;
using irp_test::kNow;
using irp_test::TempDir;
using irp_test::TestDomain;

namespace {

const std::string kDomain = "example.test";

struct Fixture : irp_test::InMemoryServer {
    Fixture() : InMemoryServer(kDomain, 3, 31) {}
    std::unique_ptr<crypto::Random> wallet_rng = crypto::deterministic_random(32);
    TempDir wallet_dir;
    std::unique_ptr<wallet::Storage> storage = wallet::open_directory_storage(wallet_dir / "wallet");
    wallet::Clock clock{[] { return Time{0}; }, [this] { return now; }};

    std::optional<wallet::Credentials> installed() {
        auto r = storage->load();
        REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
        return std::move(r.value());
    }

    server::CertificateRecord record_of(const Bytes& cert) {
        auto info = crypto::parse_certificate(cert);
        REQUIRE(info.ok());
        auto r = d.store().find_certificate(to_hex(info->serial));
        REQUIRE(r.ok());
        REQUIRE(r->has_value());
        return **r;
    }

    std::int64_t certificates() {
        auto n = d.store().count_certificates();
        REQUIRE(n.ok());
        return *n;
    }
};

wallet::Outcome outcome_ok(Result<wallet::Outcome> r) {
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : std::string(code_name(r.error().code)) + ": " + r.error().message));
    return std::move(r.value());
}

}  // namespace

TEST_CASE("exchange: enroll installs credentials and the server records the install") {
    Fixture f;
    InMemoryTransport t(f.svc, f.d.material(), *f.server_rng);
    const auto out = outcome_ok(wallet::enroll(t, *f.storage, f.enroll_options("pump-01"), *f.wallet_rng, f.clock));

    CHECK(out.kind == wallet::Outcome::Kind::installed);
    CHECK(out.install_confirmed);
    CHECK_FALSE(out.request_id.empty());
    CHECK(out.certificate.subject_cn == "pump-01");
    CHECK(out.certificate.san_uris == std::vector<std::string>{"urn:irp:example.test:pump-01"});
    CHECK(t.requests == 1);
    CHECK(t.failures.empty());
    CHECK(t.server_state() == ServerSession::State::done);
    REQUIRE(t.reports.size() == 1);
    CHECK(t.reports[0].status == 0u);
    CHECK(t.reports[0].request_id == out.request_id);

    const auto creds = f.installed();
    REQUIRE(creds.has_value());
    auto info = crypto::parse_certificate(creds->certificate);
    REQUIRE(info.ok());
    CHECK(info->public_key == creds->key->public_key_der());
    CHECK(info->serial == out.certificate.serial);
    CHECK(creds->chain == std::vector<Bytes>{f.d.material().ca_der, f.d.material().root_der});
    const auto& m = f.d.material();
    CHECK(crypto::verify_chain(creds->certificate, {m.ca_der}, {m.root_der}, kNow, crypto::Usage::tls_client).ok());

    const auto rec = f.record_of(creds->certificate);
    CHECK(rec.status == server::CertStatus::installed);
    REQUIRE(rec.install_status.has_value());
    CHECK(*rec.install_status == 0u);
    CHECK(rec.device_id == "pump-01");
    CHECK(rec.der == creds->certificate);
    CHECK(f.certificates() == 1);

    SUBCASE("then a renewal installs a new key and a new certificate") {
        f.now = kNow + 200 * kDay;
        InMemoryTransport t2(f.svc, f.d.material(), *f.server_rng);
        wallet::RenewOptions ro;
        ro.trusted_roots = {m.root_der};
        const auto out2 = outcome_ok(wallet::renew(t2, *f.storage, ro, *f.wallet_rng, f.clock));
        CHECK(out2.kind == wallet::Outcome::Kind::installed);
        CHECK(out2.install_confirmed);
        CHECK(out2.request_id != out.request_id);

        const auto renewed = f.installed();
        REQUIRE(renewed.has_value());
        CHECK(renewed->key->public_key_der() != creds->key->public_key_der());
        CHECK(renewed->certificate != creds->certificate);
        auto info2 = crypto::parse_certificate(renewed->certificate);
        REQUIRE(info2.ok());
        CHECK(info2->public_key == renewed->key->public_key_der());
        CHECK(info2->serial != info->serial);
        CHECK(info2->subject_cn == "pump-01");
        CHECK(info2->not_before == f.now - 300);

        const auto old_rec = f.record_of(creds->certificate);
        const auto new_rec = f.record_of(renewed->certificate);
        CHECK(old_rec.status == server::CertStatus::superseded);
        CHECK(old_rec.replaced_by == new_rec.serial_hex);
        CHECK(new_rec.status == server::CertStatus::installed);
        CHECK(new_rec.replaces == old_rec.serial_hex);
        CHECK(f.certificates() == 2);
    }
    SUBCASE("a renewal that keeps the key is refused by a domain that forbids it, and nothing changes") {
        InMemoryTransport t2(f.svc, f.d.material(), *f.server_rng);
        wallet::RenewOptions ro;
        ro.same_key = true;
        ro.trusted_roots = {m.root_der};
        const auto out2 = outcome_ok(wallet::renew(t2, *f.storage, ro, *f.wallet_rng, f.clock));
        CHECK(out2.kind == wallet::Outcome::Kind::rejected);
        CHECK(out2.rejection.code == Code::same_key_not_allowed);
        const auto still = f.installed();
        REQUIRE(still.has_value());
        CHECK(still->certificate == creds->certificate);
        CHECK(f.record_of(creds->certificate).status == server::CertStatus::installed);
        CHECK(f.certificates() == 1);
    }
}

TEST_CASE("exchange: a wrong token is rejected with bad_token_proof and nothing is stored") {
    Fixture f;
    InMemoryTransport t(f.svc, f.d.material(), *f.server_rng);
    auto o = f.enroll_options("pump-02");
    o.token[0] ^= 0x01;
    const auto out = outcome_ok(wallet::enroll(t, *f.storage, o, *f.wallet_rng, f.clock));
    CHECK(out.kind == wallet::Outcome::Kind::rejected);
    CHECK(out.rejection.code == Code::bad_token_proof);
    CHECK_FALSE(out.rejection.message.empty());
    CHECK_FALSE(out.install_confirmed);
    CHECK(t.reports.empty());
    CHECK(t.server_state() == ServerSession::State::done);
    CHECK_FALSE(f.installed().has_value());
    CHECK(f.certificates() == 0);
    auto devices = f.d.store().count_devices();
    REQUIRE(devices.ok());
    CHECK(*devices == 0);
}

TEST_CASE("exchange: a certificate swapped in transit is refused and reported") {
    Fixture f;
    // A man in the middle replaces the issued certificate by one the same CA
    // signed for the same device, but for a key the wallet never generated.
    auto other_key = crypto::PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *f.server_rng);
    REQUIRE(other_key.ok());
    Bytes original, substitute;
    InMemoryTransport t(f.svc, f.d.material(), *f.server_rng, [&](ServerMessage m) {
        if (auto* a = std::get_if<Answer>(&m)) {
            if (auto* issued = std::get_if<Issued>(&a->result)) {
                auto forged = f.ca.issue_device("pump-03", other_key->public_key_der(), f.now);
                REQUIRE(forged.ok());
                original = issued->certificate;
                substitute = forged->der;
                issued->certificate = substitute;
            }
        }
        return m;
    });
    const auto out = outcome_ok(wallet::enroll(t, *f.storage, f.enroll_options("pump-03"), *f.wallet_rng, f.clock));
    REQUIRE_FALSE(original.empty());

    CHECK(out.kind == wallet::Outcome::Kind::invalid);
    REQUIRE(out.invalid.has_value());
    CHECK(out.invalid->status == InstallStatus::public_key_mismatch);
    CHECK_FALSE(f.installed().has_value());
    REQUIRE(t.reports.size() == 1);
    CHECK(t.reports[0].status == static_cast<std::uint32_t>(InstallStatus::public_key_mismatch));
    // The report names what the device received; the server keeps that in the audit trail.
    auto substitute_info = crypto::parse_certificate(substitute);
    REQUIRE(substitute_info.ok());
    CHECK(t.reports[0].certificate_serial == substitute_info->serial);
    auto audit = f.d.store().audit_log(10);
    REQUIRE(audit.ok());
    REQUIRE_FALSE(audit->empty());
    CHECK(audit->front().action == "install");
    CHECK(audit->front().detail.find(to_hex(substitute_info->serial)) != std::string::npos);

    // The server learns that the certificate it issued was not installed.
    std::string server_log;
    for (const auto& line : f.log) server_log += line + "\n";
    INFO("server log:\n" << server_log);
    const auto rec = f.record_of(original);
    CHECK_MESSAGE(rec.status == server::CertStatus::install_failed,
                  "status is " << std::string(server::cert_status_name(rec.status)));
    REQUIRE(rec.install_status.has_value());
    CHECK(*rec.install_status == static_cast<std::uint32_t>(InstallStatus::public_key_mismatch));
    CHECK(f.certificates() == 1);
}

TEST_CASE("exchange: a garbled certificate is refused and reported as malformed") {
    Fixture f;
    Bytes original;
    InMemoryTransport t(f.svc, f.d.material(), *f.server_rng, [&](ServerMessage m) {
        if (auto* a = std::get_if<Answer>(&m)) {
            if (auto* issued = std::get_if<Issued>(&a->result)) {
                original = issued->certificate;
                issued->certificate = to_bytes("not a certificate at all");
            }
        }
        return m;
    });
    const auto out = outcome_ok(wallet::enroll(t, *f.storage, f.enroll_options("pump-04"), *f.wallet_rng, f.clock));
    REQUIRE_FALSE(original.empty());
    CHECK(out.kind == wallet::Outcome::Kind::invalid);
    REQUIRE(out.invalid.has_value());
    CHECK(out.invalid->status == InstallStatus::malformed_certificate);
    REQUIRE(t.reports.size() == 1);
    CHECK(t.reports[0].certificate_serial == Bytes{0});  // nothing to name
    CHECK_FALSE(f.installed().has_value());
    const auto rec = f.record_of(original);
    CHECK_MESSAGE(rec.status == server::CertStatus::install_failed,
                  "status is " << std::string(server::cert_status_name(rec.status)));
    REQUIRE(rec.install_status.has_value());
    CHECK(*rec.install_status == static_cast<std::uint32_t>(InstallStatus::malformed_certificate));
}

// ---- check-in and the domain CRL ---------------------------------------------------

namespace {

// The Fixture with the server's revocation service wired in, as irp-server
// runs it, and one enrolled device.
struct CrlFixture : Fixture {
    server::RevocationService rev{d.material(), d.store(), *server_rng, server::RevocationSettings{},
                                  [this] { return now; }};
    Bytes serial;  // of the wallet's certificate

    CrlFixture() {
        svc.set_revocation(&rev);
        InMemoryTransport t(svc, d.material(), *server_rng);
        const auto out = outcome_ok(wallet::enroll(t, *storage, enroll_options("pump-10"), *wallet_rng, clock));
        REQUIRE(out.kind == wallet::Outcome::Kind::installed);
        serial = out.certificate.serial;
    }

    // One check-in; `seen` gets what the server received.
    wallet::Outcome check_in(std::optional<RequestReceived>* seen = nullptr, InMemoryTransport::Rewrite rewrite = {},
                             bool fetch = true) {
        InMemoryTransport t(svc, d.material(), *server_rng, std::move(rewrite));
        wallet::CheckInOptions o;
        o.fetch_crl = fetch;
        auto out = outcome_ok(wallet::check_in(t, *storage, o, *wallet_rng, clock));
        REQUIRE(t.seen.size() == 1);
        if (seen) *seen = t.seen[0];
        return out;
    }

    // A CRL signed by this domain's CA, as the server would, with our own number.
    Bytes domain_crl(std::int64_t number, std::vector<crypto::CrlEntry> entries = {}) {
        auto crl = crypto::issue_crl(*d.material().ca_key, d.material().ca_der, entries, number, now, now + kDay,
                                     *server_rng);
        REQUIRE(crl.ok());
        return *crl;
    }

    std::optional<Bytes> stored_crl() {
        auto r = storage->load_crl();
        REQUIRE(r.ok());
        return *r;
    }
};

// Replaces the CRL in a CheckedIn answer (or adds one).
InMemoryTransport::Rewrite with_crl(Bytes crl) {
    return [crl = std::move(crl)](ServerMessage m) {
        if (auto* a = std::get_if<Answer>(&m))
            if (auto* c = std::get_if<CheckedIn>(&a->result)) c->crl = crl;
        return m;
    };
}

}  // namespace

TEST_CASE("check-in: the domain CRL is stored and its number is sent back next time") {
    CrlFixture f;
    f.now += 60;
    std::optional<RequestReceived> seen;
    const auto first = f.check_in(&seen);
    CHECK(first.kind == wallet::Outcome::Kind::checked_in);
    CHECK_FALSE(first.reset);
    CHECK(seen->have_crl_number == 0u);           // holds none
    CHECK(seen->max_crl_bytes == 65'536u - 256u);  // the default 64 KiB frame, less the answer around the CRL
    CHECK(first.crl_stored);
    CHECK(first.crl_number == 1);
    CHECK_FALSE(first.crl_refused.has_value());
    auto served = f.rev.crl();
    REQUIRE(served.ok());
    CHECK(f.stored_crl() == std::optional<Bytes>(*served));

    // The accessor hands an application what irp_rp's Verifier::add_crl takes.
    auto held = wallet::held_crl(*f.storage);
    REQUIRE(held.ok());
    REQUIRE(held->has_value());
    CHECK((*held)->der == *served);
    CHECK((*held)->issuer_ca == f.d.material().ca_der);
    CHECK((*held)->info.crl_number == 1);
    CHECK((*held)->info.entries.empty());
    CHECK((*held)->info.next_update == f.now + 86'400);

    // Up to date: the wallet says it holds number 1 and nothing comes back.
    f.now += 60;
    const auto second = f.check_in(&seen);
    CHECK(seen->have_crl_number == 1u);
    CHECK(second.checked_in.crl.empty());
    CHECK_FALSE(second.crl_stored);
    CHECK_FALSE(second.crl_refused.has_value());
    CHECK(f.stored_crl() == std::optional<Bytes>(*served));

    // Another device is revoked: the next check-in brings number 2 listing it.
    InMemoryTransport t(f.svc, f.d.material(), *f.server_rng);
    auto other_storage = wallet::open_memory_storage();
    const auto other = outcome_ok(wallet::enroll(t, *other_storage, f.enroll_options("pump-11"), *f.wallet_rng, f.clock));
    REQUIRE(other.kind == wallet::Outcome::Kind::installed);
    const std::string other_serial = to_hex(other.certificate.serial);
    REQUIRE(f.d.store()
                .revoke(other_serial, 1, f.now, server::AuditEvent{f.now, "admin", "revoke", "pump-11", other_serial, "", ""})
                .ok());
    f.now += 60;
    const auto third = f.check_in(&seen);
    CHECK(seen->have_crl_number == 1u);
    CHECK(third.crl_stored);
    CHECK(third.crl_number == 2);
    CHECK_FALSE(third.reset);
    held = wallet::held_crl(*f.storage);
    REQUIRE(held.ok());
    REQUIRE(held->has_value());
    CHECK((*held)->info.crl_number == 2);
    REQUIRE((*held)->info.entries.size() == 1);
    CHECK((*held)->info.entries[0].serial == other.certificate.serial);
    CHECK((*held)->info.entries[0].reason == 1);
    REQUIRE(f.installed().has_value());  // still ours

    // Without fetch_crl the wallet asks for none and keeps what it has.
    const auto fourth = f.check_in(&seen, {}, false);
    CHECK(seen->max_crl_bytes == 0u);
    CHECK(seen->have_crl_number == 0u);
    CHECK(fourth.checked_in.crl.empty());
    CHECK(wallet::held_crl(*f.storage).value()->info.crl_number == 2);
}

TEST_CASE("check-in: a CRL not signed by the device's issuing CA is refused and not stored") {
    CrlFixture f;
    f.now += 60;
    REQUIRE(f.check_in().crl_stored);  // number 1, the real one
    const auto before = f.stored_crl();
    REQUIRE(before.has_value());

    SUBCASE("another domain's CA") {
        TestDomain other{"other.test", 9};
        auto rng = crypto::deterministic_random(77);
        auto foreign = crypto::issue_crl(*other.material().ca_key, other.material().ca_der, {}, 9, f.now, f.now + kDay, *rng);
        REQUIRE(foreign.ok());
        const auto out = f.check_in(nullptr, with_crl(*foreign));
        CHECK(out.kind == wallet::Outcome::Kind::checked_in);
        REQUIRE(out.crl_refused.has_value());
        CHECK(out.crl_refused->code == Code::identity_mismatch);
        CHECK(out.crl_refused->message.find("not signed by this device's issuing CA") != std::string::npos);
        CHECK_FALSE(out.crl_stored);
    }
    SUBCASE("the domain's CRL with its signature altered") {
        Bytes forged = f.domain_crl(9);
        forged.back() ^= 0x01;
        const auto out = f.check_in(nullptr, with_crl(forged));
        REQUIRE(out.crl_refused.has_value());
        CHECK(out.crl_refused->code == Code::identity_mismatch);
        CHECK_FALSE(out.crl_stored);
    }
    SUBCASE("not a CRL at all") {
        const auto out = f.check_in(nullptr, with_crl(to_bytes("not a CRL")));
        REQUIRE(out.crl_refused.has_value());
        CHECK(out.crl_refused->code == Code::malformed_message);
        CHECK_FALSE(out.crl_stored);
    }
    CHECK(f.stored_crl() == before);
    REQUIRE(f.installed().has_value());  // a bad CRL never resets the device
}

TEST_CASE("check-in: a CRL with a lower number than the one held is refused") {
    CrlFixture f;
    f.now += 60;
    const Bytes five = f.domain_crl(5);
    REQUIRE(f.check_in(nullptr, with_crl(five)).crl_number == 5);
    REQUIRE(f.stored_crl() == std::optional<Bytes>(five));

    std::optional<RequestReceived> seen;
    const auto out = f.check_in(&seen, with_crl(f.domain_crl(4)));
    CHECK(seen->have_crl_number == 5u);
    REQUIRE(out.crl_refused.has_value());
    CHECK(out.crl_refused->code == Code::already_exists);
    CHECK(out.crl_refused->message.find("CRL Number 4 is lower than that of the CRL held (5)") != std::string::npos);
    CHECK_FALSE(out.crl_stored);
    CHECK(out.crl_number == 4);
    CHECK(f.stored_crl() == std::optional<Bytes>(five));

    // The same number again is no step back: taken.
    const Bytes five_again = f.domain_crl(5, {crypto::CrlEntry{Bytes{0x42}, f.now, 0}});
    CHECK(f.check_in(nullptr, with_crl(five_again)).crl_stored);
    CHECK(f.stored_crl() == std::optional<Bytes>(five_again));
}

TEST_CASE("check-in: a CRL that lists the device's own certificate resets the wallet") {
    CrlFixture f;
    f.now += 60;
    REQUIRE(f.check_in().crl_stored);

    SUBCASE("revoked: key, certificate and CRL are wiped, as for a revoked answer") {
        const auto out = f.check_in(nullptr, with_crl(f.domain_crl(7, {crypto::CrlEntry{f.serial, f.now - 10, 1}})));
        CHECK(out.kind == wallet::Outcome::Kind::checked_in);
        CHECK(out.reset);
        CHECK(out.rejection.code == Code::certificate_not_active);
        CHECK(out.rejection.message.find("CRL (number 7) lists this device's certificate") != std::string::npos);
        CHECK_FALSE(out.crl_stored);
        CHECK_FALSE(f.installed().has_value());
        CHECK_FALSE(f.stored_crl().has_value());
        auto held = wallet::held_crl(*f.storage);
        REQUIRE(held.ok());
        CHECK_FALSE(held->has_value());
    }
    SUBCASE("on certificateHold (suspended, not revoked): kept, and the CRL stored") {
        const auto out = f.check_in(nullptr, with_crl(f.domain_crl(7, {crypto::CrlEntry{f.serial, f.now - 10, 6}})));
        CHECK_FALSE(out.reset);
        CHECK(out.crl_stored);
        CHECK(out.crl_number == 7);
        CHECK(f.installed().has_value());
    }
    SUBCASE("someone else's serial: nothing happens to us") {
        Bytes near = f.serial;
        near.back() ^= 0x01;
        const auto out = f.check_in(nullptr, with_crl(f.domain_crl(7, {crypto::CrlEntry{near, f.now - 10, 1}})));
        CHECK_FALSE(out.reset);
        CHECK(out.crl_stored);
        CHECK(f.installed().has_value());
    }
}

TEST_CASE("check-in: a revoked certificate is told so by the server and resets, CRL included") {
    CrlFixture f;
    f.now += 60;
    REQUIRE(f.check_in().crl_stored);
    const std::string hex = to_hex(f.serial);
    REQUIRE(f.d.store().revoke(hex, 1, f.now, server::AuditEvent{f.now, "admin", "revoke", "pump-10", hex, "", ""}).ok());
    const auto out = f.check_in();
    CHECK(out.kind == wallet::Outcome::Kind::rejected);
    CHECK(out.rejection.code == Code::certificate_not_active);
    CHECK(out.reset);
    CHECK_FALSE(f.installed().has_value());
    CHECK_FALSE(f.stored_crl().has_value());
}
