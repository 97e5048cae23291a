// The PostgreSQL schema as ordered migrations, and connecting.
#include "store/postgres/pg_store.hpp"

namespace irp::server {
namespace postgres {

namespace {

// The schema, as ordered migrations (see sqlite_store.cpp): append a row to
// change it, never edit one that has shipped. Identifiers use the "C"
// collation so that ordering and paging match SQLite's byte order, whatever
// the database's locale is.
struct Migration {
    int version;
    const char* sql;
};
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
    {3, R"sql(
CREATE TABLE device_classes(name TEXT COLLATE "C" PRIMARY KEY, secret BYTEA NOT NULL,
    previous_secret BYTEA NOT NULL DEFAULT '', previous_until BIGINT NOT NULL DEFAULT 0,
    enabled BOOLEAN NOT NULL DEFAULT TRUE, created_at BIGINT NOT NULL, updated_at BIGINT NOT NULL);
)sql"},
    {4, R"sql(
ALTER TABLE devices ADD COLUMN released_at BIGINT;
CREATE INDEX devices_class_first_seen ON devices(class_id, first_seen);
CREATE INDEX devices_unreleased_last_seen ON devices(last_seen) WHERE released_at IS NULL;
CREATE TABLE held_requests(id TEXT COLLATE "C" PRIMARY KEY, device_id TEXT COLLATE "C" NOT NULL,
    class_id TEXT NOT NULL, model TEXT NOT NULL DEFAULT '', peer TEXT NOT NULL DEFAULT '',
    reason TEXT NOT NULL, method TEXT NOT NULL, public_key_sha256 TEXT NOT NULL, state INTEGER NOT NULL,
    first_seen BIGINT NOT NULL, last_seen BIGINT NOT NULL, asks BIGINT NOT NULL DEFAULT 1,
    decided_at BIGINT NOT NULL DEFAULT 0, decided_by TEXT NOT NULL DEFAULT '',
    note TEXT NOT NULL DEFAULT '', serial TEXT NOT NULL DEFAULT '');
CREATE UNIQUE INDEX held_requests_open ON held_requests(device_id, public_key_sha256) WHERE state IN (1, 2);
CREATE INDEX held_requests_state ON held_requests(state, first_seen);
CREATE TABLE registrations(device_id TEXT COLLATE "C" PRIMARY KEY, class_id TEXT NOT NULL,
    public_key BYTEA NOT NULL, public_key_sha256 TEXT NOT NULL, created_at BIGINT NOT NULL,
    note TEXT NOT NULL DEFAULT '');
CREATE TABLE surge_lifts(class_id TEXT COLLATE "C" PRIMARY KEY, lifted_until BIGINT NOT NULL);
)sql"},
    {5, R"sql(
CREATE TABLE rights(scope TEXT COLLATE "C" NOT NULL, name TEXT COLLATE "C" NOT NULL, rights TEXT NOT NULL,
    updated_at BIGINT NOT NULL, PRIMARY KEY(scope, name));
CREATE TABLE accounts(name TEXT COLLATE "C" PRIMARY KEY, public_key BYTEA NOT NULL,
    public_key_sha256 TEXT NOT NULL, note TEXT NOT NULL DEFAULT '', created_at BIGINT NOT NULL);
INSERT INTO accounts(name, public_key, public_key_sha256, note, created_at)
    VALUES('provider', '', '', 'the domain''s own account', 0);
CREATE TABLE transfers(id TEXT COLLATE "C" PRIMARY KEY, from_account TEXT COLLATE "C" NOT NULL REFERENCES accounts(name),
    to_account TEXT COLLATE "C" NOT NULL REFERENCES accounts(name), state INTEGER NOT NULL,
    created_at BIGINT NOT NULL, created_by TEXT NOT NULL, note TEXT NOT NULL DEFAULT '',
    decided_at BIGINT NOT NULL DEFAULT 0, decided_by TEXT NOT NULL DEFAULT '', policy TEXT NOT NULL DEFAULT '',
    seq BIGINT GENERATED ALWAYS AS IDENTITY);
CREATE INDEX transfers_created ON transfers(created_at);
CREATE TABLE transfer_devices(transfer_id TEXT COLLATE "C" NOT NULL REFERENCES transfers(id),
    device_id TEXT COLLATE "C" NOT NULL REFERENCES devices(device_id), PRIMARY KEY(transfer_id, device_id));
CREATE INDEX transfer_devices_device ON transfer_devices(device_id);
CREATE TABLE device_owners(device_id TEXT COLLATE "C" NOT NULL REFERENCES devices(device_id),
    account TEXT COLLATE "C" NOT NULL REFERENCES accounts(name), policy TEXT NOT NULL DEFAULT '',
    since BIGINT NOT NULL, until BIGINT NOT NULL DEFAULT 0, transfer_id TEXT NOT NULL DEFAULT '',
    seq BIGINT GENERATED ALWAYS AS IDENTITY);
CREATE UNIQUE INDEX device_owners_current ON device_owners(device_id) WHERE until = 0;
CREATE INDEX device_owners_history ON device_owners(device_id, since);
)sql"},
    {6, R"sql(
ALTER TABLE device_classes ADD COLUMN methods INTEGER NOT NULL DEFAULT 1;
ALTER TABLE device_classes ADD COLUMN idevid_roots TEXT NOT NULL DEFAULT '';
)sql"},
    {7, R"sql(
-- A counter per issuer that moves with every change to a certificate's
-- revocation, through any replica (store.hpp, revocation_epoch).
CREATE TABLE revocation_epochs(issuer TEXT PRIMARY KEY, epoch BIGINT NOT NULL);
CREATE FUNCTION irp_bump_revocation_epoch() RETURNS trigger LANGUAGE plpgsql AS $body$
BEGIN
    INSERT INTO revocation_epochs(issuer, epoch) VALUES(NEW.issuer, 1)
        ON CONFLICT(issuer) DO UPDATE SET epoch = revocation_epochs.epoch + 1;
    RETURN NULL;
END
$body$;
CREATE TRIGGER certificates_revocation_epoch AFTER UPDATE OF revoked_at, revocation_reason ON certificates
    FOR EACH ROW
    WHEN (OLD.revoked_at IS DISTINCT FROM NEW.revoked_at OR OLD.revocation_reason IS DISTINCT FROM NEW.revocation_reason)
    EXECUTE FUNCTION irp_bump_revocation_epoch();
-- Optimistic concurrency for admin changes to a class (store.hpp, update_class).
ALTER TABLE device_classes ADD COLUMN version BIGINT NOT NULL DEFAULT 0;
)sql"},
};
constexpr int kLatestVersion = kMigrations[std::size(kMigrations) - 1].version;
// Any fixed value will do; every irp-server must use the same one. Advisory
// locks are per database, so domains sharing a cluster do not contend.
constexpr const char* kMigrationLock = "4777809012187432497";

}  // namespace

Result<void> PgStore::migrate() {
    const auto now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    for (const auto& m : kMigrations) {
        const std::string name = "migration " + std::to_string(m.version);
        auto r = in_tx<void>(name, [&](const std::string& what) -> Result<void> {
            // Serialises servers starting at once; even CREATE TABLE IF NOT
            // EXISTS races without it. Released at COMMIT or ROLLBACK.
            if (auto r = query(what, "SELECT pg_advisory_xact_lock($1::bigint)", std::string(kMigrationLock)); !r)
                return r.error();
            if (auto r = exec_script("CREATE TABLE IF NOT EXISTS schema_migrations("
                                     "version INTEGER PRIMARY KEY, applied_at BIGINT)",
                                     what);
                !r)
                return r;
            auto newest = scalar(what, "SELECT COALESCE(MAX(version), 0) FROM schema_migrations");
            if (!newest) return newest.error();
            if (*newest > kLatestVersion)  // an older server must not write to a newer schema
                return make_error(Code::storage_unavailable, "database schema version " + std::to_string(*newest) +
                                                                 " is newer than this server supports (" +
                                                                 std::to_string(kLatestVersion) + ")");
            auto applied =
                scalar(what, "SELECT COUNT(*) FROM schema_migrations WHERE version = $1", std::int64_t{m.version});
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

}  // namespace postgres

Result<std::unique_ptr<Store>> open_postgres_store(const std::string& conninfo) {
    // Never echo the conninfo: it may hold a password.
    char* perr = nullptr;
    PQconninfoOption* parsed = PQconninfoParse(conninfo.c_str(), &perr);
    if (!parsed) {
        const std::string msg = perr ? postgres::trimmed(perr) : "out of memory";
        PQfreemem(perr);
        return make_error(Code::config_invalid, "postgres connection string: " + msg);
    }
    PQconninfoFree(parsed);
    // Defaults come first: the caller's conninfo, expanded from `dbname`,
    // overrides them. Without a connect_timeout libpq may wait forever.
    const char* keys[] = {"connect_timeout", "application_name", "dbname", nullptr};
    const char* values[] = {"10", "irp-server", conninfo.c_str(), nullptr};
    postgres::ConnPtr conn(PQconnectdbParams(keys, values, 1));
    if (!conn) return make_error(Code::storage_unavailable, "open postgres: out of memory");
    if (PQstatus(conn.get()) != CONNECTION_OK)
        return make_error(Code::storage_unavailable, "open postgres: " + postgres::trimmed(PQerrorMessage(conn.get())));
    if (PQserverVersion(conn.get()) < 110000)  // EXECUTE FUNCTION in the triggers
        return make_error(Code::config_invalid, "open postgres: PostgreSQL 11 or newer is required");
    auto store = std::make_unique<postgres::PgStore>(std::move(conn));
    if (auto r = store->setup(); !r) return make_error(r.error().code, "open postgres: " + r.error().message);
    if (auto r = store->migrate(); !r) return make_error(r.error().code, "open postgres: " + r.error().message);
    return std::unique_ptr<Store>(std::move(store));
}

}  // namespace irp::server
