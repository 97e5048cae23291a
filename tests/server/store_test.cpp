// Tests for the SQLite Store: round trips, renewal bookkeeping, atomicity of
// rejected writes, the append-only audit log and schema migrations.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>

#include "irp/base/error.hpp"
#include "store/store.hpp"

namespace fs = std::filesystem;
using namespace irp;
using namespace irp::server;

namespace {

// A fresh directory per test, removed afterwards.
struct TempDir {
    fs::path path;
    TempDir() {
        static std::atomic<int> counter{0};
        const auto stamp = std::chrono::steady_clock::now().time_since_epoch().count();
        path = fs::temp_directory_path() /
               ("irp-store-test-" + std::to_string(stamp) + "-" + std::to_string(counter++));
        fs::create_directories(path);
    }
    ~TempDir() {
        std::error_code ec;
        fs::remove_all(path, ec);
    }
    std::string db() const { return (path / "store.db").string(); }
};

std::unique_ptr<Store> open_ok(const std::string& path) {
    auto s = open_sqlite_store(path);
    REQUIRE_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
    return std::move(s).value();
}

IssuanceRecord issuance(const std::string& serial, const std::string& device, std::int64_t at,
                        const std::string& replaces = "") {
    IssuanceRecord r;
    auto& c = r.certificate;
    c.serial_hex = serial;
    c.issuer = "a1b2c3";
    c.device_id = device;
    c.class_id = "sensor-v1";
    c.der = Bytes{0x30, 0x82, 0x01, 0x00, 0xff};
    c.not_before = at - 60;
    c.not_after = at + 86400;
    c.issued_at = at;
    c.replaces = replaces;
    c.public_key_sha256_hex = "00ff" + serial;
    r.audit = AuditEvent{at, "device:" + device, replaces.empty() ? "enroll" : "renew", device,
                         serial, "10.0.0.7:4433", "{\"n\":1}"};
    return r;
}

std::int64_t count(Result<std::int64_t> r) {
    REQUIRE(r.ok());
    return *r;
}

// Runs one statement on the database file directly, bypassing the Store.
int raw_exec(const std::string& path, const char* sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    sqlite3_close_v2(db);
    return rc;
}

std::int64_t raw_scalar(const std::string& path, const char* sql) {
    sqlite3* db = nullptr;
    REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
    sqlite3_stmt* st = nullptr;
    REQUIRE(sqlite3_prepare_v2(db, sql, -1, &st, nullptr) == SQLITE_OK);
    REQUIRE(sqlite3_step(st) == SQLITE_ROW);
    const std::int64_t v = sqlite3_column_int64(st, 0);
    sqlite3_finalize(st);
    sqlite3_close_v2(db);
    return v;
}

}  // namespace

TEST_CASE("store: issuance round trip keeps every field") {
    TempDir dir;
    auto store = open_ok(dir.db());
    auto rec = issuance("7f01", "dev-1", 1000);
    rec.certificate.install_status = 0;  // a non-null value must survive too
    REQUIRE(store->record_issuance(rec).ok());

    auto found = store->find_certificate("7f01");
    REQUIRE(found.ok());
    REQUIRE(found->has_value());
    const CertificateRecord& c = **found;
    const CertificateRecord& want = rec.certificate;
    CHECK(c.serial_hex == want.serial_hex);
    CHECK(c.issuer == want.issuer);
    CHECK(c.device_id == want.device_id);
    CHECK(c.class_id == want.class_id);
    CHECK(c.der == want.der);
    CHECK(c.not_before == want.not_before);
    CHECK(c.not_after == want.not_after);
    CHECK(c.issued_at == want.issued_at);
    CHECK(c.status == CertStatus::issued);
    CHECK(c.install_status == std::optional<std::uint32_t>(0));
    CHECK(c.replaces.empty());
    CHECK(c.replaced_by.empty());
    CHECK(c.public_key_sha256_hex == want.public_key_sha256_hex);

    auto missing = store->find_certificate("beef");
    REQUIRE(missing.ok());
    CHECK_FALSE(missing->has_value());

    CHECK(count(store->count_certificates()) == 1);
    CHECK(count(store->count_devices()) == 1);
    auto log = store->audit_log(10);
    REQUIRE(log.ok());
    REQUIRE(log->size() == 1);
    const AuditEvent& e = log->front();
    CHECK(e.at == rec.audit.at);
    CHECK(e.actor == rec.audit.actor);
    CHECK(e.action == rec.audit.action);
    CHECK(e.device_id == rec.audit.device_id);
    CHECK(e.serial_hex == rec.audit.serial_hex);
    CHECK(e.peer == rec.audit.peer);
    CHECK(e.detail == rec.audit.detail);
}

TEST_CASE("store: renewal supersedes the old certificate") {
    TempDir dir;
    auto store = open_ok(dir.db());
    REQUIRE(store->record_issuance(issuance("0a01", "dev-1", 1000)).ok());
    auto renewed = issuance("0a02", "dev-1", 2000, "0a01");
    renewed.certificate.class_id = "sensor-v2";
    REQUIRE(store->record_issuance(renewed).ok());

    auto old = store->find_certificate("0a01");
    REQUIRE(old.ok());
    REQUIRE(old->has_value());
    CHECK((*old)->status == CertStatus::superseded);
    CHECK((*old)->replaced_by == "0a02");

    auto fresh = store->find_certificate("0a02");
    REQUIRE(fresh.ok());
    REQUIRE(fresh->has_value());
    CHECK((*fresh)->status == CertStatus::issued);
    CHECK((*fresh)->replaces == "0a01");
    CHECK((*fresh)->replaced_by.empty());

    auto certs = store->certificates_of("dev-1");
    REQUIRE(certs.ok());
    REQUIRE(certs->size() == 2);
    CHECK((*certs)[0].serial_hex == "0a01");
    CHECK((*certs)[1].serial_hex == "0a02");
    CHECK(count(store->count_devices()) == 1);
    CHECK(count(store->count_certificates()) == 2);
    CHECK(std::string(cert_status_name(CertStatus::superseded)) == "superseded");
}

TEST_CASE("store: a duplicate serial is rejected and writes nothing") {
    TempDir dir;
    auto store = open_ok(dir.db());
    REQUIRE(store->record_issuance(issuance("0b01", "dev-1", 1000)).ok());

    // Same (issuer, serial), and the same serial under another issuer: both
    // must fail, without leaving the new device or audit row behind.
    auto same = issuance("0b01", "dev-2", 2000);
    auto other_issuer = issuance("0b01", "dev-3", 3000);
    other_issuer.certificate.issuer = "d4e5f6";
    for (const auto* rec : {&same, &other_issuer}) {
        auto r = store->record_issuance(*rec);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::internal);
        CHECK(r.error().message.find("constraint") != std::string::npos);
    }
    CHECK(count(store->count_certificates()) == 1);
    CHECK(count(store->count_devices()) == 1);
    auto log = store->audit_log(10);
    REQUIRE(log.ok());
    CHECK(log->size() == 1);
    auto certs = store->certificates_of("dev-2");
    REQUIRE(certs.ok());
    CHECK(certs->empty());
}

TEST_CASE("store: replacing an unknown serial is rejected and writes nothing") {
    TempDir dir;
    auto store = open_ok(dir.db());
    auto r = store->record_issuance(issuance("0c02", "dev-9", 1000, "0c01"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::unknown_certificate);
    CHECK(count(store->count_certificates()) == 0);
    CHECK(count(store->count_devices()) == 0);
    auto log = store->audit_log(10);
    REQUIRE(log.ok());
    CHECK(log->empty());
    auto found = store->find_certificate("0c02");
    REQUIRE(found.ok());
    CHECK_FALSE(found->has_value());
}

TEST_CASE("store: install reports") {
    TempDir dir;
    auto store = open_ok(dir.db());
    REQUIRE(store->record_issuance(issuance("0d01", "dev-1", 1000)).ok());
    REQUIRE(store->record_issuance(issuance("0d02", "dev-2", 1000)).ok());

    SUBCASE("success marks it installed") {
        REQUIRE(store->record_install("0d01", 0, AuditEvent{1100, "device:dev-1", "install",
                                                            "dev-1", "0d01", "", ""})
                    .ok());
        auto c = store->find_certificate("0d01");
        REQUIRE(c.ok());
        REQUIRE(c->has_value());
        CHECK((*c)->status == CertStatus::installed);
        CHECK((*c)->install_status == std::optional<std::uint32_t>(0));
        auto log = store->audit_log(1);
        REQUIRE(log.ok());
        REQUIRE(log->size() == 1);
        CHECK(log->front().action == "install");
    }
    SUBCASE("a failure report marks it install_failed with the code") {
        REQUIRE(store->record_install("0d02", 0xfffffffe, AuditEvent{1200, "device:dev-2",
                                                                    "install", "dev-2", "0d02",
                                                                    "", "bad chain"})
                    .ok());
        auto c = store->find_certificate("0d02");
        REQUIRE(c.ok());
        REQUIRE(c->has_value());
        CHECK((*c)->status == CertStatus::install_failed);
        CHECK((*c)->install_status == std::optional<std::uint32_t>(0xfffffffe));
        auto other = store->find_certificate("0d01");
        REQUIRE(other.ok());
        CHECK((**other).status == CertStatus::issued);
    }
    SUBCASE("an unknown serial is rejected and writes nothing") {
        auto r = store->record_install("0dff", 0, AuditEvent{1300, "device:dev-1", "install",
                                                             "dev-1", "0dff", "", ""});
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::unknown_certificate);
        auto log = store->audit_log(10);
        REQUIRE(log.ok());
        CHECK(log->size() == 2);
    }
}

TEST_CASE("store: audit log is newest first and honours the limit") {
    TempDir dir;
    auto store = open_ok(dir.db());
    REQUIRE(store->record_issuance(issuance("0e01", "dev-1", 1000)).ok());
    REQUIRE(store->record_issuance(issuance("0e02", "dev-2", 2000)).ok());
    REQUIRE(store->record_install("0e01", 0, AuditEvent{3000, "device:dev-1", "install", "dev-1",
                                                        "0e01", "", ""})
                .ok());

    auto all = store->audit_log(100);
    REQUIRE(all.ok());
    REQUIRE(all->size() == 3);
    CHECK((*all)[0].at == 3000);
    CHECK((*all)[1].serial_hex == "0e02");
    CHECK((*all)[2].serial_hex == "0e01");

    auto two = store->audit_log(2);
    REQUIRE(two.ok());
    REQUIRE(two->size() == 2);
    CHECK((*two)[0].action == "install");
    auto none = store->audit_log(0);
    REQUIRE(none.ok());
    CHECK(none->empty());
}

TEST_CASE("store: the audit log is append-only even for direct SQL") {
    TempDir dir;
    {
        auto store = open_ok(dir.db());
        REQUIRE(store->record_issuance(issuance("0f01", "dev-1", 1000)).ok());
    }
    CHECK(raw_exec(dir.db(), "UPDATE audit SET actor = 'admin:mallory'") == SQLITE_CONSTRAINT);
    CHECK(raw_exec(dir.db(), "DELETE FROM audit") == SQLITE_CONSTRAINT);
    CHECK(raw_scalar(dir.db(), "SELECT COUNT(*) FROM audit WHERE actor = 'device:dev-1'") == 1);
}

TEST_CASE("store: reopening keeps data and does not re-run migrations") {
    TempDir dir;
    {
        auto store = open_ok(dir.db());
        REQUIRE(store->record_issuance(issuance("1001", "dev-1", 1000)).ok());
    }
    {
        auto store = open_ok(dir.db());
        CHECK(count(store->count_certificates()) == 1);
        CHECK(count(store->count_devices()) == 1);
        auto c = store->find_certificate("1001");
        REQUIRE(c.ok());
        CHECK(c->has_value());
    }
    // Each migration ran exactly once (1: base schema, 2: revocation).
    CHECK(raw_scalar(dir.db(), "SELECT COUNT(*) FROM schema_migrations") == 2);
    CHECK(raw_scalar(dir.db(), "SELECT MIN(version) FROM schema_migrations") == 1);
    CHECK(raw_scalar(dir.db(), "SELECT MAX(version) FROM schema_migrations") == 2);
    CHECK(raw_scalar(dir.db(), "SELECT journal_mode = 'wal' FROM pragma_journal_mode") == 1);
}

TEST_CASE("store: a schema newer than this server is refused") {
    TempDir dir;
    { open_ok(dir.db()); }
    REQUIRE(raw_exec(dir.db(), "INSERT INTO schema_migrations VALUES(99, 0)") == SQLITE_OK);
    auto s = open_sqlite_store(dir.db());
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message.find("newer") != std::string::npos);
}

TEST_CASE("store: opening in a missing directory fails cleanly") {
    TempDir dir;
    auto s = open_sqlite_store((dir.path / "no-such-dir" / "store.db").string());
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::storage_unavailable);
    CHECK_FALSE(s.error().message.empty());
}

TEST_CASE("store: revocation, CRL numbers and listings") {
    TempDir dir;
    auto store = open_ok(dir.db());
    REQUIRE(store->record_issuance(issuance("1001", "dev-1", 1000)).ok());
    REQUIRE(store->record_issuance(issuance("1002", "dev-2", 1001)).ok());
    const auto audit_before = store->audit_log(100)->size();

    AuditEvent ev{2000, "admin:test", "revoke", "dev-1", "1001", "", "reason=1"};
    REQUIRE(store->revoke("1001", 1, 2000, ev).ok());
    CHECK(store->audit_log(100)->size() == audit_before + 1);
    auto c = store->find_certificate("1001");
    REQUIRE(c.ok());
    REQUIRE(c->has_value());
    CHECK((*c)->revoked_at == std::optional<std::int64_t>(2000));
    CHECK((*c)->revocation_reason == 1);

    SUBCASE("revoking twice is refused and writes nothing") {
        auto again = store->revoke("1001", 4, 3000, ev);
        REQUIRE_FALSE(again.ok());
        CHECK(again.error().code == Code::certificate_not_active);
        CHECK(store->audit_log(100)->size() == audit_before + 1);
        CHECK((*store->find_certificate("1001"))->revocation_reason == 1);
    }
    SUBCASE("an unknown serial is unknown_certificate") {
        auto r = store->revoke("dead", 0, 3000, ev);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::unknown_certificate);
    }
    SUBCASE("revoked() lists the issuer's revoked, unexpired certificates") {
        const auto c1 = *store->find_certificate("1001");
        auto list = store->revoked(c1->issuer, 0);
        REQUIRE(list.ok());
        REQUIRE(list->size() == 1);
        CHECK((*list)[0].serial_hex == "1001");
        CHECK((*list)[0].reason == 1);
        CHECK(store->revoked(c1->issuer, c1->not_after + 1)->empty());  // expired entries may leave the CRL
        CHECK(store->revoked("other-issuer", 0)->empty());
    }
    SUBCASE("a revoked certificate cannot be renewed") {
        auto renewal = issuance("1003", "dev-1", 3000);
        renewal.certificate.replaces = "1001";
        auto r = store->record_issuance(renewal);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::certificate_not_active);
        CHECK(count(store->count_certificates()) == 2);
    }
    SUBCASE("CRL numbers increase per issuer and survive reopening") {
        CHECK(*store->next_crl_number("ca-a") == 1);
        CHECK(*store->next_crl_number("ca-a") == 2);
        CHECK(*store->next_crl_number("ca-b") == 1);
        store.reset();
        store = open_ok(dir.db());
        CHECK(*store->next_crl_number("ca-a") == 3);
    }
    SUBCASE("listings filter and page") {
        CertificateQuery q;
        q.revoked = true;
        auto revoked = store->list_certificates(q);
        REQUIRE(revoked.ok());
        REQUIRE(revoked->size() == 1);
        CHECK((*revoked)[0].serial_hex == "1001");
        q = CertificateQuery{};
        q.limit = 1;
        auto page1 = store->list_certificates(q);
        REQUIRE(page1->size() == 1);
        q.after_serial = (*page1)[0].serial_hex;
        auto page2 = store->list_certificates(q);
        REQUIRE(page2->size() == 1);
        CHECK((*page2)[0].serial_hex != (*page1)[0].serial_hex);
        q.after_serial = (*page2)[0].serial_hex;
        CHECK(store->list_certificates(q)->empty());
        q = CertificateQuery{};
        q.device_id = "dev-2";
        CHECK(store->list_certificates(q)->size() == 1);
        auto devices = store->list_devices("", 10);
        REQUIRE(devices->size() == 2);
        CHECK((*devices)[0].device_id == "dev-1");
        CHECK(store->list_devices("dev-1", 10)->size() == 1);
        CHECK(store->find_device("dev-2")->has_value());
        CHECK_FALSE(store->find_device("nope")->has_value());
    }
}
