// PostgreSQL Store: devices, certificates, install reports, revocation,
// the audit log and listings.
#include "store/postgres/pg_store.hpp"

namespace irp::server::postgres {

namespace {

const std::string kSelectCert =
    "SELECT issuer, serial, device_id, class_id, der, not_before, not_after, issued_at,"
    " status, install_status, replaces, replaced_by, public_key_sha256, revoked_at,"
    " revocation_reason FROM certificates";

CertificateRecord read_cert(const Row& row) {
    CertificateRecord c;
    c.issuer = row.text(0);
    c.serial_hex = row.text(1);
    c.device_id = row.text(2);
    c.class_id = row.text(3);
    c.der = row.blob(4);
    c.not_before = row.integer(5);
    c.not_after = row.integer(6);
    c.issued_at = row.integer(7);
    const std::int64_t status = row.integer(8);
    if (status < 1 || status > 4) row.bad = true;  // never pass on a bogus enum
    c.status = static_cast<CertStatus>(status);
    if (!row.null(9)) c.install_status = static_cast<std::uint32_t>(row.integer(9));
    c.replaces = row.text(10);
    c.replaced_by = row.text(11);
    c.public_key_sha256_hex = row.text(12);
    if (!row.null(13)) c.revoked_at = row.integer(13);
    c.revocation_reason = static_cast<std::int32_t>(row.integer(14));
    return c;
}

DeviceRecord read_device(const Row& row) {
    DeviceRecord d{row.text(0), row.text(1), row.integer(2), row.integer(3), std::nullopt};
    if (!row.null(4)) d.released_at = row.integer(4);
    return d;
}


}  // namespace

Result<void> PgStore::record_issuance(const IssuanceRecord& rec) {
    const auto& c = rec.certificate;
    const auto& a = rec.audit;
    return write<void>("record_issuance", [&](const std::string& what) -> Result<void> {
        // Locks the device row first, like every write (see the top).
        auto dev = run(what + ": upsert device",
                       "INSERT INTO devices(device_id, class_id, first_seen, last_seen) VALUES($1, $2, $3, $3)"
                       " ON CONFLICT(device_id) DO UPDATE"
                       " SET class_id = excluded.class_id, last_seen = excluded.last_seen",
                       c.device_id, c.class_id, a.at);
        if (!dev) return dev.error();
        auto cert = run(what + ": insert certificate " + c.serial_hex,
                        "INSERT INTO certificates(issuer, serial, device_id, class_id, der, not_before,"
                        " not_after, issued_at, status, install_status, replaces, replaced_by, public_key_sha256)"
                        " VALUES($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13)",
                        c.issuer, c.serial_hex, c.device_id, c.class_id, c.der, c.not_before, c.not_after, c.issued_at,
                        static_cast<std::int64_t>(c.status), c.install_status, c.replaces, c.replaced_by,
                        c.public_key_sha256_hex);
        if (!cert) return cert.error();
        if (!c.replaces.empty())
            if (auto r = supersede(c, what); !r) return r;
        if (!rec.held_request_id.empty()) {
            auto held = run(what + ": held request " + rec.held_request_id,
                            "UPDATE held_requests SET state = 4, serial = $1 WHERE id = $2 AND state IN (2, 4)",
                            c.serial_hex, rec.held_request_id);
            if (!held) return held.error();
            if (*held == 0)
                return make_error(Code::request_rejected, "held request " + rec.held_request_id + " is no longer approved");
        }
        return insert_audit(a, what);
    });
}

Result<void> PgStore::record_install(const std::string& serial_hex, std::uint32_t report, const AuditEvent& audit) {
    const auto status = static_cast<std::int64_t>(report == 0 ? CertStatus::installed : CertStatus::install_failed);
    return write<void>("record_install " + serial_hex, [&](const std::string& what) -> Result<void> {
        // Device first, then the certificate: the lock order of record_issuance.
        // Only forward, as in SQLite: an unchanged row is not written.
        auto dev = run(what + ": update device",
                       "UPDATE devices SET last_seen = $1 WHERE device_id ="
                       " (SELECT device_id FROM certificates WHERE serial = $2) AND last_seen < $1",
                       audit.at, serial_hex);
        if (!dev) return dev.error();
        auto cert = run(what + ": update certificate",
                        "UPDATE certificates SET status = CASE WHEN status = 3 THEN 3 ELSE $1 END, install_status = $2"
                        " WHERE serial = $3",
                        status, std::int64_t{report}, serial_hex);
        if (!cert) return cert.error();
        if (*cert == 0) return make_error(Code::unknown_certificate, what + ": no such certificate");
        return insert_audit(audit, what);
    });
}

Result<std::optional<CertificateRecord>> PgStore::find_certificate(const std::string& serial_hex) {
    return call<std::optional<CertificateRecord>>("find_certificate " + serial_hex, [&](const std::string& what) {
        return one(collect(what, read_cert, kSelectCert + " WHERE serial = $1", serial_hex));
    });
}

Result<std::vector<CertificateRecord>> PgStore::certificates_of(const std::string& device_id) {
    return call<std::vector<CertificateRecord>>("certificates_of " + device_id, [&](const std::string& what) {
        return collect(what, read_cert, kSelectCert + " WHERE device_id = $1 ORDER BY issued_at, seq", device_id);
    });
}

Result<std::vector<AuditEvent>> PgStore::audit_log(std::size_t limit) {
    const auto max = static_cast<std::size_t>(std::numeric_limits<std::int64_t>::max());
    const auto n = static_cast<std::int64_t>(std::min(limit, max));
    return call<std::vector<AuditEvent>>("audit_log", [&](const std::string& what) {
        // id is the append order; clocks may step back.
        return collect(
            what,
            [](const Row& r) {
                return AuditEvent{r.integer(0), r.text(1), r.text(2), r.text(3), r.text(4), r.text(5), r.text(6)};
            },
            "SELECT at, actor, action, device_id, serial, peer, detail FROM audit ORDER BY id DESC LIMIT $1", n);
    });
}

Result<std::int64_t> PgStore::count_certificates() {
    return call<std::int64_t>("count_certificates", [&](const std::string& what) {
        return scalar(what, "SELECT COUNT(*) FROM certificates");
    });
}

Result<std::int64_t> PgStore::count_devices() {
    return call<std::int64_t>("count_devices",
                              [&](const std::string& what) { return scalar(what, "SELECT COUNT(*) FROM devices"); });
}

Result<void> PgStore::revoke(const std::string& serial_hex, std::int32_t reason, std::int64_t at,
                             const AuditEvent& audit) {
    return write<void>("revoke " + serial_hex, [&](const std::string& what) -> Result<void> {
        auto exists = scalar(what, "SELECT COUNT(*) FROM certificates WHERE serial = $1", serial_hex);
        if (!exists) return exists.error();
        if (*exists == 0) return make_error(Code::unknown_certificate, "no certificate with serial " + serial_hex);
        // The row lock makes a concurrent revoke wait, re-read the row and
        // find it revoked: exactly one of them succeeds.
        auto upd = run(what,
                       "UPDATE certificates SET revoked_at = $1, revocation_reason = $2"
                       " WHERE serial = $3 AND revoked_at IS NULL",
                       at, std::int64_t{reason}, serial_hex);
        if (!upd) return upd.error();
        if (*upd == 0)
            return make_error(Code::certificate_not_active, "certificate " + serial_hex + " is already revoked");
        return insert_audit(audit, what);
    });
}

Result<std::vector<RevokedEntry>> PgStore::revoked(const std::string& issuer, std::int64_t not_after_from) {
    return call<std::vector<RevokedEntry>>("revoked " + issuer, [&](const std::string& what) {
        return collect(
            what,
            [](const Row& r) {
                return RevokedEntry{r.text(0), r.integer(1), static_cast<std::int32_t>(r.integer(2))};
            },
            "SELECT serial, revoked_at, revocation_reason FROM certificates"
            " WHERE issuer = $1 AND revoked_at IS NOT NULL AND not_after >= $2 ORDER BY serial",
            issuer, not_after_from);
    });
}

Result<std::int64_t> PgStore::revocation_epoch(const std::string& issuer) {
    return call<std::int64_t>("revocation_epoch " + issuer, [&](const std::string& what) {
        return scalar(what, "SELECT COALESCE(MAX(epoch), 0) FROM revocation_epochs WHERE issuer = $1", issuer);
    });
}

Result<std::int64_t> PgStore::next_crl_number(const std::string& issuer) {
    // One atomic statement; the explicit transaction only marks the
    // COMMIT, after which a lost connection must not replay the call.
    return write<std::int64_t>("next_crl_number " + issuer, [&](const std::string& what) {
        return scalar(what,
                      "INSERT INTO crl_numbers(issuer, last) VALUES($1, 1) ON CONFLICT(issuer)"
                      " DO UPDATE SET last = crl_numbers.last + 1 RETURNING last",
                      issuer);
    });
}

Result<std::vector<CertificateRecord>> PgStore::list_certificates(const CertificateQuery& q) {
    const std::int64_t status = q.status ? static_cast<std::int64_t>(*q.status) : 0;
    const std::int64_t revoked = q.revoked ? (*q.revoked ? 1 : 0) : -1;
    return call<std::vector<CertificateRecord>>("list_certificates", [&](const std::string& what) {
        return collect(what, read_cert,
                       kSelectCert +
                           " WHERE ($1::text = '' OR device_id = $1::text) AND ($2::int = 0 OR status = $2::int)"
                           " AND ($3::int = -1 OR (revoked_at IS NOT NULL) = ($3::int = 1)) AND serial > $4::text"
                           " ORDER BY serial LIMIT $5::bigint",
                       q.device_id, status, revoked, q.after_serial, clamp_limit(q.limit));
    });
}

Result<std::vector<DeviceRecord>> PgStore::list_devices(const std::string& after, std::size_t limit) {
    return call<std::vector<DeviceRecord>>("list_devices", [&](const std::string& what) {
        return collect(what, read_device,
                       "SELECT device_id, class_id, first_seen, last_seen, released_at FROM devices"
                       " WHERE device_id > $1 ORDER BY device_id LIMIT $2::bigint",
                       after, clamp_limit(limit));
    });
}

Result<std::optional<DeviceRecord>> PgStore::find_device(const std::string& device_id) {
    return call<std::optional<DeviceRecord>>("find_device", [&](const std::string& what) {
        return one(collect(what, read_device,
                           "SELECT device_id, class_id, first_seen, last_seen, released_at FROM devices"
                           " WHERE device_id = $1",
                           device_id));
    });
}

Result<void> PgStore::supersede(const CertificateRecord& c, const std::string& what) {
    const std::int64_t kIssued = static_cast<std::int64_t>(CertStatus::issued);
    const std::int64_t kInstalled = static_cast<std::int64_t>(CertStatus::installed);
    const std::int64_t kSuperseded = static_cast<std::int64_t>(CertStatus::superseded);
    const std::int64_t kFailed = static_cast<std::int64_t>(CertStatus::install_failed);
    auto r = query(what + ": read " + c.replaces,
                   "SELECT status, replaced_by, revoked_at IS NOT NULL FROM certificates"
                   " WHERE serial = $1 AND device_id = $2 FOR UPDATE",
                   c.replaces, c.device_id);
    if (!r) return r.error();
    if (PQntuples(r->get()) == 0)
        return make_error(Code::unknown_certificate, what + ": replaced certificate " + c.replaces + " not found");
    Row row{r->get(), 0};
    const std::int64_t status = row.integer(0);
    const std::string successor = row.text(1);
    if (row.text(2) == "t") return make_error(Code::certificate_not_active, "the certificate is revoked");
    if (row.bad) return make_error(Code::internal, what + ": invalid status");
    if (status == kSuperseded) {
        auto gone = run(what + ": abandon " + successor,
                        "UPDATE certificates SET status = $1 WHERE serial = $2 AND status IN ($3, $4)"
                        " AND revoked_at IS NULL",
                        kSuperseded, successor, kIssued, kFailed);
        if (!gone) return gone.error();
        if (*gone == 0) return make_error(Code::certificate_not_active, "the certificate has already been renewed");
    } else if (status != kIssued && status != kInstalled) {
        return make_error(Code::certificate_not_active, "the certificate is not active");
    }
    auto upd = run(what + ": supersede " + c.replaces,
                   "UPDATE certificates SET status = $1, replaced_by = $2 WHERE serial = $3", kSuperseded, c.serial_hex,
                   c.replaces);
    if (!upd) return upd.error();
    return {};
}

}  // namespace irp::server::postgres
