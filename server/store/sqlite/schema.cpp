// The SQLite schema as ordered migrations, and opening a database.
#include <chrono>
#include <thread>
#include <iterator>

#include "store/sqlite/sqlite_store.hpp"

namespace irp::server {
namespace sqlite {

namespace {

// The schema, as an ordered list of migrations. Each runs in its own
// transaction and records its version, so reopening a database applies only
// what is missing. To change the schema, append a row; never edit one that
// has shipped.
struct Migration {
    int version;
    const char* sql;
};
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE devices(device_id TEXT PRIMARY KEY, class_id TEXT NOT NULL,
    first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL);
CREATE TABLE certificates(issuer TEXT NOT NULL, serial TEXT NOT NULL,
    device_id TEXT NOT NULL REFERENCES devices(device_id), class_id TEXT NOT NULL,
    der BLOB NOT NULL, not_before INTEGER NOT NULL, not_after INTEGER NOT NULL,
    issued_at INTEGER NOT NULL, status INTEGER NOT NULL, install_status INTEGER,
    replaces TEXT NOT NULL DEFAULT '', replaced_by TEXT NOT NULL DEFAULT '',
    public_key_sha256 TEXT NOT NULL, PRIMARY KEY(issuer, serial));
CREATE INDEX certificates_device ON certificates(device_id);
-- Serials are random 127-bit values, unique per domain: lookups by serial
-- alone (install reports, renewals) must never be ambiguous.
CREATE UNIQUE INDEX certificates_serial ON certificates(serial);
CREATE TABLE audit(id INTEGER PRIMARY KEY AUTOINCREMENT, at INTEGER NOT NULL,
    actor TEXT NOT NULL, action TEXT NOT NULL, device_id TEXT NOT NULL DEFAULT '',
    serial TEXT NOT NULL DEFAULT '', peer TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '');
-- Stops accidental edits (a careless maintenance script); anyone with write
-- access to the file can still drop the triggers, so this is not a defence.
CREATE TRIGGER audit_no_update BEFORE UPDATE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
CREATE TRIGGER audit_no_delete BEFORE DELETE ON audit
    BEGIN SELECT RAISE(ABORT, 'audit log is append-only'); END;
)sql"},
    {2, R"sql(
-- Revocation (RFC 5280 reason codes) and CRL numbering.
ALTER TABLE certificates ADD COLUMN revoked_at INTEGER;
ALTER TABLE certificates ADD COLUMN revocation_reason INTEGER NOT NULL DEFAULT 0;
CREATE INDEX certificates_revoked ON certificates(issuer, serial) WHERE revoked_at IS NOT NULL;
CREATE TABLE crl_numbers(issuer TEXT PRIMARY KEY, last INTEGER NOT NULL);
)sql"},
    {3, R"sql(
-- Device classes managed through the admin API (store.hpp, ClassRecord).
CREATE TABLE device_classes(name TEXT PRIMARY KEY, secret BLOB NOT NULL,
    previous_secret BLOB NOT NULL DEFAULT x'', previous_until INTEGER NOT NULL DEFAULT 0,
    enabled INTEGER NOT NULL DEFAULT 1, created_at INTEGER NOT NULL, updated_at INTEGER NOT NULL);
)sql"},
    {4, R"sql(
-- Device lifecycle: held requests, pre-registered keys, the surge guard,
-- release (store.hpp, "held requests" and below).
ALTER TABLE devices ADD COLUMN released_at INTEGER;
CREATE INDEX devices_class_first_seen ON devices(class_id, first_seen);
CREATE INDEX devices_unreleased_last_seen ON devices(last_seen) WHERE released_at IS NULL;
CREATE TABLE held_requests(id TEXT PRIMARY KEY, device_id TEXT NOT NULL, class_id TEXT NOT NULL,
    model TEXT NOT NULL DEFAULT '', peer TEXT NOT NULL DEFAULT '', reason TEXT NOT NULL,
    method TEXT NOT NULL, public_key_sha256 TEXT NOT NULL, state INTEGER NOT NULL,
    first_seen INTEGER NOT NULL, last_seen INTEGER NOT NULL, asks INTEGER NOT NULL DEFAULT 1,
    decided_at INTEGER NOT NULL DEFAULT 0, decided_by TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '', serial TEXT NOT NULL DEFAULT '');
-- One open (pending or approved) request per device and key.
CREATE UNIQUE INDEX held_requests_open ON held_requests(device_id, public_key_sha256) WHERE state IN (1, 2);
CREATE INDEX held_requests_state ON held_requests(state, first_seen);
CREATE TABLE registrations(device_id TEXT PRIMARY KEY, class_id TEXT NOT NULL, public_key BLOB NOT NULL,
    public_key_sha256 TEXT NOT NULL, created_at INTEGER NOT NULL, note TEXT NOT NULL DEFAULT '');
CREATE TABLE surge_lifts(class_id TEXT PRIMARY KEY, lifted_until INTEGER NOT NULL);
)sql"},
    {5, R"sql(
-- Rights per device or class; accounts, certificate transfer and the
-- ownership history of each device (store.hpp, "rights and accounts").
CREATE TABLE rights(scope TEXT NOT NULL, name TEXT NOT NULL, rights TEXT NOT NULL,
    updated_at INTEGER NOT NULL, PRIMARY KEY(scope, name));
CREATE TABLE accounts(name TEXT PRIMARY KEY, public_key BLOB NOT NULL, public_key_sha256 TEXT NOT NULL,
    note TEXT NOT NULL DEFAULT '', created_at INTEGER NOT NULL);
INSERT INTO accounts(name, public_key, public_key_sha256, note, created_at)
    VALUES('provider', x'', '', 'the domain''s own account', 0);
CREATE TABLE transfers(id TEXT PRIMARY KEY, from_account TEXT NOT NULL REFERENCES accounts(name),
    to_account TEXT NOT NULL REFERENCES accounts(name), state INTEGER NOT NULL, created_at INTEGER NOT NULL,
    created_by TEXT NOT NULL, note TEXT NOT NULL DEFAULT '', decided_at INTEGER NOT NULL DEFAULT 0,
    decided_by TEXT NOT NULL DEFAULT '', policy TEXT NOT NULL DEFAULT '');
CREATE INDEX transfers_created ON transfers(created_at);
CREATE TABLE transfer_devices(transfer_id TEXT NOT NULL REFERENCES transfers(id),
    device_id TEXT NOT NULL REFERENCES devices(device_id), PRIMARY KEY(transfer_id, device_id));
CREATE INDEX transfer_devices_device ON transfer_devices(device_id);
CREATE TABLE device_owners(device_id TEXT NOT NULL REFERENCES devices(device_id),
    account TEXT NOT NULL REFERENCES accounts(name), policy TEXT NOT NULL DEFAULT '',
    since INTEGER NOT NULL, until INTEGER NOT NULL DEFAULT 0, transfer_id TEXT NOT NULL DEFAULT '');
-- At most one current owner per device.
CREATE UNIQUE INDEX device_owners_current ON device_owners(device_id) WHERE until = 0;
CREATE INDEX device_owners_history ON device_owners(device_id, since);
)sql"},
    {6, R"sql(
-- Bootstrap methods of classes managed through the admin API (as
-- [classes.<name>] bootstrap and idevid_roots in server.toml).
ALTER TABLE device_classes ADD COLUMN methods INTEGER NOT NULL DEFAULT 1;
ALTER TABLE device_classes ADD COLUMN idevid_roots TEXT NOT NULL DEFAULT '';
)sql"},
    {7, R"sql(
-- A counter per issuer that moves with every change to a certificate's
-- revocation, whoever makes it (store.hpp, revocation_epoch): the CRL cache
-- compares it instead of reading the whole revoked set on every check-in.
CREATE TABLE revocation_epochs(issuer TEXT PRIMARY KEY, epoch INTEGER NOT NULL);
CREATE TRIGGER certificates_revocation_epoch AFTER UPDATE OF revoked_at, revocation_reason ON certificates
    WHEN OLD.revoked_at IS NOT NEW.revoked_at OR OLD.revocation_reason IS NOT NEW.revocation_reason
    BEGIN
        INSERT INTO revocation_epochs(issuer, epoch) VALUES(NEW.issuer, 1)
            ON CONFLICT(issuer) DO UPDATE SET epoch = epoch + 1;
    END;
-- Optimistic concurrency for admin changes to a class (store.hpp, update_class).
ALTER TABLE device_classes ADD COLUMN version INTEGER NOT NULL DEFAULT 0;
)sql"},
};
constexpr int kLatestVersion = kMigrations[std::size(kMigrations) - 1].version;

}  // namespace

Result<void> SqliteStore::migrate() {
    Conn& db = conn_;
    const char* create =
        "CREATE TABLE IF NOT EXISTS schema_migrations("
        "version INTEGER PRIMARY KEY, applied_at INTEGER)";
    if (auto r = exec(db.get(), create, "create schema_migrations"); !r) return r;
    // An older server must not write to a schema it does not know.
    auto newest = scalar(db, "read schema version", "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (!newest) return newest.error();
    if (*newest > kLatestVersion)
        return make_error(Code::storage_unavailable, "database schema version " + std::to_string(*newest) +
                                                         " is newer than this server supports (" +
                                                         std::to_string(kLatestVersion) + ")");

    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (const auto& m : kMigrations) {
        const std::string what = "migration " + std::to_string(m.version);
        Tx tx(db);
        if (auto r = tx.begin(what); !r) return r;
        // Checked under the write lock: another process opening the same
        // file at the same time may have just applied it.
        auto applied =
            scalar(db, what, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?1", std::int64_t{m.version});
        if (!applied) return applied.error();
        if (*applied > 0) continue;
        if (auto r = exec(db.get(), m.sql, what); !r) return r;
        auto rec = run(db, what, "INSERT INTO schema_migrations(version, applied_at) VALUES(?1, ?2)",
                       std::int64_t{m.version}, std::int64_t{now});
        if (!rec) return rec.error();
        if (auto r = tx.commit(what); !r) return r;
    }
    return {};
}

}  // namespace sqlite

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_FULLMUTEX, nullptr);
    sqlite::DbPtr db(raw);  // a handle is usually returned even on failure; close it
    if (rc != SQLITE_OK) return sqlite::sql_error(rc, "open " + path, raw);
    sqlite3_extended_result_codes(db.get(), 1);
    sqlite3_busy_timeout(db.get(), 5000);
    // WAL lets readers run beside the writer; synchronous=FULL makes a
    // COMMIT durable before a response leaves the server (PROTOCOL.md,
    // "Durability"); foreign keys are off by default in SQLite.
    for (const char* pragma : {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
        // Switching to WAL needs a moment alone with the file, and SQLite
        // answers "locked" at once, without its busy handler, while another
        // server is opening or migrating the same file: wait for it too.
        const auto give_up = std::chrono::steady_clock::now() + std::chrono::seconds(5);
        for (;;) {
            const int rc = sqlite3_exec(db.get(), pragma, nullptr, nullptr, nullptr);
            if (rc == SQLITE_OK) break;
            const bool busy = (rc & 0xff) == SQLITE_BUSY || (rc & 0xff) == SQLITE_LOCKED;
            if (!busy || std::chrono::steady_clock::now() > give_up)
                return sqlite::sql_error(rc, "open " + path + ": " + pragma, db.get());
            std::this_thread::sleep_for(std::chrono::milliseconds(20));
        }
    }
    auto store = std::make_unique<sqlite::SqliteStore>(std::move(db));
    if (auto r = store->migrate(); !r) return make_error(r.error().code, "open " + path + ": " + r.error().message);
    return std::unique_ptr<Store>(std::move(store));
}

}  // namespace irp::server
