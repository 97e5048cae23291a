#include "lifecycle/webhook.hpp"

#include <algorithm>

#include <httplib.h>

#include "irp/crypto/crypto.hpp"
#include "irp/platform/files.hpp"

namespace irp::server {

std::string webhook_signature(ByteView secret, std::string_view timestamp, std::string_view body) {
    std::string msg;
    msg.reserve(timestamp.size() + 1 + body.size());
    msg.append(timestamp).append(".").append(body);
    return "sha256=" + to_hex(crypto::hmac_sha256(secret, as_bytes(msg)));
}

Webhook::Webhook(WebhookSettings s, std::function<void(const std::string&)> log, std::function<std::int64_t()> clock)
    : s_(std::move(s)), log_(std::move(log)), clock_(std::move(clock)) {
    // The config accepted only http://host[:port][/path].
    const std::string rest = s_.url.substr(std::string("http://").size());
    const auto slash = rest.find('/');
    host_port_ = "http://" + rest.substr(0, slash);
    path_ = slash == std::string::npos ? "/" : rest.substr(slash);
    worker_ = std::thread([this] { run(); });
}

Webhook::~Webhook() {
    {
        std::lock_guard lock(mu_);
        stop_ = true;
    }
    cv_.notify_all();
    if (worker_.joinable()) worker_.join();
}

void Webhook::post(std::string event, std::string body) {
    {
        std::lock_guard lock(mu_);
        if (queue_.size() >= kMaxQueued) {
            queue_.pop_front();
            ++stats_.dropped;
            log_("webhook outcome=dropped reason=queue_full");
        }
        queue_.emplace_back(std::move(event), std::move(body));
    }
    cv_.notify_one();
}

Webhook::Stats Webhook::stats() const {
    std::lock_guard lock(mu_);
    return stats_;
}

bool Webhook::deliver(const std::string& event, const std::string& body) {
    httplib::Client cli(host_port_);
    const auto ms = std::chrono::milliseconds(s_.timeout_ms);
    cli.set_connection_timeout(ms);
    cli.set_read_timeout(ms);
    cli.set_write_timeout(ms);
    const std::string ts = std::to_string(clock_());
    httplib::Headers h{{"X-IRP-Event", event},
                       {"X-IRP-Timestamp", ts},
                       {"X-IRP-Signature", webhook_signature(s_.secret, ts, body)}};
    auto res = cli.Post(path_, h, body, "application/json");
    if (res && res->status >= 200 && res->status < 300) return true;
    log_("webhook event=" + event + " outcome=failed " +
         (res ? "status=" + std::to_string(res->status) : "error=" + httplib::to_string(res.error())));
    return false;
}

void Webhook::run() {
    for (;;) {
        std::pair<std::string, std::string> item;
        {
            std::unique_lock lock(mu_);
            cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
            if (queue_.empty()) return;  // stopping, nothing left
            item = std::move(queue_.front());
            queue_.pop_front();
        }
        bool ok = false;
        for (std::uint32_t attempt = 0; attempt < std::max(1u, s_.attempts) && !ok; ++attempt) {
            if (attempt > 0) {
                std::unique_lock lock(mu_);
                // Stopping cuts the back-off short; the attempt still runs once more.
                cv_.wait_for(lock, std::chrono::seconds(1u << (attempt - 1)), [this] { return stop_; });
            }
            ok = deliver(item.first, item.second);
        }
        std::lock_guard lock(mu_);
        ++(ok ? stats_.delivered : stats_.failed);
    }
}

Result<Bytes> load_webhook_secret(const std::string& path) {
    return platform::read_hex_secret(path, 16, "webhook secret");
}

}  // namespace irp::server
