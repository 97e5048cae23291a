// The server's decisions: who may enroll or renew, what gets issued, and
// what is recorded. Runs behind net::ServerHandler; every request is
// authorised here after the core session has checked the protocol and the
// proof of possession.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <mutex>

#include "admin/metrics.hpp"
#include "ca/authority.hpp"
#include "classes/class_registry.hpp"
#include "irp/net/server.hpp"
#include "log.hpp"
#include "store/store.hpp"

namespace irp::server {

struct ServicePolicy {
    bool allow_same_key_renewal = false;
};

// One line per request: "<utc> <op> device=<id> peer=<addr> request=<id>
// outcome=<issued|rejected:<code>> ... <ms>".
using LogSink = std::function<void(const std::string&)>;

class EnrollService final : public net::ServerHandler {
public:
    // `clock` returns Unix seconds (tests pass a fixed clock).
    EnrollService(const Authority& ca, Store& store, const ClassRegistry& classes, ServicePolicy policy,
                  LogSink log, std::function<std::int64_t()> clock);

    Answer on_request(const RequestReceived& req, const net::PeerInfo& peer) override;
    bool on_install_report(const InstallReported& rep, const net::PeerInfo& peer) override;
    void on_rejected(const RequestRejected& rej, const net::PeerInfo& peer) override;
    void on_failure(const Error& err, const net::PeerInfo& peer) override;

    void set_metrics(Metrics* m) { metrics_ = m; }
    void set_log_format(LogFormat f) { format_ = f; }
    // SIGHUP: the renewal policy, for requests decided afterwards.
    void set_policy(ServicePolicy p) {
        std::lock_guard lock(mu_);
        policy_ = p;
    }
    void on_connection(int delta) override {
        if (metrics_) metrics_->connection(delta);
    }
    void on_refused(const net::PeerInfo& peer, const char* reason) override;

    // The decision without logging; public for tests.
    // `serial_hex`, when given, receives the issued certificate's serial.
    Result<Issued> decide(const RequestReceived& req, const net::PeerInfo& peer, std::string* serial_hex = nullptr);

private:
    Result<void> authorise_enroll(const RequestReceived& req) const;
    Result<std::string> authorise_renew(const RequestReceived& req);  // -> serial replaced
    Result<void> check_csr_policy(const RequestReceived& req) const;

    const Authority& ca_;
    Store& store_;
    ServicePolicy policy_;  // guarded by mu_
    const ClassRegistry& classes_;
    LogSink log_;
    std::function<std::int64_t()> clock_;
    Metrics* metrics_ = nullptr;
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
