// SQLite plumbing shared by the store's files: errors mapped to our codes,
// prepared statements with bound parameters, and a transaction guard.
#pragma once

#include <sqlite3.h>

#include <algorithm>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <utility>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"

namespace irp::server::sqlite {

// Conditions that pass or that an operator can fix (lock contention, a full
// disk, I/O trouble, an unreachable file) are retryable; anything else, a
// constraint violation included, means a bug upstream.
inline Error sql_error(int rc, const std::string& what, sqlite3* db) {
    const std::string detail = db ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    switch (rc & 0xff) {
        case SQLITE_BUSY:
        case SQLITE_LOCKED:
        case SQLITE_FULL:
        case SQLITE_IOERR:
        case SQLITE_CANTOPEN: return make_error(Code::storage_unavailable, what + ": " + detail);
        case SQLITE_CONSTRAINT: return make_error(Code::internal, what + ": constraint violation: " + detail);
        default: return make_error(Code::internal, what + ": " + detail);
    }
}

struct DbClose {
    void operator()(sqlite3* db) const { sqlite3_close_v2(db); }
};
using DbPtr = std::unique_ptr<sqlite3, DbClose>;

inline Result<void> exec(sqlite3* db, const char* sql, const std::string& what) {
    const int rc = sqlite3_exec(db, sql, nullptr, nullptr, nullptr);
    if (rc != SQLITE_OK) return sql_error(rc, what, db);
    return {};
}

// The store's one connection and its prepared statements. Every SQL text in
// the store is a constant, so the cache is bounded by the code; preparing
// once per connection instead of once per call saves a parse and a plan per
// statement (bench/README.md). Not thread-safe: the store's mutex guards it.
class Conn {
public:
    explicit Conn(DbPtr db) : db_(std::move(db)) {}
    Conn(const Conn&) = delete;
    Conn& operator=(const Conn&) = delete;
    ~Conn() {
        for (auto& [sql, st] : cache_) sqlite3_finalize(st);
    }
    sqlite3* get() const { return db_.get(); }

    Result<sqlite3_stmt*> prepare(const std::string& sql, const std::string& what) {
        if (auto it = cache_.find(sql); it != cache_.end()) return it->second;
        sqlite3_stmt* raw = nullptr;
        const int rc = sqlite3_prepare_v3(db_.get(), sql.c_str(), -1, SQLITE_PREPARE_PERSISTENT, &raw, nullptr);
        if (rc != SQLITE_OK) {
            sqlite3_finalize(raw);
            return sql_error(rc, what + ": prepare", db_.get());
        }
        cache_.emplace(sql, raw);
        return raw;
    }

private:
    DbPtr db_;
    std::unordered_map<std::string, sqlite3_stmt*> cache_;
};

// A cached statement in use: bound, stepped, and reset (bindings cleared)
// when it goes out of scope. Bind errors are remembered and reported by
// step(), so call sites can bind without checking each call.
class Stmt {
public:
    Stmt(sqlite3* db, sqlite3_stmt* st) : db_(db), st_(st) {}
    Stmt(Stmt&& o) noexcept : db_(o.db_), st_(std::exchange(o.st_, nullptr)), bind_rc_(o.bind_rc_) {}
    Stmt& operator=(Stmt&&) = delete;
    ~Stmt() {
        if (!st_) return;
        sqlite3_reset(st_);
        sqlite3_clear_bindings(st_);
    }

    void bind(int i, std::int64_t v) { note(sqlite3_bind_int64(st_, i, v)); }
    void bind(int i, const std::string& v) {
        note(sqlite3_bind_text(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    }
    void bind(int i, const Bytes& v) {
        // A null data pointer would bind SQL NULL, not an empty blob.
        note(v.empty() ? sqlite3_bind_zeroblob(st_, i, 0)
                       : sqlite3_bind_blob(st_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT));
    }
    void bind(int i, const std::optional<std::uint32_t>& v) {
        note(v ? sqlite3_bind_int64(st_, i, *v) : sqlite3_bind_null(st_, i));
    }

    // true: a row is available; false: done.
    Result<bool> step(const std::string& what) {
        if (bind_rc_ != SQLITE_OK) return sql_error(bind_rc_, what + ": bind", nullptr);
        const int rc = sqlite3_step(st_);
        if (rc == SQLITE_ROW) return true;
        if (rc == SQLITE_DONE) return false;
        return sql_error(rc, what, db_);
    }

    bool is_null(int col) const { return sqlite3_column_type(st_, col) == SQLITE_NULL; }
    std::int64_t integer(int col) const { return sqlite3_column_int64(st_, col); }
    std::string text(int col) const {
        const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(st_, col));
        return p ? std::string(p, static_cast<std::size_t>(sqlite3_column_bytes(st_, col))) : std::string();
    }
    Bytes blob(int col) const {
        const auto* p = static_cast<const std::uint8_t*>(sqlite3_column_blob(st_, col));
        return p ? Bytes(p, p + sqlite3_column_bytes(st_, col)) : Bytes();
    }

private:
    void note(int rc) {
        if (bind_rc_ == SQLITE_OK) bind_rc_ = rc;
    }

    sqlite3* db_;
    sqlite3_stmt* st_;
    int bind_rc_ = SQLITE_OK;
};

// The cached statement for `sql` with `args` bound to ?1, ?2, ... in order.
template <typename... Args>
Result<Stmt> query(Conn& db, const std::string& what, const std::string& sql, const Args&... args) {
    auto raw = db.prepare(sql, what);
    if (!raw) return raw.error();
    Stmt st(db.get(), *raw);
    [[maybe_unused]] int i = 0;
    (st.bind(++i, args), ...);
    return st;
}

// Runs a write statement; returns the number of rows it changed.
template <typename... Args>
Result<int> run(Conn& db, const std::string& what, const std::string& sql, const Args&... args) {
    auto st = query(db, what, sql, args...);
    if (!st) return st.error();
    auto r = st->step(what);
    if (!r) return r.error();
    return sqlite3_changes(db.get());
}

// Runs a query returning one integer (COUNT, MAX, ...).
template <typename... Args>
Result<std::int64_t> scalar(Conn& db, const std::string& what, const std::string& sql, const Args&... args) {
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
    explicit Tx(Conn& db) : db_(db.get()) {}
    Tx(const Tx&) = delete;
    Tx& operator=(const Tx&) = delete;
    ~Tx() {
        // Some errors (SQLITE_FULL, IOERR) already roll back on their own.
        if (open_ && !sqlite3_get_autocommit(db_)) sqlite3_exec(db_, "ROLLBACK", nullptr, nullptr, nullptr);
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

// The first row of a query result, if any.
template <typename T>
Result<std::optional<T>> one(Result<std::vector<T>> rows) {
    if (!rows) return rows.error();
    if (rows->empty()) return std::optional<T>();
    return std::optional<T>(std::move(rows->front()));
}

inline std::int64_t clamp_limit(std::size_t limit) {
    return static_cast<std::int64_t>(std::min<std::size_t>(limit, 10'000));
}

}  // namespace irp::server::sqlite
