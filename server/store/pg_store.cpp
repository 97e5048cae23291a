// PostgreSQL implementation of the server Store (store.hpp): several
// irp-server replicas of one domain share one database.
//
// Every method behaves as in sqlite_store.cpp; the comments here say where
// PostgreSQL needs something different:
//  - SQLite's BEGIN IMMEDIATE serialises every writer. PostgreSQL runs
//    writers side by side (READ COMMITTED), so a renewal locks the row it
//    replaces (SELECT ... FOR UPDATE), and every write takes its row locks in
//    one order, the device row first and then certificates, so that two
//    replicas never deadlock each other.
//  - Threads: one connection behind a mutex, as in the SQLite store. Each
//    replica has its own connection, so replicas do work in parallel. Inside
//    one server the CA's signing is slower than these statements. If one
//    server ever needs several statements in flight, a small pool of these
//    connections is the next step.
//  - Values only ever reach SQL as bound parameters (PQexecParams).
#include <libpq-fe.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cstdint>
#include <deque>
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
namespace {

// The schema, as ordered migrations (see sqlite_store.cpp): append a row to
// change it, never edit one that has shipped. Identifiers use the "C"
// collation so that ordering and paging match SQLite's byte order, whatever
// the database's locale is.
struct Migration { int version; const char* sql; };
constexpr Migration kMigrations[] = {
    {1, R"sql(
CREATE TABLE devices(device_id TEXT COLLATE "C" PRIMARY KEY, class_id TEXT NOT NULL,
    first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL);
CREATE TABLE certificates(issuer TEXT COLLATE "C" NOT NULL, serial TEXT COLLATE "C" NOT NULL,
    device_id TEXT COLLATE "C" NOT NULL REFERENCES devices(device_id), class_id TEXT NOT NULL,
    der BYTEA NOT NULL, not_before BIGINT NOT NULL, not_after BIGINT NOT NULL,
    issued_at BIGINT NOT NULL, status INTEGER NOT NULL, install_status BIGINT,
    replaces TEXT COLLATE "C" NOT NULL DEFAULT '', replaced_by TEXT COLLATE "C" NOT NULL DEFAULT '',
    public_key_sha256 TEXT NOT NULL,
    -- insertion order, which SQLite's rowid gives for free
    seq BIGINT GENERATED ALWAYS AS IDENTITY,
    PRIMARY KEY(issuer, serial));
CREATE INDEX certificates_device ON certificates(device_id);
-- One serial per domain: lookups by serial alone must never be ambiguous, and
-- two replicas drawing the same serial cannot both commit.
CREATE UNIQUE INDEX certificates_serial ON certificates(serial);
CREATE TABLE audit(id BIGINT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, at BIGINT NOT NULL,
    actor TEXT NOT NULL, action TEXT NOT NULL, device_id TEXT NOT NULL DEFAULT '',
    serial TEXT NOT NULL DEFAULT '', peer TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT '');
-- Stops accidental edits; the table's owner can still drop the triggers.
CREATE FUNCTION audit_append_only() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN RAISE EXCEPTION 'audit log is append-only' USING ERRCODE = 'integrity_constraint_violation'; END $$;
CREATE TRIGGER audit_no_change BEFORE UPDATE OR DELETE ON audit
    FOR EACH ROW EXECUTE FUNCTION audit_append_only();
CREATE TRIGGER audit_no_truncate BEFORE TRUNCATE ON audit
    FOR EACH STATEMENT EXECUTE FUNCTION audit_append_only();
)sql"},
    {2, R"sql(
ALTER TABLE certificates ADD COLUMN revoked_at BIGINT;
ALTER TABLE certificates ADD COLUMN revocation_reason INTEGER NOT NULL DEFAULT 0;
CREATE INDEX certificates_revoked ON certificates(issuer, serial) WHERE revoked_at IS NOT NULL;
CREATE TABLE crl_numbers(issuer TEXT COLLATE "C" PRIMARY KEY, last BIGINT NOT NULL);
)sql"},
};
constexpr int kLatestVersion = kMigrations[std::size(kMigrations) - 1].version;
// Any fixed value will do; every irp-server must use the same one. Advisory
// locks are per database, so domains sharing a cluster do not contend.
constexpr const char* kMigrationLock = "4777809012187432497";

struct ResFree { void operator()(PGresult* r) const { PQclear(r); } };
using Res = std::unique_ptr<PGresult, ResFree>;
struct ConnFree { void operator()(PGconn* c) const { PQfinish(c); } };
using ConnPtr = std::unique_ptr<PGconn, ConnFree>;

std::string trimmed(const char* s) {
    std::string out = s ? s : "";
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

// Retryable: the database is unreachable, restarting, out of resources, or
// it aborted us to resolve a conflict. Anything else, a constraint violation
// included, means a bug upstream (as in the SQLite store).
Error pg_error(PGconn* c, const PGresult* r, const std::string& what) {
    const std::string state = r && PQresultErrorField(r, PG_DIAG_SQLSTATE)
                                  ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : "";
    std::string detail = trimmed(r ? PQresultErrorMessage(r) : nullptr);
    if (detail.empty()) detail = trimmed(PQerrorMessage(c));
    auto starts = [&](const char* p) { return state.rfind(p, 0) == 0; };
    if (PQstatus(c) != CONNECTION_OK || starts("08") || starts("53") || starts("57P") ||
        state == "40001" || state == "40P01" || state == "55P03")
        return make_error(Code::storage_unavailable, what + ": " + detail);
    if (state == "23505")
        return make_error(Code::internal, what + ": constraint violation (duplicate key): " + detail);
    if (starts("23")) return make_error(Code::internal, what + ": constraint violation: " + detail);
    return make_error(Code::internal, what + ": " + detail);
}

// Parameters in libpq's arrays: integers as text, bytea in binary format.
class Params {
public:
    void add(const std::string& v) { push(v.c_str(), 0, 0); }
    void add(std::int64_t v) {
        text_.push_back(std::to_string(v));  // a deque: earlier pointers stay valid
        push(text_.back().c_str(), 0, 0);
    }
    void add(const Bytes& v) {
        // A null pointer would mean SQL NULL, not an empty value.
        push(v.empty() ? "" : reinterpret_cast<const char*>(v.data()), static_cast<int>(v.size()), 1);
    }
    void add(const std::optional<std::uint32_t>& v) {
        if (v) add(std::int64_t{*v}); else push(nullptr, 0, 0);
    }
    int size() const { return static_cast<int>(values_.size()); }
    const char* const* values() const { return values_.data(); }
    const int* lengths() const { return lengths_.data(); }
    const int* formats() const { return formats_.data(); }

private:
    void push(const char* p, int len, int format) {
        values_.push_back(p);
        lengths_.push_back(len);
        formats_.push_back(format);
    }
    std::deque<std::string> text_;
    std::vector<const char*> values_;
    std::vector<int> lengths_, formats_;
};

// One row of a text-format result. A value that does not parse sets `bad`.
struct Row {
    const PGresult* r;
    int i;
    mutable bool bad = false;
    bool null(int c) const { return PQgetisnull(r, i, c) != 0; }
    std::string text(int c) const { return std::string(PQgetvalue(r, i, c), PQgetlength(r, i, c)); }
    std::int64_t integer(int c) const {
        const char* p = PQgetvalue(r, i, c);
        std::int64_t v = 0;
        const auto [end, ec] = std::from_chars(p, p + PQgetlength(r, i, c), v);
        if (ec != std::errc() || end != p + PQgetlength(r, i, c)) bad = true;
        return v;
    }
    Bytes blob(int c) const {
        std::size_t n = 0;
        unsigned char* p = PQunescapeBytea(reinterpret_cast<const unsigned char*>(PQgetvalue(r, i, c)), &n);
        if (!p) { bad = true; return {}; }
        Bytes out(p, p + n);
        PQfreemem(p);
        return out;
    }
};

const std::string kSelectCert =
    "SELECT issuer, serial, device_id, class_id, der, not_before, not_after, issued_at,"
    " status, install_status, replaces, replaced_by, public_key_sha256, revoked_at,"
    " revocation_reason FROM certificates";

CertificateRecord read_cert(const Row& row) {
    CertificateRecord c;
    c.issuer = row.text(0);
    c.serial_hex = row.text(1);
    c.device_id = row.text(2);
    c.class_id = row.text(3);
    c.der = row.blob(4);
    c.not_before = row.integer(5);
    c.not_after = row.integer(6);
    c.issued_at = row.integer(7);
    const std::int64_t status = row.integer(8);
    if (status < 1 || status > 4) row.bad = true;  // never pass on a bogus enum
    c.status = static_cast<CertStatus>(status);
    if (!row.null(9)) c.install_status = static_cast<std::uint32_t>(row.integer(9));
    c.replaces = row.text(10);
    c.replaced_by = row.text(11);
    c.public_key_sha256_hex = row.text(12);
    if (!row.null(13)) c.revoked_at = row.integer(13);
    c.revocation_reason = static_cast<std::int32_t>(row.integer(14));
    return c;
}

DeviceRecord read_device(const Row& row) {
    return DeviceRecord{row.text(0), row.text(1), row.integer(2), row.integer(3)};
}

std::int64_t clamp_limit(std::size_t limit) {
    return static_cast<std::int64_t>(std::min<std::size_t>(limit, 10'000));
}

class PgStore final : public Store {
public:
    explicit PgStore(ConnPtr conn) : conn_(std::move(conn)) {}

    // Session settings, after every (re)connect: PQreset forgets SETs. A lock
    // held by a stuck replica must end in a retryable error, not a hang.
    // Notices ("already exists, skipping") are not errors: a library must
    // not print them on the server's stderr.
    Result<void> setup() {
        PQsetNoticeProcessor(conn_.get(), [](void*, const char*) {}, nullptr);
        return exec_script("SET client_encoding = 'UTF8'; SET lock_timeout = '10s';"
                           " SET client_min_messages = warning", "session setup");
    }

    Result<void> migrate() {
        const auto now = std::chrono::duration_cast<std::chrono::seconds>(
                             std::chrono::system_clock::now().time_since_epoch()).count();
        for (const auto& m : kMigrations) {
            const std::string name = "migration " + std::to_string(m.version);
            auto r = in_tx<void>(name, [&](const std::string& what) -> Result<void> {
                // Serialises servers starting at once; even CREATE TABLE IF NOT
                // EXISTS races without it. Released at COMMIT or ROLLBACK.
                if (auto r = query(what, "SELECT pg_advisory_xact_lock($1::bigint)", std::string(kMigrationLock)); !r)
                    return r.error();
                if (auto r = exec_script("CREATE TABLE IF NOT EXISTS schema_migrations("
                                         "version INTEGER PRIMARY KEY, applied_at BIGINT)", what); !r)
                    return r;
                auto newest = scalar(what, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
                if (!newest) return newest.error();
                if (*newest > kLatestVersion)  // an older server must not write to a newer schema
                    return make_error(Code::storage_unavailable, "database schema version " + std::to_string(*newest) +
                                      " is newer than this server supports (" + std::to_string(kLatestVersion) + ")");
                auto applied = scalar(what, "SELECT COUNT(*) FROM schema_migrations WHERE version = $1",
                                      std::int64_t{m.version});
                if (!applied || *applied > 0) return applied ? Result<void>() : applied.error();
                if (auto r = exec_script(m.sql, what); !r) return r;
                auto rec = run(what, "INSERT INTO schema_migrations(version, applied_at) VALUES($1, $2)",
                               std::int64_t{m.version}, std::int64_t{now});
                return rec ? Result<void>() : rec.error();
            });
            if (!r) return r;
        }
        return {};
    }

    Result<void> record_issuance(const IssuanceRecord& rec) override {
        const auto& c = rec.certificate;
        const auto& a = rec.audit;
        return write<void>("record_issuance", [&](const std::string& what) -> Result<void> {
            // Locks the device row first, like every write (see the top).
            auto dev = run(what + ": upsert device",
                           "INSERT INTO devices(device_id, class_id, first_seen, last_seen) VALUES($1, $2, $3, $3)"
                           " ON CONFLICT(device_id) DO UPDATE"
                           " SET class_id = excluded.class_id, last_seen = excluded.last_seen",
                           c.device_id, c.class_id, a.at);
            if (!dev) return dev.error();
            auto cert = run(what + ": insert certificate " + c.serial_hex,
                            "INSERT INTO certificates(issuer, serial, device_id, class_id, der, not_before,"
                            " not_after, issued_at, status, install_status, replaces, replaced_by, public_key_sha256)"
                            " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                            c.issuer, c.serial_hex, c.device_id, c.class_id, c.der, c.not_before,
                            c.not_after, c.issued_at, static_cast<std::int64_t>(c.status),
                            c.install_status, c.replaces, c.replaced_by, c.public_key_sha256_hex);
            if (!cert) return cert.error();
            if (!c.replaces.empty())
                if (auto r = supersede(c, what); !r) return r;
            return insert_audit(a, what);
        });
    }

    Result<void> record_install(const std::string& serial_hex, std::uint32_t report,
                                const AuditEvent& audit) override {
        const auto status = static_cast<std::int64_t>(report == 0 ? CertStatus::installed : CertStatus::install_failed);
        return write<void>("record_install " + serial_hex, [&](const std::string& what) -> Result<void> {
            // Device first, then the certificate: the lock order of record_issuance.
            auto dev = run(what + ": update device",
                           "UPDATE devices SET last_seen = $1 WHERE device_id ="
                           " (SELECT device_id FROM certificates WHERE serial = $2)",
                           audit.at, serial_hex);
            if (!dev) return dev.error();
            auto cert = run(what + ": update certificate",
                            "UPDATE certificates SET status = CASE WHEN status = 3 THEN 3 ELSE $1 END, install_status = $2"
                            " WHERE serial = $3",
                            status, std::int64_t{report}, serial_hex);
            if (!cert) return cert.error();
            if (*cert == 0) return make_error(Code::unknown_certificate, what + ": no such certificate");
            return insert_audit(audit, what);
        });
    }

    Result<std::optional<CertificateRecord>> find_certificate(const std::string& serial_hex) override {
        return call<std::optional<CertificateRecord>>("find_certificate " + serial_hex, [&](const std::string& what) {
            return one(collect(what, read_cert, kSelectCert + " WHERE serial = $1", serial_hex));
        });
    }

    Result<std::vector<CertificateRecord>> certificates_of(const std::string& device_id) override {
        return call<std::vector<CertificateRecord>>("certificates_of " + device_id, [&](const std::string& what) {
            return collect(what, read_cert, kSelectCert + " WHERE device_id = $1 ORDER BY issued_at, seq", device_id);
        });
    }

    Result<std::vector<AuditEvent>> audit_log(std::size_t limit) override {
        const auto max = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
        const auto n = static_cast<std::int64_t>(std::min(limit, max));
        return call<std::vector<AuditEvent>>("audit_log", [&](const std::string& what) {
            // id is the append order; clocks may step back.
            return collect(what, [](const Row& r) {
                return AuditEvent{r.integer(0), r.text(1), r.text(2), r.text(3), r.text(4), r.text(5), r.text(6)};
            }, "SELECT at, actor, action, device_id, serial, peer, detail FROM audit ORDER BY id DESC LIMIT $1", n);
        });
    }

    Result<std::int64_t> count_certificates() override {
        return call<std::int64_t>("count_certificates", [&](const std::string& what) {
            return scalar(what, "SELECT COUNT(*) FROM certificates");
        });
    }

    Result<std::int64_t> count_devices() override {
        return call<std::int64_t>("count_devices", [&](const std::string& what) {
            return scalar(what, "SELECT COUNT(*) FROM devices");
        });
    }

    Result<void> revoke(const std::string& serial_hex, std::int32_t reason, std::int64_t at,
                        const AuditEvent& audit) override {
        return write<void>("revoke " + serial_hex, [&](const std::string& what) -> Result<void> {
            auto exists = scalar(what, "SELECT COUNT(*) FROM certificates WHERE serial = $1", serial_hex);
            if (!exists) return exists.error();
            if (*exists == 0) return make_error(Code::unknown_certificate, "no certificate with serial " + serial_hex);
            // The row lock makes a concurrent revoke wait, re-read the row and
            // find it revoked: exactly one of them succeeds.
            auto upd = run(what, "UPDATE certificates SET revoked_at = $1, revocation_reason = $2"
                                 " WHERE serial = $3 AND revoked_at IS NULL",
                           at, std::int64_t{reason}, serial_hex);
            if (!upd) return upd.error();
            if (*upd == 0)
                return make_error(Code::certificate_not_active, "certificate " + serial_hex + " is already revoked");
            return insert_audit(audit, what);
        });
    }

    Result<std::vector<RevokedEntry>> revoked(const std::string& issuer, std::int64_t not_after_from) override {
        return call<std::vector<RevokedEntry>>("revoked " + issuer, [&](const std::string& what) {
            return collect(what, [](const Row& r) {
                return RevokedEntry{r.text(0), r.integer(1), static_cast<std::int32_t>(r.integer(2))};
            }, "SELECT serial, revoked_at, revocation_reason FROM certificates"
               " WHERE issuer = $1 AND revoked_at IS NOT NULL AND not_after >= $2 ORDER BY serial",
               issuer, not_after_from);
        });
    }

    Result<std::int64_t> next_crl_number(const std::string& issuer) override {
        // One atomic statement; the explicit transaction only marks the
        // COMMIT, after which a lost connection must not replay the call.
        return write<std::int64_t>("next_crl_number " + issuer, [&](const std::string& what) {
            return scalar(what, "INSERT INTO crl_numbers(issuer, last) VALUES($1, 1) ON CONFLICT(issuer)"
                                " DO UPDATE SET last = crl_numbers.last + 1 RETURNING last", issuer);
        });
    }

    Result<std::vector<CertificateRecord>> list_certificates(const CertificateQuery& q) override {
        const std::int64_t status = q.status ? static_cast<std::int64_t>(*q.status) : 0;
        const std::int64_t revoked = q.revoked ? (*q.revoked ? 1 : 0) : -1;
        return call<std::vector<CertificateRecord>>("list_certificates", [&](const std::string& what) {
            return collect(what, read_cert, kSelectCert +
                " WHERE ($1::text = '' OR device_id = $1::text) AND ($2::int = 0 OR status = $2::int)"
                " AND ($3::int = -1 OR (revoked_at IS NOT NULL) = ($3::int = 1)) AND serial > $4::text"
                " ORDER BY serial LIMIT $5::bigint",
                q.device_id, status, revoked, q.after_serial, clamp_limit(q.limit));
        });
    }

    Result<std::vector<DeviceRecord>> list_devices(const std::string& after, std::size_t limit) override {
        return call<std::vector<DeviceRecord>>("list_devices", [&](const std::string& what) {
            return collect(what, read_device, "SELECT device_id, class_id, first_seen, last_seen FROM devices"
                                              " WHERE device_id > $1 ORDER BY device_id LIMIT $2::bigint",
                           after, clamp_limit(limit));
        });
    }

    Result<std::optional<DeviceRecord>> find_device(const std::string& device_id) override {
        return call<std::optional<DeviceRecord>>("find_device", [&](const std::string& what) {
            return one(collect(what, read_device, "SELECT device_id, class_id, first_seen, last_seen FROM devices"
                                                  " WHERE device_id = $1", device_id));
        });
    }

private:
    // Runs one call under the mutex. A broken connection is re-established
    // once at the start of the next call, so the server recovers by itself
    // when the database comes back. If the connection looked fine but died
    // under this call (a restart or failover closes idle connections) before
    // any COMMIT was sent, the server already rolled back, so the call is
    // run once more on a new connection. At most one reconnect per call.
    template <typename T, typename Op>
    Result<T> call(const std::string& what, Op op) {
        std::lock_guard lock(mu_);
        bool reconnected = false;
        if (PQstatus(conn_.get()) != CONNECTION_OK) {
            if (auto r = reconnect(what); !r) return r.error();
            reconnected = true;
        }
        rollback();  // only if an earlier call was cut short (bad_alloc)
        replayable_ = true;
        Result<T> r = op(what);
        if (r.ok() || reconnected || !replayable_ || PQstatus(conn_.get()) == CONNECTION_OK) return r;
        if (auto c = reconnect(what); !c) return c.error();
        replayable_ = true;
        return op(what);
    }

    // One call whose `body` runs in one transaction, committed only if it succeeded.
    template <typename T, typename Body>
    Result<T> write(const std::string& what, Body body) {
        return call<T>(what, [&](const std::string& w) { return in_tx<T>(w, body); });
    }

    // BEGIN, `body`, COMMIT; on any failure ROLLBACK, so that a failed call
    // leaves nothing half-written.
    template <typename T, typename Body>
    Result<T> in_tx(const std::string& what, Body body) {
        if (auto r = exec_script("BEGIN", what + ": begin"); !r) return r.error();
        Result<T> out = body(what);
        if (out) {
            replayable_ = false;  // from COMMIT on, the outcome may be unknown
            auto r = exec_script("COMMIT", what + ": commit");
            if (r) return out;
            out = r.error();
        }
        rollback();
        return out;
    }

    // A dead connection has no transaction left to roll back.
    void rollback() {
        const auto state = PQtransactionStatus(conn_.get());
        if (state != PQTRANS_IDLE && state != PQTRANS_UNKNOWN) Res(PQexec(conn_.get(), "ROLLBACK"));
    }

    Result<void> reconnect(const std::string& what) {
        PQreset(conn_.get());
        if (PQstatus(conn_.get()) != CONNECTION_OK)
            return make_error(Code::storage_unavailable, what + ": reconnect: " + trimmed(PQerrorMessage(conn_.get())));
        return setup();
    }

    // Constant SQL without parameters (may hold several statements).
    Result<void> exec_script(const char* sql, const std::string& what) {
        Res r(PQexec(conn_.get(), sql));
        if (r && PQresultStatus(r.get()) == PGRES_COMMAND_OK) return {};
        if (r && PQresultStatus(r.get()) == PGRES_TUPLES_OK) return {};
        return pg_error(conn_.get(), r.get(), what);
    }

    template <typename... Args>
    Result<Res> query(const std::string& what, const std::string& sql, const Args&... args) {
        Params p;
        (p.add(args), ...);
        Res r(PQexecParams(conn_.get(), sql.c_str(), p.size(), nullptr, p.values(), p.lengths(), p.formats(), 0));
        if (r && (PQresultStatus(r.get()) == PGRES_COMMAND_OK || PQresultStatus(r.get()) == PGRES_TUPLES_OK))
            return r;
        return pg_error(conn_.get(), r.get(), what);
    }

    // A write; returns the number of rows it changed.
    template <typename... Args>
    Result<std::int64_t> run(const std::string& what, const std::string& sql, const Args&... args) {
        auto r = query(what, sql, args...);
        if (!r) return r.error();
        const char* n = PQcmdTuples(r->get());
        std::int64_t v = 0;
        std::from_chars(n, n + std::char_traits<char>::length(n), v);
        return v;
    }

    // A query returning one integer (COUNT, MAX, RETURNING ...).
    template <typename... Args>
    Result<std::int64_t> scalar(const std::string& what, const std::string& sql, const Args&... args) {
        auto r = query(what, sql, args...);
        if (!r) return r.error();
        if (PQntuples(r->get()) < 1) return make_error(Code::internal, what + ": no row");
        Row row{r->get(), 0};
        const std::int64_t v = row.integer(0);
        if (row.bad) return make_error(Code::internal, what + ": not an integer");
        return v;
    }

    // Every row of a query, converted by `read`.
    template <typename Read, typename... Args>
    auto collect(const std::string& what, Read read, const std::string& sql, const Args&... args)
        -> Result<std::vector<decltype(read(std::declval<const Row&>()))>> {
        using T = decltype(read(std::declval<const Row&>()));
        auto r = query(what, sql, args...);
        if (!r) return r.error();
        std::vector<T> out;
        for (int i = 0; i < PQntuples(r->get()); ++i) {
            Row row{r->get(), i};
            out.push_back(read(row));
            if (row.bad) return make_error(Code::internal, what + ": invalid value in row " + std::to_string(i));
        }
        return out;
    }

    template <typename T>
    static Result<std::optional<T>> one(Result<std::vector<T>> rows) {
        if (!rows) return rows.error();
        if (rows->empty()) return std::optional<T>();
        return std::optional<T>(std::move(rows->front()));
    }

    Result<void> insert_audit(const AuditEvent& a, const std::string& what) {
        auto r = run(what + ": insert audit",
                     "INSERT INTO audit(at, actor, action, device_id, serial, peer, detail)"
                     " VALUES($1, $2, $3, $4, $5, $6, $7)",
                     a.at, a.actor, a.action, a.device_id, a.serial_hex, a.peer, a.detail);
        if (!r) return r.error();
        return {};
    }

    // The rule of sqlite_store.cpp's supersede(). SQLite holds the database
    // write lock here; PostgreSQL locks the replaced row, so a concurrent
    // renewal of it waits, then sees this one's outcome and applies the same
    // rule to it: never two live successors. (The device row, locked first,
    // already serialises one device's writes; this lock keeps the rule from
    // depending on that.)
    Result<void> supersede(const CertificateRecord& c, const std::string& what) {
        const std::int64_t kIssued = static_cast<std::int64_t>(CertStatus::issued);
        const std::int64_t kInstalled = static_cast<std::int64_t>(CertStatus::installed);
        const std::int64_t kSuperseded = static_cast<std::int64_t>(CertStatus::superseded);
        const std::int64_t kFailed = static_cast<std::int64_t>(CertStatus::install_failed);
        auto r = query(what + ": read " + c.replaces,
                       "SELECT status, replaced_by, revoked_at IS NOT NULL FROM certificates"
                       " WHERE serial = $1 AND device_id = $2 FOR UPDATE",
                       c.replaces, c.device_id);
        if (!r) return r.error();
        if (PQntuples(r->get()) == 0)
            return make_error(Code::unknown_certificate, what + ": replaced certificate " + c.replaces + " not found");
        Row row{r->get(), 0};
        const std::int64_t status = row.integer(0);
        const std::string successor = row.text(1);
        if (row.text(2) == "t") return make_error(Code::certificate_not_active, "the certificate is revoked");
        if (row.bad) return make_error(Code::internal, what + ": invalid status");
        if (status == kSuperseded) {
            auto gone = run(what + ": abandon " + successor,
                            "UPDATE certificates SET status = $1 WHERE serial = $2 AND status IN ($3, $4)"
                            " AND revoked_at IS NULL",
                            kSuperseded, successor, kIssued, kFailed);
            if (!gone) return gone.error();
            if (*gone == 0) return make_error(Code::certificate_not_active, "the certificate has already been renewed");
        } else if (status != kIssued && status != kInstalled) {
            return make_error(Code::certificate_not_active, "the certificate is not active");
        }
        auto upd = run(what + ": supersede " + c.replaces,
                       "UPDATE certificates SET status = $1, replaced_by = $2 WHERE serial = $3",
                       kSuperseded, c.serial_hex, c.replaces);
        if (!upd) return upd.error();
        return {};
    }

    std::mutex mu_;
    ConnPtr conn_;
    bool replayable_ = true;  // no COMMIT sent yet in the current call
};

}  // namespace

Result<std::unique_ptr<Store>> open_postgres_store(const std::string& conninfo) {
    // Never echo the conninfo: it may hold a password.
    char* perr = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &perr);
    if (!parsed) {
        const std::string msg = perr ? trimmed(perr) : "out of memory";
        PQfreemem(perr);
        return make_error(Code::config_invalid, "postgres connection string: " + msg);
    }
    PQconninfoFree(parsed);
    // Defaults come first: the caller's conninfo, expanded from `dbname`,
    // overrides them. Without a connect_timeout libpq may wait forever.
    const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {"10", "irp-server", conninfo.c_str(), nullptr};
    ConnPtr conn(PQconnectdbParams(keys, values, 1));
    if (!conn) return make_error(Code::storage_unavailable, "open postgres: out of memory");
    if (PQstatus(conn.get()) != CONNECTION_OK)
        return make_error(Code::storage_unavailable, "open postgres: " + trimmed(PQerrorMessage(conn.get())));
    if (PQserverVersion(conn.get()) < 110000)  // EXECUTE FUNCTION in the triggers
        return make_error(Code::config_invalid, "open postgres: PostgreSQL 11 or newer is required");
    auto store = std::make_unique<PgStore>(std::move(conn));
    if (auto r = store->setup(); !r) return make_error(r.error().code, "open postgres: " + r.error().message);
    if (auto r = store->migrate(); !r) return make_error(r.error().code, "open postgres: " + r.error().message);
    return std::unique_ptr<Store>(std::move(store));
}

}  // namespace irp::server
