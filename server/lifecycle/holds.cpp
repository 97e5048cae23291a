#include "lifecycle/holds.hpp"

#include <algorithm>

namespace irp::server {

HoldDesk::HoldDesk(Store& store, std::function<std::int64_t()> clock, ApprovalPolicy policy)
    : store_(store), clock_(std::move(clock)), policy_(policy) {}

void HoldDesk::set_policy(ApprovalPolicy p) {
    std::lock_guard lock(mu_);
    policy_ = p;
}

ApprovalPolicy HoldDesk::policy() const {
    std::lock_guard lock(mu_);
    return policy_;
}

std::uint32_t HoldDesk::retry_after(std::int64_t asks) const {
    const ApprovalPolicy p = policy();
    std::uint64_t s = p.retry_after_s;
    for (std::int64_t i = 1; i < asks && s < p.retry_max_s; ++i) s *= 2;
    return static_cast<std::uint32_t>(std::min<std::uint64_t>(s, p.retry_max_s));
}

Result<bool> HoldDesk::surge_active(const std::string& class_id) {
    const ApprovalPolicy p = policy();
    if (p.surge_max_new_devices == 0) return false;
    const std::int64_t now = clock_();
    auto lifted = store_.surge_lifted_until(class_id);
    if (!lifted) return lifted.error();
    if (*lifted > now) return false;
    auto n = store_.count_new_devices(class_id, now - p.surge_window_s);
    if (!n) return n.error();
    return *n >= static_cast<std::int64_t>(p.surge_max_new_devices);
}

Result<Screening> HoldDesk::screen(const RequestReceived& req, const net::PeerInfo& peer, Proof proof) {
    const std::string key_hash = to_hex(crypto::sha256(req.csr.public_key));
    if (!req.held_request_id.empty()) {
        auto h = store_.find_held(req.held_request_id);
        if (!h) return h.error();
        // Only the device and key it was held for can speak for a request.
        // An unknown or foreign id is ignored: the request is screened as new.
        if (*h && (*h)->device_id == req.device_id && (*h)->class_id == req.class_id &&
            (*h)->public_key_sha256_hex == key_hash) {
            const HeldRequest& held = **h;
            switch (held.state) {
                case HoldState::approved: return Screening{false, held.id, 0, held.reason};
                case HoldState::rejected:
                    return make_error(Code::request_rejected,
                                      "an administrator rejected this request" +
                                          (held.note.empty() ? std::string() : ": " + held.note));
                case HoldState::issued: {
                    // Its certificate never reached the device (the answer was
                    // lost, or it failed validation there): deliver again.
                    auto cert = store_.find_certificate(held.serial_hex);
                    if (!cert) return cert.error();
                    const bool undelivered = *cert && !(*cert)->revoked_at &&
                                             ((*cert)->status == CertStatus::issued ||
                                              (*cert)->status == CertStatus::install_failed);
                    if (undelivered) return Screening{false, held.id, 0, held.reason};
                    break;  // screened as new
                }
                case HoldState::pending: return hold(req, peer, proof, held.reason);
                case HoldState::expired: break;
            }
        }
    }
    if (proof == Proof::none) return hold(req, peer, proof, "approval");
    if (policy().surge_max_new_devices == 0) return Screening{};  // the guard is off: no lookups
    auto known = store_.find_device(req.device_id);
    if (!known) return known.error();
    if (!*known) {  // the surge guard counts new devices only
        auto surge = surge_active(req.class_id);
        if (!surge) return surge.error();
        if (*surge) return hold(req, peer, proof, "surge");
    }
    return Screening{};
}

Result<Screening> HoldDesk::hold(const RequestReceived& req, const net::PeerInfo& peer, Proof proof,
                                 const std::string& reason) {
    const std::int64_t now = clock_();
    HeldRequest r;
    r.id = req.request_id;
    r.device_id = req.device_id;
    r.class_id = req.class_id;
    r.model = req.model;
    r.peer = peer.address;
    r.reason = reason;
    r.method = proof_name(proof);
    r.public_key_sha256_hex = to_hex(crypto::sha256(req.csr.public_key));
    r.first_seen = now;
    r.last_seen = now;
    AuditEvent ev{now, "device:" + req.device_id, "hold", req.device_id, "", peer.address,
                  "request=" + req.request_id + " class=" + req.class_id + " reason=" + reason +
                      " proof=" + r.method + " key=" + r.public_key_sha256_hex.substr(0, 16)};
    auto held = store_.hold_request(r, policy().max_pending, ev);
    if (!held) return held.error();
    auto& [row, inserted] = *held;
    if (row.state == HoldState::approved) return Screening{false, row.id, 0, row.reason};
    if (inserted && notify_) notify_(row);
    return Screening{true, row.id, retry_after(row.asks), row.reason};
}

Result<HeldRequest> HoldDesk::decide(const std::string& id, bool approve, const std::string& who,
                                     const std::string& peer, const std::string& note) {
    const std::int64_t now = clock_();
    auto h = store_.find_held(id);
    if (!h) return h.error();
    const std::string device = *h ? (*h)->device_id : "";
    AuditEvent ev{now, who, approve ? "approve" : "reject", device, "", peer,
                  "request=" + id + (note.empty() ? "" : " note=" + note)};
    return store_.decide_held(id, approve, who, note, now, ev);
}

Result<std::int64_t> HoldDesk::lift_surge(const std::string& class_id, std::int64_t duration_s, const std::string& who,
                                          const std::string& peer) {
    const std::int64_t now = clock_();
    AuditEvent ev{now, who, "surge-lift", "", "", peer,
                  "class=" + class_id + " until=" + std::to_string(now + duration_s)};
    if (auto r = store_.lift_surge(class_id, now + duration_s, ev); !r) return r.error();
    auto pending = store_.list_held(HoldState::pending, 10'000);
    if (!pending) return pending.error();
    std::int64_t approved = 0;
    for (const auto& h : *pending) {
        if (h.class_id != class_id || h.reason != "surge") continue;
        auto d = decide(h.id, true, who, peer, "surge guard lifted");
        if (d) ++approved;
        else if (d.error().code != Code::conflict) return d.error();  // decided meanwhile: fine
    }
    return approved;
}

}  // namespace irp::server
