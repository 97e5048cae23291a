// The server network adapter: accepts TCP connections, runs TLS through
// crypto::TlsEndpoint and one core ServerSession per connection, arms the
// deadlines the session reports, and hands requests to a ServerHandler.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "irp/core/server_session.hpp"
#include "irp/crypto/tls.hpp"

namespace irp::net {

struct PeerInfo {
    std::string address;  // "127.0.0.1:51234"
};

// Called on a network thread, serialised per connection. on_request may
// block (it signs and commits); other connections keep being served by the
// other threads.
class ServerHandler {
public:
    virtual ~ServerHandler() = default;
    virtual Answer on_request(const RequestReceived& req, const PeerInfo& peer) = 0;
    // Returns whether the report was recorded; the device is told.
    virtual bool on_install_report(const InstallReported& rep, const PeerInfo& peer) = 0;
    virtual void on_rejected(const RequestRejected& rej, const PeerInfo& peer) = 0;
    // Protocol errors, deadlines and TLS failures.
    virtual void on_failure(const Error& err, const PeerInfo& peer) = 0;
    // A connection opened (+1) or closed (-1); for gauges. Default: ignored.
    virtual void on_connection(int delta) { (void)delta; }
    // A connection refused by the per-source rate limit or the connection
    // cap (reason: "rate_limited" / "connection_cap"). Default: ignored.
    virtual void on_refused(const PeerInfo& peer, const char* reason) {
        (void)peer;
        (void)reason;
    }
};

struct ServerOptions {
    std::string host = "127.0.0.1";
    std::uint16_t port = kDefaultPort;  // 0: pick a free port
    unsigned threads = 2;
    unsigned max_connections = 1024;
    // New connections per second from one source address (token bucket;
    // 0 = unlimited) and the burst it may save up. Over the limit, a
    // connection is closed at once, before TLS, and the handler is told.
    double per_source_rate = 0;
    double per_source_burst = 0;
    Time drain_timeout{10'000};
    bool handle_signals = true;  // SIGINT/SIGTERM -> stop()
    // Called on SIGHUP (when handle_signals) on the server's control strand.
    std::function<void()> on_reload;
    // Called once when the server stops accepting (stop(), SIGINT, SIGTERM),
    // before in-flight exchanges drain, on the control strand: it must not
    // block.
    std::function<void()> on_stop;
    ServerSessionConfig session;
    crypto::TlsServerConfig tls;
};

class Server {
public:
    Server(ServerOptions opts, ServerHandler& handler, crypto::Random& rng);
    ~Server();
    Server(const Server&) = delete;
    Server& operator=(const Server&) = delete;

    // Binds and listens; port() is valid afterwards.
    Result<void> listen();
    std::uint16_t port() const;
    // Serves until stop(); then lets in-flight exchanges finish (at most
    // drain_timeout) and returns.
    void run();
    // Thread-safe and signal-safe via the io context.
    void stop();

    // What can change without a restart: session limits and key algorithms,
    // the connection cap and the per-source rate. Applies to connections
    // accepted afterwards; exchanges under way keep what they started with.
    struct LiveSettings {
        ServerSessionConfig session;
        unsigned max_connections = 1024;
        double per_source_rate = 0;
        double per_source_burst = 0;
    };
    void update(LiveSettings s);

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace irp::net
