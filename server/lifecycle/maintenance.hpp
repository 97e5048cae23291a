// Periodic lifecycle work, on one background thread:
//  - held requests nobody decided, or that the device never came back for,
//    expire after approval.expire_s;
//  - passive release (HomeCA): a device not seen (no issuance, install
//    report or check-in) for lifecycle.release_after_days is released, its
//    certificates revoked with cessationOfOperation, as an active release.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "store/store.hpp"

namespace irp::server {

struct MaintenanceSettings {
    std::uint32_t expire_s = 7 * 86'400;
    std::uint32_t release_after_days = 10;  // 0 = never
};

struct MaintenanceReport {
    std::int64_t expired = 0;
    std::int64_t released = 0;
};

class Maintenance {
public:
    Maintenance(Store& store, std::function<std::int64_t()> clock, std::function<void(const std::string&)> log);
    ~Maintenance();

    void set(MaintenanceSettings s);
    // One pass now (tests; also what the thread runs).
    Result<MaintenanceReport> run_once();
    // Runs a pass every `period_s` until destroyed.
    void start(std::uint32_t period_s);

private:
    Store& store_;
    std::function<std::int64_t()> clock_;
    std::function<void(const std::string&)> log_;
    std::mutex mu_;
    std::condition_variable cv_;
    bool stop_ = false;
    MaintenanceSettings s_;
    std::thread thread_;
};

}  // namespace irp::server
