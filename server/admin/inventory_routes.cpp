// Admin API: the device and certificate inventory, revocation by an
// operator, and the audit log.
#include "admin/api_util.hpp"
#include "admin/routes.hpp"
#include "revocation/revocation.hpp"

namespace irp::server::admin {

namespace {

Result<std::vector<std::string>> revoke_all(HttpDeps& d, const std::vector<CertificateRecord>& certs,
                                            std::int32_t reason, const std::string& actor, const std::string& peer) {
    std::vector<std::string> done;
    for (const auto& c : certs) {
        if (c.revoked_at) continue;
        AuditEvent ev{
            d.clock(), actor, "revoke", c.device_id, c.serial_hex, peer, std::string("reason=") + reason_name(reason)};
        auto r = d.store.revoke(c.serial_hex, reason, d.clock(), ev);
        if (!r && r.error().code != Code::certificate_not_active) return r.error();
        if (r) done.push_back(c.serial_hex);
    }
    return done;
}

std::optional<std::int32_t> reason_of(const httplib::Request& req, httplib::Response& res) {
    std::string name = "unspecified";
    const auto body = object_body(req, res);
    if (!body) return std::nullopt;
    if (body->contains("reason")) {
        if (!(*body)["reason"].is_string()) {
            send_error(res, 400, Code::bad_argument, "'reason' must be a string");
            return std::nullopt;
        }
        name = (*body)["reason"].get<std::string>();
    }
    auto reason = parse_reason(name);
    if (!reason)
        send_error(res, 400, Code::bad_argument,
                   "unknown reason '" + name +
                       "' (unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, "
                       "cessationOfOperation, privilegeWithdrawn)");
    return reason;
}

}  // namespace

void add_inventory_routes(Routes& r) {
    r.admin.Get("/v1/devices", r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
        auto list = d.store.list_devices(req.get_param_value("after"), limit_param(req));
        if (!list) return send_error(res, list.error());
        json out = json::array();
        for (const auto& dev : *list) out.push_back(device_json(dev));
        send_json(res, 200, json{{"devices", out}, {"next", list->empty() ? "" : list->back().device_id}});
    }));
    r.admin.Get(R"(/v1/devices/([A-Za-z0-9._-]{1,64}))", r.guarded([&d = r.d](const httplib::Request& req,
                                                                              httplib::Response& res) {
        auto dev = d.store.find_device(req.matches[1]);
        if (!dev) return send_error(res, dev.error());
        if (!*dev) return send_error(res, 404, Code::bad_argument, "no device '" + std::string(req.matches[1]) + "'");
        auto certs = d.store.certificates_of(req.matches[1]);
        if (!certs) return send_error(res, certs.error());
        json cs = json::array();
        for (const auto& c : *certs) cs.push_back(cert_json(c, false));
        send_json(res, 200, json{{"device", device_json(**dev)}, {"certificates", cs}});
    }));
    r.admin.Post(R"(/v1/devices/([A-Za-z0-9._-]{1,64})/revoke)", r.guarded([&d = r.d](const httplib::Request& req,
                                                                                      httplib::Response& res) {
        const auto reason = reason_of(req, res);
        if (!reason) return;
        auto certs = d.store.certificates_of(req.matches[1]);
        if (!certs) return send_error(res, certs.error());
        if (certs->empty())
            return send_error(res, 404, Code::bad_argument, "no device '" + std::string(req.matches[1]) + "'");
        auto done = revoke_all(d, *certs, *reason, "admin", req.remote_addr);
        if (!done) return send_error(res, done.error());
        send_json(
            res, 200,
            json{{"device_id", std::string(req.matches[1])}, {"revoked", *done}, {"reason", reason_name(*reason)}});
    }));
    r.admin.Get("/v1/certificates", r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
        CertificateQuery q;
        q.device_id = req.get_param_value("device");
        q.after_serial = req.get_param_value("after");
        q.limit = limit_param(req);
        if (req.has_param("revoked")) {
            const std::string v = req.get_param_value("revoked");
            if (v != "true" && v != "false")
                return send_error(res, 400, Code::bad_argument, "revoked must be true or false");
            q.revoked = v == "true";
        }
        if (req.has_param("status")) {
            const std::string s = req.get_param_value("status");
            for (auto st :
                 {CertStatus::issued, CertStatus::installed, CertStatus::superseded, CertStatus::install_failed})
                if (s == cert_status_name(st)) q.status = st;
            if (!q.status) return send_error(res, 400, Code::bad_argument, "unknown status '" + s + "'");
        }
        auto list = d.store.list_certificates(q);
        if (!list) return send_error(res, list.error());
        json out = json::array();
        for (const auto& c : *list) out.push_back(cert_json(c, false));
        send_json(res, 200, json{{"certificates", out}, {"next", list->empty() ? "" : list->back().serial_hex}});
    }));
    r.admin.Get(R"(/v1/certificates/([0-9a-f]{1,40}))",
                r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
                    auto c = d.store.find_certificate(req.matches[1]);
                    if (!c) return send_error(res, c.error());
                    if (!*c)
                        return send_error(res, 404, Code::unknown_certificate,
                                          "no certificate with serial " + std::string(req.matches[1]));
                    send_json(res, 200, cert_json(**c, true));
                }));
    r.admin.Post(R"(/v1/certificates/([0-9a-f]{1,40})/revoke)", r.guarded([&d = r.d](const httplib::Request& req,
                                                                                     httplib::Response& res) {
        const auto reason = reason_of(req, res);
        if (!reason) return;
        auto c = d.store.find_certificate(req.matches[1]);
        if (!c) return send_error(res, c.error());
        if (!*c)
            return send_error(res, 404, Code::unknown_certificate,
                              "no certificate with serial " + std::string(req.matches[1]));
        AuditEvent ev{d.clock(),
                      "admin",
                      "revoke",
                      (*c)->device_id,
                      (*c)->serial_hex,
                      req.remote_addr,
                      std::string("reason=") + reason_name(*reason)};
        if (auto r = d.store.revoke((*c)->serial_hex, *reason, d.clock(), ev); !r) return send_error(res, r.error());
        send_json(
            res, 200,
            json{{"revoked", (*c)->serial_hex}, {"device_id", (*c)->device_id}, {"reason", reason_name(*reason)}});
    }));
    r.admin.Get("/v1/audit", r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
        auto log = d.store.audit_log(limit_param(req));
        if (!log) return send_error(res, log.error());
        json out = json::array();
        for (const auto& e : *log) out.push_back(audit_json(e));
        send_json(res, 200, json{{"events", out}});
    }));
}

}  // namespace irp::server::admin
