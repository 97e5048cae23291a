// Prometheus text-format metrics (served at /metrics on the admin listener).
#pragma once

#include <array>
#include <atomic>
#include <cstdint>
#include <deque>
#include <string>
#include <string_view>
#include <vector>

#include "irp/base/error.hpp"
#include "irp/core/messages.hpp"

namespace irp::server {

class Metrics {
public:
    // One finished request: operation, outcome and how long the decision
    // (authorise, sign, commit) took.
    void request(Operation op, bool issued, double seconds);
    void redirected() { ++enroll_redirected_; }  // an enrollment sent to another domain ([[redirect]])
    void database(double seconds);
    void connection(int delta) { open_connections_ += delta; }
    void session_failure() { ++session_failures_; }
    void refused() { ++refused_; }
    void http_refused() { ++http_refused_; }  // the CRL/OCSP port's per-source bound (public_http.hpp)
    // The CAs whose CRL age is reported, one irp_crl_age_seconds{issuer=...}
    // each. Call before serving: the list is fixed while others read it.
    void track_crl_issuers(const std::vector<std::string>& issuer_ids);
    void crl_signed(std::string_view issuer_id, std::int64_t at);  // an untracked id is ignored

    std::string render(std::int64_t now) const;

private:
    static constexpr std::array<double, 10> kBuckets = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0};
    struct Histogram {
        std::array<std::atomic<std::uint64_t>, kBuckets.size()> le{};
        std::atomic<std::uint64_t> count{0};
        std::atomic<std::uint64_t> sum_us{0};
        void observe(double seconds);
        void render(std::string& out, const std::string& name, const std::string& labels) const;
    };
    std::atomic<std::uint64_t> enroll_issued_{0}, enroll_rejected_{0}, renew_issued_{0}, renew_rejected_{0};
    std::atomic<std::uint64_t> enroll_redirected_{0};
    std::atomic<std::int64_t> open_connections_{0};
    std::atomic<std::uint64_t> session_failures_{0};
    std::atomic<std::uint64_t> refused_{0};
    std::atomic<std::uint64_t> http_refused_{0};
    struct CrlAge {
        explicit CrlAge(std::string id) : issuer(std::move(id)) {}
        std::string issuer;
        std::atomic<std::int64_t> signed_at{0};
    };
    std::deque<CrlAge> crl_ages_;  // a deque: its atomics never move
    Histogram request_latency_;
    Histogram db_latency_;
};

}  // namespace irp::server
