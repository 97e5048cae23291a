// Admin API: the device lifecycle (docs/OPERATIONS.md, "Approvals",
// "Pre-registered keys", "Release").
//   GET  /v1/held?state=pending          held enrollments, newest first
//   GET  /v1/held/<id>
//   POST /v1/held/<id>/approve|reject    {"note"?}  (reject: the note reaches the device)
//   GET  /v1/registrations?after=        pre-registered keys
//   POST /v1/registrations               {"registrations": [{"device_id", "class", "public_key", "note"?}]}
//   DELETE /v1/registrations/<device>
//   POST /v1/devices/<id>/release        revoke (cessationOfOperation) and release
//   GET  /v1/surge                       per class: active or not
//   POST /v1/surge/<class>/lift          {"hours"?: 1} lift the guard, approve what it holds
#include "admin/api_util.hpp"
#include "admin/routes.hpp"
#include "irp/core/transcript.hpp"

namespace irp::server::admin {

namespace {

constexpr const char* kHeld = R"(/v1/held/([A-Za-z0-9][A-Za-z0-9._-]{0,63}))";
constexpr std::size_t kMaxImport = 10'000;

std::string who(const httplib::Request&) { return "admin"; }

Result<Registration> registration_of(HttpDeps& d, const json& e, std::size_t i) {
    const std::string at = "registrations[" + std::to_string(i) + "]: ";
    auto str = [&](const char* k) -> std::optional<std::string> {
        if (!e.contains(k)) return std::nullopt;
        if (!e[k].is_string()) return std::nullopt;
        return e[k].get<std::string>();
    };
    if (!e.is_object()) return make_error(Code::bad_argument, at + "must be an object");
    const auto device = str("device_id"), cls = str("class"), key = str("public_key");
    const auto note = str("note");
    if (!device || !is_valid_identifier(*device))
        return make_error(Code::bad_argument, at + "'device_id' must be 1-64 characters from [A-Za-z0-9._-]");
    if (!cls) return make_error(Code::bad_argument, at + "'class' is required");
    auto policy = d.classes.policy_for(*cls);
    if (!policy) return make_error(policy.error().code, at + policy.error().message);
    if (!(policy->methods & kBootstrapPreregistered))
        return make_error(Code::bootstrap_not_allowed,
                          at + "class '" + *cls + "' does not accept pre-registered keys (bootstrap = [\"preregistered\", ...])");
    if (!key) return make_error(Code::bad_argument, at + "'public_key' is required");
    auto der = parse_public_key(*key);
    if (!der)
        return make_error(Code::bad_argument,
                          at + "'public_key' must be a PEM PUBLIC KEY or base64 DER SubjectPublicKeyInfo (P-256, P-384, Ed25519)");
    if (note && note->size() > 200) return make_error(Code::bad_argument, at + "'note' exceeds 200 characters");
    return Registration{*device, *cls, *der, to_hex(crypto::sha256(*der)), d.clock(), note.value_or("")};
}

}  // namespace

void add_lifecycle_routes(Routes& r) {
    r.admin.Get("/v1/held", r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
        std::optional<HoldState> state;
        if (req.has_param("state") && req.get_param_value("state") != "all") {
            state = parse_hold_state(req.get_param_value("state"));
            if (!state)
                return send_error(res, 400, Code::bad_argument,
                                  "state must be pending, approved, rejected, issued, expired or all");
        }
        auto list = d.store.list_held(state, limit_param(req));
        if (!list) return send_error(res, list.error());
        json out = json::array();
        for (const auto& h : *list) out.push_back(held_json(h));
        send_json(res, 200, json{{"requests", out}});
    }));
    r.admin.Get(kHeld, r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
        auto h = d.store.find_held(req.matches[1]);
        if (!h) return send_error(res, h.error());
        if (!*h) return send_error(res, 404, Code::not_found, "no held request '" + std::string(req.matches[1]) + "'");
        send_json(res, 200, held_json(**h));
    }));
    for (const bool approve : {true, false}) {
        r.admin.Post(std::string(kHeld) + (approve ? "/approve" : "/reject"),
                     r.guarded([&d = r.d, approve](const httplib::Request& req, httplib::Response& res) {
                         const auto body = object_body(req, res);
                         if (!body) return;
                         const auto note = string_field(*body, "note", false, res);
                         if (!note) return;
                         if (note->size() > 200)
                             return send_error(res, 400, Code::bad_argument, "'note' exceeds 200 characters");
                         if (!d.holds) return send_error(res, 503, Code::internal, "held requests are not served here");
                         auto h = d.holds->decide(req.matches[1], approve, who(req), req.remote_addr, *note);
                         if (!h) return send_error(res, h.error());
                         send_json(res, 200, held_json(*h));
                     }));
    }

    r.admin.Get("/v1/registrations", r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
        auto list = d.store.list_registrations(req.get_param_value("after"), limit_param(req));
        if (!list) return send_error(res, list.error());
        json out = json::array();
        for (const auto& g : *list) out.push_back(registration_json(g));
        send_json(res, 200, json{{"registrations", out}, {"next", list->empty() ? "" : list->back().device_id}});
    }));
    r.admin.Post("/v1/registrations", r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
        const auto body = object_body(req, res);
        if (!body) return;
        if (!body->contains("registrations") || !(*body)["registrations"].is_array() ||
            (*body)["registrations"].empty() || (*body)["registrations"].size() > kMaxImport)
            return send_error(res, 400, Code::bad_argument, "'registrations' must be an array of 1 to 10000 entries");
        std::vector<Registration> regs;
        std::size_t i = 0;
        for (const auto& e : (*body)["registrations"]) {
            auto g = registration_of(d, e, i++);
            if (!g) return send_error(res, g.error().code == Code::not_found ? 400 : http_status_for(g.error().code),
                                      g.error().code, g.error().message);
            for (const auto& prev : regs)
                if (prev.device_id == g->device_id)
                    return send_error(res, 409, Code::already_exists,
                                      "device '" + g->device_id + "' appears twice in the import");
            regs.push_back(std::move(*g));
        }
        AuditEvent ev{d.clock(), who(req), "register", regs.size() == 1 ? regs[0].device_id : "", "", req.remote_addr,
                      "count=" + std::to_string(regs.size())};
        if (auto a = d.store.add_registrations(regs, ev); !a) return send_error(res, a.error());
        send_json(res, 201, json{{"added", regs.size()}});
    }));
    r.admin.Delete(R"(/v1/registrations/([A-Za-z0-9._-]{1,64}))",
                   r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
                       AuditEvent ev{d.clock(), who(req), "unregister", req.matches[1], "", req.remote_addr, ""};
                       if (auto a = d.store.remove_registration(req.matches[1], ev); !a)
                           return send_error(res, a.error());
                       send_json(res, 200, json{{"removed", std::string(req.matches[1])}});
                   }));

    r.admin.Post(R"(/v1/devices/([A-Za-z0-9._-]{1,64})/release)",
                 r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
                     AuditEvent ev{d.clock(), who(req), "release", req.matches[1], "", req.remote_addr,
                                   "active; reason=cessationOfOperation"};
                     auto revoked = d.store.release_device(req.matches[1], d.clock(), ev);
                     if (!revoked) return send_error(res, revoked.error());
                     send_json(res, 200, json{{"device_id", std::string(req.matches[1])}, {"revoked", *revoked}});
                 }));

    r.admin.Get("/v1/surge", r.guarded([&d = r.d](const httplib::Request&, httplib::Response& res) {
        if (!d.holds) return send_error(res, 503, Code::internal, "the surge guard is not served here");
        auto classes = d.classes.list();
        if (!classes) return send_error(res, classes.error());
        const auto p = d.holds->policy();
        json out = json::array();
        for (const auto& c : *classes) {
            auto active = d.holds->surge_active(c.name);
            if (!active) return send_error(res, active.error());
            auto lifted = d.store.surge_lifted_until(c.name);
            if (!lifted) return send_error(res, lifted.error());
            auto recent = d.store.count_new_devices(c.name, d.clock() - p.surge_window_s);
            if (!recent) return send_error(res, recent.error());
            out.push_back(json{{"class", c.name}, {"active", *active}, {"new_devices_in_window", *recent},
                               {"lifted_until", *lifted}});
        }
        send_json(res, 200, json{{"max_new_devices", p.surge_max_new_devices}, {"window_s", p.surge_window_s},
                                 {"classes", out}});
    }));
    r.admin.Post(R"(/v1/surge/([A-Za-z0-9._-]{1,64})/lift)",
                 r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
                     const auto body = object_body(req, res);
                     if (!body) return;
                     std::int64_t hours = 1;
                     if (body->contains("hours")) {
                         if (!(*body)["hours"].is_number_integer() || (*body)["hours"].get<std::int64_t>() < 1 ||
                             (*body)["hours"].get<std::int64_t>() > 24 * 30)
                             return send_error(res, 400, Code::bad_argument, "'hours' must be an integer from 1 to 720");
                         hours = (*body)["hours"].get<std::int64_t>();
                     }
                     if (!d.holds) return send_error(res, 503, Code::internal, "the surge guard is not served here");
                     if (auto p = d.classes.policy_for(req.matches[1]); !p) return send_error(res, p.error());
                     auto n = d.holds->lift_surge(req.matches[1], hours * 3600, who(req), req.remote_addr);
                     if (!n) return send_error(res, n.error());
                     send_json(res, 200, json{{"class", std::string(req.matches[1])},
                                              {"lifted_until", d.clock() + hours * 3600},
                                              {"approved", *n}});
                 }));
}

}  // namespace irp::server::admin
