#include "admin/http_frontends.hpp"

#include <httplib.h>
#include "irp/crypto/revocation.hpp"
#include <nlohmann/json.hpp>

#include <thread>

#include "irp/core/transcript.hpp"

namespace irp::server {

namespace {

using json = nlohmann::json;

int http_status_for(Code c) {
    switch (c) {
        case Code::unknown_certificate: return 404;
        case Code::certificate_not_active: return 409;
        case Code::bad_argument: return 400;
        case Code::storage_unavailable: return 503;
        default: return 500;
    }
}

void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(2) + "\n", "application/json");
}

void send_error(httplib::Response& res, int status, Code code, const std::string& message) {
    send_json(res, status,
              json{{"error", {{"code", static_cast<int>(code)}, {"name", code_name(code)}, {"message", message}}}});
}

void send_error(httplib::Response& res, const Error& e) { send_error(res, http_status_for(e.code), e.code, e.message); }

json cert_json(const CertificateRecord& c, bool with_pem) {
    json j{{"serial", c.serial_hex},
           {"issuer", c.issuer},
           {"device_id", c.device_id},
           {"class", c.class_id},
           {"not_before", c.not_before},
           {"not_after", c.not_after},
           {"issued_at", c.issued_at},
           {"status", cert_status_name(c.status)},
           {"replaces", c.replaces},
           {"replaced_by", c.replaced_by},
           {"public_key_sha256", c.public_key_sha256_hex},
           {"revoked", c.revoked_at.has_value()}};
    if (c.install_status) j["install_status"] = *c.install_status;
    if (c.revoked_at) {
        j["revoked_at"] = *c.revoked_at;
        j["revocation_reason"] = reason_name(c.revocation_reason);
    }
    if (with_pem) j["pem"] = crypto::to_pem(c.der, "CERTIFICATE");
    return j;
}

json device_json(const DeviceRecord& d) {
    return json{{"device_id", d.device_id}, {"class", d.class_id}, {"first_seen", d.first_seen}, {"last_seen", d.last_seen}};
}

std::size_t limit_param(const httplib::Request& req) {
    if (!req.has_param("limit")) return 100;
    try {
        const long v = std::stol(req.get_param_value("limit"));
        return v < 1 ? 1 : v > 1000 ? 1000 : static_cast<std::size_t>(v);
    } catch (const std::exception&) {
        return 100;
    }
}

}  // namespace

struct HttpFrontends::Impl {
    explicit Impl(HttpDeps deps) : d(std::move(deps)) {}
    HttpDeps d;
    std::string admin_listen, http_listen;
    httplib::Server admin, http;
    std::thread admin_thread, http_thread;
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

    Result<std::vector<std::string>> revoke_all(const std::vector<CertificateRecord>& certs, std::int32_t reason,
                                                const std::string& actor, const std::string& peer) {
        std::vector<std::string> done;
        for (const auto& c : certs) {
            if (c.revoked_at) continue;
            AuditEvent ev{d.clock(), actor, "revoke", c.device_id, c.serial_hex, peer,
                          std::string("reason=") + reason_name(reason)};
            auto r = d.store.revoke(c.serial_hex, reason, d.clock(), ev);
            if (!r && r.error().code != Code::certificate_not_active) return r.error();
            if (r) done.push_back(c.serial_hex);
        }
        return done;
    }

    std::optional<std::int32_t> reason_of(const httplib::Request& req, httplib::Response& res) {
        std::string name = "unspecified";
        if (!req.body.empty()) {
            const json body = json::parse(req.body, nullptr, false);
            if (body.is_discarded() || !body.is_object()) {
                send_error(res, 400, Code::bad_argument, "the body must be a JSON object");
                return std::nullopt;
            }
            if (body.contains("reason")) {
                if (!body["reason"].is_string()) {
                    send_error(res, 400, Code::bad_argument, "'reason' must be a string");
                    return std::nullopt;
                }
                name = body["reason"].get<std::string>();
            }
        }
        auto reason = parse_reason(name);
        if (!reason)
            send_error(res, 400, Code::bad_argument,
                       "unknown reason '" + name +
                           "' (unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, "
                           "cessationOfOperation, privilegeWithdrawn)");
        return reason;
    }

    void routes() {
        admin.Get("/metrics", [this](const httplib::Request&, httplib::Response& res) {
            res.set_content(d.metrics.render(d.clock()), "text/plain; version=0.0.4");
        });
        admin.Get("/v1/devices", guarded([this](const httplib::Request& req, httplib::Response& res) {
            auto list = d.store.list_devices(req.get_param_value("after"), limit_param(req));
            if (!list) return send_error(res, list.error());
            json out = json::array();
            for (const auto& dev : *list) out.push_back(device_json(dev));
            send_json(res, 200, json{{"devices", out}, {"next", list->empty() ? "" : list->back().device_id}});
        }));
        admin.Get(R"(/v1/devices/([A-Za-z0-9._-]{1,64}))", guarded([this](const httplib::Request& req, httplib::Response& res) {
            auto dev = d.store.find_device(req.matches[1]);
            if (!dev) return send_error(res, dev.error());
            if (!*dev) return send_error(res, 404, Code::bad_argument, "no device '" + std::string(req.matches[1]) + "'");
            auto certs = d.store.certificates_of(req.matches[1]);
            if (!certs) return send_error(res, certs.error());
            json cs = json::array();
            for (const auto& c : *certs) cs.push_back(cert_json(c, false));
            send_json(res, 200, json{{"device", device_json(**dev)}, {"certificates", cs}});
        }));
        admin.Post(R"(/v1/devices/([A-Za-z0-9._-]{1,64})/revoke)", guarded([this](const httplib::Request& req, httplib::Response& res) {
            const auto reason = reason_of(req, res);
            if (!reason) return;
            auto certs = d.store.certificates_of(req.matches[1]);
            if (!certs) return send_error(res, certs.error());
            if (certs->empty()) return send_error(res, 404, Code::bad_argument, "no device '" + std::string(req.matches[1]) + "'");
            auto done = revoke_all(*certs, *reason, "admin", req.remote_addr);
            if (!done) return send_error(res, done.error());
            send_json(res, 200, json{{"device_id", std::string(req.matches[1])}, {"revoked", *done},
                                     {"reason", reason_name(*reason)}});
        }));
        admin.Get("/v1/certificates", guarded([this](const httplib::Request& req, httplib::Response& res) {
            CertificateQuery q;
            q.device_id = req.get_param_value("device");
            q.after_serial = req.get_param_value("after");
            q.limit = limit_param(req);
            if (req.has_param("revoked")) {
                const std::string v = req.get_param_value("revoked");
                if (v != "true" && v != "false") return send_error(res, 400, Code::bad_argument, "revoked must be true or false");
                q.revoked = v == "true";
            }
            if (req.has_param("status")) {
                const std::string s = req.get_param_value("status");
                for (auto st : {CertStatus::issued, CertStatus::installed, CertStatus::superseded, CertStatus::install_failed})
                    if (s == cert_status_name(st)) q.status = st;
                if (!q.status) return send_error(res, 400, Code::bad_argument, "unknown status '" + s + "'");
            }
            auto list = d.store.list_certificates(q);
            if (!list) return send_error(res, list.error());
            json out = json::array();
            for (const auto& c : *list) out.push_back(cert_json(c, false));
            send_json(res, 200, json{{"certificates", out}, {"next", list->empty() ? "" : list->back().serial_hex}});
        }));
        admin.Get(R"(/v1/certificates/([0-9a-f]{1,40}))", guarded([this](const httplib::Request& req, httplib::Response& res) {
            auto c = d.store.find_certificate(req.matches[1]);
            if (!c) return send_error(res, c.error());
            if (!*c) return send_error(res, 404, Code::unknown_certificate, "no certificate with serial " + std::string(req.matches[1]));
            send_json(res, 200, cert_json(**c, true));
        }));
        admin.Post(R"(/v1/certificates/([0-9a-f]{1,40})/revoke)", guarded([this](const httplib::Request& req, httplib::Response& res) {
            const auto reason = reason_of(req, res);
            if (!reason) return;
            auto c = d.store.find_certificate(req.matches[1]);
            if (!c) return send_error(res, c.error());
            if (!*c) return send_error(res, 404, Code::unknown_certificate, "no certificate with serial " + std::string(req.matches[1]));
            AuditEvent ev{d.clock(), "admin", "revoke", (*c)->device_id, (*c)->serial_hex, req.remote_addr,
                          std::string("reason=") + reason_name(*reason)};
            if (auto r = d.store.revoke((*c)->serial_hex, *reason, d.clock(), ev); !r) return send_error(res, r.error());
            send_json(res, 200, json{{"revoked", (*c)->serial_hex}, {"device_id", (*c)->device_id},
                                     {"reason", reason_name(*reason)}});
        }));
        admin.Get("/v1/audit", guarded([this](const httplib::Request& req, httplib::Response& res) {
            auto log = d.store.audit_log(limit_param(req));
            if (!log) return send_error(res, log.error());
            json out = json::array();
            for (const auto& e : *log)
                out.push_back(json{{"at", e.at}, {"actor", e.actor}, {"action", e.action}, {"device_id", e.device_id},
                                   {"serial", e.serial_hex}, {"peer", e.peer}, {"detail", e.detail}});
            send_json(res, 200, json{{"events", out}});
        }));
        admin.Get("/v1/crl", guarded([this](const httplib::Request&, httplib::Response& res) {
            auto st = d.revocation.crl_status();
            if (!st) return send_error(res, st.error());
            send_json(res, 200, json{{"number", st->number}, {"this_update", st->this_update},
                                     {"next_update", st->next_update}, {"entries", st->entries}});
        }));

        // Relying parties: no authentication, as RFC 5280 / 6960 expect.
        http.Get(R"(/crl/([0-9a-f]{1,64})\.crl)", [this](const httplib::Request& req, httplib::Response& res) {
            if (req.matches[1] != d.revocation.issuer_id()) {
                res.status = 404;  // another (e.g. retired) CA's CRL is not served here
                return;
            }
            auto crl = d.revocation.crl();
            if (!crl) {
                res.status = 503;
                return;
            }
            res.set_content(std::string(crl->begin(), crl->end()), "application/pkix-crl");
        });
        http.Post("/ocsp", [this](const httplib::Request& req, httplib::Response& res) {
            const Bytes resp = d.revocation.ocsp(as_bytes(req.body));
            res.set_content(std::string(resp.begin(), resp.end()), "application/ocsp-response");
        });
        // RFC 6960 appendix A.1: GET {url}/{url-encoding of base64(DER request)}
        http.Get(R"(/ocsp/(.+))", [this](const httplib::Request& req, httplib::Response& res) {
            const auto der = crypto::base64_decode(req.matches[1].str());
            const Bytes resp = der ? d.revocation.ocsp(*der) : crypto::ocsp_error_response(1);
            res.set_content(std::string(resp.begin(), resp.end()), "application/ocsp-response");
        });
        for (auto* s : {&admin, &http}) {
            s->set_payload_max_length(64 * 1024);
            s->set_read_timeout(5, 0);
            s->set_write_timeout(5, 0);
            s->set_keep_alive_max_count(100);
            // Headers and body leave in separate writes: without NODELAY each
            // response waits out the peer's delayed ACK (~40 ms).
            s->set_tcp_nodelay(true);
        }
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
    if (auto r = bind(impl_->http, impl_->http_listen, impl_->http_bound); !r) return r;
    impl_->admin_thread = std::thread([this] { impl_->admin.listen_after_bind(); });
    impl_->http_thread = std::thread([this] { impl_->http.listen_after_bind(); });
    return {};
}

void HttpFrontends::stop() {
    if (!impl_) return;
    impl_->admin.stop();
    impl_->http.stop();
    if (impl_->admin_thread.joinable()) impl_->admin_thread.join();
    if (impl_->http_thread.joinable()) impl_->http_thread.join();
}

std::uint16_t HttpFrontends::admin_port() const { return static_cast<std::uint16_t>(impl_->admin_bound); }
std::uint16_t HttpFrontends::http_port() const { return static_cast<std::uint16_t>(impl_->http_bound); }

}  // namespace irp::server
