// idwallet: enroll | renew | check-in | show | crl. Exit codes are documented in README.md
// ("idwallet exit codes") and mirror the error categories.
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>
#include <ctime>
#include <thread>

#include "idwallet.hpp"
#include "tls_transport.hpp"
#include "irp/core/messages.hpp"
#include "irp/core/transcript.hpp"
#include "irp/crypto/revocation.hpp"
#include "irp/net/client.hpp"
#include "irp/platform/files.hpp"

using namespace irp;

namespace {

enum Exit : int {
    kOk = 0,
    kInternal = 1,
    kUsage = 2,
    kNetwork = 3,      // cannot connect, TLS failure, timeout
    kAuthRejected = 4, // server said 2xx
    kPolicyRejected = 5,  // server said 3xx
    kInvalid = 6,      // what the server sent failed validation
    kStorage = 7,      // cannot read or write the store
    kProtocol = 8,     // protocol error (1xx)
    kRetryLater = 9,   // pending, or the server is temporarily unavailable
    kRedirect = 10,    // the server sent us elsewhere
    kReset = 11,       // released or revoked: key and certificate wiped (factory reset)
};

int exit_for(Code c) {
    switch (category_of(c)) {
        case Category::protocol:
            return (c == Code::tls_failure || c == Code::connection_closed || c == Code::deadline_exceeded) ? kNetwork : kProtocol;
        case Category::auth: return kAuthRejected;
        case Category::policy: return kPolicyRejected;
        case Category::usage: return c == Code::file_error ? kStorage : kUsage;
        case Category::unavailable: return kRetryLater;
        case Category::internal: return kInternal;
    }
    return kInternal;
}

int say_error(const std::string& what, const Error& e) {
    std::fprintf(stderr, "idwallet: %s: %s (%u %s)\n", what.c_str(), e.message.c_str(),
                 static_cast<unsigned>(e.code), code_name(e.code));
    return exit_for(e.code);
}

std::string utc(std::int64_t t) {
    const std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
    return buf;
}

wallet::Clock system_clock() {
    return wallet::Clock{
        [] { return std::chrono::duration_cast<Time>(std::chrono::steady_clock::now().time_since_epoch()); },
        [] {
            return static_cast<std::int64_t>(
                std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
        }};
}

struct Connection {
    std::string server;
    std::string server_name;
    std::vector<Bytes> roots;
};

Result<std::unique_ptr<wallet::TlsTransport>> connect(const Connection& c, std::chrono::milliseconds timeout) {
    auto hp = net::split_host_port(c.server);
    if (!hp) return hp.error();
    crypto::TlsClientConfig tls;
    tls.trusted_roots = c.roots;
    tls.server_name = c.server_name.empty() ? hp->first : c.server_name;
    auto conn = net::TlsClientConnection::connect(hp->first, hp->second, tls, timeout);
    if (!conn) return conn.error();
    return std::make_unique<wallet::TlsTransport>(std::move(conn.value()));
}

Result<std::vector<Bytes>> read_roots(const std::string& path) {
    auto text = platform::read_file(path);
    if (!text) return text.error();
    auto roots = crypto::pem_blocks(*text, "CERTIFICATE");
    if (!roots) return roots.error();
    if (roots->empty()) return make_error(Code::file_error, "'" + path + "' holds no certificate");
    return roots;
}

// The store remembers where the device enrolled, so `renew` needs only --store.
Result<void> save_connection(const std::string& dir, const Connection& c) {
    std::string pem;
    for (const auto& r : c.roots) pem += crypto::to_pem(r, "CERTIFICATE");
    if (auto r = platform::write_file_atomic(dir + "/trust.pem", pem, 0644); !r) return r;
    return platform::write_file_atomic(dir + "/server", c.server + "\n" + c.server_name + "\n", 0644);
}

Result<Connection> load_connection(const std::string& dir) {
    Connection c;
    auto roots = read_roots(dir + "/trust.pem");
    if (!roots) return roots.error();
    c.roots = std::move(roots.value());
    auto text = platform::read_file(dir + "/server");
    if (!text) return text.error();
    const auto nl = text->find('\n');
    c.server = text->substr(0, nl);
    if (nl != std::string::npos) {
        c.server_name = text->substr(nl + 1);
        while (!c.server_name.empty() && (c.server_name.back() == '\n' || c.server_name.back() == '\r'))
            c.server_name.pop_back();
    }
    return c;
}

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
    std::string trust, device_id, class_id = "default", token_hex, token_file, store, key_type = "ecdsa-p256";
    std::string bootstrap_key_file, idevid_chain_file, model;
    bool wait = false;
    unsigned max_wait_s = 86'400;
    auto* enroll = app.add_subcommand("enroll", "generate a key pair and enroll (token, pre-registered key, "
                                                "manufacturer certificate, or approval)");
    enroll->add_option("--server", conn.server, "HOST:PORT of the domain server")->required();
    enroll->add_option("--server-name", conn.server_name, "name the server certificate must carry (default: HOST)");
    enroll->add_option("--trust", trust, "PEM file with the trusted root(s)")->required();
    enroll->add_option("--device-id", device_id, "this device's id")->required();
    enroll->add_option("--class", class_id, "device class")->capture_default_str();
    auto* tok = enroll->add_option("--token", token_hex, "bootstrap token, hex");
    enroll->add_option("--token-file", token_file, "file holding the bootstrap token, hex")->excludes(tok);
    enroll->add_option("--store", store, "directory for device.key and device.crt")->required();
    enroll->add_option("--key-type", key_type, "ecdsa-p256, ecdsa-p384 or ed25519")->capture_default_str();
    auto* bkey = enroll->add_option("--bootstrap-key", bootstrap_key_file,
                                    "PEM private key registered with the domain (or of the manufacturer certificate)")
                     ->excludes(tok);
    enroll->add_option("--idevid-chain", idevid_chain_file, "PEM manufacturer certificate (then intermediates)")
        ->needs(bkey);
    enroll->add_option("--model", model, "model name shown to an approver");
    enroll->add_flag("--wait", wait, "if held for approval, re-ask on the server's schedule until answered");
    enroll->add_option("--max-wait", max_wait_s, "with --wait: give up after this many seconds")->capture_default_str();

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

    if (*enroll) {
        if (!token_hex.empty() && !token_file.empty())
            return say_error("enroll", make_error(Code::bad_argument, "give at most one of --token and --token-file"));
        if (!token_file.empty()) {
            auto t = platform::read_file(token_file, 4096);
            if (!t) return say_error("enroll", t.error());
            token_hex = *t;
            while (!token_hex.empty() && (token_hex.back() == '\n' || token_hex.back() == '\r')) token_hex.pop_back();
        }
        wallet::EnrollOptions o;
        if (!token_hex.empty() && (!from_hex(token_hex, o.token) || o.token.size() != 32))
            return say_error("enroll", make_error(Code::bad_argument, "the token must be 32 bytes written as 64 hex digits"));
        if (!bootstrap_key_file.empty()) {
            auto pem = platform::read_file(bootstrap_key_file);
            if (!pem) return say_error("enroll", pem.error());
            auto k = crypto::PrivateKey::from_pem(*pem);
            if (!k) return say_error("enroll", make_error(Code::file_error, "'" + bootstrap_key_file + "': " + k.error().message));
            o.bootstrap_key = std::make_shared<const crypto::PrivateKey>(std::move(k.value()));
        }
        if (!idevid_chain_file.empty()) {
            auto chain = read_roots(idevid_chain_file);
            if (!chain) return say_error("enroll", chain.error());
            o.bootstrap_chain = std::move(chain.value());
        }
        if (model.size() > 64) return say_error("enroll", make_error(Code::bad_argument, "--model is at most 64 characters"));
        o.model = model;
        if (!is_valid_identifier(device_id))
            return say_error("enroll", make_error(Code::bad_argument, "device id must be 1-64 characters from [A-Za-z0-9._-]"));
        const auto alg = crypto::parse_key_algorithm(key_type);
        if (!alg) return say_error("enroll", make_error(Code::bad_argument, "unknown --key-type '" + key_type + "'"));
        auto roots = read_roots(trust);
        if (!roots) return say_error("enroll", roots.error());
        conn.roots = std::move(roots.value());
        o.device_id = device_id;
        o.class_id = class_id;
        o.limits.exchange_timeout = Time{timeout_ms};
        o.key_algorithm = *alg;
        o.trusted_roots = conn.roots;
        auto storage = wallet::open_directory_storage(store);
        // Held for approval: re-ask on the server's schedule (its
        // retry-after doubles per ask, docs/PROTOCOL.md "Held requests"),
        // each wait clamped to 1 s .. 1 h and to what is left of --max-wait.
        const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(max_wait_s);
        for (;;) {
            auto t = connect(conn, timeout);
            if (!t) return say_error("cannot reach " + conn.server, t.error());
            auto r = wallet::enroll(**t, *storage, o, *rng, clock);
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
        if (!t) return say_error("cannot reach " + c->server, t.error());
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
        if (!t) return say_error("cannot reach " + c->server, t.error());
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
        return kOk;
    }
    if (*crl) return show_crl(store, json, clock.unix_now());
    return kUsage;
}
