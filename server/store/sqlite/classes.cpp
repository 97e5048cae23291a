// SQLite Store: device classes managed through the admin API.
#include "store/sqlite/sqlite_store.hpp"

namespace irp::server::sqlite {

namespace {

const std::string kSelectClass =
    "SELECT name, secret, previous_secret, previous_until, enabled, created_at, updated_at, methods, idevid_roots,"
    " version FROM device_classes";

Result<ClassRecord> read_class(const Stmt& st) {
    return ClassRecord{st.text(0),    st.blob(1),    st.blob(2),
                       st.integer(3), st.integer(4) != 0, st.integer(5),
                       st.integer(6), static_cast<unsigned>(st.integer(7)), st.text(8),
                       st.integer(9)};
}

}  // namespace

Result<void> SqliteStore::create_class(const ClassRecord& c, const AuditEvent& audit) {
    const std::string what = "create_class " + c.name;
    std::lock_guard lock(mu_);
    Tx tx(conn_);
    if (auto r = tx.begin(what); !r) return r;
    auto taken = scalar(conn_, what, "SELECT COUNT(*) FROM device_classes WHERE name = ?1", c.name);
    if (!taken) return taken.error();
    if (*taken > 0) return make_error(Code::already_exists, "class '" + c.name + "' exists already");
    auto ins = run(conn_, what,
                   "INSERT INTO device_classes(name, secret, previous_secret, previous_until, enabled, created_at,"
                   " updated_at, methods, idevid_roots) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)",
                   c.name, c.secret, c.previous_secret, c.previous_until, std::int64_t{c.enabled ? 1 : 0}, c.created_at,
                   c.updated_at, std::int64_t{c.methods}, c.idevid_roots);
    if (!ins) return ins.error();
    if (auto r = insert_audit(conn_, audit, what); !r) return r.error();
    return tx.commit(what);
}

Result<void> SqliteStore::update_class(const ClassRecord& c, const AuditEvent& audit) {
    const std::string what = "update_class " + c.name;
    std::lock_guard lock(mu_);
    Tx tx(conn_);
    if (auto r = tx.begin(what); !r) return r;
    auto upd =
        run(conn_, what,
            "UPDATE device_classes SET secret = ?2, previous_secret = ?3, previous_until = ?4, enabled = ?5,"
            " updated_at = ?6, methods = ?7, idevid_roots = ?8, version = version + 1"
            " WHERE name = ?1 AND version = ?9",
            c.name, c.secret, c.previous_secret, c.previous_until, std::int64_t{c.enabled ? 1 : 0}, c.updated_at,
            std::int64_t{c.methods}, c.idevid_roots, c.version);
    if (!upd) return upd.error();
    if (*upd == 0) {
        auto exists = scalar(conn_, what, "SELECT COUNT(*) FROM device_classes WHERE name = ?1", c.name);
        if (!exists) return exists.error();
        if (*exists == 0) return make_error(Code::not_found, "no class '" + c.name + "'");
        return make_error(Code::conflict, "class '" + c.name + "' was changed by someone else meanwhile");
    }
    if (auto r = insert_audit(conn_, audit, what); !r) return r.error();
    return tx.commit(what);
}

Result<std::optional<ClassRecord>> SqliteStore::find_class(const std::string& name) {
    const std::string what = "find_class " + name;
    std::lock_guard lock(mu_);
    auto st = query(conn_, what, kSelectClass + " WHERE name = ?1", name);
    if (!st) return st.error();
    return one(collect<ClassRecord>(*st, what, read_class));
}

Result<std::vector<ClassRecord>> SqliteStore::list_classes() {
    const std::string what = "list_classes";
    std::lock_guard lock(mu_);
    auto st = query(conn_, what, kSelectClass + " ORDER BY name");
    if (!st) return st.error();
    return collect<ClassRecord>(*st, what, read_class);
}

}  // namespace irp::server::sqlite
