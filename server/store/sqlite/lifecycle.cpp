// SQLite Store: the device lifecycle. Held requests, pre-registered keys,
// the surge guard, check-ins and release (store.hpp).
#include "store/sqlite/sqlite_store.hpp"

namespace irp::server::sqlite {

namespace {

const std::string kSelectHeld =
    "SELECT id, device_id, class_id, model, peer, reason, method, public_key_sha256, state, first_seen,"
    " last_seen, asks, decided_at, decided_by, note, serial FROM held_requests";

Result<HeldRequest> read_held(const Stmt& st) {
    HeldRequest h;
    h.id = st.text(0);
    h.device_id = st.text(1);
    h.class_id = st.text(2);
    h.model = st.text(3);
    h.peer = st.text(4);
    h.reason = st.text(5);
    h.method = st.text(6);
    h.public_key_sha256_hex = st.text(7);
    const auto state = st.integer(8);
    if (state < 1 || state > 5) return make_error(Code::internal, "held request " + h.id + ": invalid state");
    h.state = static_cast<HoldState>(state);
    h.first_seen = st.integer(9);
    h.last_seen = st.integer(10);
    h.asks = st.integer(11);
    h.decided_at = st.integer(12);
    h.decided_by = st.text(13);
    h.note = st.text(14);
    h.serial_hex = st.text(15);
    return h;
}

Result<std::string> read_text0(const Stmt& st) { return st.text(0); }

Result<Registration> read_registration(const Stmt& st) {
    return Registration{st.text(0), st.text(1), st.blob(2), st.text(3), st.integer(4), st.text(5)};
}

Result<std::optional<HeldRequest>> held_by_id(Conn& db, const std::string& what, const std::string& id) {
    auto st = query(db, what, kSelectHeld + " WHERE id = ?1", id);
    if (!st) return st.error();
    return one(collect<HeldRequest>(*st, what, read_held));
}

}  // namespace

Result<std::pair<HeldRequest, bool>> SqliteStore::hold_request(const HeldRequest& r, std::size_t max_pending,
                                                               const AuditEvent& audit) {
    const std::string what = "hold_request " + r.device_id;
    std::lock_guard lock(mu_);
    Tx tx(conn_);
    if (auto b = tx.begin(what); !b) return b.error();
    auto st = query(conn_, what, kSelectHeld + " WHERE device_id = ?1 AND public_key_sha256 = ?2 AND state IN (1, 2)",
                    r.device_id, r.public_key_sha256_hex);
    if (!st) return st.error();
    auto open = one(collect<HeldRequest>(*st, what, read_held));
    if (!open) return open.error();
    if (*open) {
        HeldRequest h = std::move(**open);
        auto upd = run(conn_, what, "UPDATE held_requests SET last_seen = ?1, asks = asks + 1 WHERE id = ?2",
                       r.last_seen, h.id);
        if (!upd) return upd.error();
        if (auto c = tx.commit(what); !c) return c.error();
        h.last_seen = r.last_seen;
        h.asks += 1;
        return std::pair{std::move(h), false};
    }
    auto pending = scalar(conn_, what, "SELECT COUNT(*) FROM held_requests WHERE state = 1");
    if (!pending) return pending.error();
    if (static_cast<std::size_t>(*pending) >= max_pending)
        return make_error(Code::too_many_pending, std::to_string(*pending) + " requests are waiting for a decision");
    auto ins = run(conn_, what,
                   "INSERT INTO held_requests(id, device_id, class_id, model, peer, reason, method, public_key_sha256,"
                   " state, first_seen, last_seen, asks) VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?10, 1)",
                   r.id, r.device_id, r.class_id, r.model, r.peer, r.reason, r.method, r.public_key_sha256_hex,
                   r.first_seen, r.last_seen);
    if (!ins) return ins.error();
    if (auto a = insert_audit(conn_, audit, what); !a) return a.error();
    if (auto c = tx.commit(what); !c) return c.error();
    HeldRequest h = r;
    h.state = HoldState::pending;
    h.asks = 1;
    return std::pair{std::move(h), true};
}

Result<std::optional<HeldRequest>> SqliteStore::find_held(const std::string& id) {
    std::lock_guard lock(mu_);
    return held_by_id(conn_, "find_held " + id, id);
}

Result<std::vector<HeldRequest>> SqliteStore::list_held(std::optional<HoldState> state, std::size_t limit) {
    const std::string what = "list_held";
    std::lock_guard lock(mu_);
    auto st = query(conn_, what, kSelectHeld + " WHERE (?1 = 0 OR state = ?1) ORDER BY first_seen DESC, id LIMIT ?2",
                    std::int64_t{state ? static_cast<std::int64_t>(*state) : 0}, clamp_limit(limit));
    if (!st) return st.error();
    return collect<HeldRequest>(*st, what, read_held);
}

Result<HeldRequest> SqliteStore::decide_held(const std::string& id, bool approve, const std::string& by,
                                             const std::string& note, std::int64_t at, const AuditEvent& audit) {
    const std::string what = "decide_held " + id;
    std::lock_guard lock(mu_);
    Tx tx(conn_);
    if (auto b = tx.begin(what); !b) return b.error();
    auto upd = run(conn_, what,
                   "UPDATE held_requests SET state = ?1, decided_at = ?2, decided_by = ?3, note = ?4"
                   " WHERE id = ?5 AND state = 1",
                   std::int64_t{approve ? 2 : 3}, at, by, note, id);
    if (!upd) return upd.error();
    auto h = held_by_id(conn_, what, id);
    if (!h) return h.error();
    if (!*h) return make_error(Code::not_found, "no held request '" + id + "'");
    if (*upd == 0)
        return make_error(Code::conflict, "held request " + id + " is " + hold_state_name((*h)->state) +
                                              ", not pending");
    if (auto a = insert_audit(conn_, audit, what); !a) return a.error();
    if (auto c = tx.commit(what); !c) return c.error();
    return std::move(**h);
}

Result<std::int64_t> SqliteStore::expire_held(std::int64_t before) {
    const std::string what = "expire_held";
    std::lock_guard lock(mu_);
    auto n = run(conn_, what, "UPDATE held_requests SET state = 5 WHERE state IN (1, 2) AND last_seen < ?1", before);
    if (!n) return n.error();
    return std::int64_t{*n};
}

Result<std::int64_t> SqliteStore::count_held(HoldState state) {
    std::lock_guard lock(mu_);
    return scalar(conn_, "count_held", "SELECT COUNT(*) FROM held_requests WHERE state = ?1",
                  static_cast<std::int64_t>(state));
}

Result<void> SqliteStore::add_registrations(const std::vector<Registration>& regs, const AuditEvent& audit) {
    const std::string what = "add_registrations";
    std::lock_guard lock(mu_);
    Tx tx(conn_);
    if (auto b = tx.begin(what); !b) return b;
    for (const auto& r : regs) {
        auto taken = scalar(conn_, what, "SELECT COUNT(*) FROM registrations WHERE device_id = ?1", r.device_id);
        if (!taken) return taken.error();
        if (*taken > 0) return make_error(Code::already_exists, "device '" + r.device_id + "' is registered already");
        auto ins = run(conn_, what,
                       "INSERT INTO registrations(device_id, class_id, public_key, public_key_sha256, created_at, note)"
                       " VALUES(?1, ?2, ?3, ?4, ?5, ?6)",
                       r.device_id, r.class_id, r.public_key, r.public_key_sha256_hex, r.created_at, r.note);
        if (!ins) return ins.error();
    }
    if (auto a = insert_audit(conn_, audit, what); !a) return a.error();
    return tx.commit(what);
}

Result<std::optional<Registration>> SqliteStore::find_registration(const std::string& device_id) {
    const std::string what = "find_registration " + device_id;
    std::lock_guard lock(mu_);
    auto st = query(conn_, what,
                    "SELECT device_id, class_id, public_key, public_key_sha256, created_at, note FROM registrations"
                    " WHERE device_id = ?1",
                    device_id);
    if (!st) return st.error();
    return one(collect<Registration>(*st, what, read_registration));
}

Result<std::vector<Registration>> SqliteStore::list_registrations(const std::string& after, std::size_t limit) {
    const std::string what = "list_registrations";
    std::lock_guard lock(mu_);
    auto st = query(conn_, what,
                    "SELECT device_id, class_id, public_key, public_key_sha256, created_at, note FROM registrations"
                    " WHERE device_id > ?1 ORDER BY device_id LIMIT ?2",
                    after, clamp_limit(limit));
    if (!st) return st.error();
    return collect<Registration>(*st, what, read_registration);
}

Result<void> SqliteStore::remove_registration(const std::string& device_id, const AuditEvent& audit) {
    const std::string what = "remove_registration " + device_id;
    std::lock_guard lock(mu_);
    Tx tx(conn_);
    if (auto b = tx.begin(what); !b) return b;
    auto del = run(conn_, what, "DELETE FROM registrations WHERE device_id = ?1", device_id);
    if (!del) return del.error();
    if (*del == 0) return make_error(Code::not_found, "device '" + device_id + "' is not registered");
    if (auto a = insert_audit(conn_, audit, what); !a) return a.error();
    return tx.commit(what);
}

Result<std::int64_t> SqliteStore::count_new_devices(const std::string& class_id, std::int64_t since) {
    std::lock_guard lock(mu_);
    return scalar(conn_, "count_new_devices", "SELECT COUNT(*) FROM devices WHERE class_id = ?1 AND first_seen >= ?2",
                  class_id, since);
}

Result<std::int64_t> SqliteStore::surge_lifted_until(const std::string& class_id) {
    std::lock_guard lock(mu_);
    return scalar(conn_, "surge_lifted_until",
                  "SELECT COALESCE(MAX(lifted_until), 0) FROM surge_lifts WHERE class_id = ?1", class_id);
}

Result<void> SqliteStore::lift_surge(const std::string& class_id, std::int64_t until, const AuditEvent& audit) {
    const std::string what = "lift_surge " + class_id;
    std::lock_guard lock(mu_);
    Tx tx(conn_);
    if (auto b = tx.begin(what); !b) return b;
    auto up = run(conn_, what,
                  "INSERT INTO surge_lifts(class_id, lifted_until) VALUES(?1, ?2)"
                  " ON CONFLICT(class_id) DO UPDATE SET lifted_until = excluded.lifted_until",
                  class_id, until);
    if (!up) return up.error();
    if (auto a = insert_audit(conn_, audit, what); !a) return a.error();
    return tx.commit(what);
}

Result<void> SqliteStore::touch_device(const std::string& device_id, std::int64_t at) {
    std::lock_guard lock(mu_);
    auto upd = run(conn_, "touch_device " + device_id,
                   "UPDATE devices SET last_seen = MAX(last_seen, ?1) WHERE device_id = ?2", at, device_id);
    if (!upd) return upd.error();
    if (*upd == 0) return make_error(Code::not_found, "no device '" + device_id + "'");
    return {};
}

Result<std::vector<std::string>> SqliteStore::release_device(const std::string& device_id, std::int64_t at,
                                                              const AuditEvent& audit) {
    const std::string what = "release_device " + device_id;
    std::lock_guard lock(mu_);
    Tx tx(conn_);
    if (auto b = tx.begin(what); !b) return b.error();
    auto st = query(conn_, what, "SELECT released_at IS NOT NULL FROM devices WHERE device_id = ?1", device_id);
    if (!st) return st.error();
    auto row = st->step(what);
    if (!row) return row.error();
    if (!*row) return make_error(Code::not_found, "no device '" + device_id + "'");
    if (st->integer(0) != 0) return make_error(Code::conflict, "device '" + device_id + "' is released already");
    auto serials = query(conn_, what,
                         "SELECT serial FROM certificates WHERE device_id = ?1 AND revoked_at IS NULL ORDER BY serial",
                         device_id);
    if (!serials) return serials.error();
    auto revoked = collect<std::string>(*serials, what, read_text0);
    if (!revoked) return revoked.error();
    auto rev = run(conn_, what,
                   "UPDATE certificates SET revoked_at = ?1, revocation_reason = ?2 WHERE device_id = ?3 AND"
                   " revoked_at IS NULL",
                   at, std::int64_t{kReasonCessationOfOperation}, device_id);
    if (!rev) return rev.error();
    auto dev = run(conn_, what, "UPDATE devices SET released_at = ?1 WHERE device_id = ?2", at, device_id);
    if (!dev) return dev.error();
    auto held = run(conn_, what, "UPDATE held_requests SET state = 5 WHERE device_id = ?1 AND state IN (1, 2)",
                    device_id);
    if (!held) return held.error();
    auto owner = run(conn_, what, "UPDATE device_owners SET until = ?1 WHERE device_id = ?2 AND until = 0", at,
                     device_id);
    if (!owner) return owner.error();
    if (auto a = insert_audit(conn_, audit, what); !a) return a.error();
    if (auto c = tx.commit(what); !c) return c.error();
    return std::move(*revoked);
}

Result<std::vector<std::string>> SqliteStore::devices_unseen_since(std::int64_t before, std::size_t limit) {
    const std::string what = "devices_unseen_since";
    std::lock_guard lock(mu_);
    auto st = query(conn_, what,
                    "SELECT device_id FROM devices WHERE released_at IS NULL AND last_seen < ?1"
                    " ORDER BY last_seen, device_id LIMIT ?2",
                    before, clamp_limit(limit));
    if (!st) return st.error();
    return collect<std::string>(*st, what, read_text0);
}

}  // namespace irp::server::sqlite
