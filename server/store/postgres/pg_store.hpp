// The PostgreSQL Store (store.hpp): several
// irp-server replicas of one domain share one database.
//
// Every method behaves as in the SQLite store; the comments here say where
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
//
// Files: schema.cpp (migrations, open), certificates.cpp (issuance,
// revocation, listings), classes.cpp (device classes), lifecycle.cpp (held requests,
// pre-registered keys, surge guard, check-ins, release), accounts.cpp (rights,
// accounts, transfers).
#pragma once

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

namespace irp::server::postgres {

struct ResFree {
    void operator()(PGresult* r) const { PQclear(r); }
};
using Res = std::unique_ptr<PGresult, ResFree>;
struct ConnFree {
    void operator()(PGconn* c) const { PQfinish(c); }
};
using ConnPtr = std::unique_ptr<PGconn, ConnFree>;

inline std::string trimmed(const char* s) {
    std::string out = s ? s : "";
    while (!out.empty() && (out.back() == '\n' || out.back() == ' ')) out.pop_back();
    return out;
}

// Retryable: the database is unreachable, restarting, out of resources, or
// it aborted us to resolve a conflict. Anything else, a constraint violation
// included, means a bug upstream (as in the SQLite store).
inline Error pg_error(PGconn* c, const PGresult* r, const std::string& what) {
    const std::string state =
        r && PQresultErrorField(r, PG_DIAG_SQLSTATE) ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : "";
    std::string detail = trimmed(r ? PQresultErrorMessage(r) : nullptr);
    if (detail.empty()) detail = trimmed(PQerrorMessage(c));
    auto starts = [&](const char* p) { return state.rfind(p, 0) == 0; };
    if (PQstatus(c) != CONNECTION_OK || starts("08") || starts("53") || starts("57P") || state == "40001" ||
        state == "40P01" || state == "55P03")
        return make_error(Code::storage_unavailable, what + ": " + detail);
    if (state == "23505") return make_error(Code::internal, what + ": constraint violation (duplicate key): " + detail);
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
        if (v)
            add(std::int64_t{*v});
        else
            push(nullptr, 0, 0);
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
        if (!p) {
            bad = true;
            return {};
        }
        Bytes out(p, p + n);
        PQfreemem(p);
        return out;
    }
};

// Listings return at most 10 000 rows per call (callers page).
inline std::int64_t clamp_limit(std::size_t limit) {
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
        PQsetNoticeProcessor(
            conn_.get(), [](void*, const char*) {}, nullptr);
        return exec_script(
            "SET client_encoding = 'UTF8'; SET lock_timeout = '10s';"
            " SET client_min_messages = warning",
            "session setup");
    }

    // Runs the schema migrations (schema.cpp).
    Result<void> migrate();

    Result<void> record_issuance(const IssuanceRecord& rec) override;
    Result<void> record_install(const std::string& serial_hex, std::uint32_t report, const AuditEvent& audit) override;
    Result<std::optional<CertificateRecord>> find_certificate(const std::string& serial_hex) override;
    Result<std::vector<CertificateRecord>> certificates_of(const std::string& device_id) override;
    Result<std::vector<AuditEvent>> audit_log(std::size_t limit) override;
    Result<std::int64_t> count_certificates() override;
    Result<std::int64_t> count_devices() override;
    Result<void> revoke(const std::string& serial_hex, std::int32_t reason, std::int64_t at,
                        const AuditEvent& audit) override;
    Result<std::vector<RevokedEntry>> revoked(const std::string& issuer, std::int64_t not_after_from) override;
    Result<std::int64_t> next_crl_number(const std::string& issuer) override;
    Result<std::int64_t> revocation_epoch(const std::string& issuer) override;
    Result<std::vector<CertificateRecord>> list_certificates(const CertificateQuery& q) override;
    Result<std::vector<DeviceRecord>> list_devices(const std::string& after, std::size_t limit) override;
    Result<std::optional<DeviceRecord>> find_device(const std::string& device_id) override;

    Result<void> create_class(const ClassRecord& c, const AuditEvent& audit) override;
    Result<void> update_class(const ClassRecord& c, const AuditEvent& audit) override;
    Result<std::optional<ClassRecord>> find_class(const std::string& name) override;
    Result<std::vector<ClassRecord>> list_classes() override;

    Result<std::pair<HeldRequest, bool>> hold_request(const HeldRequest& r, std::size_t max_pending,
                                                      const AuditEvent& audit) override;
    Result<std::optional<HeldRequest>> find_held(const std::string& id) override;
    Result<std::vector<HeldRequest>> list_held(std::optional<HoldState> state, std::size_t limit) override;
    Result<HeldRequest> decide_held(const std::string& id, bool approve, const std::string& by, const std::string& note,
                                    std::int64_t at, const AuditEvent& audit) override;
    Result<std::int64_t> expire_held(std::int64_t before) override;
    Result<std::int64_t> count_held(HoldState state) override;
    Result<void> add_registrations(const std::vector<Registration>& regs, const AuditEvent& audit) override;
    Result<std::optional<Registration>> find_registration(const std::string& device_id) override;
    Result<std::vector<Registration>> list_registrations(const std::string& after, std::size_t limit) override;
    Result<void> remove_registration(const std::string& device_id, const AuditEvent& audit) override;
    Result<std::int64_t> count_new_devices(const std::string& class_id, std::int64_t since) override;
    Result<std::int64_t> surge_lifted_until(const std::string& class_id) override;
    Result<void> lift_surge(const std::string& class_id, std::int64_t until, const AuditEvent& audit) override;
    Result<void> touch_device(const std::string& device_id, std::int64_t at) override;
    Result<std::vector<std::string>> release_device(const std::string& device_id, std::int64_t at,
                                                    const AuditEvent& audit) override;
    Result<std::vector<std::string>> devices_unseen_since(std::int64_t before, std::size_t limit) override;

    Result<void> set_rights(const RightsRecord& r, const AuditEvent& audit) override;
    Result<std::string> rights_for(const std::string& device_id, const std::string& class_id) override;
    Result<std::vector<RightsRecord>> list_rights() override;
    Result<void> create_account(const Account& a, const AuditEvent& audit) override;
    Result<std::optional<Account>> find_account(const std::string& name) override;
    Result<std::vector<Account>> list_accounts() override;
    Result<void> offer_transfer(const Transfer& t, const AuditEvent& audit) override;
    Result<std::optional<Transfer>> find_transfer(const std::string& id) override;
    Result<std::vector<Transfer>> list_transfers(const std::string& account, std::optional<TransferState> state,
                                                 std::size_t limit) override;
    Result<Transfer> decide_transfer(const std::string& id, TransferState to, const std::string& policy,
                                     const std::string& by, std::int64_t at, const AuditEvent& audit) override;
    Result<std::vector<Ownership>> owners_of(const std::string& device_id) override;

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
        if (r && (PQresultStatus(r.get()) == PGRES_COMMAND_OK || PQresultStatus(r.get()) == PGRES_TUPLES_OK)) return r;
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

    // accounts.cpp, inside a transaction.
    Result<void> lock_live_device(const std::string& what, const std::string& device_id);
    Result<std::vector<std::string>> transfer_devices(const std::string& what, const std::string& id);

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
    Result<void> supersede(const CertificateRecord& c, const std::string& what);

    std::mutex mu_;
    ConnPtr conn_;
    bool replayable_ = true;  // no COMMIT sent yet in the current call
};

}  // namespace irp::server::postgres
