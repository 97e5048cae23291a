// idwallet: enroll | renew | check-in | run | show | crl. Exit codes are documented in README.md
// ("idwallet exit codes") and mirror the error categories. What the subcommands
// share is in cli.hpp; `run`, the daemon, in run.cpp.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <thread>

#include "cli.hpp"
#include "idwallet.hpp"
#include "irp/core/messages.hpp"
#include "irp/crypto/revocation.hpp"

using namespace irp;
using namespace irp::cli;

namespace {

int report(const char* verb, const char* noun, const std::string& store, const Result<wallet::Outcome>& r) {
    if (!r) return say_error(std::string(noun) + " failed", r.error());
    const auto& o = *r;
    const std::string req = o.request_id.empty() ? "" : " [request " + o.request_id + "]";
    switch (o.kind) {
        case wallet::Outcome::Kind::installed:
            std::printf("%s: %s  serial %s  valid %s .. %s  stored in %s%s\n", verb, o.certificate.subject_cn.c_str(),
                        to_hex(o.certificate.serial).c_str(), utc(o.certificate.not_before).c_str(),
                        utc(o.certificate.not_after).c_str(), store.c_str(),
                        o.install_confirmed ? "" : " (install confirmation not acknowledged)");
            return kOk;
        case wallet::Outcome::Kind::rejected:
            std::fprintf(stderr, "idwallet: %s rejected by the server: %s (%u %s)%s\n", noun, o.rejection.message.c_str(),
                         static_cast<unsigned>(o.rejection.code), code_name(o.rejection.code), req.c_str());
            if (o.reset) {
                std::fprintf(stderr, "idwallet: factory reset: key and certificate removed from %s; enroll again\n",
                             store.c_str());
                return kReset;
            }
            return exit_for(o.rejection.code);
        case wallet::Outcome::Kind::checked_in:
            if (o.reset) {
                std::fprintf(stderr, "idwallet: %s: %s (%u %s)%s\n", noun, o.rejection.message.c_str(),
                             static_cast<unsigned>(o.rejection.code), code_name(o.rejection.code), req.c_str());
                std::fprintf(stderr, "idwallet: factory reset: key and certificate removed from %s; enroll again\n",
                             store.c_str());
                return kReset;
            }
            std::printf("%s: next check-in in %u s%s", verb, o.checked_in.next_check_in_seconds,
                        o.checked_in.renew_now ? "; the server asks for a renewal now" : "");
            if (o.crl_stored) std::printf("; CRL number %lld stored", static_cast<long long>(o.crl_number));
            std::printf("\n");
            if (o.crl_refused) {
                std::fprintf(stderr, "idwallet: %s: %s (%u %s)%s\n", noun, o.crl_refused->message.c_str(),
                             static_cast<unsigned>(o.crl_refused->code), code_name(o.crl_refused->code), req.c_str());
                return o.crl_refused->code == Code::file_error ? kStorage : kInvalid;
            }
            return kOk;
        case wallet::Outcome::Kind::invalid:
            std::fprintf(stderr, "idwallet: %s: the issued certificate was NOT installed: %s (install error %02u %s)%s\n", noun,
                         o.invalid->message.c_str(), static_cast<unsigned>(o.invalid->status),
                         install_status_name(o.invalid->status), req.c_str());
            return o.invalid->status == InstallStatus::storage_write_failed ? kStorage : kInvalid;
        case wallet::Outcome::Kind::pending:
            std::fprintf(stderr, "idwallet: %s held for approval; retry in %u s%s\n", noun, o.retry_after_seconds,
                         req.c_str());
            return kRetryLater;
        case wallet::Outcome::Kind::redirect:
            std::fprintf(stderr, "idwallet: %s redirected to %s (domain %s)%s\n", noun, o.redirect.server.c_str(),
                         o.redirect.domain.c_str(), req.c_str());
            return kRedirect;
    }
    return kInternal;
}

std::string json_string(const std::string& s) {
    std::string out = "\"";
    for (const unsigned char c : s) {
        if (c == '"' || c == '\\') {
            out += '\\';
            out += static_cast<char>(c);
        } else if (c < 0x20 || c == 0x7f) {
            char buf[8];
            std::snprintf(buf, sizeof buf, "\\u%04x", c);
            out += buf;
        } else {
            out += static_cast<char>(c);
        }
    }
    return out + "\"";
}

// `idwallet crl`: the CRL the wallet holds (from its check-ins), verified
// again against the issuing CA in its chain.
int show_crl(const std::string& store, bool json, std::int64_t now) {
    auto storage = wallet::open_directory_storage(store);
    auto held = wallet::held_crl(*storage);
    if (!held) return say_error("crl", held.error());
    if (!held.value()) {
        if (json)
            std::printf("null\n");
        else
            std::printf("no CRL held in %s (check in to fetch one)\n", store.c_str());
        return kStorage;
    }
    const auto& c = **held;
    auto ca = crypto::parse_certificate(c.issuer_ca);
    const std::string issuer = ca ? ca->subject : "";
    const bool stale = now > c.info.next_update;
    if (json) {
        std::string out = "{\"issuer\":" + json_string(issuer) + ",\"number\":" + std::to_string(c.info.crl_number) +
                          ",\"this_update\":" + std::to_string(c.info.this_update) +
                          ",\"next_update\":" + std::to_string(c.info.next_update) +
                          ",\"stale\":" + (stale ? "true" : "false") + ",\"count\":" + std::to_string(c.info.entries.size()) +
                          ",\"revoked\":[";
        for (std::size_t i = 0; i < c.info.entries.size(); ++i) {
            const auto& e = c.info.entries[i];
            out += std::string(i ? "," : "") + "{\"serial\":" + json_string(to_hex(e.serial)) +
                   ",\"revoked_at\":" + std::to_string(e.revoked_at) + ",\"reason\":" + json_string(crypto::crl_reason_name(e.reason)) + "}";
        }
        std::printf("%s]}\n", out.c_str());
        return kOk;
    }
    std::printf("issuer:      %s\nnumber:      %lld\nthisUpdate:  %s\nnextUpdate:  %s%s\nrevoked:     %zu\n",
                issuer.c_str(), static_cast<long long>(c.info.crl_number), utc(c.info.this_update).c_str(),
                utc(c.info.next_update).c_str(), stale ? " (STALE)" : "", c.info.entries.size());
    for (const auto& e : c.info.entries)
        std::printf("  %s  %s  %s\n", to_hex(e.serial).c_str(), utc(e.revoked_at).c_str(), crypto::crl_reason_name(e.reason));
    return kOk;
}

}  // namespace

int main(int argc, char** argv) {
    silence_decoder_logging();
    CLI::App app{"idwallet: the IRP device wallet"};
    app.require_subcommand(1);
    unsigned timeout_ms = 30'000;
    app.add_option("--timeout-ms", timeout_ms, "connect timeout, and the longest wait for the server's answer")->capture_default_str();

    Connection conn;
    EnrollArgs ea;
    std::string store;
    bool wait = false;
    unsigned max_wait_s = 86'400;
    auto* enroll = app.add_subcommand("enroll", "generate a key pair and enroll (token, pre-registered key, "
                                                "manufacturer certificate, or approval)");
    add_enroll_options(*enroll, conn, ea, store);
    enroll->add_flag("--wait", wait, "if held for approval, re-ask on the server's schedule until answered");
    enroll->add_option("--max-wait", max_wait_s, "with --wait: give up after this many seconds")->capture_default_str();

    // The daemon: same identity options as enroll, plus the schedule.
    RunArgs ra;
    auto* run = app.add_subcommand("run", "stay running: enroll when there is no certificate, renew on schedule, "
                                          "retry with back-off (README.md, \"idwallet run\")");
    add_enroll_options(*run, conn, ea, store);
    run->add_option("--renew-at", ra.schedule.renew_at, "renew at this fraction of the certificate's lifetime")
        ->check(CLI::Range(wallet::kMinRenewAt, wallet::kMaxRenewAt))
        ->capture_default_str();
    run->add_option("--jitter", ra.schedule.jitter, "renew up to this fraction of the lifetime earlier or later (random, "
                                                    "fixed per certificate)")
        ->check(CLI::Range(0.0, wallet::kMaxJitter))
        ->capture_default_str();
    run->add_flag("--check-in", ra.schedule.check_in, "check in between renewals, when the server asks to (brings the "
                                                      "domain CRL; learns of release and revocation)");
    run->add_option("--max-backoff", ra.schedule.max_backoff_s, "longest wait, in seconds, between retries after "
                                                               "failures")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{7 * 86'400}))
        ->capture_default_str();
    run->add_flag("--once", ra.once, "do what is due now, then exit (for cron and tests)");
    run->add_option("--max-runtime", ra.max_runtime_s, "stop after this many seconds (exit 0)")
        ->check(CLI::Range(std::int64_t{1}, std::int64_t{365} * 86'400));

    auto* checkin = app.add_subcommand("check-in", "tell the server this device is alive (learns of release/revocation)");
    checkin->add_option("--store", store, "the wallet directory")->required();

    bool same_key = false;
    auto* renew = app.add_subcommand("renew", "renew the installed certificate (new key pair by default)");
    renew->add_option("--store", store, "the wallet directory")->required();
    renew->add_flag("--same-key", same_key, "keep the current key pair");

    auto* show = app.add_subcommand("show", "show the installed certificate");
    show->add_option("--store", store, "the wallet directory")->required();

    bool json = false;
    auto* crl = app.add_subcommand("crl", "show the domain CRL held (fetched at check-in), for checking peers");
    crl->add_option("--store", store, "the wallet directory")->required();
    crl->add_flag("--json", json, "one JSON object, times in Unix seconds (null when none is held)");

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? kOk : kUsage;
    }
    auto rng = crypto::system_random();
    const auto clock = system_clock();
    const std::chrono::milliseconds timeout(timeout_ms);

    if (*run) {
        auto o = enroll_options(ea, conn, timeout_ms);
        if (!o) return say_error("run", o.error());
        if (auto k = save_key_location(ea, store); !k) return say_error("run", k.error());
        ra.conn = conn;
        ra.enroll = std::move(o.value());
        ra.store = store;
        ra.timeout_ms = timeout_ms;
        return run_daemon(ra);
    }
    if (*enroll) {
        auto eo = enroll_options(ea, conn, timeout_ms);
        if (!eo) return say_error("enroll", eo.error());
        if (auto k = save_key_location(ea, store); !k) return say_error("enroll", k.error());
        const auto& o = eo.value();
        auto storage = wallet::open_directory_storage(store);
        // Held for approval: re-ask on the server's schedule (its
        // retry-after doubles per ask, docs/PROTOCOL.md "Held requests"),
        // each wait clamped to 1 s .. 1 h and to what is left of --max-wait.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(max_wait_s);
        for (;;) {
            // Redirects are followed; `at` ends at the server that answered.
            Connection at = conn;
            auto r = enroll_following(at, *storage, o, *rng, clock, timeout,
                                      [](const std::string& hop) { std::fprintf(stderr, "idwallet: %s\n", hop.c_str()); });
            // A held request is asked about again where it is held (`at`
            // keeps the starting point in Connection::via).
            if (r && (r->kind == wallet::Outcome::Kind::installed || r->kind == wallet::Outcome::Kind::pending)) conn = at;
            if (r && r->kind == wallet::Outcome::Kind::installed)
                if (auto s = save_connection(store, conn); !s) return say_error("enroll", s.error());
            if (!wait || !r || r->kind != wallet::Outcome::Kind::pending) return report("enrolled", "enrollment", store, r);
            const auto left = std::chrono::duration_cast<std::chrono::seconds>(deadline - std::chrono::steady_clock::now());
            if (left.count() <= 0) return report("enrolled", "enrollment", store, r);
            const auto pause = std::min<std::int64_t>({std::max<std::int64_t>(r->retry_after_seconds, 1), 3600, left.count()});
            std::fprintf(stderr, "idwallet: held for approval [request %s]; asking again in %lld s\n",
                         r->request_id.c_str(), static_cast<long long>(pause));
            std::this_thread::sleep_for(std::chrono::seconds(pause));
        }
    }
    if (*renew) {
        auto c = load_connection(store);
        if (!c) return say_error("renew", c.error());
        wallet::RenewOptions o;
        o.same_key = same_key;
        o.trusted_roots = c->roots;
        o.limits.exchange_timeout = Time{timeout_ms};
        auto t = connect(*c, timeout);
        if (!t) return say_error("cannot reach " + where(*c), t.error());
        auto storage = wallet::open_directory_storage(store);
        return report("renewed", "renewal", store, wallet::renew(**t, *storage, o, *rng, clock));
    }
    if (*checkin) {
        auto c = load_connection(store);
        if (!c) return say_error("check-in", c.error());
        wallet::CheckInOptions o;
        o.limits.exchange_timeout = Time{timeout_ms};
        // Room for the largest CRL a check-in carries (docs/PROTOCOL.md).
        o.limits.max_frame_bytes = static_cast<std::uint32_t>(bounds::kMaxCrl + bounds::kCheckedInOverhead);
        auto t = connect(*c, timeout);
        if (!t) return say_error("cannot reach " + where(*c), t.error());
        auto storage = wallet::open_directory_storage(store);
        return report("checked in", "check-in", store, wallet::check_in(**t, *storage, o, *rng, clock));
    }
    if (*show) {
        auto storage = wallet::open_directory_storage(store);
        auto creds = storage->load();
        if (!creds) return say_error("show", creds.error());
        if (!creds.value()) {
            std::printf("no certificate installed in %s\n", store.c_str());
            return kStorage;
        }
        auto info = crypto::parse_certificate(creds.value()->certificate);
        if (!info) return say_error("show", info.error());
        const auto now = clock.unix_now();
        const char* state = now < info->not_before ? "not yet valid" : now > info->not_after ? "EXPIRED" : "valid";
        std::printf("subject:  %s\nissuer:   %s\nserial:   %s\nvalid:    %s .. %s (%s)\nkey:      %s\n",
                    info->subject.c_str(), info->issuer.c_str(), to_hex(info->serial).c_str(),
                    utc(info->not_before).c_str(), utc(info->not_after).c_str(), state,
                    crypto::key_algorithm_name(creds.value()->key->algorithm()));
        for (const auto& u : info->san_uris) std::printf("uri:      %s\n", u.c_str());
        const std::string in_token = creds.value()->key->pkcs11_uri();
        if (!in_token.empty()) std::printf("token:    %s\n", in_token.substr(0, in_token.find('?')).c_str());
        return kOk;
    }
    if (*crl) return show_crl(store, json, clock.unix_now());
    return kUsage;
}
