// SQLite implementation of the server Store (store.hpp).
//
// One connection guarded by a mutex: the server calls in from its network threads and
// SQLite serialises writers anyway, so a pool would buy nothing. Every write is
// one BEGIN IMMEDIATE transaction: the write lock is taken up front (no
// deadlock-prone read-to-write upgrade), and an operation is either wholly on
// disk or not there at all. Values only ever reach SQL as bound parameters.
#include <sqlite3.h>

#include <chrono>
#include <cstdint>
#include <iterator>
#include <limits>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "irp/base/error.hpp"
#include "store/store.hpp"

namespace irp::server {

const char* cert_status_name(CertStatus s) {
    switch (s) {
        case CertStatus::issued: return "issued";
        case CertStatus::installed: return "installed";
        case CertStatus::superseded: return "superseded";
        case CertStatus::install_failed: return "install_failed";
    }
    return "unknown";
}

namespace {

// The schema, as an ordered list of migrations. Each runs in its own
// transaction and records its version, so reopening a database applies only
// what is missing. To change the schema, append a row; never edit one that
// has shipped.
struct Migration { int version; const char* sql; };
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
};
constexpr int kLatestVersion = kMigrations[std::size(kMigrations) - 1].version;

// Conditions that pass or that an operator can fix (lock contention, a full
// disk, I/O trouble, an unreachable file) are retryable; anything else, a
// constraint violation included, means a bug upstream.
Error sql_error(int rc, const std::string& what, sqlite3* db) {
    const std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_FULL:
        case SQLITE_IOERR:
        case SQLITE_CANTOPEN:
            return make_error(Code::storage_unavailable, what + ": " + detail);
        case SQLITE_CONSTRAINT:
            return make_error(Code::internal, what + ": constraint violation: " + detail);
        default:
            return make_error(Code::internal, what + ": " + detail);
    }
}

struct DbClose {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbClose>;

Result<void> exec(sqlite3* db, const char* sql, const std::string& what) {
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return sql_error(rc, what, db);
    return {};
}

// A prepared statement. Bind errors are remembered and reported by step(),
// so call sites can bind without checking each call.
class Stmt {
public:
    static Result<Stmt> prepare(sqlite3* db, const std::string& sql, const std::string& what) {
        sqlite3_stmt* raw = nullptr;
        const int rc = sqlite3_prepare_v2(db, sql.c_str(), -1, &raw, nullptr);
        Stmt s(db, raw);  // finalizes `raw` on every path
        if (rc != SQLITE_OK) return sql_error(rc, what + ": prepare", db);
        return s;
    }

    void bind(int i, std::int64_t v) { note(sqlite3_bind_int64(st_.get(), i, v)); }
    void bind(int i, const std::string& v) {
        note(sqlite3_bind_text(st_.get(), i, v.data(), static_cast<int>(v.size()),
                               SQLITE_TRANSIENT));
    }
    void bind(int i, const Bytes& v) {
        // A null data pointer would bind SQL NULL, not an empty blob.
        note(v.empty() ? sqlite3_bind_zeroblob(st_.get(), i, 0)
                       : sqlite3_bind_blob(st_.get(), i, v.data(), static_cast<int>(v.size()),
                                           SQLITE_TRANSIENT));
    }
    void bind(int i, const std::optional<std::uint32_t>& v) {
        note(v ? sqlite3_bind_int64(st_.get(), i, *v) : sqlite3_bind_null(st_.get(), i));
    }

    // true: a row is available; false: done.
    Result<bool> step(const std::string& what) {
        if (bind_rc_ != SQLITE_OK) return sql_error(bind_rc_, what + ": bind", nullptr);
        const int rc = sqlite3_step(st_.get());
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        return sql_error(rc, what, db_);
    }

    bool is_null(int col) const { return sqlite3_column_type(st_.get(), col) == SQLITE_NULL; }
    std::int64_t integer(int col) const { return sqlite3_column_int64(st_.get(), col); }
    std::string text(int col) const {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_.get(), col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_.get(), col)))
                 : std::string();
    }
    Bytes blob(int col) const {
        const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(st_.get(), col));
        return p ? Bytes(p, p + sqlite3_column_bytes(st_.get(), col)) : Bytes();
    }

private:
    struct Finalize {
        void operator()(sqlite3_stmt* s) const { sqlite3_finalize(s); }
    };
    Stmt(sqlite3* db, sqlite3_stmt* st) : db_(db), st_(st) {}
    void note(int rc) {
        if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    }

    sqlite3* db_;
    std::unique_ptr<sqlite3_stmt, Finalize> st_;
    int bind_rc_ = SQLITE_OK;
};

// Prepares `sql` and binds `args` to ?1, ?2, ... in order.
template <typename... Args>
Result<Stmt> query(sqlite3* db, const std::string& what, const std::string& sql,
                   const Args&... args) {
    auto st = Stmt::prepare(db, sql, what);
    if (!st) return st.error();
    [[maybe_unused]] int i = 0;
    (st->bind(++i, args), ...);
    return st;
}

// Runs a write statement; returns the number of rows it changed.
template <typename... Args>
Result<int> run(sqlite3* db, const std::string& what, const std::string& sql,
                const Args&... args) {
    auto st = query(db, what, sql, args...);
    if (!st) return st.error();
    auto r = st->step(what);
    if (!r) return r.error();
    return sqlite3_changes(db);
}

// Runs a query returning one integer (COUNT, MAX, ...).
template <typename... Args>
Result<std::int64_t> scalar(sqlite3* db, const std::string& what, const std::string& sql,
                            const Args&... args) {
    auto st = query(db, what, sql, args...);
    if (!st) return st.error();
    auto r = st->step(what);
    if (!r) return r.error();
    if (!*r) return make_error(Code::internal, what + ": no row");
    return st->integer(0);
}

// Rolls back unless commit() succeeded, so every early return (error or
// rejection) leaves nothing half-written.
class Tx {
public:
    explicit Tx(sqlite3* db) : db_(db) {}
    Tx(const Tx&) = delete;
    Tx& operator=(const Tx&) = delete;
    ~Tx() {
        // Some errors (SQLITE_FULL, IOERR) already roll back on their own.
        if (open_ && !sqlite3_get_autocommit(db_))
            sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
    }
    Result<void> begin(const std::string& what) {
        auto r = exec(db_, "BEGIN IMMEDIATE", what + ": begin");
        open_ = r.ok();
        return r;
    }
    Result<void> commit(const std::string& what) {
        auto r = exec(db_, "COMMIT", what + ": commit");
        if (r) open_ = false;
        return r;
    }

private:
    sqlite3* db_;
    bool open_ = false;
};

Result<int> insert_audit(sqlite3* db, const AuditEvent& a, const std::string& what) {
    return run(db, what + ": insert audit",
               "INSERT INTO audit(at, actor, action, device_id, serial, peer, detail)"
               " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
               a.at, a.actor, a.action, a.device_id, a.serial_hex, a.peer, a.detail);
}

const std::string kSelectCert =
    "SELECT issuer, serial, device_id, class_id, der, not_before, not_after, issued_at,"
    " status, install_status, replaces, replaced_by, public_key_sha256, revoked_at,"
    " revocation_reason FROM certificates";

// Steps through all rows, converting each with `read` (which returns Result<T>).
template <typename T, typename Read>
Result<std::vector<T>> collect(Stmt& st, const std::string& what, Read read) {
    std::vector<T> out;
    for (;;) {
        auto row = st.step(what);
        if (!row) return row.error();
        if (!*row) return out;
        Result<T> item = read(st);
        if (!item) return item.error();
        out.push_back(std::move(*item));
    }
}

Result<CertificateRecord> read_cert(const Stmt& st) {
    CertificateRecord c;
    c.issuer = st.text(0);
    c.serial_hex = st.text(1);
    c.device_id = st.text(2);
    c.class_id = st.text(3);
    c.der = st.blob(4);
    c.not_before = st.integer(5);
    c.not_after = st.integer(6);
    c.issued_at = st.integer(7);
    // Refuse values this code never writes rather than pass on a bogus enum.
    const std::int64_t status = st.integer(8);
    if (status < 1 || status > 4)
        return make_error(Code::internal, "certificate " + c.serial_hex + ": invalid status " +
                                              std::to_string(status));
    c.status = static_cast<CertStatus>(status);
    if (!st.is_null(9)) c.install_status = static_cast<std::uint32_t>(st.integer(9));
    c.replaces = st.text(10);
    c.replaced_by = st.text(11);
    c.public_key_sha256_hex = st.text(12);
    if (!st.is_null(13)) c.revoked_at = st.integer(13);
    c.revocation_reason = static_cast<std::int32_t>(st.integer(14));
    return c;
}

Result<void> migrate(sqlite3* db) {
    const char* create = "CREATE TABLE IF NOT EXISTS schema_migrations("
                         "version INTEGER PRIMARY KEY, applied_at INTEGER)";
    if (auto r = exec(db, create, "create schema_migrations"); !r) return r;
    // An older server must not write to a schema it does not know.
    auto newest = scalar(db, "read schema version",
                         "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
    if (!newest) return newest.error();
    if (*newest > kLatestVersion)
        return make_error(Code::storage_unavailable,
                          "database schema version " + std::to_string(*newest) +
                              " is newer than this server supports (" +
                              std::to_string(kLatestVersion) + ")");

    const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                         std::chrono::system_clock::now().time_since_epoch())
                         .count();
    for (const auto& m : kMigrations) {
        const std::string what = "migration " + std::to_string(m.version);
        Tx tx(db);
        if (auto r = tx.begin(what); !r) return r;
        // Checked under the write lock: another process opening the same
        // file at the same time may have just applied it.
        auto applied = scalar(db, what, "SELECT COUNT(*) FROM schema_migrations WHERE version = ?1",
                              std::int64_t{m.version});
        if (!applied) return applied.error();
        if (*applied > 0) continue;
        if (auto r = exec(db, m.sql, what); !r) return r;
        auto rec = run(db, what, "INSERT INTO schema_migrations(version, applied_at) VALUES(?1, ?2)",
                       std::int64_t{m.version}, std::int64_t{now});
        if (!rec) return rec.error();
        if (auto r = tx.commit(what); !r) return r;
    }
    return {};
}

std::int64_t clamp_limit(std::size_t limit) {
    return static_cast<std::int64_t>(std::min<std::size_t>(limit, 10'000));
}

Result<DeviceRecord> read_device(const Stmt& st) {
    return DeviceRecord{st.text(0), st.text(1), st.integer(2), st.integer(3)};
}

// Marks `c.replaces` superseded by `c` inside the caller's transaction, which
// holds SQLite's write lock, so two renewals of one certificate cannot both
// pass. A certificate already superseded may be renewed again only if its
// successor never reached the device (still `issued`, or `install_failed`):
// that successor is then abandoned (superseded) too. docs/PROTOCOL.md,
// "Renewal".
Result<void> supersede(sqlite3* db, const CertificateRecord& c, const std::string& what) {
    const std::int64_t kIssued = static_cast<std::int64_t>(CertStatus::issued);
    const std::int64_t kInstalled = static_cast<std::int64_t>(CertStatus::installed);
    const std::int64_t kSuperseded = static_cast<std::int64_t>(CertStatus::superseded);
    const std::int64_t kFailed = static_cast<std::int64_t>(CertStatus::install_failed);
    auto st = query(db, what + ": read " + c.replaces,
                    "SELECT status, replaced_by, revoked_at IS NOT NULL FROM certificates"
                    " WHERE serial = ?1 AND device_id = ?2",
                    c.replaces, c.device_id);
    if (!st) return st.error();
    auto row = st->step(what);
    if (!row) return row.error();
    if (!*row) return make_error(Code::unknown_certificate, what + ": replaced certificate " + c.replaces + " not found");
    const std::int64_t status = st->integer(0);
    const std::string successor = st->text(1);
    if (st->integer(2) != 0) return make_error(Code::certificate_not_active, "the certificate is revoked");
    if (status == kSuperseded) {
        auto gone = run(db, what + ": abandon " + successor,
                        "UPDATE certificates SET status = ?1 WHERE serial = ?2 AND status IN (?3, ?4)"
                        " AND revoked_at IS NULL", kSuperseded,
                        successor, kIssued, kFailed);
        if (!gone) return gone.error();
        if (*gone == 0)
            return make_error(Code::certificate_not_active, "the certificate has already been renewed");
    } else if (status != kIssued && status != kInstalled) {
        return make_error(Code::certificate_not_active, "the certificate is not active");
    }
    auto upd = run(db, what + ": supersede " + c.replaces,
                   "UPDATE certificates SET status = ?1, replaced_by = ?2 WHERE serial = ?3", kSuperseded,
                   c.serial_hex, c.replaces);
    if (!upd) return upd.error();
    return {};
}

class SqliteStore final : public Store {
public:
    explicit SqliteStore(DbPtr db) : db_(std::move(db)) {}

    Result<void> record_issuance(const IssuanceRecord& rec) override {
        const std::string what = "record_issuance";
        const auto& c = rec.certificate;
        const auto& a = rec.audit;
        std::lock_guard lock(mu_);
        sqlite3* db = db_.get();
        Tx tx(db);
        if (auto r = tx.begin(what); !r) return r;

        auto dev = run(db, what + ": upsert device",
                       "INSERT INTO devices(device_id, class_id, first_seen, last_seen)"
                       " VALUES(?1, ?2, ?3, ?3) ON CONFLICT(device_id) DO UPDATE"
                       " SET class_id = excluded.class_id, last_seen = excluded.last_seen",
                       c.device_id, c.class_id, a.at);
        if (!dev) return dev.error();

        auto cert = run(db, what + ": insert certificate " + c.serial_hex,
                        "INSERT INTO certificates(issuer, serial, device_id, class_id, der,"
                        " not_before, not_after, issued_at, status, install_status, replaces,"
                        " replaced_by, public_key_sha256)"
                        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                        c.issuer, c.serial_hex, c.device_id, c.class_id, c.der, c.not_before,
                        c.not_after, c.issued_at, static_cast<std::int64_t>(c.status),
                        c.install_status, c.replaces, c.replaced_by, c.public_key_sha256_hex);
        if (!cert) return cert.error();

        if (!c.replaces.empty())
            if (auto r = supersede(db, c, what); !r) return r;

        if (auto r = insert_audit(db, a, what); !r) return r.error();
        return tx.commit(what);
    }

    Result<void> record_install(const std::string& serial_hex, std::uint32_t report,
                                const AuditEvent& audit) override {
        const std::string what = "record_install " + serial_hex;
        const auto status = report == 0 ? CertStatus::installed : CertStatus::install_failed;
        std::lock_guard lock(mu_);
        sqlite3* db = db_.get();
        Tx tx(db);
        if (auto r = tx.begin(what); !r) return r;

        auto cert = run(db, what + ": update certificate",
                        "UPDATE certificates SET status = CASE WHEN status = 3 THEN 3 ELSE ?1 END,"
                        " install_status = ?2 WHERE serial = ?3",
                        static_cast<std::int64_t>(status), std::int64_t{report}, serial_hex);
        if (!cert) return cert.error();
        if (*cert == 0) return make_error(Code::unknown_certificate, what + ": no such certificate");

        auto dev = run(db, what + ": update device",
                       "UPDATE devices SET last_seen = ?1 WHERE device_id ="
                       " (SELECT device_id FROM certificates WHERE serial = ?2)",
                       audit.at, serial_hex);
        if (!dev) return dev.error();

        if (auto r = insert_audit(db, audit, what); !r) return r.error();
        return tx.commit(what);
    }

    Result<std::optional<CertificateRecord>> find_certificate(
        const std::string& serial_hex) override {
        const std::string what = "find_certificate " + serial_hex;
        std::lock_guard lock(mu_);
        auto st = query(db_.get(), what, kSelectCert + " WHERE serial = ?1", serial_hex);
        if (!st) return st.error();
        auto rows = collect<CertificateRecord>(*st, what, read_cert);
        if (!rows) return rows.error();
        if (rows->empty()) return std::optional<CertificateRecord>();
        return std::optional<CertificateRecord>(std::move(rows->front()));
    }

    Result<std::vector<CertificateRecord>> certificates_of(const std::string& device_id) override {
        const std::string what = "certificates_of " + device_id;
        std::lock_guard lock(mu_);
        auto st = query(db_.get(), what,
                        kSelectCert + " WHERE device_id = ?1 ORDER BY issued_at, rowid", device_id);
        if (!st) return st.error();
        return collect<CertificateRecord>(*st, what, read_cert);
    }

    Result<std::vector<AuditEvent>> audit_log(std::size_t limit) override {
        const std::string what = "audit_log";
        // LIMIT takes a signed 64-bit value; larger requests just mean "all".
        const auto max = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
        const auto n = static_cast<std::int64_t>(limit < max ? limit : max);
        std::lock_guard lock(mu_);
        // id, not `at`, orders events: it is the append order, and clocks may step back.
        auto st = query(db_.get(), what,
                        "SELECT at, actor, action, device_id, serial, peer, detail FROM audit"
                        " ORDER BY id DESC LIMIT ?1",
                        n);
        if (!st) return st.error();
        return collect<AuditEvent>(*st, what, [](const Stmt& row) -> Result<AuditEvent> {
            return AuditEvent{row.integer(0), row.text(1), row.text(2), row.text(3),
                              row.text(4),    row.text(5), row.text(6)};
        });
    }

    Result<std::int64_t> count_certificates() override {
        std::lock_guard lock(mu_);
        return scalar(db_.get(), "count_certificates", "SELECT COUNT(*) FROM certificates");
    }

    Result<std::int64_t> count_devices() override {
        std::lock_guard lock(mu_);
        return scalar(db_.get(), "count_devices", "SELECT COUNT(*) FROM devices");
    }

    Result<void> revoke(const std::string& serial_hex, std::int32_t reason, std::int64_t at,
                        const AuditEvent& audit) override {
        const std::string what = "revoke " + serial_hex;
        std::lock_guard lock(mu_);
        sqlite3* db = db_.get();
        Tx tx(db);
        if (auto r = tx.begin(what); !r) return r;
        auto exists = scalar(db, what, "SELECT COUNT(*) FROM certificates WHERE serial = ?1", serial_hex);
        if (!exists) return exists.error();
        if (*exists == 0) return make_error(Code::unknown_certificate, "no certificate with serial " + serial_hex);
        auto upd = run(db, what, "UPDATE certificates SET revoked_at = ?1, revocation_reason = ?2"
                                 " WHERE serial = ?3 AND revoked_at IS NULL",
                       at, std::int64_t{reason}, serial_hex);
        if (!upd) return upd.error();
        if (*upd == 0) return make_error(Code::certificate_not_active, "certificate " + serial_hex + " is already revoked");
        if (auto r = insert_audit(db, audit, what); !r) return r.error();
        return tx.commit(what);
    }

    Result<std::vector<RevokedEntry>> revoked(const std::string& issuer, std::int64_t not_after_from) override {
        const std::string what = "revoked " + issuer;
        std::lock_guard lock(mu_);
        auto st = query(db_.get(), what,
                        "SELECT serial, revoked_at, revocation_reason FROM certificates"
                        " WHERE issuer = ?1 AND revoked_at IS NOT NULL AND not_after >= ?2 ORDER BY serial",
                        issuer, not_after_from);
        if (!st) return st.error();
        return collect<RevokedEntry>(*st, what, [](const Stmt& row) -> Result<RevokedEntry> {
            return RevokedEntry{row.text(0), row.integer(1), static_cast<std::int32_t>(row.integer(2))};
        });
    }

    Result<std::int64_t> next_crl_number(const std::string& issuer) override {
        const std::string what = "next_crl_number " + issuer;
        std::lock_guard lock(mu_);
        sqlite3* db = db_.get();
        Tx tx(db);
        if (auto r = tx.begin(what); !r) return r.error();
        auto up = run(db, what, "INSERT INTO crl_numbers(issuer, last) VALUES(?1, 1)"
                                " ON CONFLICT(issuer) DO UPDATE SET last = last + 1",
                      issuer);
        if (!up) return up.error();
        auto n = scalar(db, what, "SELECT last FROM crl_numbers WHERE issuer = ?1", issuer);
        if (!n) return n.error();
        if (auto r = tx.commit(what); !r) return r.error();
        return *n;
    }

    Result<std::vector<CertificateRecord>> list_certificates(const CertificateQuery& q) override {
        const std::string what = "list_certificates";
        std::lock_guard lock(mu_);
        // Every filter is a bound parameter; an empty one matches everything.
        const std::int64_t status = q.status ? static_cast<std::int64_t>(*q.status) : 0;
        const std::int64_t revoked = q.revoked ? (*q.revoked ? 1 : 0) : -1;
        auto st = query(db_.get(), what,
                        kSelectCert +
                            " WHERE (?1 = '' OR device_id = ?1) AND (?2 = 0 OR status = ?2)"
                            " AND (?3 = -1 OR (revoked_at IS NOT NULL) = ?3) AND serial > ?4"
                            " ORDER BY serial LIMIT ?5",
                        q.device_id, status, revoked, q.after_serial, clamp_limit(q.limit));
        if (!st) return st.error();
        return collect<CertificateRecord>(*st, what, read_cert);
    }

    Result<std::vector<DeviceRecord>> list_devices(const std::string& after, std::size_t limit) override {
        const std::string what = "list_devices";
        std::lock_guard lock(mu_);
        auto st = query(db_.get(), what,
                        "SELECT device_id, class_id, first_seen, last_seen FROM devices"
                        " WHERE device_id > ?1 ORDER BY device_id LIMIT ?2",
                        after, clamp_limit(limit));
        if (!st) return st.error();
        return collect<DeviceRecord>(*st, what, read_device);
    }

    Result<std::optional<DeviceRecord>> find_device(const std::string& device_id) override {
        const std::string what = "find_device";
        std::lock_guard lock(mu_);
        auto st = query(db_.get(), what,
                        "SELECT device_id, class_id, first_seen, last_seen FROM devices WHERE device_id = ?1",
                        device_id);
        if (!st) return st.error();
        auto rows = collect<DeviceRecord>(*st, what, read_device);
        if (!rows) return rows.error();
        if (rows->empty()) return std::optional<DeviceRecord>();
        return std::optional<DeviceRecord>(std::move(rows->front()));
    }

private:
    std::mutex mu_;
    DbPtr db_;
};

}  // namespace

Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path) {
    sqlite3* raw = nullptr;
    const int rc = sqlite3_open_v2(path.c_str(), &raw,
                                   SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE |
                                       SQLITE_OPEN_FULLMUTEX,
                                   nullptr);
    DbPtr db(raw);  // a handle is usually returned even on failure; close it
    if (rc != SQLITE_OK) return sql_error(rc, "open " + path, raw);
    sqlite3_extended_result_codes(db.get(), 1);
    sqlite3_busy_timeout(db.get(), 5000);
    // WAL lets readers run beside the writer; synchronous=FULL makes a
    // COMMIT durable before a response leaves the server (PROTOCOL.md,
    // "Durability"); foreign keys are off by default in SQLite.
    for (const char* pragma :
         {"PRAGMA journal_mode=WAL", "PRAGMA synchronous=FULL", "PRAGMA foreign_keys=ON"}) {
        if (auto r = exec(db.get(), pragma, "open " + path + ": " + pragma); !r) return r.error();
    }
    if (auto r = migrate(db.get()); !r)
        return make_error(r.error().code, "open " + path + ": " + r.error().message);
    return std::unique_ptr<Store>(std::make_unique<SqliteStore>(std::move(db)));
}

}  // namespace irp::server
