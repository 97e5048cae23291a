// SQLite Store: rights per device or class, accounts, certificate transfer
// and ownership history (store.hpp, "rights and accounts").
#include "store/sqlite/sqlite_store.hpp"

namespace irp::server::sqlite {

namespace {

const std::string kSelectTransfer =
    "SELECT id, from_account, to_account, state, created_at, created_by, note, decided_at, decided_by, policy"
    " FROM transfers";

Result<Transfer> read_transfer(const Stmt& st) {
    Transfer t;
    t.id = st.text(0);
    t.from_account = st.text(1);
    t.to_account = st.text(2);
    const auto state = st.integer(3);
    if (state < 1 || state > 4) return make_error(Code::internal, "transfer " + t.id + ": invalid state");
    t.state = static_cast<TransferState>(state);
    t.created_at = st.integer(4);
    t.created_by = st.text(5);
    t.note = st.text(6);
    t.decided_at = st.integer(7);
    t.decided_by = st.text(8);
    t.policy = st.text(9);
    return t;
}

Result<Account> read_account(const Stmt& st) {
    return Account{st.text(0), st.blob(1), st.text(2), st.text(3), st.integer(4)};
}

Result<RightsRecord> read_rights(const Stmt& st) {
    return RightsRecord{st.text(0), st.text(1), st.text(2), st.integer(3)};
}

Result<Ownership> read_owner(const Stmt& st) {
    return Ownership{st.text(0), st.text(1), st.text(2), st.integer(3), st.integer(4), st.text(5)};
}

Result<std::string> text0(const Stmt& st) { return st.text(0); }

// The transfer with its devices.
Result<std::optional<Transfer>> transfer_by_id(Conn& db, const std::string& what, const std::string& id) {
    auto st = query(db, what, kSelectTransfer + " WHERE id = ?1", id);
    if (!st) return st.error();
    auto t = one(collect<Transfer>(*st, what, read_transfer));
    if (!t || !*t) return t;
    auto devs = query(db, what, "SELECT device_id FROM transfer_devices WHERE transfer_id = ?1 ORDER BY device_id", id);
    if (!devs) return devs.error();
    auto list = collect<std::string>(*devs, what, text0);
    if (!list) return list.error();
    (*t)->devices = std::move(*list);
    return t;
}

// The account owning `device_id` now: its current ownership row, else the provider.
Result<std::string> current_owner(Conn& db, const std::string& what, const std::string& device_id) {
    auto st = query(db, what, "SELECT account FROM device_owners WHERE device_id = ?1 AND until = 0", device_id);
    if (!st) return st.error();
    auto a = one(collect<std::string>(*st, what, text0));
    if (!a) return a.error();
    return a->value_or(kProviderAccount);
}

// not_found for an unknown device, conflict for a released one.
Result<void> check_live_device(Conn& db, const std::string& what, const std::string& device_id) {
    auto st = query(db, what, "SELECT released_at IS NOT NULL FROM devices WHERE device_id = ?1", device_id);
    if (!st) return st.error();
    auto row = st->step(what);
    if (!row) return row.error();
    if (!*row) return make_error(Code::not_found, "no device '" + device_id + "'");
    if (st->integer(0) != 0) return make_error(Code::conflict, "device '" + device_id + "' is released");
    return {};
}

}  // namespace

Result<void> SqliteStore::set_rights(const RightsRecord& r, const AuditEvent& audit) {
    const std::string what = "set_rights " + r.scope + " " + r.name;
    std::lock_guard lock(mu_);
    Tx tx(conn_);
    if (auto b = tx.begin(what); !b) return b.error();
    if (r.rights.empty()) {
        auto del = run(conn_, what, "DELETE FROM rights WHERE scope = ?1 AND name = ?2", r.scope, r.name);
        if (!del) return del.error();
        if (*del == 0) return make_error(Code::not_found, "no rights set for " + r.scope + " '" + r.name + "'");
    } else {
        auto up = run(conn_, what,
                      "INSERT INTO rights(scope, name, rights, updated_at) VALUES(?1, ?2, ?3, ?4)"
                      " ON CONFLICT(scope, name) DO UPDATE SET rights = excluded.rights, updated_at = excluded.updated_at",
                      r.scope, r.name, r.rights, r.updated_at);
        if (!up) return up.error();
    }
    if (auto a = insert_audit(conn_, audit, what); !a) return a.error();
    return tx.commit(what);
}

Result<std::string> SqliteStore::rights_for(const std::string& device_id, const std::string& class_id) {
    const std::string what = "rights_for " + device_id;
    std::lock_guard lock(mu_);
    auto st = query(conn_, what,
                    "SELECT rights FROM rights WHERE (scope = 'device' AND name = ?1) OR (scope = 'class' AND name = ?2)"
                    " ORDER BY scope = 'device' DESC LIMIT 1",
                    device_id, class_id);
    if (!st) return st.error();
    auto r = one(collect<std::string>(*st, what, text0));
    if (!r) return r.error();
    return r->value_or("");
}

Result<std::vector<RightsRecord>> SqliteStore::list_rights() {
    const std::string what = "list_rights";
    std::lock_guard lock(mu_);
    auto st = query(conn_, what, "SELECT scope, name, rights, updated_at FROM rights ORDER BY scope, name LIMIT 10000");
    if (!st) return st.error();
    return collect<RightsRecord>(*st, what, read_rights);
}

Result<void> SqliteStore::create_account(const Account& a, const AuditEvent& audit) {
    const std::string what = "create_account " + a.name;
    std::lock_guard lock(mu_);
    Tx tx(conn_);
    if (auto b = tx.begin(what); !b) return b.error();
    auto taken = scalar(conn_, what, "SELECT COUNT(*) FROM accounts WHERE name = ?1", a.name);
    if (!taken) return taken.error();
    if (*taken > 0) return make_error(Code::already_exists, "account '" + a.name + "' exists already");
    auto ins = run(conn_, what,
                   "INSERT INTO accounts(name, public_key, public_key_sha256, note, created_at)"
                   " VALUES(?1, ?2, ?3, ?4, ?5)",
                   a.name, a.public_key, a.public_key_sha256_hex, a.note, a.created_at);
    if (!ins) return ins.error();
    if (auto r = insert_audit(conn_, audit, what); !r) return r.error();
    return tx.commit(what);
}

Result<std::optional<Account>> SqliteStore::find_account(const std::string& name) {
    const std::string what = "find_account " + name;
    std::lock_guard lock(mu_);
    auto st = query(conn_, what,
                    "SELECT name, public_key, public_key_sha256, note, created_at FROM accounts WHERE name = ?1", name);
    if (!st) return st.error();
    return one(collect<Account>(*st, what, read_account));
}

Result<std::vector<Account>> SqliteStore::list_accounts() {
    const std::string what = "list_accounts";
    std::lock_guard lock(mu_);
    auto st = query(conn_, what,
                    "SELECT name, public_key, public_key_sha256, note, created_at FROM accounts ORDER BY name LIMIT 10000");
    if (!st) return st.error();
    return collect<Account>(*st, what, read_account);
}

Result<void> SqliteStore::offer_transfer(const Transfer& t, const AuditEvent& audit) {
    const std::string what = "offer_transfer " + t.id;
    std::lock_guard lock(mu_);
    Tx tx(conn_);
    if (auto b = tx.begin(what); !b) return b.error();
    auto taken = scalar(conn_, what, "SELECT COUNT(*) FROM transfers WHERE id = ?1", t.id);
    if (!taken) return taken.error();
    if (*taken > 0) return make_error(Code::already_exists, "transfer '" + t.id + "' exists already");
    auto ins = run(conn_, what,
                   "INSERT INTO transfers(id, from_account, to_account, state, created_at, created_by, note)"
                   " VALUES(?1, ?2, ?3, 1, ?4, ?5, ?6)",
                   t.id, t.from_account, t.to_account, t.created_at, t.created_by, t.note);
    if (!ins) return ins.error();
    for (const auto& dev : t.devices) {
        if (auto r = check_live_device(conn_, what, dev); !r) return r.error();
        auto owner = current_owner(conn_, what, dev);
        if (!owner) return owner.error();
        if (*owner != t.from_account)
            return make_error(Code::conflict,
                              "device '" + dev + "' belongs to account '" + *owner + "', not '" + t.from_account + "'");
        auto open = query(conn_, what,
                          "SELECT t.id FROM transfer_devices d JOIN transfers t ON t.id = d.transfer_id"
                          " WHERE d.device_id = ?1 AND t.state = 1 LIMIT 1",
                          dev);
        if (!open) return open.error();
        auto other = one(collect<std::string>(*open, what, text0));
        if (!other) return other.error();
        if (*other)
            return make_error(Code::conflict, "device '" + dev + "' is in transfer '" + **other + "', still offered");
        auto item = run(conn_, what, "INSERT INTO transfer_devices(transfer_id, device_id) VALUES(?1, ?2)", t.id, dev);
        if (!item) return item.error();
    }
    if (auto r = insert_audit(conn_, audit, what); !r) return r.error();
    return tx.commit(what);
}

Result<std::optional<Transfer>> SqliteStore::find_transfer(const std::string& id) {
    std::lock_guard lock(mu_);
    return transfer_by_id(conn_, "find_transfer " + id, id);
}

Result<std::vector<Transfer>> SqliteStore::list_transfers(const std::string& account,
                                                         std::optional<TransferState> state, std::size_t limit) {
    const std::string what = "list_transfers";
    std::lock_guard lock(mu_);
    auto st = query(conn_, what,
                    kSelectTransfer +
                        " WHERE (?1 = '' OR from_account = ?1 OR to_account = ?1) AND (?2 = 0 OR state = ?2)"
                        " ORDER BY created_at DESC, rowid DESC LIMIT ?3",
                    account, std::int64_t{state ? static_cast<std::int64_t>(*state) : 0}, clamp_limit(limit));
    if (!st) return st.error();
    auto list = collect<Transfer>(*st, what, read_transfer);
    if (!list) return list.error();
    for (auto& t : *list) {
        auto devs =
            query(conn_, what, "SELECT device_id FROM transfer_devices WHERE transfer_id = ?1 ORDER BY device_id", t.id);
        if (!devs) return devs.error();
        auto d = collect<std::string>(*devs, what, text0);
        if (!d) return d.error();
        t.devices = std::move(*d);
    }
    return list;
}

Result<Transfer> SqliteStore::decide_transfer(const std::string& id, TransferState to, const std::string& policy,
                                              const std::string& by, std::int64_t at, const AuditEvent& audit) {
    const std::string what = "decide_transfer " + id;
    std::lock_guard lock(mu_);
    Tx tx(conn_);
    if (auto b = tx.begin(what); !b) return b.error();
    auto t = transfer_by_id(conn_, what, id);
    if (!t) return t.error();
    if (!*t) return make_error(Code::not_found, "no transfer '" + id + "'");
    if ((*t)->state != TransferState::offered)
        return make_error(Code::conflict,
                          "transfer " + id + " is " + transfer_state_name((*t)->state) + ", not offered");
    if (to == TransferState::accepted) {
        for (const auto& dev : (*t)->devices) {
            if (auto r = check_live_device(conn_, what, dev); !r) return r.error();
            auto end = run(conn_, what, "UPDATE device_owners SET until = ?1 WHERE device_id = ?2 AND until = 0", at,
                           dev);
            if (!end) return end.error();
            auto own = run(conn_, what,
                           "INSERT INTO device_owners(device_id, account, policy, since, until, transfer_id)"
                           " VALUES(?1, ?2, ?3, ?4, 0, ?5)",
                           dev, (*t)->to_account, policy, at, id);
            if (!own) return own.error();
        }
    }
    auto upd = run(conn_, what,
                   "UPDATE transfers SET state = ?1, decided_at = ?2, decided_by = ?3, policy = ?4 WHERE id = ?5",
                   std::int64_t{static_cast<std::int64_t>(to)}, at, by,
                   to == TransferState::accepted ? policy : std::string(), id);
    if (!upd) return upd.error();
    if (auto r = insert_audit(conn_, audit, what); !r) return r.error();
    if (auto c = tx.commit(what); !c) return c.error();
    Transfer out = std::move(**t);
    out.state = to;
    out.decided_at = at;
    out.decided_by = by;
    if (to == TransferState::accepted) out.policy = policy;
    return out;
}

Result<std::vector<Ownership>> SqliteStore::owners_of(const std::string& device_id) {
    const std::string what = "owners_of " + device_id;
    std::lock_guard lock(mu_);
    auto st = query(conn_, what,
                    "SELECT device_id, account, policy, since, until, transfer_id FROM device_owners"
                    " WHERE device_id = ?1 ORDER BY since, rowid",
                    device_id);
    if (!st) return st.error();
    return collect<Ownership>(*st, what, read_owner);
}

}  // namespace irp::server::sqlite
