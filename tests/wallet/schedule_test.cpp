// Tests for the daemon's schedule (wallet-client/lib/schedule.hpp): renewal
// at 2/3 of the lifetime within the jitter, the back-off's doubling and cap,
// held requests, check-ins, resets, short lifetimes, and never a step in the
// past.
#include <doctest/doctest.h>

#include <cstdint>
#include <cstdlib>
#include <limits>
#include <set>
#include <vector>

#include "schedule.hpp"

using namespace irp;
using namespace irp::wallet;

namespace {

constexpr std::int64_t kDay = 86'400;
constexpr std::int64_t kT0 = 1'800'000'000;  // a notBefore

// Draws from a fixed list, then the last one forever.
struct Draws {
    std::vector<double> values;
    std::size_t next = 0;
    Uniform fn() {
        return [this] { return values[std::min(next++, values.size() - 1)]; };
    }
};

Validity year() { return {kT0, kT0 + 365 * kDay}; }

// Within a second: fractions of the lifetime are rounded down to seconds.
bool near(std::int64_t a, std::int64_t b) { return std::llabs(a - b) <= 1; }

}  // namespace

TEST_CASE("renewal at 2/3 of the lifetime, within the jitter") {
    const ScheduleOptions o;  // 0.667 ± 0.05
    const Validity v = year();
    const double life = static_cast<double>(v.not_after - v.not_before);
    const auto at = [&](double f) { return v.not_before + static_cast<std::int64_t>(f * life); };

    CHECK(near(renewal_time(v, o, 0.5), at(0.667)));
    // The extremes of the draw are the extremes of the jitter; no draw leaves them.
    CHECK(near(renewal_time(v, o, 0.0), at(0.617)));
    CHECK(renewal_time(v, o, 0.999999) >= at(0.7169));
    CHECK(renewal_time(v, o, 0.999999) <= at(0.717) + 1);
    std::set<std::int64_t> seen;
    for (double d = 0; d < 1.0; d += 0.01) {
        const auto t = renewal_time(v, o, d);
        CHECK(t >= at(0.617) - 1);
        CHECK(t <= at(0.717) + 1);
        seen.insert(t);
    }
    CHECK(seen.size() == 100);  // the draw does move it
    // Draws out of range are clamped, not trusted.
    CHECK(near(renewal_time(v, o, -3.0), at(0.617)));
    CHECK(renewal_time(v, o, 7.0) <= at(0.717) + 1);

    ScheduleOptions none;
    none.jitter = 0;
    CHECK(renewal_time(v, none, 0.0) == renewal_time(v, none, 0.99));
    ScheduleOptions late;
    late.renew_at = kMaxRenewAt;
    late.jitter = kMaxJitter;
    CHECK(renewal_time(v, late, 0.99) == at(kLatestRenewal));  // never at or after notAfter
}

TEST_CASE("the jitter is fixed per certificate: drawn from its serial") {
    const Bytes a{0x40, 0x5a, 0x01, 0x77}, b{0x40, 0x5a, 0x01, 0x78};
    CHECK(serial_draw(a) == serial_draw(a));
    CHECK(serial_draw(a) != serial_draw(b));
    // Spread over [0, 1): many serials land in every tenth.
    std::set<int> tenths;
    for (std::uint8_t i = 0; i < 200; ++i) {
        const double d = serial_draw(Bytes{0x11, i, 0x22});
        CHECK(d >= 0.0);
        CHECK(d < 1.0);
        tenths.insert(static_cast<int>(d * 10));
    }
    CHECK(tenths.size() == 10);

    // A restart keeps the renewal time: the state is rebuilt from the serial.
    const ScheduleOptions o;
    Draws r{{0.3}};
    ScheduleState before, after;
    on_certificate(before, o, year(), serial_draw(a), kT0 + 10, true, r.fn());
    on_certificate(after, o, year(), serial_draw(a), kT0 + 5000, false, r.fn());
    CHECK(next_step(o, before, kT0 + 20).at == next_step(o, after, kT0 + 5000).at);
}

TEST_CASE("back-off: 5 s, doubling, capped, with jitter below the step") {
    ScheduleOptions o;
    o.max_backoff_s = 3600;
    // No jitter (draw 0): the plain doubling up to the cap.
    const std::vector<std::int64_t> want{5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600, 3600};
    for (unsigned n = 1; n <= want.size(); ++n) CHECK(backoff_seconds(n, o, 0.0) == want[n - 1]);
    CHECK(backoff_seconds(1000, o, 0.0) == 3600);  // no overflow
    CHECK(backoff_seconds(std::numeric_limits<unsigned>::max(), o, 0.0) == 3600);
    // With jitter: within [3/4, 1] of the step, never above the cap.
    for (double d = 0; d < 1.0; d += 0.05) {
        CHECK(backoff_seconds(1, o, d) >= 3);
        CHECK(backoff_seconds(1, o, d) <= 5);
        CHECK(backoff_seconds(12, o, d) >= 2700);
        CHECK(backoff_seconds(12, o, d) <= 3600);
    }
    // A small cap wins from the start; never below 1 s.
    o.max_backoff_s = 2;
    CHECK(backoff_seconds(1, o, 0.0) == 2);
    CHECK(backoff_seconds(9, o, 0.9) >= 1);
    o.max_backoff_s = 0;
    CHECK(backoff_seconds(1, o, 0.0) == 1);
}

TEST_CASE("failures back off every step; a success clears them") {
    const ScheduleOptions o;
    Draws r{{0.0}};
    ScheduleState s;
    std::int64_t now = kT0;
    CHECK(next_step(o, s, now).action == Action::enroll);
    CHECK(next_step(o, s, now).at == now);

    std::vector<std::int64_t> waits;
    for (int i = 0; i < 12; ++i) {
        on_failure(s, o, now, r.fn());
        const auto step = next_step(o, s, now);
        CHECK(step.action == Action::enroll);
        waits.push_back(step.at - now);
        now = step.at;
    }
    CHECK(waits == std::vector<std::int64_t>{5, 10, 20, 40, 80, 160, 320, 640, 1280, 2560, 3600, 3600});

    // Enrolled: the failures are forgotten, the renewal is planned.
    on_certificate(s, o, {now - 300, now + 365 * kDay}, 0.5, now, true, r.fn());
    CHECK(s.attempts == 0);
    const auto step = next_step(o, s, now);
    CHECK(step.action == Action::renew);
    CHECK(step.at == renewal_time(*s.certificate, o, 0.5));

    // A renewal that fails when due waits 5 s, not the old 3600.
    const auto due = step.at;
    on_failure(s, o, due, r.fn());
    CHECK(next_step(o, s, due).at == due + 5);
    CHECK(next_step(o, s, due).action == Action::renew);
}

TEST_CASE("never a step in the past") {
    const ScheduleOptions o;
    Draws r{{0.5}};
    ScheduleState s;
    // A certificate long past its renewal time (the device was off): renew now.
    on_certificate(s, o, year(), 0.5, kT0 + 300 * kDay, false, r.fn());
    CHECK(next_step(o, s, kT0 + 300 * kDay).action == Action::renew);
    CHECK(next_step(o, s, kT0 + 300 * kDay).at == kT0 + 300 * kDay);
    // Expired, even: still now (the server then says whether to reset).
    CHECK(next_step(o, s, kT0 + 400 * kDay).at == kT0 + 400 * kDay);
    // A back-off that ended long ago does not pull the step into the past.
    on_failure(s, o, kT0 + 300 * kDay, r.fn());
    CHECK(next_step(o, s, kT0 + 301 * kDay).at == kT0 + 301 * kDay);
    // A check-in time in the past: now.
    ScheduleOptions c = o;
    c.check_in = true;
    ScheduleState t;
    on_certificate(t, c, year(), 0.5, kT0 + 5, false, r.fn());
    t.next_check_in = kT0;
    CHECK(next_step(c, t, kT0 + 10).action == Action::check_in);
    CHECK(next_step(c, t, kT0 + 10).at == kT0 + 10);
    // Whatever the state, over a sweep of times.
    for (std::int64_t now = kT0 - kDay; now < kT0 + 400 * kDay; now += 7 * 3600 + 13) {
        CHECK(next_step(o, s, now).at >= now);
        CHECK(next_step(c, t, now).at >= now);
    }
}

TEST_CASE("short lifetimes") {
    const ScheduleOptions o;
    Draws r{{0.5}};
    // Ten minutes: renew at 2/3, six minutes and forty seconds in.
    CHECK(renewal_time({kT0, kT0 + 600}, o, 0.5) == kT0 + 400);
    // Thirty seconds: twenty.
    CHECK(renewal_time({kT0, kT0 + 30}, o, 0.5) == kT0 + 20);
    // One second: at notBefore.
    CHECK(renewal_time({kT0, kT0 + 1}, o, 0.5) == kT0);
    // None at all, or inverted: notBefore.
    CHECK(renewal_time({kT0, kT0}, o, 0.5) == kT0);
    CHECK(renewal_time({kT0, kT0 - 50}, o, 0.5) == kT0);

    // Backdated by the server's whole clock-skew allowance (half the
    // lifetime): a fresh certificate is renewed shortly after arrival.
    const Validity half{kT0 - kDay, kT0 + kDay};
    ScheduleOptions soon;
    soon.renew_at = 0.5 + 5.0 / (2 * kDay);
    soon.jitter = 0;
    ScheduleState s;
    on_certificate(s, soon, half, 0.5, kT0, true, r.fn());
    CHECK(s.attempts == 0);
    CHECK(near(next_step(soon, s, kT0).at, kT0 + 5));
    CHECK(next_step(soon, s, kT0).at > kT0);
}

TEST_CASE("a certificate due on arrival backs off instead of looping") {
    // The device's clock runs a day ahead of the server's: every new
    // certificate looks two-thirds used.
    const ScheduleOptions o;
    Draws r{{0.0}};
    ScheduleState s;
    std::int64_t now = kT0 + kDay;  // device time
    std::vector<std::int64_t> gaps;
    for (int i = 0; i < 6; ++i) {
        on_certificate(s, o, {kT0 - 300, kT0 + kDay + kDay / 2}, 0.5, now, true, r.fn());
        const auto step = next_step(o, s, now);
        CHECK(step.action == Action::renew);
        gaps.push_back(step.at - now);
        now = step.at;
    }
    CHECK(gaps == std::vector<std::int64_t>{5, 10, 20, 40, 80, 160});
    // One that is not due clears the back-off.
    on_certificate(s, o, {now - 300, now + kDay}, 0.5, now, true, r.fn());
    CHECK(s.attempts == 0);
    CHECK(next_step(o, s, now).at > now + kDay / 2);
}

TEST_CASE("held for approval: the server's retry-after, clamped to 1 s .. 1 h") {
    const ScheduleOptions o;
    ScheduleState s;
    on_pending(s, kT0, 600);
    CHECK(next_step(o, s, kT0).action == Action::enroll);
    CHECK(next_step(o, s, kT0).at == kT0 + 600);
    on_pending(s, kT0, 14'400);
    CHECK(next_step(o, s, kT0).at == kT0 + 3600);
    on_pending(s, kT0, 0);
    CHECK(next_step(o, s, kT0).at == kT0 + 1);
    // A pending answer is not a failure: the back-off starts over after it.
    Draws r{{0.0}};
    on_failure(s, o, kT0, r.fn());
    on_failure(s, o, kT0, r.fn());
    on_pending(s, kT0, 60);
    on_failure(s, o, kT0 + 60, r.fn());
    CHECK(next_step(o, s, kT0 + 60).at == kT0 + 65);
}

TEST_CASE("check-in: first thing, then when the server asks, between renewals") {
    ScheduleOptions o;
    o.check_in = true;
    o.jitter = 0.05;
    Draws r{{0.0}};
    ScheduleState s;
    const std::int64_t now = kT0 + 1000;
    on_certificate(s, o, year(), 0.5, now, false, r.fn());
    // Not told yet: at once.
    CHECK(next_step(o, s, now).action == Action::check_in);
    CHECK(next_step(o, s, now).at == now);
    // Told a day: a day later (up to 5 % earlier by the draw).
    on_checked_in(s, o, now, 86'400, false, r.fn());
    CHECK(next_step(o, s, now).action == Action::check_in);
    CHECK(next_step(o, s, now).at == now + 86'400);
    Draws late{{0.999}};
    on_checked_in(s, o, now, 86'400, false, late.fn());
    CHECK(next_step(o, s, now).at >= now + 86'400 - 4320);
    CHECK(next_step(o, s, now).at < now + 86'400);
    // The renewal wins when it comes first.
    const auto renew = renewal_time(year(), o, 0.5);
    on_checked_in(s, o, renew - 10, 86'400, false, r.fn());
    CHECK(next_step(o, s, renew - 10).action == Action::renew);
    CHECK(next_step(o, s, renew - 10).at == renew);
    // Without --check-in there is none.
    ScheduleOptions quiet;
    ScheduleState q;
    on_certificate(q, quiet, year(), 0.5, now, false, r.fn());
    CHECK(next_step(quiet, q, now).action == Action::renew);
    // The server gives no interval: a day.
    on_checked_in(s, o, now, 0, false, r.fn());
    CHECK(s.next_check_in == now + kDefaultCheckInS);
}

TEST_CASE("check-in: renew_now makes the renewal due; a new certificate clears it") {
    ScheduleOptions o;
    o.check_in = true;
    Draws r{{0.0}};
    ScheduleState s;
    const std::int64_t now = kT0 + 1000;
    on_certificate(s, o, year(), 0.5, now, false, r.fn());
    on_checked_in(s, o, now, 3600, true, r.fn());
    CHECK(next_step(o, s, now).action == Action::renew);
    CHECK(next_step(o, s, now).at == now);
    // A failing renewal keeps its back-off through a working check-in.
    on_failure(s, o, now, r.fn());
    on_failure(s, o, now, r.fn());
    CHECK(s.attempts == 2);
    on_checked_in(s, o, now + 10, 3600, true, r.fn());
    CHECK(s.attempts == 2);
    CHECK(next_step(o, s, now + 10).at == now + 10);  // back-off of 10 s from `now` ended
    on_certificate(s, o, {now, now + 365 * kDay}, 0.5, now + 20, true, r.fn());
    CHECK_FALSE(s.renew_now);
    CHECK(s.attempts == 0);
    CHECK(next_step(o, s, now + 20).action == Action::check_in);
}

TEST_CASE("reset: no certificate, enroll at once") {
    ScheduleOptions o;
    o.check_in = true;
    Draws r{{0.0}};
    ScheduleState s;
    on_certificate(s, o, year(), 0.5, kT0, false, r.fn());
    on_checked_in(s, o, kT0, 3600, false, r.fn());
    on_failure(s, o, kT0 + 10, r.fn());
    on_reset(s);
    const auto step = next_step(o, s, kT0 + 11);
    CHECK(step.action == Action::enroll);
    CHECK(step.at == kT0 + 11);
    CHECK_FALSE(s.next_check_in.has_value());
    // Enrolled again: the first check-in is at once (the CRL, the interval).
    on_certificate(s, o, {kT0, kT0 + 365 * kDay}, 0.5, kT0 + 12, true, r.fn());
    CHECK(next_step(o, s, kT0 + 12).action == Action::check_in);
    CHECK(next_step(o, s, kT0 + 12).at == kT0 + 12);
}
