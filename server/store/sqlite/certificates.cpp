// SQLite Store: devices, certificates, install reports, revocation, the
// audit log and listings.
#include <limits>

#include "store/sqlite/sqlite_store.hpp"

namespace irp::server::sqlite {

namespace {

const std::string kSelectCert =
    "SELECT issuer, serial, device_id, class_id, der, not_before, not_after, issued_at,"
    " status, install_status, replaces, replaced_by, public_key_sha256, revoked_at,"
    " revocation_reason FROM certificates";

Result<CertificateRecord> read_cert(const Stmt& st) {
    CertificateRecord c;
    c.issuer = st.text(0);
    c.serial_hex = st.text(1);
    c.device_id = st.text(2);
    c.class_id = st.text(3);
    c.der = st.blob(4);
    c.not_before = st.integer(5);
    c.not_after = st.integer(6);
    c.issued_at = st.integer(7);
    // Refuse values this code never writes rather than pass on a bogus enum.
    const std::int64_t status = st.integer(8);
    if (status < 1 || status > 4)
        return make_error(Code::internal, "certificate " + c.serial_hex + ": invalid status " + std::to_string(status));
    c.status = static_cast<CertStatus>(status);
    if (!st.is_null(9)) c.install_status = static_cast<std::uint32_t>(st.integer(9));
    c.replaces = st.text(10);
    c.replaced_by = st.text(11);
    c.public_key_sha256_hex = st.text(12);
    if (!st.is_null(13)) c.revoked_at = st.integer(13);
    c.revocation_reason = static_cast<std::int32_t>(st.integer(14));
    return c;
}

Result<DeviceRecord> read_device(const Stmt& st) {
    DeviceRecord d{st.text(0), st.text(1), st.integer(2), st.integer(3), std::nullopt};
    if (!st.is_null(4)) d.released_at = st.integer(4);
    return d;
}

// Marks `c.replaces` superseded by `c` inside the caller's transaction, which
// holds SQLite's write lock, so two renewals of one certificate cannot both
// pass. A certificate already superseded may be renewed again only if its
// successor never reached the device (still `issued`, or `install_failed`):
// that successor is then abandoned (superseded) too. docs/PROTOCOL.md,
// "Renewal".
Result<void> supersede(Conn& db, const CertificateRecord& c, const std::string& what) {
    const std::int64_t kIssued = static_cast<std::int64_t>(CertStatus::issued);
    const std::int64_t kInstalled = static_cast<std::int64_t>(CertStatus::installed);
    const std::int64_t kSuperseded = static_cast<std::int64_t>(CertStatus::superseded);
    const std::int64_t kFailed = static_cast<std::int64_t>(CertStatus::install_failed);
    auto st = query(db, what + ": read " + c.replaces,
                    "SELECT status, replaced_by, revoked_at IS NOT NULL FROM certificates"
                    " WHERE serial = ?1 AND device_id = ?2",
                    c.replaces, c.device_id);
    if (!st) return st.error();
    auto row = st->step(what);
    if (!row) return row.error();
    if (!*row)
        return make_error(Code::unknown_certificate, what + ": replaced certificate " + c.replaces + " not found");
    const std::int64_t status = st->integer(0);
    const std::string successor = st->text(1);
    if (st->integer(2) != 0) return make_error(Code::certificate_not_active, "the certificate is revoked");
    if (status == kSuperseded) {
        auto gone = run(db, what + ": abandon " + successor,
                        "UPDATE certificates SET status = ?1 WHERE serial = ?2 AND status IN (?3, ?4)"
                        " AND revoked_at IS NULL",
                        kSuperseded, successor, kIssued, kFailed);
        if (!gone) return gone.error();
        if (*gone == 0) return make_error(Code::certificate_not_active, "the certificate has already been renewed");
    } else if (status != kIssued && status != kInstalled) {
        return make_error(Code::certificate_not_active, "the certificate is not active");
    }
    auto upd = run(db, what + ": supersede " + c.replaces,
                   "UPDATE certificates SET status = ?1, replaced_by = ?2 WHERE serial = ?3", kSuperseded, c.serial_hex,
                   c.replaces);
    if (!upd) return upd.error();
    return {};
}

}  // namespace

Result<void> SqliteStore::record_issuance(const IssuanceRecord& rec) {
    const std::string what = "record_issuance";
    const auto& c = rec.certificate;
    const auto& a = rec.audit;
    return group_.run(mu_, conn_, what, [&]() -> Result<void> {
        Conn& db = conn_;
        auto dev = run(db, what + ": upsert device",
                       "INSERT INTO devices(device_id, class_id, first_seen, last_seen)"
                       " VALUES(?1, ?2, ?3, ?3) ON CONFLICT(device_id) DO UPDATE"
                       " SET class_id = excluded.class_id, last_seen = excluded.last_seen",
                       c.device_id, c.class_id, a.at);
        if (!dev) return dev.error();

        auto cert = run(db, what + ": insert certificate " + c.serial_hex,
                        "INSERT INTO certificates(issuer, serial, device_id, class_id, der,"
                        " not_before, not_after, issued_at, status, install_status, replaces,"
                        " replaced_by, public_key_sha256)"
                        " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11, ?12, ?13)",
                        c.issuer, c.serial_hex, c.device_id, c.class_id, c.der, c.not_before, c.not_after, c.issued_at,
                        static_cast<std::int64_t>(c.status), c.install_status, c.replaces, c.replaced_by,
                        c.public_key_sha256_hex);
        if (!cert) return cert.error();

        if (!c.replaces.empty())
            if (auto r = supersede(db, c, what); !r) return r;

        if (!rec.held_request_id.empty()) {
            auto held = run(db, what + ": held request " + rec.held_request_id,
                            "UPDATE held_requests SET state = 4, serial = ?1 WHERE id = ?2 AND state IN (2, 4)",
                            c.serial_hex, rec.held_request_id);
            if (!held) return held.error();
            if (*held == 0)
                return make_error(Code::request_rejected, "held request " + rec.held_request_id + " is no longer approved");
        }
        if (auto r = insert_audit(db, a, what); !r) return r.error();
        return {};
    });
}

Result<void> SqliteStore::record_install(const std::string& serial_hex, std::uint32_t report, const AuditEvent& audit) {
    const std::string what = "record_install " + serial_hex;
    const auto status = report == 0 ? CertStatus::installed : CertStatus::install_failed;
    return group_.run(mu_, conn_, what, [&]() -> Result<void> {
        Conn& db = conn_;

        auto cert = run(db, what + ": update certificate",
                        "UPDATE certificates SET status = CASE WHEN status = 3 THEN 3 ELSE ?1 END,"
                        " install_status = ?2 WHERE serial = ?3",
                        static_cast<std::int64_t>(status), std::int64_t{report}, serial_hex);
        if (!cert) return cert.error();
        if (*cert == 0) return make_error(Code::unknown_certificate, what + ": no such certificate");

        // Only forward: a report in the second of the issuance (the usual
        // case) leaves the row, its index and so two WAL pages untouched.
        auto dev = run(db, what + ": update device",
                       "UPDATE devices SET last_seen = ?1 WHERE device_id ="
                       " (SELECT device_id FROM certificates WHERE serial = ?2) AND last_seen < ?1",
                       audit.at, serial_hex);
        if (!dev) return dev.error();

        if (auto r = insert_audit(db, audit, what); !r) return r.error();
        return {};
    });
}

Result<std::optional<CertificateRecord>> SqliteStore::find_certificate(const std::string& serial_hex) {
    const std::string what = "find_certificate " + serial_hex;
    std::lock_guard lock(mu_);
    auto st = query(conn_, what, kSelectCert + " WHERE serial = ?1", serial_hex);
    if (!st) return st.error();
    return one(collect<CertificateRecord>(*st, what, read_cert));
}

Result<std::vector<CertificateRecord>> SqliteStore::certificates_of(const std::string& device_id) {
    const std::string what = "certificates_of " + device_id;
    std::lock_guard lock(mu_);
    auto st = query(conn_, what, kSelectCert + " WHERE device_id = ?1 ORDER BY issued_at, rowid", device_id);
    if (!st) return st.error();
    return collect<CertificateRecord>(*st, what, read_cert);
}

Result<std::vector<AuditEvent>> SqliteStore::audit_log(std::size_t limit) {
    const std::string what = "audit_log";
    // LIMIT takes a signed 64-bit value; larger requests just mean "all".
    const auto max = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
    const auto n = static_cast<std::int64_t>(limit < max ? limit : max);
    std::lock_guard lock(mu_);
    // id, not `at`, orders events: it is the append order, and clocks may step back.
    auto st = query(conn_, what,
                    "SELECT at, actor, action, device_id, serial, peer, detail FROM audit"
                    " ORDER BY id DESC LIMIT ?1",
                    n);
    if (!st) return st.error();
    return collect<AuditEvent>(*st, what, [](const Stmt& row) -> Result<AuditEvent> {
        return AuditEvent{row.integer(0), row.text(1), row.text(2), row.text(3), row.text(4), row.text(5), row.text(6)};
    });
}

Result<std::int64_t> SqliteStore::count_certificates() {
    std::lock_guard lock(mu_);
    return scalar(conn_, "count_certificates", "SELECT COUNT(*) FROM certificates");
}

Result<std::int64_t> SqliteStore::count_devices() {
    std::lock_guard lock(mu_);
    return scalar(conn_, "count_devices", "SELECT COUNT(*) FROM devices");
}

Result<void> SqliteStore::revoke(const std::string& serial_hex, std::int32_t reason, std::int64_t at,
                                 const AuditEvent& audit) {
    const std::string what = "revoke " + serial_hex;
    std::lock_guard lock(mu_);
    Conn& db = conn_;
    Tx tx(db);
    if (auto r = tx.begin(what); !r) return r;
    auto exists = scalar(db, what, "SELECT COUNT(*) FROM certificates WHERE serial = ?1", serial_hex);
    if (!exists) return exists.error();
    if (*exists == 0) return make_error(Code::unknown_certificate, "no certificate with serial " + serial_hex);
    auto upd = run(db, what,
                   "UPDATE certificates SET revoked_at = ?1, revocation_reason = ?2"
                   " WHERE serial = ?3 AND revoked_at IS NULL",
                   at, std::int64_t{reason}, serial_hex);
    if (!upd) return upd.error();
    if (*upd == 0) return make_error(Code::certificate_not_active, "certificate " + serial_hex + " is already revoked");
    if (auto r = insert_audit(db, audit, what); !r) return r.error();
    return tx.commit(what);
}

Result<std::vector<RevokedEntry>> SqliteStore::revoked(const std::string& issuer, std::int64_t not_after_from) {
    const std::string what = "revoked " + issuer;
    std::lock_guard lock(mu_);
    auto st = query(conn_, what,
                    "SELECT serial, revoked_at, revocation_reason FROM certificates"
                    " WHERE issuer = ?1 AND revoked_at IS NOT NULL AND not_after >= ?2 ORDER BY serial",
                    issuer, not_after_from);
    if (!st) return st.error();
    return collect<RevokedEntry>(*st, what, [](const Stmt& row) -> Result<RevokedEntry> {
        return RevokedEntry{row.text(0), row.integer(1), static_cast<std::int32_t>(row.integer(2))};
    });
}

Result<std::int64_t> SqliteStore::revocation_epoch(const std::string& issuer) {
    const std::string what = "revocation_epoch " + issuer;
    std::lock_guard lock(mu_);
    return scalar(conn_, what, "SELECT COALESCE(MAX(epoch), 0) FROM revocation_epochs WHERE issuer = ?1", issuer);
}

Result<std::int64_t> SqliteStore::next_crl_number(const std::string& issuer) {
    const std::string what = "next_crl_number " + issuer;
    std::lock_guard lock(mu_);
    Conn& db = conn_;
    Tx tx(db);
    if (auto r = tx.begin(what); !r) return r.error();
    auto up = run(db, what,
                  "INSERT INTO crl_numbers(issuer, last) VALUES(?1, 1)"
                  " ON CONFLICT(issuer) DO UPDATE SET last = last + 1",
                  issuer);
    if (!up) return up.error();
    auto n = scalar(db, what, "SELECT last FROM crl_numbers WHERE issuer = ?1", issuer);
    if (!n) return n.error();
    if (auto r = tx.commit(what); !r) return r.error();
    return *n;
}

Result<std::vector<CertificateRecord>> SqliteStore::list_certificates(const CertificateQuery& q) {
    const std::string what = "list_certificates";
    std::lock_guard lock(mu_);
    // Every filter is a bound parameter; an empty one matches everything.
    const std::int64_t status = q.status ? static_cast<std::int64_t>(*q.status) : 0;
    const std::int64_t revoked = q.revoked ? (*q.revoked ? 1 : 0) : -1;
    auto st = query(conn_, what,
                    kSelectCert +
                        " WHERE (?1 = '' OR device_id = ?1) AND (?2 = 0 OR status = ?2)"
                        " AND (?3 = -1 OR (revoked_at IS NOT NULL) = ?3) AND serial > ?4"
                        " ORDER BY serial LIMIT ?5",
                    q.device_id, status, revoked, q.after_serial, clamp_limit(q.limit));
    if (!st) return st.error();
    return collect<CertificateRecord>(*st, what, read_cert);
}

Result<std::vector<DeviceRecord>> SqliteStore::list_devices(const std::string& after, std::size_t limit) {
    const std::string what = "list_devices";
    std::lock_guard lock(mu_);
    auto st = query(conn_, what,
                    "SELECT device_id, class_id, first_seen, last_seen, released_at FROM devices"
                    " WHERE device_id > ?1 ORDER BY device_id LIMIT ?2",
                    after, clamp_limit(limit));
    if (!st) return st.error();
    return collect<DeviceRecord>(*st, what, read_device);
}

Result<std::optional<DeviceRecord>> SqliteStore::find_device(const std::string& device_id) {
    const std::string what = "find_device";
    std::lock_guard lock(mu_);
    auto st = query(conn_, what, "SELECT device_id, class_id, first_seen, last_seen, released_at FROM devices WHERE device_id = ?1",
                    device_id);
    if (!st) return st.error();
    return one(collect<DeviceRecord>(*st, what, read_device));
}

}  // namespace irp::server::sqlite
