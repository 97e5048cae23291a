// PostgreSQL Store: rights per device or class, accounts, certificate
// transfer and ownership history (store.hpp). Two replicas offering or
// accepting transfers of the same device serialise on the device row
// (SELECT ... FOR UPDATE, devices in sorted order, as every write locks the
// device first); an acceptance locks its transfer row before the devices.
#include "store/postgres/pg_store.hpp"

namespace irp::server::postgres {

namespace {

const std::string kSelectTransfer =
    "SELECT id, from_account, to_account, state, created_at, created_by, note, decided_at, decided_by, policy"
    " FROM transfers";

Transfer read_transfer(const Row& row) {
    Transfer t;
    t.id = row.text(0);
    t.from_account = row.text(1);
    t.to_account = row.text(2);
    const auto state = row.integer(3);
    if (state < 1 || state > 4) row.bad = true;
    t.state = static_cast<TransferState>(state);
    t.created_at = row.integer(4);
    t.created_by = row.text(5);
    t.note = row.text(6);
    t.decided_at = row.integer(7);
    t.decided_by = row.text(8);
    t.policy = row.text(9);
    return t;
}

Account read_account(const Row& row) {
    return Account{row.text(0), row.blob(1), row.text(2), row.text(3), row.integer(4)};
}

std::string text0(const Row& row) { return row.text(0); }

}  // namespace

// Locks the device row; not_found for an unknown device, conflict for a released one.
Result<void> PgStore::lock_live_device(const std::string& what, const std::string& device_id) {
    auto state = one(collect(
        what, [](const Row& r) { return r.null(0) ? std::int64_t{0} : std::int64_t{1}; },
        "SELECT released_at FROM devices WHERE device_id = $1 FOR UPDATE", device_id));
    if (!state) return state.error();
    if (!*state) return make_error(Code::not_found, "no device '" + device_id + "'");
    if (**state != 0) return make_error(Code::conflict, "device '" + device_id + "' is released");
    return {};
}

Result<std::vector<std::string>> PgStore::transfer_devices(const std::string& what, const std::string& id) {
    return collect(what, text0, "SELECT device_id FROM transfer_devices WHERE transfer_id = $1 ORDER BY device_id", id);
}

Result<void> PgStore::set_rights(const RightsRecord& r, const AuditEvent& audit) {
    return write<void>("set_rights " + r.scope + " " + r.name, [&](const std::string& what) -> Result<void> {
        if (r.rights.empty()) {
            auto del = run(what, "DELETE FROM rights WHERE scope = $1 AND name = $2", r.scope, r.name);
            if (!del) return del.error();
            if (*del == 0) return make_error(Code::not_found, "no rights set for " + r.scope + " '" + r.name + "'");
        } else {
            auto up = run(what,
                          "INSERT INTO rights(scope, name, rights, updated_at) VALUES($1, $2, $3, $4)"
                          " ON CONFLICT(scope, name) DO UPDATE SET rights = EXCLUDED.rights,"
                          " updated_at = EXCLUDED.updated_at",
                          r.scope, r.name, r.rights, r.updated_at);
            if (!up) return up.error();
        }
        return insert_audit(audit, what);
    });
}

Result<std::string> PgStore::rights_for(const std::string& device_id, const std::string& class_id) {
    return call<std::string>("rights_for " + device_id, [&](const std::string& what) -> Result<std::string> {
        auto r = one(collect(what, text0,
                             "SELECT rights FROM rights WHERE (scope = 'device' AND name = $1)"
                             " OR (scope = 'class' AND name = $2) ORDER BY scope = 'device' DESC LIMIT 1",
                             device_id, class_id));
        if (!r) return r.error();
        return r->value_or("");
    });
}

Result<std::vector<RightsRecord>> PgStore::list_rights() {
    return call<std::vector<RightsRecord>>("list_rights", [&](const std::string& what) {
        return collect(
            what, [](const Row& r) { return RightsRecord{r.text(0), r.text(1), r.text(2), r.integer(3)}; },
            "SELECT scope, name, rights, updated_at FROM rights ORDER BY scope, name LIMIT 10000");
    });
}

Result<void> PgStore::create_account(const Account& a, const AuditEvent& audit) {
    return write<void>("create_account " + a.name, [&](const std::string& what) -> Result<void> {
        auto ins = run(what,
                       "INSERT INTO accounts(name, public_key, public_key_sha256, note, created_at)"
                       " VALUES($1, $2, $3, $4, $5) ON CONFLICT(name) DO NOTHING",
                       a.name, a.public_key, a.public_key_sha256_hex, a.note, a.created_at);
        if (!ins) return ins.error();
        if (*ins == 0) return make_error(Code::already_exists, "account '" + a.name + "' exists already");
        return insert_audit(audit, what);
    });
}

Result<std::optional<Account>> PgStore::find_account(const std::string& name) {
    return call<std::optional<Account>>("find_account " + name, [&](const std::string& what) {
        return one(collect(what, read_account,
                           "SELECT name, public_key, public_key_sha256, note, created_at FROM accounts WHERE name = $1",
                           name));
    });
}

Result<std::vector<Account>> PgStore::list_accounts() {
    return call<std::vector<Account>>("list_accounts", [&](const std::string& what) {
        return collect(what, read_account,
                       "SELECT name, public_key, public_key_sha256, note, created_at FROM accounts"
                       " ORDER BY name LIMIT 10000");
    });
}

Result<void> PgStore::offer_transfer(const Transfer& t, const AuditEvent& audit) {
    return write<void>("offer_transfer " + t.id, [&](const std::string& what) -> Result<void> {
        auto ins = run(what,
                       "INSERT INTO transfers(id, from_account, to_account, state, created_at, created_by, note)"
                       " VALUES($1, $2, $3, 1, $4, $5, $6) ON CONFLICT(id) DO NOTHING",
                       t.id, t.from_account, t.to_account, t.created_at, t.created_by, t.note);
        if (!ins) return ins.error();
        if (*ins == 0) return make_error(Code::already_exists, "transfer '" + t.id + "' exists already");
        for (const auto& dev : t.devices) {  // sorted: the lock order
            if (auto r = lock_live_device(what, dev); !r) return r;
            auto owner = one(collect(what, text0,
                                     "SELECT account FROM device_owners WHERE device_id = $1 AND until = 0", dev));
            if (!owner) return owner.error();
            const std::string current = owner->value_or(kProviderAccount);
            if (current != t.from_account)
                return make_error(Code::conflict, "device '" + dev + "' belongs to account '" + current + "', not '" +
                                                      t.from_account + "'");
            auto other = one(collect(what, text0,
                                     "SELECT t.id FROM transfer_devices d JOIN transfers t ON t.id = d.transfer_id"
                                     " WHERE d.device_id = $1 AND t.state = 1 LIMIT 1",
                                     dev));
            if (!other) return other.error();
            if (*other)
                return make_error(Code::conflict,
                                  "device '" + dev + "' is in transfer '" + **other + "', still offered");
            auto item = run(what, "INSERT INTO transfer_devices(transfer_id, device_id) VALUES($1, $2)", t.id, dev);
            if (!item) return item.error();
        }
        return insert_audit(audit, what);
    });
}

Result<std::optional<Transfer>> PgStore::find_transfer(const std::string& id) {
    return call<std::optional<Transfer>>("find_transfer " + id,
                                         [&](const std::string& what) -> Result<std::optional<Transfer>> {
                                             auto t = one(collect(what, read_transfer, kSelectTransfer + " WHERE id = $1", id));
                                             if (!t || !*t) return t;
                                             auto devs = transfer_devices(what, id);
                                             if (!devs) return devs.error();
                                             (*t)->devices = std::move(*devs);
                                             return t;
                                         });
}

Result<std::vector<Transfer>> PgStore::list_transfers(const std::string& account, std::optional<TransferState> state,
                                                     std::size_t limit) {
    using Out = std::vector<Transfer>;
    return call<Out>("list_transfers", [&](const std::string& what) -> Result<Out> {
        auto list = collect(what, read_transfer,
                            kSelectTransfer +
                                " WHERE ($1 = '' OR from_account = $1 OR to_account = $1) AND ($2::bigint = 0 OR state = $2)"
                                " ORDER BY created_at DESC, seq DESC LIMIT $3",
                            account, std::int64_t{state ? static_cast<std::int64_t>(*state) : 0}, clamp_limit(limit));
        if (!list) return list.error();
        for (auto& t : *list) {
            auto devs = transfer_devices(what, t.id);
            if (!devs) return devs.error();
            t.devices = std::move(*devs);
        }
        return list;
    });
}

Result<Transfer> PgStore::decide_transfer(const std::string& id, TransferState to, const std::string& policy,
                                          const std::string& by, std::int64_t at, const AuditEvent& audit) {
    return write<Transfer>("decide_transfer " + id, [&](const std::string& what) -> Result<Transfer> {
        auto t = one(collect(what, read_transfer, kSelectTransfer + " WHERE id = $1 FOR UPDATE", id));
        if (!t) return t.error();
        if (!*t) return make_error(Code::not_found, "no transfer '" + id + "'");
        if ((*t)->state != TransferState::offered)
            return make_error(Code::conflict,
                              "transfer " + id + " is " + transfer_state_name((*t)->state) + ", not offered");
        auto devs = transfer_devices(what, id);
        if (!devs) return devs.error();
        (*t)->devices = std::move(*devs);
        if (to == TransferState::accepted) {
            for (const auto& dev : (*t)->devices) {
                if (auto r = lock_live_device(what, dev); !r) return r.error();
                auto end = run(what, "UPDATE device_owners SET until = $1 WHERE device_id = $2 AND until = 0", at, dev);
                if (!end) return end.error();
                auto own = run(what,
                               "INSERT INTO device_owners(device_id, account, policy, since, until, transfer_id)"
                               " VALUES($1, $2, $3, $4, 0, $5)",
                               dev, (*t)->to_account, policy, at, id);
                if (!own) return own.error();
            }
        }
        const std::string kept = to == TransferState::accepted ? policy : std::string();
        auto upd = run(what, "UPDATE transfers SET state = $1, decided_at = $2, decided_by = $3, policy = $4 WHERE id = $5",
                       std::int64_t{static_cast<std::int64_t>(to)}, at, by, kept, id);
        if (!upd) return upd.error();
        if (auto a = insert_audit(audit, what); !a) return a.error();
        Transfer out = std::move(**t);
        out.state = to;
        out.decided_at = at;
        out.decided_by = by;
        out.policy = kept;
        return out;
    });
}

Result<std::vector<Ownership>> PgStore::owners_of(const std::string& device_id) {
    return call<std::vector<Ownership>>("owners_of " + device_id, [&](const std::string& what) {
        return collect(
            what,
            [](const Row& r) {
                return Ownership{r.text(0), r.text(1), r.text(2), r.integer(3), r.integer(4), r.text(5)};
            },
            "SELECT device_id, account, policy, since, until, transfer_id FROM device_owners"
            " WHERE device_id = $1 ORDER BY since, seq",
            device_id);
    });
}

}  // namespace irp::server::postgres
