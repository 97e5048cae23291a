// Notifies administrators of new held requests: an HTTP POST of JSON to a
// configured URL, signed so a receiver can trust it (docs/OPERATIONS.md,
// "Webhook"):
//   X-IRP-Timestamp: <Unix seconds>
//   X-IRP-Signature: sha256=<hex HMAC-SHA256(secret, timestamp || "." || body)>
// Receivers recompute the signature, compare in constant time and refuse
// timestamps more than 5 minutes away (examples/webhook-receiver).
// Deliveries run on one background thread from a bounded queue; a slow or
// dead receiver never delays an enrollment.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"

namespace irp::server {

struct WebhookSettings {
    std::string url;  // http://host:port/path
    Bytes secret;
    std::uint32_t timeout_ms = 3000;
    std::uint32_t attempts = 3;  // per event, 1 s then 2 s apart
};

// "sha256=<hex>" over timestamp "." body.
std::string webhook_signature(ByteView secret, std::string_view timestamp, std::string_view body);

class Webhook {
public:
    static constexpr std::size_t kMaxQueued = 1000;

    Webhook(WebhookSettings s, std::function<void(const std::string&)> log, std::function<std::int64_t()> clock);
    ~Webhook();
    Webhook(const Webhook&) = delete;
    Webhook& operator=(const Webhook&) = delete;

    // Queues one event (its JSON body). When the queue is full the oldest
    // event is dropped, with a log line.
    void post(std::string event, std::string body);

    struct Stats {
        std::uint64_t delivered = 0, failed = 0, dropped = 0;
    };
    Stats stats() const;

private:
    void run();
    bool deliver(const std::string& event, const std::string& body);

    WebhookSettings s_;
    std::string host_port_, path_;
    std::function<void(const std::string&)> log_;
    std::function<std::int64_t()> clock_;
    mutable std::mutex mu_;
    std::condition_variable cv_;
    std::deque<std::pair<std::string, std::string>> queue_;
    bool stop_ = false;
    Stats stats_;
    std::thread worker_;
};

// Reads a webhook secret file (hex, >= 16 bytes, as class secrets).
Result<Bytes> load_webhook_secret(const std::string& path);

}  // namespace irp::server
