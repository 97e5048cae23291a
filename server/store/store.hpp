// The server's storage interface. SQLite is the embedded implementation
// (store/sqlite/); PostgreSQL (store/postgres/) lets several replicas of one
// domain share one database. tests/server/store_contract_test.cpp runs the
// same cases against both.
//
// Rule (docs/PROTOCOL.md, "Durability"): an issuance is committed, with its
// audit event, in ONE transaction before the certificate is sent.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"

namespace irp::server {

enum class CertStatus : std::uint8_t {
    issued = 1,      // sent to the device, no install report yet
    installed = 2,   // the device confirmed the install
    superseded = 3,  // replaced by a renewal
    install_failed = 4,  // the device reported a validation failure
};
const char* cert_status_name(CertStatus s);

struct CertificateRecord {
    std::string serial_hex;  // lower-case hex, the primary key with issuer
    std::string issuer;      // issuing CA identifier (hex of its SKI)
    std::string device_id;
    std::string class_id;
    Bytes der;
    std::int64_t not_before = 0;  // Unix seconds
    std::int64_t not_after = 0;
    std::int64_t issued_at = 0;
    CertStatus status = CertStatus::issued;
    std::optional<std::uint32_t> install_status;  // last install report code
    std::string replaces;     // serial_hex of the certificate renewed, or ""
    std::string replaced_by;  // serial_hex of its renewal, or ""
    std::string public_key_sha256_hex;
    // Revocation is orthogonal to the install status above: an installed
    // certificate can be revoked. Reason codes are RFC 5280 CRLReason values.
    std::optional<std::int64_t> revoked_at;  // Unix seconds
    std::int32_t revocation_reason = 0;
};

// One entry of a CRL or an OCSP answer.
struct RevokedEntry {
    std::string serial_hex;
    std::int64_t revoked_at = 0;
    std::int32_t reason = 0;  // RFC 5280 CRLReason
};

struct DeviceRecord {
    std::string device_id;
    std::string class_id;
    std::int64_t first_seen = 0;
    std::int64_t last_seen = 0;  // last issuance, install report or check-in
    // Released by its owner (or passively, unseen too long): its
    // certificates are revoked and this domain enrolls it no more.
    std::optional<std::int64_t> released_at;
};

// An enrollment held for an administrator (docs/PROTOCOL.md, "Held
// requests"). The device re-asks quoting `id` with the same key; the same
// device and key never make a second row while one is open.
enum class HoldState : std::uint8_t {
    pending = 1,   // waiting for a decision
    approved = 2,  // the device's next ask is issued a certificate
    rejected = 3,  // the device is told why, with request_rejected
    issued = 4,    // a certificate was issued for it (serial_hex)
    expired = 5,   // nobody decided (or the device never came back) in time
};
const char* hold_state_name(HoldState s);
std::optional<HoldState> parse_hold_state(std::string_view s);

struct HeldRequest {
    std::string id;  // the request id of the exchange that first asked
    std::string device_id;
    std::string class_id;
    std::string model;   // as claimed by the device
    std::string peer;    // source address of the first ask
    std::string reason;  // why held: "approval" (the class asks for it) or "surge"
    std::string method;  // how the device proved itself: "none", "token", "preregistered", "idevid"
    std::string public_key_sha256_hex;
    HoldState state = HoldState::pending;
    std::int64_t first_seen = 0;
    std::int64_t last_seen = 0;
    std::int64_t asks = 1;
    std::int64_t decided_at = 0;
    std::string decided_by;
    std::string note;        // the administrator's reason (sent to the device on rejection)
    std::string serial_hex;  // issued
};

// A device whose public key its owner imported ahead of time (HomeCA's
// "public key delivery"): proving possession of that key enrolls it with no
// human step.
struct Registration {
    std::string device_id;
    std::string class_id;
    Bytes public_key;  // SubjectPublicKeyInfo DER
    std::string public_key_sha256_hex;
    std::int64_t created_at = 0;
    std::string note;
};

// Rights (the certificate extension, irp/crypto/rights.hpp) an
// administrator set for one device or for every device of a class. They are
// copied into each certificate issued afterwards; a device's own rights
// replace its class's.
struct RightsRecord {
    std::string scope;   // "device" or "class"
    std::string name;    // the device id or the class name
    std::string rights;  // canonical text: accounts/rights_text.hpp
    std::int64_t updated_at = 0;
};

// Accounts and certificate transfer (docs/PROTOCOL.md, "Accounts and
// certificate transfer"). Every device belongs to the provider's account
// (kProviderAccount) until a transfer to a customer's account is accepted
// with a signature by the customer's key.
inline constexpr const char* kProviderAccount = "provider";

struct Account {
    std::string name;
    Bytes public_key;  // SubjectPublicKeyInfo DER of the key that authorises transfers; empty: the provider
    std::string public_key_sha256_hex;
    std::string note;
    std::int64_t created_at = 0;
};

enum class TransferState : std::uint8_t { offered = 1, accepted = 2, rejected = 3, cancelled = 4 };
const char* transfer_state_name(TransferState s);
std::optional<TransferState> parse_transfer_state(std::string_view s);

struct Transfer {
    std::string id;
    std::string from_account;
    std::string to_account;
    TransferState state = TransferState::offered;
    std::vector<std::string> devices;  // sorted, unique
    std::int64_t created_at = 0;
    std::string created_by;
    std::string note;
    std::int64_t decided_at = 0;
    std::string decided_by;
    std::string policy;  // accepted: the policy the customer attached (rights text)
};

// One period of a device's ownership; `until` 0 is the current owner.
struct Ownership {
    std::string device_id;
    std::string account;
    std::string policy;  // rights text
    std::int64_t since = 0;
    std::int64_t until = 0;
    std::string transfer_id;
};

// Filters and paging for listings; empty fields do not filter.
struct CertificateQuery {
    std::string device_id;
    std::optional<CertStatus> status;
    std::optional<bool> revoked;
    std::string after_serial;  // paging: serials greater than this, in order
    std::size_t limit = 100;
};

struct AuditEvent {
    std::int64_t at = 0;  // Unix seconds
    std::string actor;    // "device:<id>", "admin:<name>", "system"
    std::string action;   // "enroll", "renew", "install", ...
    std::string device_id;
    std::string serial_hex;
    std::string peer;     // source address
    std::string detail;   // free text / JSON
};

// A device class managed through the admin API (classes named in
// server.toml are not stored). Devices prove HMAC(secret, class||id); after
// a rotation the previous secret is still accepted until previous_until, so
// devices already made with tokens from it can still enroll.
struct ClassRecord {
    std::string name;
    Bytes secret;
    Bytes previous_secret;            // empty: none
    std::int64_t previous_until = 0;  // Unix seconds; previous_secret is refused from then on
    bool enabled = true;              // a disabled class enrolls nobody (renewals are unaffected)
    std::int64_t created_at = 0;
    std::int64_t updated_at = 0;
    unsigned methods = 1;      // how devices may join: BootstrapMethod bits (classes/class_registry.hpp); 1 = token
    std::string idevid_roots = {};  // PEM: the manufacturer CAs trusted for "idevid"
    // Bumped by every update_class; an update applies only to the version it
    // was read at, so two administrators (or replicas) changing one class at
    // once cannot silently undo each other.
    std::int64_t version = 0;
};

struct IssuanceRecord {
    CertificateRecord certificate;
    AuditEvent audit;
    // The held request this issuance answers: marked issued (with the
    // serial) in the same transaction.
    std::string held_request_id;
};

class Store {
public:
    virtual ~Store() = default;

    // One transaction: upsert the device (first_seen/last_seen/class), insert
    // the certificate, mark `certificate.replaces` (if any) superseded with
    // replaced_by set, append the audit event. A duplicate (issuer, serial)
    // fails with Code::internal and leaves nothing behind.
    virtual Result<void> record_issuance(const IssuanceRecord& rec) = 0;

    // Records an install report for a certificate: status becomes installed
    // (report 0) or install_failed (non-zero); appends an audit event.
    // Unknown serial: Code::unknown_certificate.
    virtual Result<void> record_install(const std::string& serial_hex, std::uint32_t report,
                                        const AuditEvent& audit) = 0;

    virtual Result<std::optional<CertificateRecord>> find_certificate(
        const std::string& serial_hex) = 0;
    virtual Result<std::vector<CertificateRecord>> certificates_of(const std::string& device_id) = 0;
    virtual Result<std::vector<AuditEvent>> audit_log(std::size_t limit) = 0;

    // ---- revocation ----
    // Revokes one certificate (and appends the audit event) in one
    // transaction. Unknown serial: unknown_certificate. Already revoked:
    // certificate_not_active, nothing written.
    virtual Result<void> revoke(const std::string& serial_hex, std::int32_t reason, std::int64_t at,
                                const AuditEvent& audit) = 0;
    // Every revoked certificate of `issuer` whose not_after is >= `not_after_from`
    // (expired entries may leave the CRL), ordered by serial.
    virtual Result<std::vector<RevokedEntry>> revoked(const std::string& issuer, std::int64_t not_after_from) = 0;
    // The next CRL number for `issuer`: strictly increasing across restarts
    // and across replicas sharing the database (RFC 5280 5.2.3).
    virtual Result<std::int64_t> next_crl_number(const std::string& issuer) = 0;
    // A counter that moves whenever a certificate of `issuer` is revoked or
    // its revocation changes, by any path and any replica (a database
    // trigger keeps it): while it stands still the revoked set has not
    // changed, so a cached CRL needs no new read of that set. 0 before the
    // first revocation.
    virtual Result<std::int64_t> revocation_epoch(const std::string& issuer) = 0;

    // ---- listings (admin API) ----
    virtual Result<std::vector<CertificateRecord>> list_certificates(const CertificateQuery& q) = 0;
    virtual Result<std::vector<DeviceRecord>> list_devices(const std::string& after_device_id, std::size_t limit) = 0;
    virtual Result<std::optional<DeviceRecord>> find_device(const std::string& device_id) = 0;
    virtual Result<std::int64_t> count_certificates() = 0;
    virtual Result<std::int64_t> count_devices() = 0;

    // ---- device classes (admin API) ----
    // Inserts a new class with its audit event. Name taken: already_exists.
    virtual Result<void> create_class(const ClassRecord& c, const AuditEvent& audit) = 0;
    // Replaces every mutable field of an existing class with its audit event,
    // if the stored version is still c.version (as find_class returned it);
    // the stored version becomes c.version + 1. Unknown name: not_found.
    // Changed since it was read: conflict, nothing written (read again and
    // redo the change).
    virtual Result<void> update_class(const ClassRecord& c, const AuditEvent& audit) = 0;
    virtual Result<std::optional<ClassRecord>> find_class(const std::string& name) = 0;
    virtual Result<std::vector<ClassRecord>> list_classes() = 0;

    // ---- held requests (store/*/lifecycle.cpp) ----
    // An open (pending or approved) request of the same device and key is
    // returned with last_seen and asks updated; otherwise `r` is inserted
    // with its audit event, unless `max_pending` requests are pending
    // already (too_many_pending). The bool says whether it was inserted.
    virtual Result<std::pair<HeldRequest, bool>> hold_request(const HeldRequest& r, std::size_t max_pending,
                                                              const AuditEvent& audit) = 0;
    virtual Result<std::optional<HeldRequest>> find_held(const std::string& id) = 0;
    // Newest first; no state: all.
    virtual Result<std::vector<HeldRequest>> list_held(std::optional<HoldState> state, std::size_t limit) = 0;
    // pending -> approved or rejected. Unknown id: not_found; any other
    // state: conflict (nothing written).
    virtual Result<HeldRequest> decide_held(const std::string& id, bool approve, const std::string& by,
                                            const std::string& note, std::int64_t at, const AuditEvent& audit) = 0;
    // Pending and approved requests last seen before `before` become
    // expired. Returns how many.
    virtual Result<std::int64_t> expire_held(std::int64_t before) = 0;
    virtual Result<std::int64_t> count_held(HoldState state) = 0;

    // ---- pre-registered keys ----
    // All or nothing: a device id registered already (or twice in `regs`)
    // fails the whole import with already_exists.
    virtual Result<void> add_registrations(const std::vector<Registration>& regs, const AuditEvent& audit) = 0;
    virtual Result<std::optional<Registration>> find_registration(const std::string& device_id) = 0;
    virtual Result<std::vector<Registration>> list_registrations(const std::string& after, std::size_t limit) = 0;
    // Unknown: not_found.
    virtual Result<void> remove_registration(const std::string& device_id, const AuditEvent& audit) = 0;

    // ---- surge guard and device lifecycle ----
    // Devices of `class_id` first seen at or after `since`.
    virtual Result<std::int64_t> count_new_devices(const std::string& class_id, std::int64_t since) = 0;
    // An administrator lifted the surge guard of a class until `until` (0: not lifted).
    virtual Result<std::int64_t> surge_lifted_until(const std::string& class_id) = 0;
    virtual Result<void> lift_surge(const std::string& class_id, std::int64_t until, const AuditEvent& audit) = 0;
    // A check-in: last_seen = at. Unknown device: not_found.
    virtual Result<void> touch_device(const std::string& device_id, std::int64_t at) = 0;
    // One transaction: every unrevoked certificate of the device is revoked
    // (cessationOfOperation), its ownership by an account ends, and the
    // device is marked released. Returns the
    // serials revoked. Unknown: not_found; released already: conflict.
    virtual Result<std::vector<std::string>> release_device(const std::string& device_id, std::int64_t at,
                                                            const AuditEvent& audit) = 0;
    // Devices not released whose last_seen is before `before`, oldest first.
    virtual Result<std::vector<std::string>> devices_unseen_since(std::int64_t before, std::size_t limit) = 0;

    // ---- rights and accounts (store/*/accounts.cpp) ----
    // Sets the rights of a device or class; empty `r.rights` removes them
    // (not_found when there were none).
    virtual Result<void> set_rights(const RightsRecord& r, const AuditEvent& audit) = 0;
    // The rights text for a certificate of `device_id` in `class_id`: the
    // device's own, else its class's, else "".
    virtual Result<std::string> rights_for(const std::string& device_id, const std::string& class_id) = 0;
    virtual Result<std::vector<RightsRecord>> list_rights() = 0;

    // Name taken: already_exists.
    virtual Result<void> create_account(const Account& a, const AuditEvent& audit) = 0;
    virtual Result<std::optional<Account>> find_account(const std::string& name) = 0;
    virtual Result<std::vector<Account>> list_accounts() = 0;
    // One transaction: each device exists (not_found), is not released and
    // is owned now by t.from_account (conflict), and is in no other offered
    // transfer (conflict); then `t` is inserted, offered. An id taken:
    // already_exists.
    virtual Result<void> offer_transfer(const Transfer& t, const AuditEvent& audit) = 0;
    virtual Result<std::optional<Transfer>> find_transfer(const std::string& id) = 0;
    // Newest first; `account` "" lists all, else the transfers from or to it.
    virtual Result<std::vector<Transfer>> list_transfers(const std::string& account, std::optional<TransferState> state,
                                                         std::size_t limit) = 0;
    // offered -> accepted, rejected or cancelled. Accepting moves every
    // device: its current ownership ends at `at` and the target account
    // owns it from `at` with `policy`; a device released meanwhile fails
    // the whole acceptance with conflict. Unknown id: not_found; not
    // offered: conflict (nothing written).
    virtual Result<Transfer> decide_transfer(const std::string& id, TransferState to, const std::string& policy,
                                             const std::string& by, std::int64_t at, const AuditEvent& audit) = 0;
    // Oldest first; empty: the provider's since the device was first seen.
    virtual Result<std::vector<Ownership>> owners_of(const std::string& device_id) = 0;
};

// RFC 5280 CRLReason cessationOfOperation: the reason a release revokes with.
inline constexpr std::int32_t kReasonCessationOfOperation = 5;

// Opens (creating if needed) a SQLite database at `path`, in WAL mode with a
// busy timeout, and runs the schema migrations.
Result<std::unique_ptr<Store>> open_sqlite_store(const std::string& path);

// Connects to PostgreSQL and runs the schema migrations (safe when several
// servers start at once). `conninfo` is a libpq connection string
// ("host=db dbname=irp user=irp connect_timeout=5") or a postgresql:// URL;
// connect_timeout defaults to 10 s. Unreachable database: storage_unavailable;
// a malformed conninfo: config_invalid. Messages never repeat the conninfo
// (it may hold a password). A connection lost later is re-established by the
// next call.
Result<std::unique_ptr<Store>> open_postgres_store(const std::string& conninfo);

}  // namespace irp::server
