// The Store contract: the same cases run against the SQLite store (a file in
// a temporary directory) and the PostgreSQL store (a private cluster that
// this binary starts, see pg_cluster.hpp), so that the two implementations
// keep one behaviour. Then what replicas sharing one database need:
// concurrent renewals, issuances, duplicate serials and CRL numbers through
// separate connections, and recovery from a database outage.
//
// Without PostgreSQL server binaries the PostgreSQL cases are skipped with a
// message, unless IRP_REQUIRE_POSTGRES=1 (scripts/test.sh, CI): then they fail.
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <algorithm>
#include <atomic>
#include <barrier>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <mutex>
#include <numeric>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "irp/base/error.hpp"
#include "support/temp_dir.hpp"
#include "pg_cluster.hpp"
#include "store/store.hpp"

namespace fs = std::filesystem;
using namespace irp;
using namespace irp::server;
using irp::test::PgCluster;

namespace {

bool postgres_required() {
    const char* v = std::getenv("IRP_REQUIRE_POSTGRES");
    return v && std::string(v) == "1";
}

// The cluster shared by the PostgreSQL cases of this binary: started on first
// use, stopped and removed at exit.
PgCluster* shared_cluster(std::string& why) {
    static std::string failure;
    static std::unique_ptr<PgCluster> cluster = [] {
        std::string w;
        auto c = PgCluster::start(w);
        if (!c) failure = w;
        return c;
    }();
    why = failure;
    return cluster.get();
}

// The shared cluster, or nullptr after a skip MESSAGE (binaries missing and
// not required). Any other failure to start one fails the case.
PgCluster* require_cluster() {
    std::string why;
    PgCluster* c = shared_cluster(why);
    if (c) {
        static bool once = false;
        if (!once) {
            once = true;
            MESSAGE("PostgreSQL " << c->server_version() << ", private cluster in " << c->dir());
        }
        return c;
    }
    if (PgCluster::find_bin_dir().empty() && !postgres_required()) {
        MESSAGE("PostgreSQL cases skipped: " << why << " (set IRP_REQUIRE_POSTGRES=1 to fail instead)");
        return nullptr;
    }
    FAIL("PostgreSQL is required but unusable: " << why);
    return nullptr;
}

using irp_test::TempDir;

// The newest migration both stores have (store/*/schema.cpp).
constexpr std::int64_t kSchemaVersion = 7;

// A backend gives each case an empty database, opens Stores on it (each with
// its own connection), and runs SQL on it directly, bypassing the Store.
struct SqliteBackend {
    TempDir dir;
    std::string path = dir / "store.db";

    bool ready() { return true; }
    Result<std::unique_ptr<Store>> open() { return open_sqlite_store(path); }
    bool raw_exec(const std::string& sql) {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) == SQLITE_OK);
        const int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
        sqlite3_close_v2(db);
        return rc == SQLITE_OK;
    }
    std::int64_t raw_scalar(const std::string& sql) {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK);
        sqlite3_stmt* st = nullptr;
        REQUIRE(sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) == SQLITE_OK);
        REQUIRE(sqlite3_step(st) == SQLITE_ROW);
        const std::int64_t v = sqlite3_column_int64(st, 0);
        sqlite3_finalize(st);
        sqlite3_close_v2(db);
        return v;
    }
};

struct PostgresBackend {
    PgCluster* cluster = nullptr;
    std::string db;

    bool ready() {
        cluster = require_cluster();
        if (!cluster) return false;
        static std::atomic<int> counter{0};
        db = "contract_" + std::to_string(++counter);
        std::string why;
        REQUIRE_MESSAGE(cluster->create_database(db, why), why);
        return true;
    }
    Result<std::unique_ptr<Store>> open() { return open_postgres_store(cluster->conninfo(db)); }
    bool raw_exec(const std::string& sql) {
        std::string out;
        return cluster->sql(db, sql, out);
    }
    std::int64_t raw_scalar(const std::string& sql) {
        std::string out;
        REQUIRE_MESSAGE(cluster->sql(db, sql, out), out);
        return std::stoll(PgCluster::trim(out));
    }
};

template <typename B>
std::unique_ptr<Store> open_ok(B& backend) {
    auto s = backend.open();
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
    c.der = Bytes{0x30, 0x82, 0x01, 0x00, 0xff, 0x00, 0x5c};  // a NUL and a backslash survive too
    c.not_before = at - 60;
    c.not_after = at + 86400;
    c.issued_at = at;
    c.replaces = replaces;
    c.public_key_sha256_hex = "00ff" + serial;
    r.audit = AuditEvent{at, "device:" + device, replaces.empty() ? "enroll" : "renew", device,
                         serial, "10.0.0.7:4433", "{\"n\":1}"};
    return r;
}

AuditEvent install_event(const std::string& serial, std::int64_t at) {
    return AuditEvent{at, "device:x", "install", "x", serial, "", ""};
}

std::int64_t value(Result<std::int64_t> r) {
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return *r;
}

CertificateRecord cert(Store& s, const std::string& serial) {
    auto c = s.find_certificate(serial);
    REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
    REQUIRE_MESSAGE(c->has_value(), "no certificate " << serial);
    return **c;
}

std::size_t audit_size(Store& s) {
    auto log = s.audit_log(100000);
    REQUIRE(log.ok());
    return log->size();
}

std::string random_serial(std::mt19937_64& rng) {
    static const char* hex = "0123456789abcdef";
    std::string s(32, '0');
    for (auto& ch : s) ch = hex[rng() % 16];
    s[0] = '7';  // top bit clear, non-zero first byte, as random_serial() does
    return s;
}

}  // namespace

TYPE_TO_STRING(SqliteBackend);
TYPE_TO_STRING(PostgresBackend);

// Each case starts with an empty database of its backend, or returns after a
// skip message.
#define CONTRACT_CASE(name) TEST_CASE_TEMPLATE("contract: " name, B, SqliteBackend, PostgresBackend)
#define BACKEND(b) \
    B b;           \
    if (!b.ready()) return

CONTRACT_CASE("issuance round trip keeps every field") {
    BACKEND(b);
    auto store = open_ok(b);
    auto rec = issuance("7f01", "dev-1", 1000);
    rec.certificate.install_status = 0;  // a non-null value must survive too
    REQUIRE(store->record_issuance(rec).ok());

    const CertificateRecord c = cert(*store, "7f01");
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
    CHECK_FALSE(c.revoked_at.has_value());
    CHECK(c.revocation_reason == 0);

    auto missing = store->find_certificate("beef");
    REQUIRE(missing.ok());
    CHECK_FALSE(missing->has_value());
    CHECK(value(store->count_certificates()) == 1);
    CHECK(value(store->count_devices()) == 1);
    auto dev = store->find_device("dev-1");
    REQUIRE(dev.ok());
    REQUIRE(dev->has_value());
    CHECK((*dev)->class_id == "sensor-v1");
    CHECK((*dev)->first_seen == 1000);
    CHECK((*dev)->last_seen == 1000);

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

CONTRACT_CASE("renewal supersedes the old certificate") {
    BACKEND(b);
    auto store = open_ok(b);
    REQUIRE(store->record_issuance(issuance("0a01", "dev-1", 1000)).ok());
    auto renewed = issuance("0a02", "dev-1", 2000, "0a01");
    renewed.certificate.class_id = "sensor-v2";
    REQUIRE(store->record_issuance(renewed).ok());

    const auto old = cert(*store, "0a01");
    CHECK(old.status == CertStatus::superseded);
    CHECK(old.replaced_by == "0a02");
    const auto fresh = cert(*store, "0a02");
    CHECK(fresh.status == CertStatus::issued);
    CHECK(fresh.replaces == "0a01");
    CHECK(fresh.replaced_by.empty());

    auto certs = store->certificates_of("dev-1");
    REQUIRE(certs.ok());
    REQUIRE(certs->size() == 2);
    CHECK((*certs)[0].serial_hex == "0a01");
    CHECK((*certs)[1].serial_hex == "0a02");
    CHECK(value(store->count_devices()) == 1);
    auto dev = store->find_device("dev-1");
    REQUIRE(dev.ok());
    CHECK((*dev)->class_id == "sensor-v2");
    CHECK((*dev)->first_seen == 1000);
    CHECK((*dev)->last_seen == 2000);
}

CONTRACT_CASE("renewing an already superseded certificate") {
    BACKEND(b);
    auto store = open_ok(b);
    REQUIRE(store->record_issuance(issuance("2a01", "dev-1", 1000)).ok());
    REQUIRE(store->record_issuance(issuance("2a02", "dev-1", 2000, "2a01")).ok());
    const auto audit_before = audit_size(*store);

    SUBCASE("an unconfirmed successor is abandoned") {
        REQUIRE(store->record_issuance(issuance("2a03", "dev-1", 3000, "2a01")).ok());
        CHECK(cert(*store, "2a02").status == CertStatus::superseded);
        CHECK(cert(*store, "2a01").replaced_by == "2a03");
        CHECK(cert(*store, "2a03").status == CertStatus::issued);
    }
    SUBCASE("a successor reported as not installed is abandoned") {
        REQUIRE(store->record_install("2a02", 7, install_event("2a02", 2500)).ok());
        REQUIRE(store->record_issuance(issuance("2a03", "dev-1", 3000, "2a01")).ok());
        const auto gone = cert(*store, "2a02");
        CHECK(gone.status == CertStatus::superseded);
        CHECK(gone.install_status == std::optional<std::uint32_t>(7));
        CHECK(cert(*store, "2a01").replaced_by == "2a03");
        SUBCASE("and the failed successor itself cannot renew") {
            auto r = store->record_issuance(issuance("2a04", "dev-1", 4000, "2a02"));
            REQUIRE_FALSE(r.ok());
            CHECK(r.error().code == Code::certificate_not_active);
        }
    }
    SUBCASE("an installed successor refuses it and nothing is written") {
        REQUIRE(store->record_install("2a02", 0, install_event("2a02", 2500)).ok());
        auto r = store->record_issuance(issuance("2a03", "dev-1", 3000, "2a01"));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::certificate_not_active);
        CHECK(value(store->count_certificates()) == 2);
        CHECK(audit_size(*store) == audit_before + 1);  // the install only
        CHECK(cert(*store, "2a01").replaced_by == "2a02");
        CHECK(cert(*store, "2a02").status == CertStatus::installed);
        CHECK_FALSE(store->find_certificate("2a03")->has_value());
    }
    SUBCASE("the successor renews normally") {
        REQUIRE(store->record_issuance(issuance("2a03", "dev-1", 3000, "2a02")).ok());
        CHECK(cert(*store, "2a02").replaced_by == "2a03");
    }
    SUBCASE("another device's certificate is unknown") {
        auto r = store->record_issuance(issuance("2a03", "dev-2", 3000, "2a02"));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::unknown_certificate);
        CHECK(value(store->count_devices()) == 1);
    }
}

CONTRACT_CASE("a duplicate serial is rejected and writes nothing") {
    BACKEND(b);
    auto store = open_ok(b);
    REQUIRE(store->record_issuance(issuance("0b01", "dev-1", 1000)).ok());
    auto same = issuance("0b01", "dev-2", 2000);
    auto other_issuer = issuance("0b01", "dev-3", 3000);
    other_issuer.certificate.issuer = "d4e5f6";
    for (const auto* rec : {&same, &other_issuer}) {
        auto r = store->record_issuance(*rec);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::internal);
        CHECK(r.error().message.find("constraint") != std::string::npos);
    }
    CHECK(value(store->count_certificates()) == 1);
    CHECK(value(store->count_devices()) == 1);
    CHECK(audit_size(*store) == 1);
    CHECK(store->certificates_of("dev-2")->empty());
    // The store is still usable after the rolled-back transaction.
    REQUIRE(store->record_issuance(issuance("0b02", "dev-2", 4000)).ok());
}

CONTRACT_CASE("replacing an unknown serial is rejected and writes nothing") {
    BACKEND(b);
    auto store = open_ok(b);
    auto r = store->record_issuance(issuance("0c02", "dev-9", 1000, "0c01"));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::unknown_certificate);
    CHECK(value(store->count_certificates()) == 0);
    CHECK(value(store->count_devices()) == 0);
    CHECK(audit_size(*store) == 0);
    CHECK_FALSE(store->find_certificate("0c02")->has_value());
}

CONTRACT_CASE("install reports") {
    BACKEND(b);
    auto store = open_ok(b);
    REQUIRE(store->record_issuance(issuance("0d01", "dev-1", 1000)).ok());
    REQUIRE(store->record_issuance(issuance("0d02", "dev-2", 1000)).ok());

    SUBCASE("success marks it installed and touches the device") {
        REQUIRE(store->record_install("0d01", 0, install_event("0d01", 1100)).ok());
        const auto c = cert(*store, "0d01");
        CHECK(c.status == CertStatus::installed);
        CHECK(c.install_status == std::optional<std::uint32_t>(0));
        CHECK((*store->find_device("dev-1"))->last_seen == 1100);
        auto log = store->audit_log(1);
        REQUIRE(log.ok());
        REQUIRE(log->size() == 1);
        CHECK(log->front().action == "install");
    }
    SUBCASE("a report never moves last_seen back, and is still recorded") {
        REQUIRE(store->record_install("0d01", 0, install_event("0d01", 900)).ok());
        CHECK(cert(*store, "0d01").status == CertStatus::installed);
        CHECK((*store->find_device("dev-1"))->last_seen == 1000);
        auto log = store->audit_log(1);
        REQUIRE(log.ok());
        REQUIRE(log->size() == 1);
        CHECK(log->front().action == "install");
    }
    SUBCASE("a failure report marks it install_failed with the code") {
        REQUIRE(store->record_install("0d02", 0xfffffffe, install_event("0d02", 1200)).ok());
        const auto c = cert(*store, "0d02");
        CHECK(c.status == CertStatus::install_failed);
        CHECK(c.install_status == std::optional<std::uint32_t>(0xfffffffe));
        CHECK(cert(*store, "0d01").status == CertStatus::issued);
    }
    SUBCASE("an unknown serial is rejected and writes nothing") {
        auto r = store->record_install("0dff", 0, install_event("0dff", 1300));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::unknown_certificate);
        CHECK(audit_size(*store) == 2);
    }
}

CONTRACT_CASE("audit log is newest first and honours the limit") {
    BACKEND(b);
    auto store = open_ok(b);
    REQUIRE(store->record_issuance(issuance("0e01", "dev-1", 1000)).ok());
    REQUIRE(store->record_issuance(issuance("0e02", "dev-2", 2000)).ok());
    // Appended with an older timestamp: the append order still wins.
    REQUIRE(store->record_install("0e01", 0, install_event("0e01", 500)).ok());

    auto all = store->audit_log(100);
    REQUIRE(all.ok());
    REQUIRE(all->size() == 3);
    CHECK((*all)[0].action == "install");
    CHECK((*all)[1].serial_hex == "0e02");
    CHECK((*all)[2].serial_hex == "0e01");
    auto two = store->audit_log(2);
    REQUIRE(two.ok());
    REQUIRE(two->size() == 2);
    CHECK((*two)[0].action == "install");
    CHECK(store->audit_log(0)->empty());
    CHECK(store->audit_log(static_cast<std::size_t>(-1))->size() == 3);
}

CONTRACT_CASE("the audit log is append-only even for direct SQL") {
    BACKEND(b);
    {
        auto store = open_ok(b);
        REQUIRE(store->record_issuance(issuance("0f01", "dev-1", 1000)).ok());
    }
    CHECK_FALSE(b.raw_exec("UPDATE audit SET actor = 'admin:mallory'"));
    CHECK_FALSE(b.raw_exec("DELETE FROM audit"));
    CHECK(b.raw_scalar("SELECT COUNT(*) FROM audit WHERE actor = 'device:dev-1'") == 1);
}

CONTRACT_CASE("reopening keeps data and does not re-run migrations") {
    BACKEND(b);
    {
        auto store = open_ok(b);
        REQUIRE(store->record_issuance(issuance("1001", "dev-1", 1000)).ok());
    }
    {
        auto store = open_ok(b);
        CHECK(value(store->count_certificates()) == 1);
        CHECK(value(store->count_devices()) == 1);
        CHECK(store->find_certificate("1001")->has_value());
    }
    CHECK(b.raw_scalar("SELECT COUNT(*) FROM schema_migrations") == kSchemaVersion);
    CHECK(b.raw_scalar("SELECT MIN(version) FROM schema_migrations") == 1);
    CHECK(b.raw_scalar("SELECT MAX(version) FROM schema_migrations") == kSchemaVersion);
}

CONTRACT_CASE("servers starting at once migrate once") {
    BACKEND(b);
    std::vector<Result<std::unique_ptr<Store>>> opened;
    for (int i = 0; i < 3; ++i) opened.emplace_back(make_error(Code::internal, "not run"));
    {
        std::barrier sync(3);
        std::vector<std::thread> threads;
        for (int i = 0; i < 3; ++i)
            threads.emplace_back([&, i] {
                sync.arrive_and_wait();
                opened[i] = b.open();
            });
        for (auto& t : threads) t.join();
    }
    for (auto& s : opened) CHECK_MESSAGE(s.ok(), (s.ok() ? "" : s.error().message));
    CHECK(b.raw_scalar("SELECT COUNT(*) FROM schema_migrations") == kSchemaVersion);
}

CONTRACT_CASE("a schema newer than this server is refused") {
    BACKEND(b);
    { open_ok(b); }
    REQUIRE(b.raw_exec("INSERT INTO schema_migrations VALUES(99, 0)"));
    auto s = b.open();
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().message.find("newer") != std::string::npos);
}

CONTRACT_CASE("revocation, CRL numbers and listings") {
    BACKEND(b);
    auto store = open_ok(b);
    REQUIRE(store->record_issuance(issuance("1001", "dev-1", 1000)).ok());
    REQUIRE(store->record_issuance(issuance("1002", "dev-2", 1001)).ok());
    const auto audit_before = audit_size(*store);

    AuditEvent ev{2000, "admin:test", "revoke", "dev-1", "1001", "", "reason=1"};
    REQUIRE(store->revoke("1001", 1, 2000, ev).ok());
    CHECK(audit_size(*store) == audit_before + 1);
    const auto c = cert(*store, "1001");
    CHECK(c.revoked_at == std::optional<std::int64_t>(2000));
    CHECK(c.revocation_reason == 1);
    CHECK(c.status == CertStatus::issued);  // revocation is orthogonal to the install status

    SUBCASE("revoking twice is refused and writes nothing") {
        auto again = store->revoke("1001", 4, 3000, ev);
        REQUIRE_FALSE(again.ok());
        CHECK(again.error().code == Code::certificate_not_active);
        CHECK(audit_size(*store) == audit_before + 1);
        CHECK(cert(*store, "1001").revocation_reason == 1);
    }
    SUBCASE("an unknown serial is unknown_certificate") {
        auto r = store->revoke("dead", 0, 3000, ev);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::unknown_certificate);
        CHECK(audit_size(*store) == audit_before + 1);
    }
    SUBCASE("revoked() lists the issuer's revoked, unexpired certificates") {
        REQUIRE(store->revoke("1002", 4, 2100, ev).ok());
        auto list = store->revoked(c.issuer, 0);
        REQUIRE(list.ok());
        REQUIRE(list->size() == 2);
        CHECK((*list)[0].serial_hex == "1001");
        CHECK((*list)[0].revoked_at == 2000);
        CHECK((*list)[0].reason == 1);
        CHECK((*list)[1].serial_hex == "1002");
        CHECK((*list)[1].reason == 4);
        CHECK(store->revoked(c.issuer, c.not_after + 1)->size() == 1);  // 1002 expires a second later
        CHECK(store->revoked(c.issuer, c.not_after + 2)->empty());
        CHECK(store->revoked("other-issuer", 0)->empty());
    }
    SUBCASE("a revoked certificate cannot be renewed") {
        auto r = store->record_issuance(issuance("1003", "dev-1", 3000, "1001"));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::certificate_not_active);
        CHECK(value(store->count_certificates()) == 2);
        CHECK(cert(*store, "1001").replaced_by.empty());
    }
    SUBCASE("CRL numbers increase per issuer and survive reopening") {
        CHECK(value(store->next_crl_number("ca-a")) == 1);
        CHECK(value(store->next_crl_number("ca-a")) == 2);
        CHECK(value(store->next_crl_number("ca-b")) == 1);
        store.reset();
        store = open_ok(b);
        CHECK(value(store->next_crl_number("ca-a")) == 3);
    }
    SUBCASE("listings filter and page") {
        REQUIRE(store->record_install("1002", 0, install_event("1002", 2200)).ok());
        REQUIRE(store->record_issuance(issuance("1-a", "dev-10", 1002)).ok());
        REQUIRE(store->record_issuance(issuance("1_b", "dev_2", 1003)).ok());
        CertificateQuery q;
        q.revoked = true;
        auto revoked = store->list_certificates(q);
        REQUIRE(revoked.ok());
        REQUIRE(revoked->size() == 1);
        CHECK((*revoked)[0].serial_hex == "1001");
        q.revoked = false;
        CHECK(store->list_certificates(q)->size() == 3);
        q = CertificateQuery{};
        q.status = CertStatus::installed;
        auto installed = store->list_certificates(q);
        REQUIRE(installed->size() == 1);
        CHECK((*installed)[0].serial_hex == "1002");
        q.revoked = true;  // filters combine
        CHECK(store->list_certificates(q)->empty());

        // Byte order, whatever the database's locale: "1-a" < "1001" < "1002" < "1_b".
        q = CertificateQuery{};
        q.limit = 3;
        auto page1 = store->list_certificates(q);
        REQUIRE(page1->size() == 3);
        CHECK((*page1)[0].serial_hex == "1-a");
        CHECK((*page1)[2].serial_hex == "1002");
        q.after_serial = (*page1)[2].serial_hex;
        auto page2 = store->list_certificates(q);
        REQUIRE(page2->size() == 1);
        CHECK((*page2)[0].serial_hex == "1_b");
        q.after_serial = "1_b";
        CHECK(store->list_certificates(q)->empty());
        q = CertificateQuery{};
        q.device_id = "dev-2";
        CHECK(store->list_certificates(q)->size() == 1);

        auto devices = store->list_devices("", 10);
        REQUIRE(devices->size() == 4);
        CHECK((*devices)[0].device_id == "dev-1");
        CHECK((*devices)[1].device_id == "dev-10");
        CHECK((*devices)[2].device_id == "dev-2");
        CHECK((*devices)[3].device_id == "dev_2");
        auto two = store->list_devices("dev-1", 2);
        REQUIRE(two->size() == 2);
        CHECK((*two)[0].device_id == "dev-10");
        CHECK(value(store->count_devices()) == 4);
        CHECK(store->find_device("dev-2")->has_value());
        CHECK_FALSE(store->find_device("nope")->has_value());
    }
}

CONTRACT_CASE("a revocation made through one connection is served by another") {
    BACKEND(b);
    auto one = open_ok(b);
    auto other = open_ok(b);
    REQUIRE(one->record_issuance(issuance("2001", "dev-1", 1000)).ok());
    CHECK(other->find_certificate("2001")->has_value());
    REQUIRE(one->revoke("2001", 1, 2000, AuditEvent{2000, "admin:a", "revoke", "dev-1", "2001", "", ""}).ok());
    auto list = other->revoked("a1b2c3", 0);
    REQUIRE(list.ok());
    REQUIRE(list->size() == 1);
    CHECK(cert(*other, "2001").revoked_at == std::optional<std::int64_t>(2000));
    auto again = other->revoke("2001", 4, 3000, AuditEvent{3000, "admin:b", "revoke", "dev-1", "2001", "", ""});
    REQUIRE_FALSE(again.ok());
    CHECK(again.error().code == Code::certificate_not_active);
    auto renew = other->record_issuance(issuance("2002", "dev-1", 3000, "2001"));
    REQUIRE_FALSE(renew.ok());
    CHECK(renew.error().code == Code::certificate_not_active);
}

// Two servers renewing one certificate at the same moment. Both may succeed:
// the later one finds the certificate superseded by a successor that was
// never installed and abandons it (the rule the single-server store has
// always had, see "renewing an already superseded certificate"). What must
// never happen is a lost update: two live successors, or replaced_by naming
// the abandoned one.
CONTRACT_CASE("concurrent renewals of one certificate leave exactly one live successor") {
    BACKEND(b);
    auto s1 = open_ok(b);
    auto s2 = open_ok(b);
    constexpr int kRounds = 20;
    int successes = 0;
    for (int round = 0; round < kRounds; ++round) {
        const std::string base = "30" + std::to_string(100 + round);
        const std::string a = "31" + std::to_string(100 + round), c = "32" + std::to_string(100 + round);
        REQUIRE(s1->record_issuance(issuance(base, "dev-race", 1000 + round)).ok());
        Result<void> r1, r2;
        {
            std::barrier sync(2);
            std::thread t1([&] { sync.arrive_and_wait(); r1 = s1->record_issuance(issuance(a, "dev-race", 2000, base)); });
            std::thread t2([&] { sync.arrive_and_wait(); r2 = s2->record_issuance(issuance(c, "dev-race", 2000, base)); });
            t1.join();
            t2.join();
        }
        for (const auto* r : {&r1, &r2}) {
            if (!r->ok()) {
                CHECK_MESSAGE(r->error().code == Code::certificate_not_active, r->error().message);
            } else {
                ++successes;
            }
        }
        REQUIRE((r1.ok() || r2.ok()));
        const auto old = cert(*s2, base);
        CHECK(old.status == CertStatus::superseded);
        int live = 0;
        for (const auto& serial : {a, c}) {
            auto found = s1->find_certificate(serial);
            REQUIRE(found.ok());
            if (found->has_value() && (*found)->status == CertStatus::issued) {
                ++live;
                CHECK(old.replaced_by == serial);
            }
        }
        CHECK(live == 1);
    }
    CHECK(value(s1->count_certificates()) == kRounds + successes);
    CHECK(audit_size(*s1) == static_cast<std::size_t>(kRounds + successes));
}

CONTRACT_CASE("the same serial issued at the same moment by two servers is recorded once") {
    BACKEND(b);
    auto s1 = open_ok(b);
    auto s2 = open_ok(b);
    constexpr int kRounds = 20;
    for (int round = 0; round < kRounds; ++round) {
        const std::string serial = "40" + std::to_string(100 + round);
        Result<void> r1, r2;
        {
            std::barrier sync(2);
            const std::string d1 = "dev-a" + std::to_string(round), d2 = "dev-b" + std::to_string(round);
            std::thread t1([&] { sync.arrive_and_wait(); r1 = s1->record_issuance(issuance(serial, d1, 1000)); });
            std::thread t2([&] { sync.arrive_and_wait(); r2 = s2->record_issuance(issuance(serial, d2, 1000)); });
            t1.join();
            t2.join();
        }
        CHECK(r1.ok() != r2.ok());
        const auto& loser = r1.ok() ? r2 : r1;
        if (!loser.ok()) {
            CHECK(loser.error().code == Code::internal);
            CHECK(loser.error().message.find("constraint") != std::string::npos);
        }
    }
    // The loser's device and audit event were rolled back with it.
    CHECK(value(s1->count_certificates()) == kRounds);
    CHECK(value(s1->count_devices()) == kRounds);
    CHECK(audit_size(*s2) == static_cast<std::size_t>(kRounds));
}

CONTRACT_CASE("4 threads x 50 issuances with random serials are all recorded") {
    BACKEND(b);
    // Threads 0 and 1 share one Store (one server, several threads); 2 and 3
    // each have their own (other replicas).
    auto shared = open_ok(b);
    auto own2 = open_ok(b);
    auto own3 = open_ok(b);
    Store* stores[] = {shared.get(), shared.get(), own2.get(), own3.get()};
    constexpr int kThreads = 4, kEach = 50;
    std::vector<std::vector<std::string>> serials(kThreads);
    std::atomic<int> failures{0};
    std::string first_failure;
    std::mutex failure_mu;
    {
        std::barrier sync(kThreads);
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t)
            threads.emplace_back([&, t] {
                std::mt19937_64 rng(std::random_device{}() + static_cast<unsigned>(t));
                sync.arrive_and_wait();
                for (int i = 0; i < kEach; ++i) {
                    const std::string serial = random_serial(rng);
                    const std::string device = "dev-" + std::to_string(t) + "-" + std::to_string(i % 5);
                    auto r = stores[t]->record_issuance(issuance(serial, device, 1000 + i));
                    if (r.ok()) {
                        serials[t].push_back(serial);
                    } else if (failures++ == 0) {
                        std::lock_guard lock(failure_mu);
                        first_failure = r.error().message;
                    }
                }
            });
        for (auto& t : threads) t.join();
    }
    CHECK_MESSAGE(failures.load() == 0, first_failure);
    CHECK(value(shared->count_certificates()) == kThreads * kEach);
    CHECK(value(own2->count_devices()) == kThreads * 5);
    CHECK(audit_size(*own3) == static_cast<std::size_t>(kThreads * kEach));
    std::set<std::string> distinct;
    for (const auto& list : serials)
        for (const auto& s : list) {
            distinct.insert(s);
            CHECK(cert(*own3, s).serial_hex == s);
        }
    CHECK(distinct.size() == static_cast<std::size_t>(kThreads * kEach));
}

CONTRACT_CASE("CRL numbers stay strictly increasing across connections") {
    BACKEND(b);
    auto s1 = open_ok(b);
    auto s2 = open_ok(b);
    Store* stores[] = {s1.get(), s1.get(), s2.get(), s2.get()};
    constexpr int kThreads = 4, kEach = 25;
    std::vector<std::vector<std::int64_t>> got(kThreads);
    {
        std::barrier sync(kThreads);
        std::vector<std::thread> threads;
        for (int t = 0; t < kThreads; ++t)
            threads.emplace_back([&, t] {
                sync.arrive_and_wait();
                for (int i = 0; i < kEach; ++i) {
                    auto n = stores[t]->next_crl_number("ca-shared");
                    got[t].push_back(n.ok() ? *n : -1);
                }
            });
        for (auto& t : threads) t.join();
    }
    std::vector<std::int64_t> all;
    for (const auto& g : got) {
        CHECK(std::is_sorted(g.begin(), g.end()));
        CHECK(std::adjacent_find(g.begin(), g.end()) == g.end());
        all.insert(all.end(), g.begin(), g.end());
    }
    std::sort(all.begin(), all.end());
    std::vector<std::int64_t> want(kThreads * kEach);
    std::iota(want.begin(), want.end(), 1);
    CHECK(all == want);
}

// ---- PostgreSQL only: connection handling ----

CONTRACT_CASE("device classes: create, update, list, with audit; duplicates and unknown names refused") {
    BACKEND(b);
    auto store = open_ok(b);
    const AuditEvent ev{500, "admin", "class-create", "", "", "127.0.0.1", "class=cams"};
    ClassRecord c{"cams", Bytes(32, 0x11), {}, 0, true, 500, 500};
    REQUIRE(store->create_class(c, ev).ok());
    auto dup = store->create_class(ClassRecord{"cams", Bytes(32, 0x22), {}, 0, true, 501, 501}, ev);
    REQUIRE_FALSE(dup.ok());
    CHECK(dup.error().code == Code::already_exists);

    auto got = store->find_class("cams");
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    CHECK((*got)->secret == Bytes(32, 0x11));  // the duplicate changed nothing
    CHECK((*got)->previous_secret.empty());
    CHECK((*got)->enabled);
    CHECK((*got)->created_at == 500);

    c.previous_secret = c.secret;
    c.previous_until = 9000;
    c.secret = Bytes(32, 0x33);
    c.enabled = false;
    c.updated_at = 600;
    REQUIRE(store->update_class(c, AuditEvent{600, "admin", "class-rotate", "", "", "", ""}).ok());
    got = store->find_class("cams");
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    CHECK((*got)->secret == Bytes(32, 0x33));
    CHECK((*got)->previous_secret == Bytes(32, 0x11));
    CHECK((*got)->previous_until == 9000);
    CHECK_FALSE((*got)->enabled);
    CHECK((*got)->created_at == 500);
    CHECK((*got)->updated_at == 600);

    auto unknown = store->update_class(ClassRecord{"nope", Bytes(32, 1), {}, 0, true, 1, 1}, ev);
    REQUIRE_FALSE(unknown.ok());
    CHECK(unknown.error().code == Code::not_found);
    auto missing = store->find_class("nope");
    REQUIRE(missing.ok());
    CHECK_FALSE(missing->has_value());

    REQUIRE(store->create_class(ClassRecord{"a-first", Bytes(16, 5), {}, 0, true, 700, 700}, ev).ok());
    auto list = store->list_classes();
    REQUIRE(list.ok());
    REQUIRE(list->size() == 2);
    CHECK(list->at(0).name == "a-first");
    CHECK(list->at(1).name == "cams");
    // One audit event per successful change, none for the refused ones.
    auto log = store->audit_log(10);
    REQUIRE(log.ok());
    CHECK(log->size() == 3);
}

CONTRACT_CASE("a class update applies only at the version it was read at") {
    BACKEND(b);
    auto store = open_ok(b);
    const AuditEvent ev{500, "admin", "class-create", "", "", "", "class=cams"};
    REQUIRE(store->create_class(ClassRecord{"cams", Bytes(32, 0x11), {}, 0, true, 500, 500}, ev).ok());
    auto read = [&] {
        auto got = store->find_class("cams");
        REQUIRE(got.ok());
        REQUIRE(got->has_value());
        return **got;
    };
    ClassRecord first = read();   // two administrators read the same version
    ClassRecord second = read();
    CHECK(first.version == 0);

    first.enabled = false;
    REQUIRE(store->update_class(first, AuditEvent{600, "admin", "class-disable", "", "", "", ""}).ok());
    CHECK(read().version == 1);

    // The second one's rotation was made from the old state: refused, so it
    // cannot re-enable the class behind the first one's back.
    second.secret = Bytes(32, 0x22);
    auto stale = store->update_class(second, AuditEvent{601, "admin", "class-rotate", "", "", "", ""});
    REQUIRE_FALSE(stale.ok());
    CHECK(stale.error().code == Code::conflict);
    CHECK_FALSE(read().enabled);
    CHECK(read().secret == Bytes(32, 0x11));
    CHECK(audit_size(*store) == 2);  // nothing written for the refused one

    // Read again, change again: accepted.
    ClassRecord again = read();
    again.secret = Bytes(32, 0x22);
    REQUIRE(store->update_class(again, AuditEvent{602, "admin", "class-rotate", "", "", "", ""}).ok());
    CHECK(read().secret == Bytes(32, 0x22));
    CHECK_FALSE(read().enabled);
    CHECK(read().version == 2);
}

CONTRACT_CASE("the revocation epoch moves with every change of a revocation, and only then") {
    BACKEND(b);
    auto store = open_ok(b);
    auto other = open_ok(b);  // another replica
    auto epoch = [&](const std::string& issuer) { return value(store->revocation_epoch(issuer)); };
    CHECK(epoch("a1b2c3") == 0);
    REQUIRE(store->record_issuance(issuance("3001", "dev-1", 1000)).ok());
    REQUIRE(store->record_issuance(issuance("3002", "dev-2", 1000)).ok());
    REQUIRE(store->record_issuance(issuance("3003", "dev-3", 1000)).ok());
    REQUIRE(store->record_install("3001", 0, install_event("3001", 1001)).ok());
    CHECK(epoch("a1b2c3") == 0);  // issuance and install reports do not move it

    REQUIRE(store->revoke("3001", 1, 2000, AuditEvent{2000, "admin", "revoke", "dev-1", "3001", "", ""}).ok());
    const std::int64_t e1 = epoch("a1b2c3");
    CHECK(e1 > 0);
    CHECK(value(other->revocation_epoch("a1b2c3")) == e1);  // seen by the other replica
    CHECK(epoch("other-issuer") == 0);

    REQUIRE(other->revoke("3002", 4, 2001, AuditEvent{2001, "admin", "revoke", "dev-2", "3002", "", ""}).ok());
    const std::int64_t e2 = epoch("a1b2c3");
    CHECK(e2 > e1);
    auto refused = store->revoke("3002", 1, 2002, AuditEvent{2002, "admin", "revoke", "dev-2", "3002", "", ""});
    REQUIRE_FALSE(refused.ok());
    CHECK(epoch("a1b2c3") == e2);

    auto released = store->release_device("dev-3", 3000, AuditEvent{3000, "admin", "release", "dev-3", "", "", ""});
    REQUIRE(released.ok());
    const std::int64_t e3 = epoch("a1b2c3");
    CHECK(e3 > e2);

    // Any path counts, even an operator's SQL; a write that changes nothing does not.
    REQUIRE(b.raw_exec("UPDATE certificates SET revocation_reason = 2 WHERE serial = '3001'"));
    const std::int64_t e4 = epoch("a1b2c3");
    CHECK(e4 > e3);
    REQUIRE(b.raw_exec("UPDATE certificates SET revocation_reason = 2 WHERE serial = '3001'"));
    CHECK(epoch("a1b2c3") == e4);
}

TEST_CASE("contract: postgres: connection problems are classified") {
    // No server needed: nothing listens on this socket.
    TempDir dir;
    const std::string host = dir.path();
    const auto t0 = std::chrono::steady_clock::now();
    auto down = open_postgres_store("host=" + host + " port=5 dbname=irp connect_timeout=2");
    REQUIRE_FALSE(down.ok());
    CHECK(down.error().code == Code::storage_unavailable);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));

    auto bad = open_postgres_store("host=" + host + " password=hunter2 no_such_option=1");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == Code::config_invalid);
    CHECK(bad.error().message.find("hunter2") == std::string::npos);
}

TEST_CASE("contract: postgres: the store recovers by itself after a database outage") {
    if (!require_cluster()) return;
    // Its own cluster: stopping the shared one would disturb nothing now, but
    // a failure here must not leave it stopped for the other cases.
    std::string why;
    auto cluster = PgCluster::start(why);
    REQUIRE_MESSAGE(cluster, why);
    REQUIRE_MESSAGE(cluster->create_database("irp", why), why);
    auto opened = open_postgres_store(cluster->conninfo("irp"));
    REQUIRE_MESSAGE(opened.ok(), (opened.ok() ? "" : opened.error().message));
    auto store = std::move(opened).value();
    REQUIRE(store->record_issuance(issuance("5001", "dev-1", 1000)).ok());

    // A restart between calls closes the idle connection; the next call
    // reconnects and runs, unseen by the caller.
    REQUIRE(cluster->stop("fast"));
    REQUIRE_MESSAGE(cluster->start_again(why), why);
    CHECK(value(store->count_certificates()) == 1);

    // While the database is down, calls fail fast and retryably.
    REQUIRE(cluster->stop("fast"));
    auto t0 = std::chrono::steady_clock::now();
    auto write = store->record_issuance(issuance("5002", "dev-1", 2000));
    REQUIRE_FALSE(write.ok());
    CHECK(write.error().code == Code::storage_unavailable);
    CHECK(is_retryable(write.error().code));
    auto read = store->count_certificates();
    REQUIRE_FALSE(read.ok());
    CHECK(read.error().code == Code::storage_unavailable);
    CHECK(std::chrono::steady_clock::now() - t0 < std::chrono::seconds(5));
    auto reopen = open_postgres_store(cluster->conninfo("irp"));
    REQUIRE_FALSE(reopen.ok());
    CHECK(reopen.error().code == Code::storage_unavailable);

    // Back up: the next call succeeds, and the failed write left nothing.
    REQUIRE_MESSAGE(cluster->start_again(why), why);
    CHECK_FALSE(store->find_certificate("5002")->has_value());
    REQUIRE(store->record_issuance(issuance("5002", "dev-1", 2000)).ok());
    CHECK(value(store->count_certificates()) == 2);
    CHECK(audit_size(*store) == 2);
}

// ---- device lifecycle (store/*/lifecycle.cpp) ----

namespace {
HeldRequest held_row(const std::string& id, const std::string& device, const std::string& key, std::int64_t at) {
    HeldRequest h;
    h.id = id;
    h.device_id = device;
    h.class_id = "default";
    h.model = "Cam";
    h.peer = "192.0.2.1:1";
    h.reason = "approval";
    h.method = "none";
    h.public_key_sha256_hex = key;
    h.first_seen = at;
    h.last_seen = at;
    return h;
}
}  // namespace

CONTRACT_CASE("held requests: one open row per device and key, decided once, issued, expired") {
    BACKEND(b);
    auto store = open_ok(b);
    const AuditEvent ev{1000, "device:cam", "hold", "cam", "", "", ""};
    auto first = store->hold_request(held_row("h1", "cam", "k1", 1000), 10, ev);
    REQUIRE(first.ok());
    CHECK(first->second);
    auto again = store->hold_request(held_row("h2", "cam", "k1", 1100), 10, ev);
    REQUIRE(again.ok());
    CHECK_FALSE(again->second);
    CHECK(again->first.id == "h1");
    CHECK(again->first.asks == 2);
    CHECK(again->first.last_seen == 1100);
    auto other_key = store->hold_request(held_row("h3", "cam", "k2", 1100), 10, ev);
    REQUIRE(other_key.ok());
    CHECK(other_key->second);
    CHECK(store->hold_request(held_row("h4", "cam2", "k4", 1100), 2, ev).error().code == Code::too_many_pending);
    CHECK(value(store->count_held(HoldState::pending)) == 2);

    auto approved = store->decide_held("h1", true, "admin", "fine", 1200, AuditEvent{1200, "admin", "approve", "cam", "", "", ""});
    REQUIRE(approved.ok());
    CHECK(approved->state == HoldState::approved);
    CHECK(approved->decided_by == "admin");
    CHECK(store->decide_held("h1", false, "admin", "", 1200, AuditEvent{}).error().code == Code::conflict);
    CHECK(store->decide_held("zz", false, "admin", "", 1200, AuditEvent{}).error().code == Code::not_found);

    auto rec = issuance("7f10", "cam", 1300);
    rec.held_request_id = "h1";
    REQUIRE(store->record_issuance(rec).ok());
    auto h1 = store->find_held("h1");
    REQUIRE(h1.ok());
    CHECK((*h1)->state == HoldState::issued);
    CHECK((*h1)->serial_hex == "7f10");
    // A request no longer approved cannot be issued against: nothing is written.
    auto stray = issuance("7f11", "cam", 1300);
    stray.held_request_id = "h3";
    CHECK(store->record_issuance(stray).error().code == Code::request_rejected);
    CHECK_FALSE(store->find_certificate("7f11")->has_value());

    CHECK(value(store->expire_held(1100)) == 0);
    CHECK(value(store->expire_held(1101)) == 1);  // h3, last seen at 1100
    auto list = store->list_held(HoldState::expired, 10);
    REQUIRE(list.ok());
    REQUIRE(list->size() == 1);
    CHECK(list->front().id == "h3");
}

CONTRACT_CASE("registrations: all or nothing, found by device, removed") {
    BACKEND(b);
    auto store = open_ok(b);
    const AuditEvent ev{1000, "admin", "register", "", "", "", ""};
    const Registration a{"cam-1", "default", Bytes{1, 2, 3}, "aa", 1000, "n"};
    const Registration c{"cam-2", "default", Bytes{4}, "bb", 1000, ""};
    REQUIRE(store->add_registrations({a, c}, ev).ok());
    const Registration d{"cam-3", "default", Bytes{5}, "cc", 1000, ""};
    CHECK(store->add_registrations({d, a}, ev).error().code == Code::already_exists);
    CHECK_FALSE(store->find_registration("cam-3")->has_value());  // the whole import failed
    auto got = store->find_registration("cam-1");
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    CHECK((*got)->public_key == Bytes{1, 2, 3});
    CHECK((*got)->note == "n");
    auto page = store->list_registrations("cam-1", 10);
    REQUIRE(page.ok());
    REQUIRE(page->size() == 1);
    CHECK(page->front().device_id == "cam-2");
    REQUIRE(store->remove_registration("cam-1", ev).ok());
    CHECK(store->remove_registration("cam-1", ev).error().code == Code::not_found);
}

CONTRACT_CASE("surge counters, check-ins and release") {
    BACKEND(b);
    auto store = open_ok(b);
    REQUIRE(store->record_issuance(issuance("7f20", "d1", 1000)).ok());
    REQUIRE(store->record_issuance(issuance("7f21", "d2", 2000)).ok());
    auto r2 = issuance("7f22", "d2", 2100);
    r2.certificate.replaces = "7f21";
    REQUIRE(store->record_issuance(r2).ok());
    CHECK(value(store->count_new_devices("sensor-v1", 1500)) == 1);
    CHECK(value(store->count_new_devices("sensor-v1", 0)) == 2);
    CHECK(value(store->surge_lifted_until("default")) == 0);
    REQUIRE(store->lift_surge("default", 5000, AuditEvent{1, "admin", "surge-lift", "", "", "", ""}).ok());
    CHECK(value(store->surge_lifted_until("default")) == 5000);

    REQUIRE(store->touch_device("d1", 3000).ok());
    REQUIRE(store->touch_device("d1", 2500).ok());  // never backwards
    CHECK((*store->find_device("d1"))->last_seen == 3000);
    CHECK(store->touch_device("nobody", 1).error().code == Code::not_found);
    auto unseen = store->devices_unseen_since(2500, 10);
    REQUIRE(unseen.ok());
    CHECK(*unseen == std::vector<std::string>{"d2"});

    auto revoked = store->release_device("d2", 4000, AuditEvent{4000, "admin", "release", "d2", "", "", ""});
    REQUIRE(revoked.ok());
    CHECK(*revoked == std::vector<std::string>{"7f21", "7f22"});
    CHECK(cert(*store, "7f22").revocation_reason == kReasonCessationOfOperation);
    CHECK((*store->find_device("d2"))->released_at == std::optional<std::int64_t>(4000));
    CHECK(store->release_device("d2", 4001, AuditEvent{}).error().code == Code::conflict);
    CHECK(store->release_device("nobody", 4001, AuditEvent{}).error().code == Code::not_found);
    auto after = store->devices_unseen_since(10'000, 10);
    REQUIRE(after.ok());
    CHECK(*after == std::vector<std::string>{"d1"});  // a released device is not released again
}

// ---- rights and accounts (store/*/accounts.cpp) ----

namespace {

Transfer offer_of(const std::string& id, const std::string& from, const std::string& to,
                  std::vector<std::string> devices, std::int64_t at) {
    Transfer t;
    t.id = id;
    t.from_account = from;
    t.to_account = to;
    t.devices = std::move(devices);
    t.created_at = at;
    t.created_by = "admin";
    t.note = "batch 7";
    return t;
}

AuditEvent admin_event(std::int64_t at, const std::string& action) { return AuditEvent{at, "admin", action, "", "", "", ""}; }

}  // namespace

CONTRACT_CASE("rights: a device's own rights win over its class's; empty removes") {
    BACKEND(b);
    auto store = open_ok(b);
    auto none = store->rights_for("d1", "sensor-v1");
    REQUIRE(none.ok());
    CHECK(none->empty());
    REQUIRE(store->set_rights(RightsRecord{"class", "sensor-v1", "read service:mqtt", 10}, admin_event(10, "rights.set")).ok());
    CHECK(*store->rights_for("d1", "sensor-v1") == "read service:mqtt");
    CHECK(store->rights_for("d1", "other")->empty());
    REQUIRE(store->set_rights(RightsRecord{"device", "d1", "* device:door-1", 11}, admin_event(11, "rights.set")).ok());
    CHECK(*store->rights_for("d1", "sensor-v1") == "* device:door-1");
    CHECK(*store->rights_for("d2", "sensor-v1") == "read service:mqtt");
    // Replace, then remove.
    REQUIRE(store->set_rights(RightsRecord{"class", "sensor-v1", "write service:mqtt", 12}, admin_event(12, "rights.set")).ok());
    CHECK(*store->rights_for("d2", "sensor-v1") == "write service:mqtt");
    auto list = store->list_rights();
    REQUIRE(list.ok());
    REQUIRE(list->size() == 2);
    CHECK(list->at(0).scope == "class");
    CHECK(list->at(0).updated_at == 12);
    REQUIRE(store->set_rights(RightsRecord{"device", "d1", "", 13}, admin_event(13, "rights.clear")).ok());
    CHECK(*store->rights_for("d1", "sensor-v1") == "write service:mqtt");
    CHECK(store->set_rights(RightsRecord{"device", "d1", "", 14}, admin_event(14, "rights.clear")).error().code ==
          Code::not_found);
}

CONTRACT_CASE("accounts: the provider exists from the start; names are unique") {
    BACKEND(b);
    auto store = open_ok(b);
    auto provider = store->find_account(kProviderAccount);
    REQUIRE(provider.ok());
    REQUIRE(provider->has_value());
    CHECK((*provider)->public_key.empty());
    const Account acme{"acme", Bytes{0x30, 0x00, 0x5c}, "abcd", "customer", 100};
    REQUIRE(store->create_account(acme, admin_event(100, "account.create")).ok());
    CHECK(store->create_account(acme, admin_event(101, "account.create")).error().code == Code::already_exists);
    auto got = store->find_account("acme");
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    CHECK((*got)->public_key == acme.public_key);
    CHECK((*got)->note == "customer");
    auto all = store->list_accounts();
    REQUIRE(all.ok());
    CHECK(all->size() == 2);
    CHECK(store->find_account("nobody")->has_value() == false);
}

CONTRACT_CASE("transfers: offered, then accepted moves the devices with the policy; history is kept") {
    BACKEND(b);
    auto store = open_ok(b);
    REQUIRE(store->record_issuance(issuance("7a01", "d1", 1000)).ok());
    REQUIRE(store->record_issuance(issuance("7a02", "d2", 1000)).ok());
    REQUIRE(store->record_issuance(issuance("7a03", "d3", 1000)).ok());
    for (const char* n : {"acme", "beta"})
        REQUIRE(store->create_account(Account{n, Bytes{1}, "k", "", 100}, admin_event(100, "account.create")).ok());
    const std::size_t audit0 = audit_size(*store);

    REQUIRE(store->offer_transfer(offer_of("t1", kProviderAccount, "acme", {"d1", "d2"}, 2000),
                                  admin_event(2000, "transfer.offer"))
                .ok());
    CHECK(audit_size(*store) == audit0 + 1);
    // The same id again, a device in an open offer, a device that is not the giver's, an unknown device.
    CHECK(store->offer_transfer(offer_of("t1", kProviderAccount, "beta", {"d3"}, 2001), AuditEvent{}).error().code ==
          Code::already_exists);
    CHECK(store->offer_transfer(offer_of("t2", kProviderAccount, "beta", {"d2", "d3"}, 2001), AuditEvent{}).error().code ==
          Code::conflict);
    CHECK(store->offer_transfer(offer_of("t3", "acme", "beta", {"d3"}, 2001), AuditEvent{}).error().code == Code::conflict);
    CHECK(store->offer_transfer(offer_of("t4", kProviderAccount, "beta", {"ghost"}, 2001), AuditEvent{}).error().code ==
          Code::not_found);
    // Nothing of the refused offers was kept (d3 is free for a new offer).
    CHECK_FALSE(store->find_transfer("t2")->has_value());
    CHECK(audit_size(*store) == audit0 + 1);

    auto t1 = store->find_transfer("t1");
    REQUIRE(t1.ok());
    REQUIRE(t1->has_value());
    CHECK((*t1)->state == TransferState::offered);
    CHECK((*t1)->devices == std::vector<std::string>{"d1", "d2"});
    CHECK((*t1)->note == "batch 7");
    CHECK(store->owners_of("d1")->empty());

    auto accepted = store->decide_transfer("t1", TransferState::accepted, "stream service:video", "account:acme", 3000,
                                           admin_event(3000, "transfer.accepted"));
    REQUIRE(accepted.ok());
    CHECK(accepted->state == TransferState::accepted);
    CHECK(accepted->policy == "stream service:video");
    CHECK(store->decide_transfer("t1", TransferState::rejected, "", "x", 3001, AuditEvent{}).error().code == Code::conflict);
    CHECK(store->decide_transfer("nope", TransferState::accepted, "", "x", 3001, AuditEvent{}).error().code ==
          Code::not_found);

    auto owners = store->owners_of("d1");
    REQUIRE(owners.ok());
    REQUIRE(owners->size() == 1);
    CHECK(owners->front().account == "acme");
    CHECK(owners->front().policy == "stream service:video");
    CHECK(owners->front().since == 3000);
    CHECK(owners->front().until == 0);
    CHECK(owners->front().transfer_id == "t1");

    // acme passes d1 on to beta; beta rejects; then acme offers again and beta accepts.
    REQUIRE(store->offer_transfer(offer_of("t5", "acme", "beta", {"d1"}, 4000), admin_event(4000, "transfer.offer")).ok());
    REQUIRE(store->decide_transfer("t5", TransferState::rejected, "", "account:beta", 4100, AuditEvent{}).ok());
    CHECK(store->owners_of("d1")->size() == 1);
    REQUIRE(store->offer_transfer(offer_of("t6", "acme", "beta", {"d1"}, 4200), admin_event(4200, "transfer.offer")).ok());
    REQUIRE(store->decide_transfer("t6", TransferState::accepted, "", "account:beta", 4300, AuditEvent{}).ok());
    owners = store->owners_of("d1");
    REQUIRE(owners->size() == 2);
    CHECK(owners->at(0).account == "acme");
    CHECK(owners->at(0).until == 4300);
    CHECK(owners->at(1).account == "beta");
    CHECK(owners->at(1).until == 0);

    auto of_beta = store->list_transfers("beta", std::nullopt, 100);
    REQUIRE(of_beta.ok());
    REQUIRE(of_beta->size() == 2);
    CHECK(of_beta->front().id == "t6");  // newest first
    auto accepted_only = store->list_transfers("", TransferState::accepted, 100);
    REQUIRE(accepted_only.ok());
    CHECK(accepted_only->size() == 2);
}

CONTRACT_CASE("transfers: a cancelled offer frees its devices; release ends ownership and blocks acceptance") {
    BACKEND(b);
    auto store = open_ok(b);
    REQUIRE(store->record_issuance(issuance("7b01", "d1", 1000)).ok());
    REQUIRE(store->record_issuance(issuance("7b02", "d2", 1000)).ok());
    REQUIRE(store->create_account(Account{"acme", Bytes{1}, "k", "", 100}, admin_event(100, "account.create")).ok());
    REQUIRE(store->offer_transfer(offer_of("t1", kProviderAccount, "acme", {"d1"}, 2000), AuditEvent{}).ok());
    REQUIRE(store->decide_transfer("t1", TransferState::cancelled, "", "admin", 2100, AuditEvent{}).ok());
    CHECK(store->find_transfer("t1").value()->state == TransferState::cancelled);
    REQUIRE(store->offer_transfer(offer_of("t2", kProviderAccount, "acme", {"d1"}, 2200), AuditEvent{}).ok());
    REQUIRE(store->decide_transfer("t2", TransferState::accepted, "", "account:acme", 2300, AuditEvent{}).ok());

    // Released: the account's ownership ends with it.
    REQUIRE(store->release_device("d1", 3000, AuditEvent{3000, "admin", "release", "d1", "", "", ""}).ok());
    auto owners = store->owners_of("d1");
    REQUIRE(owners->size() == 1);
    CHECK(owners->front().until == 3000);
    CHECK(store->offer_transfer(offer_of("t3", kProviderAccount, "acme", {"d1"}, 3100), AuditEvent{}).error().code ==
          Code::conflict);

    // A device released while offered fails the acceptance; nothing moves.
    REQUIRE(store->offer_transfer(offer_of("t4", kProviderAccount, "acme", {"d2"}, 3200), AuditEvent{}).ok());
    REQUIRE(store->release_device("d2", 3300, AuditEvent{3300, "admin", "release", "d2", "", "", ""}).ok());
    CHECK(store->decide_transfer("t4", TransferState::accepted, "", "account:acme", 3400, AuditEvent{}).error().code ==
          Code::conflict);
    CHECK(store->find_transfer("t4").value()->state == TransferState::offered);
    CHECK(store->owners_of("d2")->empty());
}

CONTRACT_CASE("classes keep their bootstrap methods and manufacturer roots") {
    BACKEND(b);
    auto store = open_ok(b);
    const AuditEvent ev{1, "admin", "class-create", "", "", "", ""};
    ClassRecord c{"cams", Bytes(32, 0x11), {}, 0, true, 10, 10, 4 | 8, "-----BEGIN CERTIFICATE-----\nAA==\n-----END CERTIFICATE-----\n"};
    REQUIRE(store->create_class(c, ev).ok());
    auto got = store->find_class("cams");
    REQUIRE(got.ok());
    REQUIRE(got->has_value());
    CHECK((*got)->methods == (4u | 8u));
    CHECK((*got)->idevid_roots == c.idevid_roots);
    c.methods = 1;
    c.idevid_roots.clear();
    REQUIRE(store->update_class(c, ev).ok());
    auto list = store->list_classes();
    REQUIRE(list.ok());
    REQUIRE(list->size() == 1);
    CHECK(list->front().methods == 1u);
    CHECK(list->front().idevid_roots.empty());
    // A class stored before migration 6 reads as token only.
    REQUIRE(b.raw_exec("INSERT INTO device_classes(name, secret, created_at, updated_at) VALUES('old', 'x', 1, 1)"));
    CHECK(store->find_class("old").value()->methods == 1u);
}
