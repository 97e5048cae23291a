// `idwallet run`: the device daemon. Enrolls when the store holds no
// certificate, renews on the schedule of wallet-client/lib/schedule.hpp,
// checks in between (--check-in), retries with bounded back-off, and
// follows the server's answers: held (ask again later), redirect (enroll
// where the directory says, cli.hpp enroll_following; renewals and
// check-ins then go to that server, remembered in the store),
// released or revoked (the wallet reset itself: enroll again, or exit 11
// when that is refused). All state is the wallet's store, which writes
// atomically; a restart reads it back and carries on. One line per action
// on stderr, each with a UTC timestamp. SIGTERM and SIGINT stop it at once
// when it waits; an exchange in progress gets up to 1.5 s to finish.
#include <algorithm>
#include <array>
#include <chrono>
#include <condition_variable>
#include <csignal>
#include <cstdarg>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <mutex>
#include <pthread.h>
#include <thread>

#include "cli.hpp"
#include "irp/core/messages.hpp"

namespace irp::cli {

namespace {

using std::chrono::milliseconds;
using wallet::Action;
using Kind = wallet::Outcome::Kind;

void say(const char* fmt, ...) __attribute__((format(printf, 1, 2)));
void say(const char* fmt, ...) {
    // The clock the schedule reads (time() may lag it by a tick).
    const std::string stamp = utc(std::chrono::system_clock::to_time_t(std::chrono::system_clock::now()), true);
    char line[2048];
    va_list ap;
    va_start(ap, fmt);
    std::vsnprintf(line, sizeof line, fmt, ap);
    va_end(ap);
    std::fprintf(stderr, "%s idwallet run: %s\n", stamp.c_str(), line);
}

// ---- stopping: SIGTERM / SIGINT -------------------------------------------
// Both are blocked in every thread and taken by one thread with sigwait, so
// no exchange is ever interrupted half-way by a handler (no EINTR), and a
// wait on the condition variable ends the moment one arrives.
struct StopState {
    std::mutex mu;
    std::condition_variable cv;
    int signal{};
    bool in_exchange{};
};
// Never destroyed: the detached signal thread may still wake at exit.
StopState& stop_state() {
    static StopState* s = new StopState;
    return *s;
}

void start_signal_thread() {
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGTERM);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_BLOCK, &set, nullptr);
    std::thread([set] {
        int sig = 0;
        while (sigwait(&set, &sig) != 0) {
        }
        auto& st = stop_state();
        std::unique_lock lock(st.mu);
        st.signal = sig;
        st.cv.notify_all();
        // An exchange in progress may finish; one that does not in time is
        // abandoned: the store is atomic, and the server copes with an
        // install it never heard of (docs/PROTOCOL.md, "Renewal").
        if (!st.cv.wait_for(lock, milliseconds(1500), [&] { return !st.in_exchange; })) {
            say("stop signal=%s (exchange abandoned)", sig == SIGINT ? "INT" : "TERM");
            std::_Exit(kOk);
        }
    }).detach();
}

int stop_signal() {
    auto& st = stop_state();
    std::lock_guard lock(st.mu);
    return st.signal;
}

// Waits up to d; true when a stop signal came.
bool interruptible_sleep(milliseconds d) {
    auto& st = stop_state();
    std::unique_lock lock(st.mu);
    return st.cv.wait_for(lock, d, [&] { return st.signal != 0; });
}

struct InExchange {
    InExchange() {
        std::lock_guard lock(stop_state().mu);
        stop_state().in_exchange = true;
    }
    ~InExchange() {
        auto& st = stop_state();
        std::lock_guard lock(st.mu);
        st.in_exchange = false;
        st.cv.notify_all();
    }
    InExchange(const InExchange&) = delete;
    InExchange& operator=(const InExchange&) = delete;
};

// ---- what is worth retrying -------------------------------------------------
// An exchange that failed (no answer): the network, TLS, a timeout, a busy
// server.
bool transient(Code c) {
    return c == Code::connection_closed || c == Code::deadline_exceeded || c == Code::tls_failure || is_retryable(c) ||
           category_of(c) == Category::unavailable;
}
// A refusal the server may not repeat: its storage or CA was unavailable.
bool transient_answer(Code c) { return transient(c) || category_of(c) == Category::internal; }

// 2026-11-22T05:02:41Z: one word, for key=value fields.
std::string iso(std::int64_t t) { return utc(t, true); }

std::int64_t wall_ms() {
    return std::chrono::duration_cast<milliseconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

class Daemon {
public:
    explicit Daemon(const RunArgs& a)
        : a_(a),
          home_(a.conn),
          storage_(wallet::open_directory_storage(a.store)),
          rng_(crypto::system_random()),
          clock_(system_clock()) {
        uniform_ = [this] {
            std::array<std::uint8_t, 8> b{};
            rng_->fill(b);
            std::uint64_t v = 0;
            for (const auto x : b) v = (v << 8) | x;
            return static_cast<double>(v >> 11) / 9007199254740992.0;
        };
    }

    int run() {
        if (auto rc = start()) return *rc;
        const auto started = std::chrono::steady_clock::now();
        const auto limit = std::chrono::seconds(a_.max_runtime_s);
        wallet::Step announced{wallet::Action::enroll, -1};  // the plan last logged (-1: none)
        int steps = 0;
        for (;;) {
            if (const int sig = stop_signal()) {
                say("stop signal=%s", sig == SIGINT ? "INT" : "TERM");
                return kOk;
            }
            const auto elapsed = std::chrono::steady_clock::now() - started;
            if (a_.max_runtime_s > 0 && elapsed >= limit) {
                say("stop max-runtime=%lld s", static_cast<long long>(a_.max_runtime_s));
                return kOk;
            }
            const std::int64_t now = clock_.unix_now();
            const auto step = wallet::next_step(a_.schedule, st_, now);
            if (step.at > now) {
                if (a_.once) {
                    say("nothing due; next %s at %s (in %lld s)", wallet::action_name(step.action), iso(step.at).c_str(),
                        static_cast<long long>(step.at - now));
                    return kOk;
                }
                if (announced.action != step.action || announced.at != step.at) {
                    say("next %s at %s (in %lld s)", wallet::action_name(step.action), iso(step.at).c_str(),
                        static_cast<long long>(step.at - now));
                    announced = step;
                }
                // At most a minute at a time: the wall clock may jump (NTP
                // after boot, suspend), and the plan is made against it.
                auto wait = milliseconds(std::clamp<std::int64_t>(step.at * 1000 - wall_ms(), 1, 60'000));
                if (a_.max_runtime_s > 0)
                    wait = std::min(wait, std::chrono::duration_cast<milliseconds>(limit - elapsed) + milliseconds(1));
                interruptible_sleep(wait);
                continue;
            }
            announced.at = -1;
            if (a_.once && ++steps > 8) {
                say("stop: more than 8 steps due at once");
                return kOk;
            }
            std::optional<int> rc;
            InExchange busy;  // connecting included
            switch (step.action) {
                case Action::enroll: rc = enroll(); break;
                case Action::renew: rc = renew(); break;
                case Action::check_in: rc = check_in(); break;
            }
            if (rc) return *rc;
        }
    }

private:
    // What the store holds at start. An exit code when it cannot go on.
    std::optional<int> start() {
        start_signal_thread();
        auto creds = storage_->load();
        if (!creds) {
            say("start store=%s: %s (%u %s)", a_.store.c_str(), creds.error().message.c_str(),
                static_cast<unsigned>(creds.error().code), code_name(creds.error().code));
            return kStorage;
        }
        if (!creds.value()) {
            auto held = storage_->load_pending();
            std::string what = "no certificate";
            if (held && held.value() && held.value()->device_id == a_.enroll.device_id &&
                held.value()->class_id == a_.enroll.class_id)
                what += ", continuing held request " + held.value()->request_id;
            say("start device=%s %s store=%s", a_.enroll.device_id.c_str(), what.c_str(), a_.store.c_str());
            return std::nullopt;
        }
        auto info = crypto::parse_certificate(creds.value()->certificate);
        if (!info) {
            say("start store=%s: the certificate held does not parse: %s", a_.store.c_str(), info.error().message.c_str());
            return kStorage;
        }
        // Renewals and check-ins go where the certificate came from, which
        // after a redirect is not --server: while --server is still where
        // that enrollment started. A different --server is the operator
        // moving the device, and wins.
        if (auto saved = load_connection(a_.store); saved && !saved->via.empty() && saved->via == where(a_.conn)) {
            say("start: renewing at %s (the server that issued the certificate held), not %s", where(*saved).c_str(),
                where(a_.conn).c_str());
            home_ = std::move(saved.value());
        } else if (saved && saved->mdns && a_.conn.mdns &&
                   (a_.conn.server_name.empty() || a_.conn.server_name == saved->server_name)) {
            // Found by mDNS: renew in the domain of the certificate held,
            // which --discover-local alone does not name.
            say("start: renewing in domain %s (found by mDNS, last at %s)", saved->server_name.c_str(),
                saved->server.c_str());
            home_ = std::move(saved.value());
            home_.mdns_timeout = a_.conn.mdns_timeout;
        }
        if (info->subject_cn != a_.enroll.device_id) {
            say("start store=%s holds the certificate of device %s, not %s", a_.store.c_str(), info->subject_cn.c_str(),
                a_.enroll.device_id.c_str());
            return kUsage;
        }
        const wallet::Validity v{info->not_before, info->not_after};
        wallet::on_certificate(st_, a_.schedule, v, wallet::serial_draw(info->serial), clock_.unix_now(), false, uniform_);
        say("start device=%s serial=%s valid=%s..%s renew_at=%s store=%s", a_.enroll.device_id.c_str(),
            to_hex(info->serial).c_str(), iso(v.not_before).c_str(), iso(v.not_after).c_str(),
            iso(wallet::renewal_time(v, a_.schedule, st_.jitter_draw)).c_str(), a_.store.c_str());
        return std::nullopt;
    }

    std::optional<int> enroll() {
        // Always from --server (a directory, say): after a reset the device
        // may belong to another domain.
        Connection at = a_.conn;
        auto r = enroll_following(at, *storage_, a_.enroll, *rng_, clock_, milliseconds(a_.timeout_ms),
                                  [](const std::string& hop) { say("enroll %s", hop.c_str()); });
        if (!r) return failed("enroll", r.error());
        const auto& o = r.value();
        switch (o.kind) {
            case Kind::installed:
                home_ = at;
                if (auto s = save_connection(a_.store, home_); !s) {
                    say("enroll: cannot save the connection: %s", s.error().message.c_str());
                    return kStorage;
                }
                return installed("enroll", o);
            case Kind::pending:
                wallet::on_pending(st_, clock_.unix_now(), o.retry_after_seconds);
                say("enroll outcome=pending request=%s retry_after=%u s", o.request_id.c_str(), o.retry_after_seconds);
                if (a_.once) return kRetryLater;
                return std::nullopt;
            case Kind::rejected: return refused("enroll", o);
            case Kind::invalid: return invalid("enroll", o);
            case Kind::redirect: return redirected("enroll", o);
            case Kind::checked_in: break;
        }
        return kInternal;
    }

    std::optional<int> renew() {
        auto t = connect(home_, milliseconds(a_.timeout_ms));
        if (!t) return failed("renew", t.error());
        wallet::RenewOptions ro;
        ro.trusted_roots = home_.roots;
        ro.limits.exchange_timeout = Time{a_.timeout_ms};
        auto r = wallet::renew(**t, *storage_, ro, *rng_, clock_);
        if (!r) return failed("renew", r.error());
        const auto& o = r.value();
        switch (o.kind) {
            case Kind::installed: return installed("renew", o);
            case Kind::pending:
                // A slow CA answers a renewal the same way (docs/PROTOCOL.md).
                wallet::on_pending(st_, clock_.unix_now(), o.retry_after_seconds);
                say("renew outcome=pending request=%s retry_after=%u s", o.request_id.c_str(), o.retry_after_seconds);
                if (a_.once) return kRetryLater;
                return std::nullopt;
            case Kind::rejected: {
                const Code c = o.rejection.code;
                if (!o.reset && (c == Code::certificate_not_active || c == Code::unknown_certificate)) {
                    // Expired, revoked or unknown by the server's clock and
                    // records: a check-in lets the server say whether the
                    // identity is dead (then the wallet resets itself).
                    say("renew outcome=rejected code=%u/%s reason=\"%s\"; checking in to learn whether to reset",
                        static_cast<unsigned>(c), code_name(c), o.rejection.message.c_str());
                    checked_in_ = false;
                    auto rc = check_in();
                    // Reset (enroll next), or the check-in failed and is
                    // retried: go on. Accepted: the server keeps the
                    // certificate but will not renew it; a human must look.
                    if (rc || !st_.certificate || !checked_in_) return rc;
                    say("stop: the server accepts the certificate at check-in but refuses to renew it");
                    return exit_for(c);
                }
                return refused("renew", o);
            }
            case Kind::invalid: return invalid("renew", o);
            case Kind::redirect: return redirected("renew", o);
            case Kind::checked_in: break;
        }
        return kInternal;
    }

    std::optional<int> check_in() {
        auto t = connect(home_, milliseconds(a_.timeout_ms));
        if (!t) return failed("check-in", t.error());
        wallet::CheckInOptions co;
        co.limits.exchange_timeout = Time{a_.timeout_ms};
        // Room for the largest CRL a check-in carries (docs/PROTOCOL.md).
        co.limits.max_frame_bytes = static_cast<std::uint32_t>(bounds::kMaxCrl + bounds::kCheckedInOverhead);
        auto r = wallet::check_in(**t, *storage_, co, *rng_, clock_);
        if (!r) return failed("check-in", r.error());
        const auto& o = r.value();
        switch (o.kind) {
            case Kind::checked_in: {
                if (o.reset) return reset("check-in", o);
                const auto now = clock_.unix_now();
                wallet::on_checked_in(st_, a_.schedule, now, o.checked_in.next_check_in_seconds, o.checked_in.renew_now,
                                      uniform_);
                std::string crl = "unchanged";
                if (o.crl_stored)
                    crl = "stored:" + std::to_string(o.crl_number);
                else if (o.crl_refused)
                    crl = std::string("refused:") + code_name(o.crl_refused->code);
                say("check-in outcome=ok next_check_in=%u s renew_now=%s crl=%s", o.checked_in.next_check_in_seconds,
                    o.checked_in.renew_now ? "yes" : "no", crl.c_str());
                if (o.crl_refused) say("check-in: %s", o.crl_refused->message.c_str());
                checked_in_ = true;
                return std::nullopt;
            }
            case Kind::rejected: return refused("check-in", o);
            case Kind::redirect: return redirected("check-in", o);
            case Kind::pending:
            case Kind::installed:
            case Kind::invalid: break;
        }
        return kInternal;
    }

    // ---- outcomes ----------------------------------------------------------
    std::optional<int> installed(const char* what, const wallet::Outcome& o) {
        const auto& c = o.certificate;
        const wallet::Validity v{c.not_before, c.not_after};
        const auto now = clock_.unix_now();
        wallet::on_certificate(st_, a_.schedule, v, wallet::serial_draw(c.serial), now, true, uniform_);
        was_reset_ = false;
        say("%s outcome=issued serial=%s valid=%s..%s renew_at=%s%s%s%s", what, to_hex(c.serial).c_str(),
            iso(v.not_before).c_str(), iso(v.not_after).c_str(),
            iso(wallet::renewal_time(v, a_.schedule, st_.jitter_draw)).c_str(),
            o.request_id.empty() ? "" : " request=", o.request_id.c_str(),
            o.install_confirmed ? "" : " install_ack=none");
        if (st_.attempts > 0)
            say("%s: the new certificate is already due for renewal by this device's clock (is the clock ahead of the "
                "server's, or --renew-at below what the lifetime allows?); renewing in %lld s", what,
                static_cast<long long>(st_.quiet_until - now));
        return std::nullopt;
    }

    // No answer: retry later if the failure may pass.
    std::optional<int> failed(const char* what, const Error& e) {
        if (!transient(e.code)) {
            say("%s outcome=failed code=%u/%s reason=\"%s\"; giving up", what, static_cast<unsigned>(e.code),
                code_name(e.code), e.message.c_str());
            return exit_for(e.code);
        }
        return retry(what, "failed", e);
    }

    std::optional<int> retry(const char* what, const char* outcome, const Error& e) {
        const auto now = clock_.unix_now();
        wallet::on_failure(st_, a_.schedule, now, uniform_);
        say("%s outcome=%s code=%u/%s reason=\"%s\" attempt=%u retry_in=%lld s", what, outcome,
            static_cast<unsigned>(e.code), code_name(e.code), e.message.c_str(), st_.attempts,
            static_cast<long long>(st_.quiet_until - now));
        if (a_.once) return exit_for(e.code);
        return std::nullopt;
    }

    std::optional<int> refused(const char* what, const wallet::Outcome& o) {
        if (o.reset) return reset(what, o);
        const Code c = o.rejection.code;
        if (transient_answer(c)) return retry(what, "rejected", o.rejection);
        const std::string req = o.request_id.empty() ? "" : " request=" + o.request_id;
        say("%s outcome=rejected code=%u/%s reason=\"%s\"%s", what, static_cast<unsigned>(c), code_name(c),
            o.rejection.message.c_str(), req.c_str());
        // Released here, or reset and refused a new identity: the device is
        // at the end of what it can do by itself.
        if (std::string_view(what) == "enroll" && (c == Code::device_released || was_reset_)) {
            say("stop: the device was reset and cannot enroll again here (exit %d)", kReset);
            return kReset;
        }
        return exit_for(c);
    }

    std::optional<int> reset(const char* what, const wallet::Outcome& o) {
        say("%s outcome=reset code=%u/%s reason=\"%s\"; key, certificate and CRL wiped; enrolling again", what,
            static_cast<unsigned>(o.rejection.code), code_name(o.rejection.code), o.rejection.message.c_str());
        wallet::on_reset(st_);
        was_reset_ = true;
        return std::nullopt;
    }

    std::optional<int> invalid(const char* what, const wallet::Outcome& o) {
        const auto& f = *o.invalid;
        const std::string why = std::string("the issued certificate was NOT installed: install error ") +
                                std::to_string(static_cast<unsigned>(f.status)) + " " + install_status_name(f.status) +
                                ": " + f.message;
        if (f.status == InstallStatus::storage_write_failed) {
            say("%s outcome=invalid reason=\"%s\"", what, why.c_str());
            return kStorage;
        }
        // Perhaps a clock not yet set, or a server mid-rotation: try again.
        const auto now = clock_.unix_now();
        wallet::on_failure(st_, a_.schedule, now, uniform_);
        say("%s outcome=invalid reason=\"%s\" attempt=%u retry_in=%lld s", what, why.c_str(), st_.attempts,
            static_cast<long long>(st_.quiet_until - now));
        if (a_.once) return kInvalid;
        return std::nullopt;
    }

    std::optional<int> redirected(const char* what, const wallet::Outcome& o) {
        // Servers redirect enrollments only: a renewal or check-in sent
        // elsewhere means the domain moved, which needs a new enrollment
        // (an administrator releases the device) rather than a silent move.
        say("%s outcome=redirect server=%s domain=%s; only enrollments follow redirects (exit %d)", what,
            o.redirect.server.c_str(), o.redirect.domain.c_str(), kRedirect);
        return kRedirect;
    }

    const RunArgs& a_;
    Connection home_;  // where renewals and check-ins go: the server that issued the certificate held
    std::unique_ptr<wallet::Storage> storage_;
    std::unique_ptr<crypto::Random> rng_;
    wallet::Clock clock_;
    wallet::Uniform uniform_;
    wallet::ScheduleState st_;
    bool was_reset_{};   // since the last certificate was installed
    bool checked_in_{};  // the last check-in was answered CheckedIn
};

}  // namespace

int run_daemon(const RunArgs& a) {
    Daemon d(a);
    return d.run();
}

}  // namespace irp::cli
