#include "lifecycle/maintenance.hpp"

namespace irp::server {

Maintenance::Maintenance(Store& store, std::function<std::int64_t()> clock, std::function<void(const std::string&)> log)
    : store_(store), clock_(std::move(clock)), log_(std::move(log)) {}

Maintenance::~Maintenance() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (thread_.joinable()) thread_.join();
}

void Maintenance::set(MaintenanceSettings s) {
    std::lock_guard lock(mu_);
    s_ = s;
}

Result<MaintenanceReport> Maintenance::run_once() {
    MaintenanceSettings s;
    {
        std::lock_guard lock(mu_);
        s = s_;
    }
    const std::int64_t now = clock_();
    MaintenanceReport rep;
    auto expired = store_.expire_held(now - s.expire_s);
    if (!expired) return expired.error();
    rep.expired = *expired;
    if (s.release_after_days > 0) {
        const std::int64_t before = now - std::int64_t{s.release_after_days} * 86'400;
        // Bounded per pass; the next pass takes the rest.
        auto unseen = store_.devices_unseen_since(before, 1000);
        if (!unseen) return unseen.error();
        for (const auto& id : *unseen) {
            AuditEvent ev{now, "system", "release", id, "", "",
                          "passive: not seen for " + std::to_string(s.release_after_days) +
                              " days; reason=cessationOfOperation"};
            auto r = store_.release_device(id, now, ev);
            if (!r && r.error().code != Code::conflict) return r.error();  // a replica did it first: fine
            if (r) {
                ++rep.released;
                log_("release device=" + id + " outcome=released passive=true revoked=" + std::to_string(r->size()));
            }
        }
    }
    return rep;
}

void Maintenance::start(std::uint32_t period_s) {
    thread_ = std::thread([this, period_s] {
        for (;;) {
            if (auto r = run_once(); !r) log_("maintenance outcome=failed reason=" + r.error().message);
            std::unique_lock lock(mu_);
            if (cv_.wait_for(lock, std::chrono::seconds(period_s), [this] { return stop_; })) return;
        }
    });
}

}  // namespace irp::server
