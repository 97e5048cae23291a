// Held enrollments (docs/PROTOCOL.md, "Held requests"): a request is held
// when its class asks for approval and it carries no proof, or when the
// surge guard is up. The device is answered Pending with a request id and a
// retry-after; it re-asks with the same key, quoting the id, until an
// administrator approves (then it is issued) or rejects (then it is told why).
#pragma once

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>

#include "irp/core/server_session.hpp"
#include "irp/net/server.hpp"
#include "lifecycle/bootstrap.hpp"
#include "store/store.hpp"

namespace irp::server {

struct ApprovalPolicy {
    std::uint32_t retry_after_s = 600;
    std::uint32_t retry_max_s = 14'400;
    std::uint32_t expire_s = 7 * 86'400;
    std::uint32_t max_pending = 10'000;
    std::uint32_t surge_max_new_devices = 0;  // 0 = off
    std::uint32_t surge_window_s = 3600;
};

struct Screening {
    bool held = false;            // answer Pending
    std::string held_id;          // held: the id to send; else the approved request issued now ("" if none)
    std::uint32_t retry_after_s = 0;
    std::string reason;           // held: "approval" or "surge"
};

class HoldDesk {
public:
    HoldDesk(Store& store, std::function<std::int64_t()> clock, ApprovalPolicy policy);

    void set_policy(ApprovalPolicy p);
    ApprovalPolicy policy() const;
    // Called (on the request's thread) for each request held for the first time.
    void on_new_hold(std::function<void(const HeldRequest&)> notify) { notify_ = std::move(notify); }

    // An enrollment whose proof checked out as `proof`: issue now, or hold.
    // A request the administrator rejected fails with request_rejected and
    // the administrator's note.
    Result<Screening> screen(const RequestReceived& req, const net::PeerInfo& peer, Proof proof);

    // The retry-after for a request asked `asks` times: retry_after_s
    // doubling per ask, capped at retry_max_s.
    std::uint32_t retry_after(std::int64_t asks) const;

    // Administrators. `who` is "admin:<name>"-style, `peer` its address.
    Result<HeldRequest> decide(const std::string& id, bool approve, const std::string& who, const std::string& peer,
                               const std::string& note);
    // Lifts the surge guard of `class_id` for `duration_s` and approves the
    // requests it holds. Returns how many were approved.
    Result<std::int64_t> lift_surge(const std::string& class_id, std::int64_t duration_s, const std::string& who,
                                    const std::string& peer);
    // Is the guard up for `class_id` now (more new devices than allowed
    // within the window, not lifted)?
    Result<bool> surge_active(const std::string& class_id);

private:
    Result<Screening> hold(const RequestReceived& req, const net::PeerInfo& peer, Proof proof,
                           const std::string& reason);

    Store& store_;
    std::function<std::int64_t()> clock_;
    mutable std::mutex mu_;  // guards policy_
    ApprovalPolicy policy_;
    std::function<void(const HeldRequest&)> notify_;
};

}  // namespace irp::server
