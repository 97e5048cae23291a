// The SQLite Store (store.hpp): one connection guarded by a mutex. The
// server calls in from its network threads and SQLite serialises writers
// anyway, so a pool would buy nothing. Every write is one BEGIN IMMEDIATE
// transaction: the write lock is taken up front (no deadlock-prone
// read-to-write upgrade), and an operation is either wholly on disk or not
// there at all. Values only ever reach SQL as bound parameters.
//
// Files: schema.cpp (migrations, open), certificates.cpp (issuance,
// revocation, listings), classes.cpp (device classes), lifecycle.cpp (held requests,
// pre-registered keys, surge guard, check-ins, release), accounts.cpp (rights,
// accounts, transfers).
#pragma once

#include <mutex>

#include "store/sqlite/db.hpp"
#include "store/sqlite/group_commit.hpp"
#include "store/store.hpp"

namespace irp::server::sqlite {

// Appends an audit event inside the caller's transaction.
inline Result<int> insert_audit(Conn& db, const AuditEvent& a, const std::string& what) {
    return run(db, what + ": insert audit",
               "INSERT INTO audit(at, actor, action, device_id, serial, peer, detail)"
               " VALUES(?1, ?2, ?3, ?4, ?5, ?6, ?7)",
               a.at, a.actor, a.action, a.device_id, a.serial_hex, a.peer, a.detail);
}

class SqliteStore final : public Store {
public:
    explicit SqliteStore(DbPtr db) : conn_(std::move(db)) {}

    Result<void> record_issuance(const IssuanceRecord& rec) override;
    Result<void> record_install(const std::string& serial_hex, std::uint32_t report, const AuditEvent& audit) override;
    Result<std::optional<CertificateRecord>> find_certificate(const std::string& serial_hex) override;
    Result<std::vector<CertificateRecord>> certificates_of(const std::string& device_id) override;
    Result<std::vector<AuditEvent>> audit_log(std::size_t limit) override;
    Result<std::int64_t> count_certificates() override;
    Result<std::int64_t> count_devices() override;
    Result<void> revoke(const std::string& serial_hex, std::int32_t reason, std::int64_t at,
                        const AuditEvent& audit) override;
    Result<std::vector<RevokedEntry>> revoked(const std::string& issuer, std::int64_t not_after_from) override;
    Result<std::int64_t> next_crl_number(const std::string& issuer) override;
    Result<std::int64_t> revocation_epoch(const std::string& issuer) override;
    Result<std::vector<CertificateRecord>> list_certificates(const CertificateQuery& q) override;
    Result<std::vector<DeviceRecord>> list_devices(const std::string& after, std::size_t limit) override;
    Result<std::optional<DeviceRecord>> find_device(const std::string& device_id) override;

    Result<void> create_class(const ClassRecord& c, const AuditEvent& audit) override;
    Result<void> update_class(const ClassRecord& c, const AuditEvent& audit) override;
    Result<std::optional<ClassRecord>> find_class(const std::string& name) override;
    Result<std::vector<ClassRecord>> list_classes() override;

    Result<std::pair<HeldRequest, bool>> hold_request(const HeldRequest& r, std::size_t max_pending,
                                                      const AuditEvent& audit) override;
    Result<std::optional<HeldRequest>> find_held(const std::string& id) override;
    Result<std::vector<HeldRequest>> list_held(std::optional<HoldState> state, std::size_t limit) override;
    Result<HeldRequest> decide_held(const std::string& id, bool approve, const std::string& by, const std::string& note,
                                    std::int64_t at, const AuditEvent& audit) override;
    Result<std::int64_t> expire_held(std::int64_t before) override;
    Result<std::int64_t> count_held(HoldState state) override;
    Result<void> add_registrations(const std::vector<Registration>& regs, const AuditEvent& audit) override;
    Result<std::optional<Registration>> find_registration(const std::string& device_id) override;
    Result<std::vector<Registration>> list_registrations(const std::string& after, std::size_t limit) override;
    Result<void> remove_registration(const std::string& device_id, const AuditEvent& audit) override;
    Result<std::int64_t> count_new_devices(const std::string& class_id, std::int64_t since) override;
    Result<std::int64_t> surge_lifted_until(const std::string& class_id) override;
    Result<void> lift_surge(const std::string& class_id, std::int64_t until, const AuditEvent& audit) override;
    Result<void> touch_device(const std::string& device_id, std::int64_t at) override;
    Result<std::vector<std::string>> release_device(const std::string& device_id, std::int64_t at,
                                                    const AuditEvent& audit) override;
    Result<std::vector<std::string>> devices_unseen_since(std::int64_t before, std::size_t limit) override;

    Result<void> set_rights(const RightsRecord& r, const AuditEvent& audit) override;
    Result<std::string> rights_for(const std::string& device_id, const std::string& class_id) override;
    Result<std::vector<RightsRecord>> list_rights() override;
    Result<void> create_account(const Account& a, const AuditEvent& audit) override;
    Result<std::optional<Account>> find_account(const std::string& name) override;
    Result<std::vector<Account>> list_accounts() override;
    Result<void> offer_transfer(const Transfer& t, const AuditEvent& audit) override;
    Result<std::optional<Transfer>> find_transfer(const std::string& id) override;
    Result<std::vector<Transfer>> list_transfers(const std::string& account, std::optional<TransferState> state,
                                                 std::size_t limit) override;
    Result<Transfer> decide_transfer(const std::string& id, TransferState to, const std::string& policy,
                                     const std::string& by, std::int64_t at, const AuditEvent& audit) override;
    Result<std::vector<Ownership>> owners_of(const std::string& device_id) override;

    // Runs the schema migrations (schema.cpp).
    Result<void> migrate();

    // Commits so far and the writes they carried (writes / commits = the
    // mean batch size of group commit).
    GroupCommit::Stats commit_stats() const { return group_.stats(); }

private:
    std::mutex mu_;  // guards conn_
    Conn conn_;
    GroupCommit group_;  // record_issuance and record_install
};

}  // namespace irp::server::sqlite
