// The server's decisions: who may enroll, renew or check in, what gets
// issued, what is held for an administrator, and what is recorded. Runs
// behind net::ServerHandler; every request is authorised here after the
// core session has checked the protocol and the proof of possession.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <variant>

#include "admin/metrics.hpp"
#include "ca/authority.hpp"
#include "classes/class_registry.hpp"
#include "directory/directory.hpp"
#include "irp/net/server.hpp"
#include "lifecycle/holds.hpp"
#include "log.hpp"
#include "store/store.hpp"

namespace irp::server {

class RevocationService;

struct ServicePolicy {
    bool allow_same_key_renewal = false;
    std::uint32_t check_in_s = 86'400;  // advised to devices in CheckedIn
};

// What the service answers a request that passed its checks.
struct Decision {
    std::variant<Issued, Pending, CheckedIn, Redirect> result;
    std::string answer_request_id;  // a held request's id ("" = the exchange's own)
    std::string serial_hex;         // Issued: the certificate's serial
    std::string held_reason;        // Pending: "approval" / "surge"
    std::string proof;              // enroll: how the device proved itself
    // check-in: what became of the device's CRL request, for the log
    // ("sent", "current", "too_large", "unavailable"; "" = none asked for).
    std::string crl{};
    std::int64_t crl_number{};  // the issuing CA's current CRL Number
    std::optional<Route> route{};  // Redirect: the rule that matched
};

// One line per request: "<utc> <op> device=<id> peer=<addr> request=<id>
// outcome=<issued|held|checked_in|rejected:<code>> ... <ms>".
using LogSink = std::function<void(const std::string&)>;

class EnrollService final : public net::ServerHandler {
public:
    // `clock` returns Unix seconds (tests pass a fixed clock).
    EnrollService(const Authority& ca, Store& store, const ClassRegistry& classes, HoldDesk& holds,
                  ServicePolicy policy, LogSink log, std::function<std::int64_t()> clock);

    Answer on_request(const RequestReceived& req, const net::PeerInfo& peer) override;
    bool on_install_report(const InstallReported& rep, const net::PeerInfo& peer) override;
    void on_rejected(const RequestRejected& rej, const net::PeerInfo& peer) override;
    void on_failure(const Error& err, const net::PeerInfo& peer) override;

    void set_metrics(Metrics* m) { metrics_ = m; }
    // Where check-in answers get the issuing CA's CRL (docs/PROTOCOL.md,
    // "Check-in"). Set once, before serving; without it check-ins carry no
    // CRL.
    void set_revocation(RevocationService* r) { revocation_ = r; }
    void set_log_format(LogFormat f) { format_ = f; }
    // The [[redirect]] rules (null: none). Enrollments that match one are
    // answered with a Redirect before anything else is checked; renewals
    // and check-ins present a certificate of this domain and are served.
    // Swapped on SIGHUP, for requests decided afterwards.
    void set_directory(std::shared_ptr<const Directory> d) {
        std::lock_guard lock(mu_);
        directory_ = std::move(d);
    }
    // SIGHUP: the renewal policy, for requests decided afterwards.
    void set_policy(ServicePolicy p) {
        std::lock_guard lock(mu_);
        policy_ = p;
    }
    void on_connection(int delta) override {
        if (metrics_) metrics_->connection(delta);
    }
    void on_refused(const net::PeerInfo& peer, const char* reason) override;

    // The decision without logging.
    Result<Decision> decide(const RequestReceived& req, const net::PeerInfo& peer);

private:
    Result<Decision> enroll(const RequestReceived& req, const net::PeerInfo& peer);
    Result<Decision> check_in(const RequestReceived& req);
    // The presented certificate as authorise_renew checked it: its record
    // and its parsed form, so that callers need not read or parse it again.
    struct Presented {
        CertificateRecord record;
        crypto::CertInfo info;
    };
    Result<Presented> authorise_renew(const RequestReceived& req);
    Result<void> check_csr_policy(const RequestReceived& req) const;
    Result<void> check_not_released(const std::string& device_id);
    // Signs, records (durably, before the answer) and remembers the
    // certificate for the install report.
    // `replaces`: the renewed certificate's record (its class carries over), or null for an enrollment.
    Result<Decision> issue(const RequestReceived& req, const net::PeerInfo& peer, const CertificateRecord* replaces,
                           const std::string& held_id);
    ServicePolicy policy() const {
        std::lock_guard lock(mu_);
        return policy_;
    }
    std::shared_ptr<const Directory> directory() const {
        std::lock_guard lock(mu_);
        return directory_;
    }

    const Authority& ca_;
    Store& store_;
    ServicePolicy policy_;  // guarded by mu_
    std::shared_ptr<const Directory> directory_;  // guarded by mu_
    const ClassRegistry& classes_;
    HoldDesk& holds_;
    LogSink log_;
    std::function<std::int64_t()> clock_;
    Metrics* metrics_ = nullptr;
    RevocationService* revocation_ = nullptr;
    LogFormat format_ = LogFormat::text;
    void emit(std::string_view event, const std::vector<LogField>& fields);
    std::atomic<std::uint64_t> refused_{0};

    // request id -> (serial, device) issued on that connection, so an install
    // report can only speak for the certificate its own exchange received.
    mutable std::mutex mu_;
    std::map<std::string, std::pair<std::string, std::string>> awaiting_install_;
    std::deque<std::string> awaiting_order_;  // request ids, oldest first
};

}  // namespace irp::server
