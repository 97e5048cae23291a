#include "admin/http_frontends.hpp"

#include <thread>

#include "admin/api_util.hpp"
#include "admin/bounded_http.hpp"
#include "admin/public_http.hpp"
#include "admin/routes.hpp"

namespace irp::server {

using namespace admin;

struct HttpFrontends::Impl {
    explicit Impl(HttpDeps deps) : d(std::move(deps)) {}
    HttpDeps d;
    std::string admin_listen, http_listen;
    // The admin port (loopback, token) reads every request within bounds
    // (bounded_http.hpp), bodies up to 4 MiB. The public port is
    // event-driven (public_http.hpp): slow or idle peers hold a connection
    // slot, not a thread.
    BoundedHttpServer admin{HttpLimits{32 * 1024, std::chrono::seconds(30), 8}};
    PublicHttpServer http{PublicHttpLimits{}, [this](const std::string& method, const std::string& path,
                                                     const std::string& body) { return answer_public(d, method, path, body); }};
    std::thread admin_thread;
    int admin_bound = -1, http_bound = -1;

    bool authorised(const httplib::Request& req, httplib::Response& res) {
        if (d.admin_token.empty()) {
            send_error(res, 503, Code::config_invalid, "the admin API is disabled: set admin.token_file");
            return false;
        }
        const std::string h = req.get_header_value("Authorization");
        const std::string prefix = "Bearer ";
        // Compared in constant time: the token is the only admin credential.
        const bool ok = h.size() > prefix.size() && h.compare(0, prefix.size(), prefix) == 0 &&
                        crypto::constant_time_equal(as_bytes(std::string_view(h).substr(prefix.size())),
                                                    as_bytes(d.admin_token));
        if (!ok) {
            res.set_header("WWW-Authenticate", "Bearer realm=\"irp-admin\"");
            send_error(res, 401, Code::bad_argument, "missing or wrong bearer token");
        }
        return ok;
    }

    // Wraps an admin handler with authentication and a log line.
    httplib::Server::Handler guarded(std::function<void(const httplib::Request&, httplib::Response&)> f) {
        return [this, f = std::move(f)](const httplib::Request& req, httplib::Response& res) {
            if (authorised(req, res)) f(req, res);
            d.log(render_log(d.log_format, "admin",
                             {{"method", req.method}, {"path", printable(req.path, false, 200)},
                              {"peer", req.remote_addr}, {"status", std::to_string(res.status)}}));
        };
    }

    // Refuses a request that carries a body, before reading that body,
    // unless it also carries the token: a peer without the token cannot make
    // the server read and hold up to 4 MiB per request. Routes without a
    // body are checked by guarded() as before. The connection is closed after
    // the answer, since the unread body would otherwise be taken for the next
    // request.
    httplib::Server::HandlerResponse refuse_unauthorised_body(const httplib::Request& req, httplib::Response& res) {
        const std::string length = req.get_header_value("Content-Length");
        const bool body = (!length.empty() && length != "0") || req.has_header("Transfer-Encoding");
        if (!body || authorised(req, res)) return httplib::Server::HandlerResponse::Unhandled;
        res.set_header("Connection", "close");
        d.log(render_log(d.log_format, "admin",
                         {{"method", req.method}, {"path", printable(req.path, false, 200)},
                          {"peer", req.remote_addr}, {"status", std::to_string(res.status)}}));
        return httplib::Server::HandlerResponse::Handled;
    }

    void routes() {
        admin.set_pre_routing_handler(
            [this](const httplib::Request& req, httplib::Response& res) { return refuse_unauthorised_body(req, res); });
        admin.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
            res.set_content(d.metrics.render(d.clock()), "text/plain; version=0.0.4");
        });
        Routes r{d, admin, [this](auto f) { return guarded(std::move(f)); }};
        add_inventory_routes(r);
        add_class_routes(r);
        add_revocation_routes(r);
        add_lifecycle_routes(r);
        add_ui_routes(r);
        add_account_routes(r);
        // Bulk imports and transfers (up to 10 000 entries) need more than
        // the 64 KiB a relying party may send.
        admin.set_payload_max_length(4 * 1024 * 1024);
        admin.set_read_timeout(5, 0);
        admin.set_write_timeout(5, 0);
        admin.set_keep_alive_max_count(100);
        // Headers and body leave in separate writes: without NODELAY each
        // response waits out the peer's delayed ACK (~40 ms).
        admin.set_tcp_nodelay(true);
        http.on_refused = [this] { d.metrics.http_refused(); };
    }
};

HttpFrontends::HttpFrontends(HttpDeps deps, std::string admin_listen, std::string http_listen)
    : impl_(std::make_unique<Impl>(std::move(deps))) {
    impl_->admin_listen = std::move(admin_listen);
    impl_->http_listen = std::move(http_listen);
    impl_->routes();
}

HttpFrontends::~HttpFrontends() { stop(); }

Result<void> HttpFrontends::start() {
    auto bind = [](httplib::Server& s, const std::string& listen, int& bound) -> Result<void> {
        const auto [host, port] = split_listen(listen);
        bound = port == 0 ? s.bind_to_any_port(host) : (s.bind_to_port(host, port) ? port : -1);
        if (bound < 0) return make_error(Code::bad_argument, "cannot listen on " + listen);
        return {};
    };
    if (auto r = bind(impl_->admin, impl_->admin_listen, impl_->admin_bound); !r) return r;
    const auto [host, port] = split_listen(impl_->http_listen);
    auto bound = impl_->http.start(host, static_cast<std::uint16_t>(port));
    if (!bound) return bound.error();
    impl_->http_bound = *bound;
    impl_->admin_thread = std::thread([this] { impl_->admin.listen_after_bind(); });
    return {};
}

void HttpFrontends::stop() {
    if (!impl_) return;
    impl_->admin.stop();
    impl_->http.stop();
    if (impl_->admin_thread.joinable()) impl_->admin_thread.join();
}

void HttpFrontends::set_http_max_per_source(std::size_t n) { impl_->http.set_max_per_source(n); }

std::uint16_t HttpFrontends::admin_port() const { return static_cast<std::uint16_t>(impl_->admin_bound); }
std::uint16_t HttpFrontends::http_port() const { return static_cast<std::uint16_t>(impl_->http_bound); }

}  // namespace irp::server
