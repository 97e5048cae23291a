// The schedule of `idwallet run` (the daemon): which exchange is next, and
// when, from the certificate held, what happened so far and the options.
//
// Pure: no clock, no I/O. Time comes in as Unix seconds and randomness as a
// uniform draw the caller injects, so every rule is unit-tested
// (tests/wallet/schedule_test.cpp). The daemon (wallet-client/cli/run.cpp)
// keeps one ScheduleState, asks next_step(), sleeps until the step is due,
// runs it, and reports the outcome through the on_* functions.
//
// The rules (README.md, "idwallet run"):
//  - no certificate: enroll now;
//  - a certificate: renew at notBefore + (renew_at ± jitter) × lifetime, the
//    jitter fixed per certificate (drawn from its serial number, so a
//    restart keeps the same time); with check_in, check in whenever the
//    server asked to (first thing, when not yet told), whichever comes first;
//    the server's renew_now makes the renewal due at once;
//  - a failure (network, a busy server) makes every step wait: 5 s, then
//    doubling per consecutive failure up to max_backoff, minus up to a
//    quarter at random;
//  - held for approval: ask again after the server's retry-after, clamped
//    to 1 s .. 1 h (as `idwallet enroll --wait`);
//  - a certificate that arrives already due for renewal (the device's clock
//    runs ahead of the server's, or the lifetime is shorter than the
//    renewal margin) counts as a failure, so that a wrong clock cannot make
//    the device renew in a tight loop;
//  - nothing is ever scheduled in the past.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>

#include "irp/base/bytes.hpp"

namespace irp::wallet {

struct ScheduleOptions {
    double renew_at{0.667};             // fraction of the lifetime; 0.1 .. 0.95
    double jitter{0.05};                // ± fraction of the lifetime; 0 .. 0.25
    std::int64_t first_backoff_s{5};    // after the first failure
    std::int64_t max_backoff_s{3600};   // the cap of the doubling
    bool check_in{};                    // check in between renewals
};
inline constexpr double kMinRenewAt = 0.1;
inline constexpr double kMaxRenewAt = 0.95;
inline constexpr double kMaxJitter = 0.25;
inline constexpr std::int64_t kMaxHeldWaitS = 3600;  // the longest wait for a held request
// A renewal is never placed later than this fraction of the lifetime,
// whatever renew_at and the jitter add up to.
inline constexpr double kLatestRenewal = 0.99;
// When the server gives no check-in interval (next_check_in_seconds 0).
inline constexpr std::int64_t kDefaultCheckInS = 86'400;

// A uniform draw in [0, 1).
using Uniform = std::function<double()>;

enum class Action { enroll, renew, check_in };
const char* action_name(Action a);

struct Validity {
    std::int64_t not_before{};
    std::int64_t not_after{};
};

// What the daemon knows. Changed only by the on_* functions.
struct ScheduleState {
    std::optional<Validity> certificate{};  // none: enroll
    double jitter_draw{0.5};                // the certificate's place in ±jitter, in [0, 1)
    unsigned attempts{};                    // consecutive failures
    std::int64_t quiet_until{};             // no step before this (back-off, retry-after)
    std::optional<std::int64_t> next_check_in{};  // with check_in: when; none: at once
    bool renew_now{};                             // the server asked for it at check-in
};

struct Step {
    Action action{Action::enroll};
    std::int64_t at{};  // Unix seconds; never before the `now` it was planned at
};

// notBefore + (renew_at + jitter × (2 × draw − 1)) × lifetime, the fraction
// clamped to [0, kLatestRenewal]. A lifetime of zero or less: notBefore.
std::int64_t renewal_time(const Validity& v, const ScheduleOptions& o, double draw);
// The wait after `attempts` consecutive failures (1 = the first):
// first_backoff_s × 2^(attempts−1), capped at max_backoff_s, minus up to a
// quarter of it by `draw`; at least 1 s.
std::int64_t backoff_seconds(unsigned attempts, const ScheduleOptions& o, double draw);
// A certificate's jitter draw, from its serial number: stable across
// restarts, different between devices (serials are random). In [0, 1).
double serial_draw(ByteView serial);

// The next step and when it is due.
Step next_step(const ScheduleOptions& o, const ScheduleState& s, std::int64_t now);

// A certificate is held: loaded at start (fresh = false), or just installed
// by an enrollment or a renewal (fresh = true; clears the failures, unless it
// is already due for renewal, which counts as one).
void on_certificate(ScheduleState& s, const ScheduleOptions& o, const Validity& v, double jitter_draw,
                    std::int64_t now, bool fresh, const Uniform& uniform);
// A step failed in a way worth retrying (network, TLS, a busy server).
void on_failure(ScheduleState& s, const ScheduleOptions& o, std::int64_t now, const Uniform& uniform);
// The enrollment is held for approval; ask again after retry_after_s.
void on_pending(ScheduleState& s, std::int64_t now, std::uint32_t retry_after_s);
// A check-in succeeded: the next one is due next_check_in_s from now (up to
// jitter × that earlier). Clears the failures unless a renewal is due.
void on_checked_in(ScheduleState& s, const ScheduleOptions& o, std::int64_t now, std::uint32_t next_check_in_s,
                   bool renew_now, const Uniform& uniform);
// The wallet was reset (released, revoked): no certificate; enroll again.
void on_reset(ScheduleState& s);

}  // namespace irp::wallet
