// An example receiver for irp-server's webhook (docs/OPERATIONS.md,
// "Webhook"): it trusts an event only if
//   1. X-IRP-Signature is "sha256=" + hex HMAC-SHA256(secret, X-IRP-Timestamp "." body),
//      compared in constant time, and
//   2. X-IRP-Timestamp is within 5 minutes of now (a captured event cannot
//      be replayed later), and
//   3. the same signature was not seen before (nor within those 5 minutes).
// Accepted events are printed, one JSON line each, on stdout; anything else
// is answered 401 and noted on stderr.
//
// Usage: irp-webhook-receiver --secret-file FILE [--listen 127.0.0.1:0]
// The first line on stdout is "listening on HOST:PORT".
#include <httplib.h>

#include <chrono>
#include <cstdio>
#include <deque>
#include <mutex>
#include <set>
#include <string>

#include "irp/crypto/crypto.hpp"
#include "irp/platform/files.hpp"

namespace {

constexpr std::int64_t kMaxSkewS = 300;

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

bool parse_int(const std::string& s, std::int64_t& out) {
    if (s.empty() || s.size() > 18 || s.find_first_not_of("0123456789") != std::string::npos) return false;
    out = std::stoll(s);
    return true;
}

class Verifier {
public:
    explicit Verifier(irp::Bytes secret) : secret_(std::move(secret)) {}

    // "" when the event is authentic and fresh; else why not.
    std::string check(const std::string& ts, const std::string& sig, const std::string& body) {
        std::int64_t t = 0;
        if (!parse_int(ts, t)) return "missing or malformed X-IRP-Timestamp";
        const std::int64_t now = unix_now();
        if (t < now - kMaxSkewS || t > now + kMaxSkewS) return "timestamp outside 5 minutes";
        const std::string msg = ts + "." + body;
        const std::string want = "sha256=" + irp::to_hex(irp::crypto::hmac_sha256(secret_, irp::as_bytes(msg)));
        if (!irp::crypto::constant_time_equal(irp::as_bytes(want), irp::as_bytes(sig))) return "bad signature";
        std::lock_guard lock(mu_);
        while (!seen_order_.empty() && seen_order_.front().first < now - 2 * kMaxSkewS) {
            seen_.erase(seen_order_.front().second);
            seen_order_.pop_front();
        }
        if (!seen_.insert(sig).second) return "replayed";
        seen_order_.emplace_back(now, sig);
        return "";
    }

private:
    irp::Bytes secret_;
    std::mutex mu_;
    std::set<std::string> seen_;
    std::deque<std::pair<std::int64_t, std::string>> seen_order_;
};

}  // namespace

int main(int argc, char** argv) {
    std::string secret_file, listen = "127.0.0.1:0";
    for (int i = 1; i + 1 < argc; i += 2) {
        const std::string a = argv[i];
        if (a == "--secret-file") secret_file = argv[i + 1];
        else if (a == "--listen") listen = argv[i + 1];
    }
    if (secret_file.empty()) {
        std::fprintf(stderr, "usage: irp-webhook-receiver --secret-file FILE [--listen HOST:PORT]\n");
        return 2;
    }
    auto secret = irp::platform::read_hex_secret(secret_file, 16, "webhook secret");
    if (!secret) {
        std::fprintf(stderr, "irp-webhook-receiver: %s\n", secret.error().message.c_str());
        return 2;
    }
    Verifier verifier(std::move(secret.value()));
    httplib::Server srv;
    srv.set_payload_max_length(64 * 1024);
    std::mutex out_mu;
    srv.Post(".*", [&](const httplib::Request& req, httplib::Response& res) {
        const std::string why = verifier.check(req.get_header_value("X-IRP-Timestamp"),
                                               req.get_header_value("X-IRP-Signature"), req.body);
        std::lock_guard lock(out_mu);
        if (!why.empty()) {
            std::fprintf(stderr, "refused: %s\n", why.c_str());
            res.status = 401;
            res.set_content("{\"error\":\"" + why + "\"}\n", "application/json");
            return;
        }
        std::printf("%s\n", req.body.c_str());
        std::fflush(stdout);
        res.status = 204;
    });
    const auto colon = listen.rfind(':');
    const std::string host = listen.substr(0, colon);
    const int want = std::stoi(listen.substr(colon + 1));
    const int port = want == 0 ? srv.bind_to_any_port(host) : (srv.bind_to_port(host, want) ? want : -1);
    if (port < 0) {
        std::fprintf(stderr, "irp-webhook-receiver: cannot listen on %s\n", listen.c_str());
        return 1;
    }
    std::printf("listening on %s:%d\n", host.c_str(), port);
    std::fflush(stdout);
    srv.listen_after_bind();
    return 0;
}
