// PostgreSQL Store: the device lifecycle (store.hpp). Replicas race here
// more than anywhere: two replicas can hold the same device's request at
// once (the partial unique index decides, ON CONFLICT DO NOTHING), and a
// release locks the device row first, like every write.
#include "store/postgres/pg_store.hpp"

namespace irp::server::postgres {

namespace {

const std::string kSelectHeld =
    "SELECT id, device_id, class_id, model, peer, reason, method, public_key_sha256, state, first_seen,"
    " last_seen, asks, decided_at, decided_by, note, serial FROM held_requests";

HeldRequest read_held(const Row& row) {
    HeldRequest h;
    h.id = row.text(0);
    h.device_id = row.text(1);
    h.class_id = row.text(2);
    h.model = row.text(3);
    h.peer = row.text(4);
    h.reason = row.text(5);
    h.method = row.text(6);
    h.public_key_sha256_hex = row.text(7);
    const auto state = row.integer(8);
    if (state < 1 || state > 5) row.bad = true;
    h.state = static_cast<HoldState>(state);
    h.first_seen = row.integer(9);
    h.last_seen = row.integer(10);
    h.asks = row.integer(11);
    h.decided_at = row.integer(12);
    h.decided_by = row.text(13);
    h.note = row.text(14);
    h.serial_hex = row.text(15);
    return h;
}

Registration read_registration(const Row& row) {
    return Registration{row.text(0), row.text(1), row.blob(2), row.text(3), row.integer(4), row.text(5)};
}

const std::string kSelectRegistration =
    "SELECT device_id, class_id, public_key, public_key_sha256, created_at, note FROM registrations";

std::string read_text0(const Row& row) { return row.text(0); }

}  // namespace

Result<std::pair<HeldRequest, bool>> PgStore::hold_request(const HeldRequest& r, std::size_t max_pending,
                                                           const AuditEvent& audit) {
    using Out = std::pair<HeldRequest, bool>;
    return write<Out>("hold_request " + r.device_id, [&](const std::string& what) -> Result<Out> {
        auto bump = [&]() -> Result<std::optional<HeldRequest>> {
            auto rows = collect(what, read_held,
                                "UPDATE held_requests SET last_seen = GREATEST(last_seen, $3), asks = asks + 1"
                                " WHERE device_id = $1 AND public_key_sha256 = $2 AND state IN (1, 2)"
                                " RETURNING id, device_id, class_id, model, peer, reason, method, public_key_sha256,"
                                " state, first_seen, last_seen, asks, decided_at, decided_by, note, serial",
                                r.device_id, r.public_key_sha256_hex, r.last_seen);
            return one(std::move(rows));
        };
        auto open = bump();
        if (!open) return open.error();
        if (*open) return Out{std::move(**open), false};
        auto pending = scalar(what, "SELECT COUNT(*) FROM held_requests WHERE state = 1");
        if (!pending) return pending.error();
        if (static_cast<std::size_t>(*pending) >= max_pending)
            return make_error(Code::too_many_pending,
                              std::to_string(*pending) + " requests are waiting for a decision");
        auto ins = run(what,
                       "INSERT INTO held_requests(id, device_id, class_id, model, peer, reason, method,"
                       " public_key_sha256, state, first_seen, last_seen, asks)"
                       " VALUES($1, $2, $3, $4, $5, $6, $7, $8, 1, $9, $10, 1)"
                       " ON CONFLICT (device_id, public_key_sha256) WHERE state IN (1, 2) DO NOTHING",
                       r.id, r.device_id, r.class_id, r.model, r.peer, r.reason, r.method, r.public_key_sha256_hex,
                       r.first_seen, r.last_seen);
        if (!ins) return ins.error();
        if (*ins == 0) {  // another replica held it a moment ago: it is that one
            auto again = bump();
            if (!again) return again.error();
            if (!*again) return make_error(Code::storage_unavailable, what + ": held request vanished; retry");
            return Out{std::move(**again), false};
        }
        if (auto a = insert_audit(audit, what); !a) return a.error();
        HeldRequest h = r;
        h.state = HoldState::pending;
        h.asks = 1;
        return Out{std::move(h), true};
    });
}

Result<std::optional<HeldRequest>> PgStore::find_held(const std::string& id) {
    return call<std::optional<HeldRequest>>("find_held " + id, [&](const std::string& what) {
        return one(collect(what, read_held, kSelectHeld + " WHERE id = $1", id));
    });
}

Result<std::vector<HeldRequest>> PgStore::list_held(std::optional<HoldState> state, std::size_t limit) {
    const std::int64_t s = state ? static_cast<std::int64_t>(*state) : 0;
    return call<std::vector<HeldRequest>>("list_held", [&](const std::string& what) {
        return collect(what, read_held,
                       kSelectHeld + " WHERE ($1::int = 0 OR state = $1::int) ORDER BY first_seen DESC, id LIMIT $2",
                       s, clamp_limit(limit));
    });
}

Result<HeldRequest> PgStore::decide_held(const std::string& id, bool approve, const std::string& by,
                                         const std::string& note, std::int64_t at, const AuditEvent& audit) {
    return write<HeldRequest>("decide_held " + id, [&](const std::string& what) -> Result<HeldRequest> {
        auto upd = run(what,
                       "UPDATE held_requests SET state = $1, decided_at = $2, decided_by = $3, note = $4"
                       " WHERE id = $5 AND state = 1",
                       std::int64_t{approve ? 2 : 3}, at, by, note, id);
        if (!upd) return upd.error();
        auto h = one(collect(what, read_held, kSelectHeld + " WHERE id = $1", id));
        if (!h) return h.error();
        if (!*h) return make_error(Code::not_found, "no held request '" + id + "'");
        if (*upd == 0)
            return make_error(Code::conflict,
                              "held request " + id + " is " + hold_state_name((*h)->state) + ", not pending");
        if (auto a = insert_audit(audit, what); !a) return a.error();
        return std::move(**h);
    });
}

Result<std::int64_t> PgStore::expire_held(std::int64_t before) {
    return write<std::int64_t>("expire_held", [&](const std::string& what) {
        return run(what, "UPDATE held_requests SET state = 5 WHERE state IN (1, 2) AND last_seen < $1", before);
    });
}

Result<std::int64_t> PgStore::count_held(HoldState state) {
    return call<std::int64_t>("count_held", [&](const std::string& what) {
        return scalar(what, "SELECT COUNT(*) FROM held_requests WHERE state = $1", static_cast<std::int64_t>(state));
    });
}

Result<void> PgStore::add_registrations(const std::vector<Registration>& regs, const AuditEvent& audit) {
    return write<void>("add_registrations", [&](const std::string& what) -> Result<void> {
        for (const auto& r : regs) {
            auto ins = run(what,
                           "INSERT INTO registrations(device_id, class_id, public_key, public_key_sha256, created_at,"
                           " note) VALUES($1, $2, $3, $4, $5, $6) ON CONFLICT(device_id) DO NOTHING",
                           r.device_id, r.class_id, r.public_key, r.public_key_sha256_hex, r.created_at, r.note);
            if (!ins) return ins.error();
            if (*ins == 0)
                return make_error(Code::already_exists, "device '" + r.device_id + "' is registered already");
        }
        return insert_audit(audit, what);
    });
}

Result<std::optional<Registration>> PgStore::find_registration(const std::string& device_id) {
    return call<std::optional<Registration>>("find_registration " + device_id, [&](const std::string& what) {
        return one(collect(what, read_registration, kSelectRegistration + " WHERE device_id = $1", device_id));
    });
}

Result<std::vector<Registration>> PgStore::list_registrations(const std::string& after, std::size_t limit) {
    return call<std::vector<Registration>>("list_registrations", [&](const std::string& what) {
        return collect(what, read_registration,
                       kSelectRegistration + " WHERE device_id > $1 ORDER BY device_id LIMIT $2", after, clamp_limit(limit));
    });
}

Result<void> PgStore::remove_registration(const std::string& device_id, const AuditEvent& audit) {
    return write<void>("remove_registration " + device_id, [&](const std::string& what) -> Result<void> {
        auto del = run(what, "DELETE FROM registrations WHERE device_id = $1", device_id);
        if (!del) return del.error();
        if (*del == 0) return make_error(Code::not_found, "device '" + device_id + "' is not registered");
        return insert_audit(audit, what);
    });
}

Result<std::int64_t> PgStore::count_new_devices(const std::string& class_id, std::int64_t since) {
    return call<std::int64_t>("count_new_devices", [&](const std::string& what) {
        return scalar(what, "SELECT COUNT(*) FROM devices WHERE class_id = $1 AND first_seen >= $2", class_id, since);
    });
}

Result<std::int64_t> PgStore::surge_lifted_until(const std::string& class_id) {
    return call<std::int64_t>("surge_lifted_until", [&](const std::string& what) {
        return scalar(what, "SELECT COALESCE(MAX(lifted_until), 0) FROM surge_lifts WHERE class_id = $1", class_id);
    });
}

Result<void> PgStore::lift_surge(const std::string& class_id, std::int64_t until, const AuditEvent& audit) {
    return write<void>("lift_surge " + class_id, [&](const std::string& what) -> Result<void> {
        auto up = run(what,
                      "INSERT INTO surge_lifts(class_id, lifted_until) VALUES($1, $2)"
                      " ON CONFLICT(class_id) DO UPDATE SET lifted_until = excluded.lifted_until",
                      class_id, until);
        if (!up) return up.error();
        return insert_audit(audit, what);
    });
}

Result<void> PgStore::touch_device(const std::string& device_id, std::int64_t at) {
    return write<void>("touch_device " + device_id, [&](const std::string& what) -> Result<void> {
        auto upd = run(what, "UPDATE devices SET last_seen = GREATEST(last_seen, $1) WHERE device_id = $2", at,
                       device_id);
        if (!upd) return upd.error();
        if (*upd == 0) return make_error(Code::not_found, "no device '" + device_id + "'");
        return {};
    });
}

Result<std::vector<std::string>> PgStore::release_device(const std::string& device_id, std::int64_t at,
                                                          const AuditEvent& audit) {
    using Out = std::vector<std::string>;
    return write<Out>("release_device " + device_id, [&](const std::string& what) -> Result<Out> {
        // The device row first (the lock order of every write).
        auto state = one(collect(
            what, [](const Row& r) { return r.null(0) ? std::int64_t{0} : std::int64_t{1}; },
            "SELECT released_at FROM devices WHERE device_id = $1 FOR UPDATE", device_id));
        if (!state) return state.error();
        if (!*state) return make_error(Code::not_found, "no device '" + device_id + "'");
        if (**state != 0) return make_error(Code::conflict, "device '" + device_id + "' is released already");
        auto revoked = collect(what, read_text0,
                               "UPDATE certificates SET revoked_at = $1, revocation_reason = $2"
                               " WHERE device_id = $3 AND revoked_at IS NULL RETURNING serial",
                               at, std::int64_t{kReasonCessationOfOperation}, device_id);
        if (!revoked) return revoked.error();
        std::sort(revoked->begin(), revoked->end());
        auto dev = run(what, "UPDATE devices SET released_at = $1 WHERE device_id = $2", at, device_id);
        if (!dev) return dev.error();
        auto held =
            run(what, "UPDATE held_requests SET state = 5 WHERE device_id = $1 AND state IN (1, 2)", device_id);
        if (!held) return held.error();
        auto owner = run(what, "UPDATE device_owners SET until = $1 WHERE device_id = $2 AND until = 0", at, device_id);
        if (!owner) return owner.error();
        if (auto a = insert_audit(audit, what); !a) return a.error();
        return std::move(*revoked);
    });
}

Result<std::vector<std::string>> PgStore::devices_unseen_since(std::int64_t before, std::size_t limit) {
    return call<std::vector<std::string>>("devices_unseen_since", [&](const std::string& what) {
        return collect(what, read_text0,
                       "SELECT device_id FROM devices WHERE released_at IS NULL AND last_seen < $1"
                       " ORDER BY last_seen, device_id LIMIT $2",
                       before, clamp_limit(limit));
    });
}

}  // namespace irp::server::postgres
