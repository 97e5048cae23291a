// Asio adapter for the server side. Per connection: socket bytes -> TLS
// endpoint -> core ServerSession -> events -> handler -> answer -> session
// output -> TLS endpoint -> socket. Everything a connection does runs on its
// own strand; deadlines come from the session (docs/ARCHITECTURE.md).
#include <asio.hpp>

#include <atomic>
#include <list>
#include <mutex>
#include <set>
#include <unordered_map>

#include "irp/net/server.hpp"

namespace irp::net {

namespace {

using asio::ip::tcp;

Time steady_now() {
    return std::chrono::duration_cast<Time>(std::chrono::steady_clock::now().time_since_epoch());
}

class Connection;

}  // namespace

struct Server::Impl {
    ServerOptions opts;
    ServerHandler& handler;
    crypto::Random& rng;
    asio::io_context io;
    // Accepting, signals and draining share one strand, so stop() can never
    // race an accept completion on another thread.
    asio::strand<asio::io_context::executor_type> control{asio::make_strand(io)};
    tcp::acceptor acceptor{control};
    asio::signal_set signals{control};
    asio::steady_timer drain_timer{control};
    std::mutex mu;
    std::set<std::shared_ptr<Connection>> live;
    std::atomic<bool> stopping{false};

    // Per-source token buckets, least recently used first out, so a flood of
    // spoofed-looking sources cannot grow the table without bound.
    struct Bucket {
        double tokens;
        Time last;
        std::list<std::string>::iterator lru;
    };
    std::unordered_map<std::string, Bucket> buckets;
    std::list<std::string> bucket_lru;
    static constexpr std::size_t kMaxBuckets = 65'536;

    std::shared_ptr<const crypto::TlsServerContext> tls_context;

    Impl(ServerOptions o, ServerHandler& h, crypto::Random& r)
        : opts(std::move(o)), handler(h), rng(r), tls_context(crypto::make_tls_server_context(opts.tls)) {}
    bool admit(const std::string& source, Time now);
    void wait_signal() {
        signals.async_wait([this](std::error_code ec, int sig) {
            if (ec) return;
            if (sig == SIGHUP) {
                opts.on_reload();
                return wait_signal();
            }
            begin_stop();
        });
    }
    void accept();
    void forget(const std::shared_ptr<Connection>& c);
    void begin_stop();
};

namespace {

class Connection : public std::enable_shared_from_this<Connection> {
public:
    Connection(Server::Impl& server, tcp::socket sock)
        : server_(server),
          strand_(asio::make_strand(server.io)),
          socket_(std::move(sock)),
          timer_(strand_),
          session_cfg_(server.opts.session),  // a snapshot: a reload may change opts
          tls_(crypto::TlsEndpoint::server(server.tls_context)),
          started_(steady_now()) {
        std::error_code ec;
        const auto ep = socket_.remote_endpoint(ec);
        peer_.address = ec ? "unknown" : ep.address().to_string() + ":" + std::to_string(ep.port());
    }

    // `socket_` was accepted on the acceptor's executor; from here on every
    // handler is dispatched through `strand_`.
    void start() {
        asio::dispatch(strand_, [self = shared_from_this()] {
            self->arm_timer();
            self->read();
        });
    }

    // Called by the drain timer: give up on this connection.
    void abort() {
        asio::dispatch(strand_, [self = shared_from_this()] { self->close_now(); });
    }

private:
    void read() {
        if (closing_) return;
        socket_.async_read_some(asio::buffer(buf_),
                                asio::bind_executor(strand_, [self = shared_from_this()](std::error_code ec, std::size_t n) {
                                    self->on_read(ec, n);
                                }));
    }

    void on_read(std::error_code ec, std::size_t n) {
        if (ec) {
            if (session_ && !session_->finished())
                server_.handler.on_failure(make_error(Code::connection_closed, "peer closed the connection mid-exchange"), peer_);
            return close_now();
        }
        const Time now = steady_now();
        if (auto r = tls_->receive_ciphertext(ByteView(buf_.data(), n)); !r) {
            server_.handler.on_failure(r.error(), peer_);
            flush();
            return close_after_flush();
        }
        if (tls_->handshake_complete() && !session_) {
            session_.emplace(session_cfg_, server_.rng, tls_->channel_binding(), started_);
        }
        if (session_) {
            const Bytes plain = tls_->take_plaintext();
            if (!plain.empty()) session_->receive(plain, now);
            pump(now);
        }
        flush();
        if (tls_->peer_closed()) return close_after_flush();
        arm_timer();
        read();
    }

    // Drains the session's events and output.
    void pump(Time now) {
        while (auto ev = session_->poll_event()) {
            if (auto* req = std::get_if<RequestReceived>(&*ev)) {
                Answer a = server_.handler.on_request(*req, peer_);
                if (auto r = session_->answer(std::move(a), steady_now()); !r)
                    server_.handler.on_failure(r.error(), peer_);
            } else if (auto* rep = std::get_if<InstallReported>(&*ev)) {
                const bool recorded = server_.handler.on_install_report(*rep, peer_);
                (void)session_->acknowledge_install(recorded, steady_now());
            } else if (auto* rej = std::get_if<RequestRejected>(&*ev)) {
                server_.handler.on_rejected(*rej, peer_);
            } else if (auto* f = std::get_if<SessionFailed>(&*ev)) {
                server_.handler.on_failure(f->error, peer_);
            }
        }
        (void)now;
        const Bytes out = session_->take_output();
        if (!out.empty() && tls_->handshake_complete()) (void)tls_->send_plaintext(out);
        if (session_->finished()) tls_->close();  // close_notify after the last frame
        flush();
        if (session_->finished()) close_after_flush();
    }

    void arm_timer() {
        if (closing_) return;
        std::optional<Time> deadline;
        if (session_) {
            deadline = session_->next_deadline();
        } else {
            deadline = started_ + session_cfg_.limits.hello_timeout;  // TLS handshake
        }
        if (!deadline) return;
        const auto wait = *deadline - steady_now();
        timer_.expires_after(wait.count() > 0 ? wait : Time{0});
        timer_.async_wait([self = shared_from_this()](std::error_code ec) {
            if (!ec) self->on_timer();
        });
    }

    void on_timer() {
        if (closing_) return;
        const Time now = steady_now();
        if (!session_) {
            server_.handler.on_failure(make_error(Code::deadline_exceeded, "TLS handshake did not complete in time"), peer_);
            return close_now();
        }
        session_->on_deadline(now);
        pump(now);
        flush();
        if (!closing_) arm_timer();
    }

    void flush() {
        Bytes out = tls_->take_ciphertext();
        if (out.empty()) return;
        pending_.insert(pending_.end(), out.begin(), out.end());
        write_next();
    }

    void write_next() {
        if (writing_ || pending_.empty()) {
            if (!writing_ && pending_.empty() && close_when_flushed_) close_now();
            return;
        }
        writing_ = true;
        inflight_ = std::exchange(pending_, {});
        asio::async_write(socket_, asio::buffer(inflight_),
                          asio::bind_executor(strand_, [self = shared_from_this()](std::error_code ec, std::size_t) {
                              self->writing_ = false;
                              if (ec) return self->close_now();
                              self->write_next();
                          }));
    }

    void close_after_flush() {
        close_when_flushed_ = true;
        write_next();
    }

    void close_now() {
        if (closed_) return;
        closed_ = closing_ = true;
        std::error_code ec;
        timer_.cancel();
        socket_.shutdown(tcp::socket::shutdown_both, ec);
        socket_.close(ec);
        server_.forget(shared_from_this());
    }

    Server::Impl& server_;
    asio::strand<asio::io_context::executor_type> strand_;
    tcp::socket socket_;
    asio::steady_timer timer_;
    ServerSessionConfig session_cfg_;
    std::unique_ptr<crypto::TlsEndpoint> tls_;
    std::optional<ServerSession> session_;
    PeerInfo peer_;
    Time started_;
    std::array<std::uint8_t, 16 * 1024> buf_{};
    Bytes pending_;
    Bytes inflight_;
    bool writing_ = false;
    bool close_when_flushed_ = false;
    bool closing_ = false;
    bool closed_ = false;
};

}  // namespace

void Server::Impl::accept() {
    acceptor.async_accept([this](std::error_code ec, tcp::socket sock) {
        if (ec) {
            if (ec == asio::error::operation_aborted || stopping) return;
            return accept();  // e.g. EMFILE: keep serving the others
        }
        if (stopping) return;
        std::error_code ep_ec;
        const auto ep = sock.remote_endpoint(ep_ec);
        const std::string source = ep_ec ? "unknown" : ep.address().to_string();
        if (!admit(source, steady_now())) {
            std::error_code ignored;
            sock.close(ignored);
            handler.on_refused(PeerInfo{source}, "rate_limited");
            return accept();
        }
        std::shared_ptr<Connection> conn;
        bool capped = false;
        {
            std::lock_guard lock(mu);
            if (live.size() >= opts.max_connections) {
                std::error_code ignored;
                sock.close(ignored);  // over the limit: refuse, keep the others
                capped = true;
            } else {
                conn = std::make_shared<Connection>(*this, std::move(sock));
                live.insert(conn);
            }
        }
        if (capped) handler.on_refused(PeerInfo{source}, "connection_cap");
        if (conn) {
            handler.on_connection(+1);
            conn->start();
        }
        accept();
    });
}

// Runs on the control strand only (the accept handler), so no lock.
bool Server::Impl::admit(const std::string& source, Time now) {
    if (opts.per_source_rate <= 0) return true;
    const double burst = opts.per_source_burst > 0 ? std::max(1.0, opts.per_source_burst) : std::max(1.0, 2 * opts.per_source_rate);
    auto it = buckets.find(source);
    if (it == buckets.end()) {
        if (buckets.size() >= kMaxBuckets) {
            buckets.erase(bucket_lru.front());
            bucket_lru.pop_front();
        }
        bucket_lru.push_back(source);
        it = buckets.emplace(source, Bucket{burst, now, std::prev(bucket_lru.end())}).first;
    } else {
        bucket_lru.splice(bucket_lru.end(), bucket_lru, it->second.lru);
    }
    Bucket& b = it->second;
    const double elapsed_s = static_cast<double>((now - b.last).count()) / 1000.0;
    b.tokens = std::min(burst, b.tokens + elapsed_s * opts.per_source_rate);
    b.last = now;
    if (b.tokens < 1.0) return false;
    b.tokens -= 1.0;
    return true;
}

void Server::Impl::forget(const std::shared_ptr<Connection>& c) {
    std::lock_guard lock(mu);
    if (live.erase(c) > 0) handler.on_connection(-1);
    if (stopping && live.empty()) asio::post(control, [this] { drain_timer.cancel(); });
}

void Server::Impl::begin_stop() {
    if (stopping.exchange(true)) return;
    std::error_code ec;
    acceptor.close(ec);
    signals.cancel(ec);
    if (opts.on_stop) opts.on_stop();
    // In-flight exchanges may finish; after drain_timeout the rest are cut.
    drain_timer.expires_after(opts.drain_timeout);
    drain_timer.async_wait([this](std::error_code) {
        std::vector<std::shared_ptr<Connection>> rest;
        {
            std::lock_guard lock(mu);
            rest.assign(live.begin(), live.end());
        }
        for (auto& c : rest) c->abort();
    });
    // When the last connection goes, the drain timer is all that keeps
    // io.run() busy: forget() cancels it then.
    std::lock_guard lock(mu);
    if (live.empty()) drain_timer.cancel();
}

Server::Server(ServerOptions opts, ServerHandler& handler, crypto::Random& rng)
    : impl_(std::make_unique<Impl>(std::move(opts), handler, rng)) {}

Server::~Server() = default;

Result<void> Server::listen() {
    std::error_code ec;
    const auto addr = asio::ip::make_address(impl_->opts.host, ec);
    if (ec) return make_error(Code::bad_argument, "listen address '" + impl_->opts.host + "' is not an IP address");
    const tcp::endpoint ep(addr, impl_->opts.port);
    impl_->acceptor.open(ep.protocol(), ec);
    if (!ec) impl_->acceptor.set_option(tcp::acceptor::reuse_address(true), ec);
    if (!ec) impl_->acceptor.bind(ep, ec);
    if (!ec) impl_->acceptor.listen(asio::socket_base::max_listen_connections, ec);
    if (ec)
        return make_error(Code::bad_argument, "cannot listen on " + impl_->opts.host + ":" +
                                                  std::to_string(impl_->opts.port) + ": " + ec.message());
    return {};
}

std::uint16_t Server::port() const {
    std::error_code ec;
    return impl_->acceptor.local_endpoint(ec).port();
}

void Server::run() {
    if (impl_->opts.handle_signals) {
        impl_->signals.add(SIGINT);
        impl_->signals.add(SIGTERM);
        if (impl_->opts.on_reload) impl_->signals.add(SIGHUP);
        impl_->wait_signal();
    }
    impl_->accept();
    std::vector<std::thread> extra;
    for (unsigned i = 1; i < impl_->opts.threads; ++i) extra.emplace_back([this] { impl_->io.run(); });
    impl_->io.run();
    for (auto& t : extra) t.join();
}

void Server::update(LiveSettings s) {
    asio::post(impl_->control, [this, s = std::move(s)] {
        impl_->opts.session = s.session;
        impl_->opts.max_connections = s.max_connections;
        impl_->opts.per_source_rate = s.per_source_rate;
        impl_->opts.per_source_burst = s.per_source_burst;
    });
}

void Server::stop() {
    asio::post(impl_->control, [this] { impl_->begin_stop(); });
}

}  // namespace irp::net
