// SQLite-only checks of the Store. Everything the Store promises is tested in
// store_contract_test.cpp, against SQLite and PostgreSQL alike; these are the
// details only SQLite has (its constraint code, WAL, file errors).
#include <doctest/doctest.h>
#include <sqlite3.h>

#include <atomic>
#include <chrono>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "irp/base/error.hpp"
#include "support/temp_dir.hpp"
#include "store/sqlite/sqlite_store.hpp"
#include "store/store.hpp"

namespace fs = std::filesystem;
using namespace irp;
using namespace irp::server;

namespace {

using irp_test::TempDir;

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

TEST_CASE("store: the audit log is append-only even for direct SQL") {
    TempDir dir;
    {
        auto store = open_ok(dir / "store.db");
        REQUIRE(store->record_issuance(issuance("0f01", "dev-1", 1000)).ok());
    }
    CHECK(raw_exec((dir / "store.db"), "UPDATE audit SET actor = 'admin:mallory'") == SQLITE_CONSTRAINT);
    CHECK(raw_exec((dir / "store.db"), "DELETE FROM audit") == SQLITE_CONSTRAINT);
    CHECK(raw_scalar((dir / "store.db"), "SELECT COUNT(*) FROM audit WHERE actor = 'device:dev-1'") == 1);
}

TEST_CASE("store: SQLite runs in WAL mode") {
    // Durability and concurrent readers depend on it (store/sqlite/db.hpp).
    TempDir dir;
    { open_ok(dir / "store.db"); }
    CHECK(raw_scalar((dir / "store.db"), "SELECT journal_mode = 'wal' FROM pragma_journal_mode") == 1);
}

TEST_CASE("store: opening in a missing directory fails cleanly") {
    TempDir dir;
    auto s = open_sqlite_store(dir / "no-such-dir/store.db");
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::storage_unavailable);
    CHECK_FALSE(s.error().message.empty());
}


TEST_CASE("store: concurrent writes share commits, and a failing write fails alone") {
    TempDir dir;
    auto store = open_ok(dir / "store.db");
    // A serial that exists already: its second issuance must fail by itself.
    REQUIRE(store->record_issuance(issuance("7fdd", "dev-dup", 100)).ok());
    constexpr int kThreads = 8, kEach = 40;
    std::atomic<int> failed{0}, dup_failed{0};
    std::vector<std::thread> threads;
    for (int t = 0; t < kThreads; ++t)
        threads.emplace_back([&, t] {
            for (int i = 0; i < kEach; ++i) {
                const bool dup = t == 3 && i == 20;
                const std::string serial = dup ? "7fdd" : "7f" + std::to_string(t) + "a" + std::to_string(i);
                auto r = store->record_issuance(issuance(serial, "dev-" + std::to_string(t), 200 + i));
                if (!r.ok()) ++(dup ? dup_failed : failed);
                if (r.ok() && i % 2 == 0) {
                    auto inst = store->record_install(serial, 0, AuditEvent{300, "device", "install", "", serial, "", ""});
                    if (!inst.ok()) ++failed;
                }
            }
        });
    for (auto& th : threads) th.join();
    CHECK(failed == 0);
    CHECK(dup_failed == 1);
    auto n = store->count_certificates();
    REQUIRE(n.ok());
    CHECK(*n == 1 + kThreads * kEach - 1);
    auto installed = store->list_certificates(CertificateQuery{"", CertStatus::installed, std::nullopt, "", 1000});
    REQUIRE(installed.ok());
    CHECK(installed->size() == kThreads * kEach / 2 - 1);  // every even one, minus the duplicate
    // Writers that waited on a commit rode on the next one.
    const auto stats = dynamic_cast<sqlite::SqliteStore&>(*store).commit_stats();
    const std::uint64_t writes = 1 + kThreads * kEach + installed->size();
    CHECK(stats.writes == writes);
    CHECK(stats.commits < stats.writes);
    MESSAGE("group commit: " << stats.writes << " writes in " << stats.commits << " commits");
}
