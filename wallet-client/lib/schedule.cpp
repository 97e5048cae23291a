// The daemon's schedule (schedule.hpp): pure functions of time, state and
// injected draws.
#include "schedule.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

namespace irp::wallet {

namespace {

double clamp01(double d) { return std::isfinite(d) ? std::clamp(d, 0.0, std::nextafter(1.0, 0.0)) : 0.0; }

}  // namespace

const char* action_name(Action a) {
    switch (a) {
        case Action::enroll: return "enroll";
        case Action::renew: return "renew";
        case Action::check_in: return "check-in";
    }
    return "enroll";
}

std::int64_t renewal_time(const Validity& v, const ScheduleOptions& o, double draw) {
    const std::int64_t lifetime = v.not_after - v.not_before;
    if (lifetime <= 0) return v.not_before;
    const double fraction =
        std::clamp(o.renew_at + o.jitter * (2.0 * clamp01(draw) - 1.0), 0.0, kLatestRenewal);
    return v.not_before + static_cast<std::int64_t>(std::floor(fraction * static_cast<double>(lifetime)));
}

std::int64_t backoff_seconds(unsigned attempts, const ScheduleOptions& o, double draw) {
    const std::int64_t cap = std::max<std::int64_t>(o.max_backoff_s, 1);
    std::int64_t base = std::max<std::int64_t>(o.first_backoff_s, 1);
    for (unsigned i = 1; i < attempts && base < cap; ++i) base *= 2;
    base = std::min(base, cap);
    const auto off = static_cast<std::int64_t>(std::floor(static_cast<double>(base) * 0.25 * clamp01(draw)));
    return std::max<std::int64_t>(base - off, 1);
}

double serial_draw(ByteView serial) {
    // FNV-1a, then MurmurHash3's finaliser (FNV alone leaves the top bits
    // poorly mixed for short inputs), then the top 53 bits as a fraction.
    std::uint64_t h = 14695981039346656037ull;
    for (const auto b : serial) {
        h ^= b;
        h *= 1099511628211ull;
    }
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdull;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ull;
    h ^= h >> 33;
    return static_cast<double>(h >> 11) / 9007199254740992.0;  // 2^53
}

Step next_step(const ScheduleOptions& o, const ScheduleState& s, std::int64_t now) {
    Step step;
    if (!s.certificate) {
        step = {Action::enroll, now};
    } else {
        const std::int64_t renew = s.renew_now ? now : renewal_time(*s.certificate, o, s.jitter_draw);
        const std::int64_t check =
            o.check_in ? s.next_check_in.value_or(now) : std::numeric_limits<std::int64_t>::max();
        // A renewal tells the server as much as a check-in: it wins a tie.
        step = check < renew ? Step{Action::check_in, check} : Step{Action::renew, renew};
    }
    step.at = std::max({step.at, s.quiet_until, now});
    return step;
}

void on_certificate(ScheduleState& s, const ScheduleOptions& o, const Validity& v, double jitter_draw,
                    std::int64_t now, bool fresh, const Uniform& uniform) {
    s.certificate = v;
    s.jitter_draw = clamp01(jitter_draw);
    s.renew_now = false;
    if (!fresh) return;
    if (renewal_time(v, o, s.jitter_draw) <= now) {
        // Due on arrival: back off as after a failure, or a device whose
        // clock runs ahead would renew in a loop.
        on_failure(s, o, now, uniform);
        return;
    }
    s.attempts = 0;
    s.quiet_until = 0;
}

void on_failure(ScheduleState& s, const ScheduleOptions& o, std::int64_t now, const Uniform& uniform) {
    if (s.attempts < std::numeric_limits<unsigned>::max()) ++s.attempts;
    s.quiet_until = now + backoff_seconds(s.attempts, o, uniform());
}

void on_pending(ScheduleState& s, std::int64_t now, std::uint32_t retry_after_s) {
    s.attempts = 0;
    s.quiet_until = now + std::clamp<std::int64_t>(retry_after_s, 1, kMaxHeldWaitS);
}

void on_checked_in(ScheduleState& s, const ScheduleOptions& o, std::int64_t now, std::uint32_t next_check_in_s,
                   bool renew_now, const Uniform& uniform) {
    const std::int64_t interval = next_check_in_s ? std::int64_t{next_check_in_s} : kDefaultCheckInS;
    const auto early = static_cast<std::int64_t>(
        std::floor(static_cast<double>(interval) * std::clamp(o.jitter, 0.0, kMaxJitter) * clamp01(uniform())));
    s.next_check_in = now + std::max<std::int64_t>(interval - early, 1);
    s.renew_now = s.renew_now || renew_now;
    // A check-in that works while a renewal keeps failing does not reset
    // the renewal's back-off.
    const bool renewal_due = s.renew_now || (s.certificate && renewal_time(*s.certificate, o, s.jitter_draw) <= now);
    if (!renewal_due) {
        s.attempts = 0;
        s.quiet_until = 0;
    }
}

void on_reset(ScheduleState& s) {
    s.certificate.reset();
    s.next_check_in.reset();
    s.renew_now = false;
    s.attempts = 0;
    s.quiet_until = 0;
}

}  // namespace irp::wallet
