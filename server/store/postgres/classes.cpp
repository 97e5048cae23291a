// PostgreSQL Store: device classes managed through the admin API.
#include "store/postgres/pg_store.hpp"

namespace irp::server::postgres {

namespace {

const std::string kSelectClass =
    "SELECT name, secret, previous_secret, previous_until, enabled, created_at, updated_at, methods, idevid_roots,"
    " version FROM device_classes";

ClassRecord read_class(const Row& row) {
    return ClassRecord{row.text(0),    row.blob(1),        row.blob(2),
                       row.integer(3), row.text(4) == "t", row.integer(5),
                       row.integer(6), static_cast<unsigned>(row.integer(7)), row.text(8),
                       row.integer(9)};
}

}  // namespace

Result<void> PgStore::create_class(const ClassRecord& c, const AuditEvent& audit) {
    return write<void>("create_class " + c.name, [&](const std::string& what) -> Result<void> {
        // ON CONFLICT: two replicas creating the same name at once both see
        // a clean answer (one inserts, the other gets already_exists).
        auto ins = run(what,
                       "INSERT INTO device_classes(name, secret, previous_secret, previous_until, enabled, created_at,"
                       " updated_at, methods, idevid_roots) VALUES($1, $2, $3, $4, $5::bigint <> 0, $6, $7, $8, $9)"
                       " ON CONFLICT(name) DO NOTHING",
                       c.name, c.secret, c.previous_secret, c.previous_until, std::int64_t{c.enabled ? 1 : 0},
                       c.created_at, c.updated_at, std::int64_t{c.methods}, c.idevid_roots);
        if (!ins) return ins.error();
        if (*ins == 0) return make_error(Code::already_exists, "class '" + c.name + "' exists already");
        return insert_audit(audit, what);
    });
}

Result<void> PgStore::update_class(const ClassRecord& c, const AuditEvent& audit) {
    return write<void>("update_class " + c.name, [&](const std::string& what) -> Result<void> {
        auto upd =
            run(what,
                "UPDATE device_classes SET secret = $2, previous_secret = $3, previous_until = $4,"
                " enabled = $5::bigint <> 0, updated_at = $6, methods = $7, idevid_roots = $8, version = version + 1"
                " WHERE name = $1 AND version = $9",
                c.name, c.secret, c.previous_secret, c.previous_until, std::int64_t{c.enabled ? 1 : 0}, c.updated_at,
                std::int64_t{c.methods}, c.idevid_roots, c.version);
        if (!upd) return upd.error();
        if (*upd == 0) {
            auto exists = scalar(what, "SELECT COUNT(*) FROM device_classes WHERE name = $1", c.name);
            if (!exists) return exists.error();
            if (*exists == 0) return make_error(Code::not_found, "no class '" + c.name + "'");
            return make_error(Code::conflict, "class '" + c.name + "' was changed by someone else meanwhile");
        }
        return insert_audit(audit, what);
    });
}

Result<std::optional<ClassRecord>> PgStore::find_class(const std::string& name) {
    return call<std::optional<ClassRecord>>("find_class " + name, [&](const std::string& what) {
        return one(collect(what, read_class, kSelectClass + " WHERE name = $1", name));
    });
}

Result<std::vector<ClassRecord>> PgStore::list_classes() {
    return call<std::vector<ClassRecord>>("list_classes", [&](const std::string& what) {
        return collect(what, read_class, kSelectClass + " ORDER BY name");
    });
}

}  // namespace irp::server::postgres
