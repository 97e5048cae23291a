// Device classes kept by the server (ClassRegistry): created, rotated with a
// grace period, disabled and enabled through the admin API, and what that
// means for enrollments decided by EnrollService.
#include <doctest/doctest.h>

#include <thread>

#include "enroll_fixture.hpp"

using namespace irp;
using namespace irp::server;
using irp_test::kDay;

namespace {

const Actor kAdmin{"admin", "127.0.0.1:9999"};

Answer enroll_with(Fixture& f, const std::string& cls, const Bytes& secret, const std::string& device) {
    auto key = new_key(*f.rng);
    return f.svc.on_request(enroll_request(device, cls, token_of(secret, cls, device), key, *f.rng, "req-" + device),
                            kPeer);
}

}  // namespace

TEST_CASE("an admin class enrolls devices with its generated secret, never shown in the audit log") {
    Fixture f;
    auto secret = f.classes.create("cams", std::nullopt, kAdmin);
    REQUIRE(secret.ok());
    CHECK(secret->size() == ClassRegistry::kSecretBytes);
    issued_of(enroll_with(f, "cams", *secret, "cam-1"));
    check_rejected(enroll_with(f, "cams", Bytes(32, 0x42), "cam-2"), Code::bad_token_proof);

    // The token the API hands out is the one a device derives.
    auto token = f.classes.device_token("cams", "cam-3");
    REQUIRE(token.ok());
    CHECK(*token == token_of(*secret, "cams", "cam-3"));

    auto log = f.d.store().audit_log(10);
    REQUIRE(log.ok());
    bool created = false;
    for (const auto& e : *log) {
        CHECK(e.detail.find(to_hex(*secret)) == std::string::npos);
        created = created || (e.action == "class-create" && e.actor == "admin" && e.peer == kAdmin.peer);
    }
    CHECK(created);
}

TEST_CASE("class names: invalid, taken, or defined in server.toml") {
    Fixture f;
    auto bad = f.classes.create("../x", std::nullopt, kAdmin);
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == Code::bad_argument);
    REQUIRE(f.classes.create("cams", std::nullopt, kAdmin).ok());
    auto again = f.classes.create("cams", std::nullopt, kAdmin);
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == Code::already_exists);
    // "default" comes from server.toml: the API cannot shadow, rotate or disable it.
    auto shadow = f.classes.create("default", std::nullopt, kAdmin);
    REQUIRE_FALSE(shadow.ok());
    CHECK(shadow.error().code == Code::already_exists);
    auto rot = f.classes.rotate("default", 0, kAdmin);
    REQUIRE_FALSE(rot.ok());
    CHECK(rot.error().message.find("server.toml") != std::string::npos);
    CHECK_FALSE(f.classes.set_enabled("default", false, kAdmin).ok());
    auto unknown = f.classes.rotate("nope", 0, kAdmin);
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().code == Code::not_found);
    auto short_import = f.classes.create("short", Bytes(15, 1), kAdmin);
    REQUIRE_FALSE(short_import.ok());
    CHECK(short_import.error().code == Code::bad_argument);

    auto list = f.classes.list();
    REQUIRE(list.ok());
    REQUIRE(list->size() == 2);
    CHECK(list->at(0).name == "default");
    CHECK(list->at(0).source == "config");
    CHECK(list->at(1).name == "cams");
    CHECK(list->at(1).source == "admin");
}

TEST_CASE("rotation: the old secret works during the grace period only") {
    Fixture f;
    auto old_secret = f.classes.create("cams", Bytes(16, 0x07), kAdmin);
    REQUIRE(old_secret.ok());
    CHECK(*old_secret == Bytes(16, 0x07));  // imported as given

    SUBCASE("with a grace period") {
        auto fresh = f.classes.rotate("cams", 3 * kDay, kAdmin);
        REQUIRE(fresh.ok());
        CHECK(*fresh != *old_secret);
        issued_of(enroll_with(f, "cams", *fresh, "cam-new"));
        issued_of(enroll_with(f, "cams", *old_secret, "cam-old-1"));  // made before the rotation
        f.now += 3 * kDay;  // the grace period is over
        check_rejected(enroll_with(f, "cams", *old_secret, "cam-old-2"), Code::bad_token_proof);
        issued_of(enroll_with(f, "cams", *fresh, "cam-new-2"));
    }
    SUBCASE("without one (a leaked secret)") {
        auto fresh = f.classes.rotate("cams", 0, kAdmin);
        REQUIRE(fresh.ok());
        check_rejected(enroll_with(f, "cams", *old_secret, "cam-old"), Code::bad_token_proof);
        issued_of(enroll_with(f, "cams", *fresh, "cam-new"));
    }
    SUBCASE("a second rotation drops the first secret") {
        auto second = f.classes.rotate("cams", kDay, kAdmin);
        REQUIRE(second.ok());
        auto third = f.classes.rotate("cams", kDay, kAdmin);
        REQUIRE(third.ok());
        check_rejected(enroll_with(f, "cams", *old_secret, "cam-1"), Code::bad_token_proof);
        issued_of(enroll_with(f, "cams", *second, "cam-2"));
        issued_of(enroll_with(f, "cams", *third, "cam-3"));
    }
}

TEST_CASE("a disabled class enrolls nobody, but its devices still renew") {
    Fixture f;
    auto secret = f.classes.create("cams", std::nullopt, kAdmin);
    REQUIRE(secret.ok());
    auto key = new_key(*f.rng);
    const Issued first = issued_of(f.svc.on_request(
        enroll_request("cam-1", "cams", token_of(*secret, "cams", "cam-1"), key, *f.rng, "req-1"), kPeer));

    REQUIRE(f.classes.set_enabled("cams", false, kAdmin).ok());
    check_rejected(enroll_with(f, "cams", *secret, "cam-2"), Code::class_disabled);
    auto token = f.classes.device_token("cams", "cam-9");
    REQUIRE_FALSE(token.ok());
    CHECK(token.error().code == Code::class_disabled);
    // Renewal is authorised by the current certificate, not the class.
    auto next = new_key(*f.rng);
    issued_of(f.svc.on_request(renew_request("cam-1", first.certificate, key, next, *f.rng, "req-2"), kPeer));

    REQUIRE(f.classes.set_enabled("cams", true, kAdmin).ok());
    issued_of(enroll_with(f, "cams", *secret, "cam-2"));
}

TEST_CASE("a SIGHUP that drops a config class takes effect for the next request") {
    Fixture f;
    issued_of(enroll_with(f, "default", f.d.secret(), "dev-1"));
    f.classes.set_config_classes({});
    check_rejected(enroll_with(f, "default", f.d.secret(), "dev-2"), Code::unknown_class);
}

TEST_CASE("admin classes carry bootstrap methods and manufacturer roots, checked on the way in") {
    Fixture f;
    const std::string root_pem = crypto::to_pem(f.d.material().root_der, "CERTIFICATE");
    REQUIRE(f.classes.create("walkin", std::nullopt, kAdmin, kBootstrapApproval).ok());
    auto p = f.classes.policy_for("walkin");
    REQUIRE(p.ok());
    CHECK(p->methods == kBootstrapApproval);
    CHECK(p->idevid_roots.empty());

    REQUIRE(f.classes.create("cams", std::nullopt, kAdmin, kBootstrapIdevid | kBootstrapToken, root_pem).ok());
    p = f.classes.policy_for("cams");
    REQUIRE(p.ok());
    CHECK(p->methods == (kBootstrapIdevid | kBootstrapToken));
    REQUIRE(p->idevid_roots.size() == 1);
    CHECK(p->idevid_roots.front() == f.d.material().root_der);

    // Refused combinations change nothing.
    auto check_bad = [&](const char* name, unsigned methods, const std::string& pem) {
        CAPTURE(name);
        auto r = f.classes.create(name, std::nullopt, kAdmin, methods, pem);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::bad_argument);
        CHECK(f.classes.policy_for(name).error().code == Code::unknown_class);
    };
    check_bad("none", 0, "");
    check_bad("unknown-bit", 64, "");
    check_bad("idevid-without-roots", kBootstrapIdevid, "");
    check_bad("roots-without-idevid", kBootstrapToken, root_pem);
    check_bad("roots-not-pem", kBootstrapIdevid, "not a certificate");
    const std::string leaf_pem = crypto::to_pem(f.enroll("cam-1").cert, "CERTIFICATE");
    check_bad("roots-not-a-ca", kBootstrapIdevid, leaf_pem);

    // Changed later; listed as they are.
    REQUIRE(f.classes.set_bootstrap("walkin", kBootstrapToken | kBootstrapApproval, "", kAdmin).ok());
    CHECK(f.classes.policy_for("walkin")->methods == (kBootstrapToken | kBootstrapApproval));
    CHECK(f.classes.set_bootstrap("walkin", kBootstrapIdevid, "", kAdmin).error().code == Code::bad_argument);
    CHECK(f.classes.set_bootstrap("default", kBootstrapToken, "", kAdmin).error().code == Code::already_exists);
    CHECK(f.classes.set_bootstrap("nope", kBootstrapToken, "", kAdmin).error().code == Code::not_found);
    auto list = f.classes.list();
    REQUIRE(list.ok());
    bool seen = false;
    for (const auto& c : *list)
        if (c.name == "walkin") {
            seen = true;
            CHECK(c.methods == (kBootstrapToken | kBootstrapApproval));
        }
    CHECK(seen);
}

// Two replicas (two connections to one database), two administrators at
// once: one rotates the secret, the other disables the class. Each change is
// a read-modify-write of the whole record; without the version check, one
// overwrote the other with what it had read (a disabled class came back
// enabled, or a rotated secret was lost). Repeated, since the harm needs the
// two to interleave.
TEST_CASE("two administrators changing one class at once through two replicas lose neither change") {
    Fixture f;
    REQUIRE(f.classes.create("cams", std::nullopt, kAdmin).ok());
    auto other_store = open_sqlite_store(f.d.config().database);
    REQUIRE(other_store.ok());
    auto other_rng = crypto::deterministic_random(7);
    ClassRegistry other{**other_store, *other_rng, f.d.material().class_secrets, [] { return kNow; }};

    for (int round = 0; round < 6; ++round) {
        Bytes last_secret;
        bool rotate_failed = false, toggle_failed = false;
        const bool end_enabled = round % 2 == 1;
        std::thread rotator([&] {
            for (int i = 0; i < 12; ++i) {
                auto s = f.classes.rotate("cams", kDay, kAdmin);
                if (!s) rotate_failed = true;
                else last_secret = *s;
            }
        });
        std::thread toggler([&] {
            for (int i = 0; i < 12; ++i)
                if (!other.set_enabled("cams", i % 2 == 0 ? !end_enabled : end_enabled, kAdmin)) toggle_failed = true;
        });
        rotator.join();
        toggler.join();
        REQUIRE_FALSE(rotate_failed);
        REQUIRE_FALSE(toggle_failed);
        auto rec = f.d.store().find_class("cams");
        REQUIRE(rec.ok());
        REQUIRE(rec->has_value());
        INFO("round " << round);
        CHECK((*rec)->secret == last_secret);   // the last rotation stands
        CHECK((*rec)->enabled == end_enabled);  // and so does the last toggle
        CHECK((*rec)->version == 24 * (round + 1));  // every change applied exactly once
    }
}
