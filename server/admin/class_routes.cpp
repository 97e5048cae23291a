// Admin API: device classes (docs/OPERATIONS.md, "Device classes").
//   GET  /v1/classes                      every class, both sources; never a secret
//   POST /v1/classes                      {"name", "secret"?: hex, "bootstrap"?: ["token", ...],
//                                          "idevid_roots"?: PEM} -> the secret, once
//   POST /v1/classes/<name>/bootstrap     {"bootstrap": [...], "idevid_roots"?: PEM}
//   POST /v1/classes/<name>/rotate        {"grace_days"?: 30} -> the new secret, once
//   POST /v1/classes/<name>/disable|enable
//   POST /v1/classes/<name>/token         {"device_id"} -> that device's bootstrap token
#include "admin/api_util.hpp"
#include "admin/routes.hpp"

namespace irp::server::admin {

namespace {

constexpr const char* kName = R"(/v1/classes/([A-Za-z0-9][A-Za-z0-9._-]{0,63}))";

json class_json(const ClassView& c) {
    json methods = json::array();
    for (unsigned bit = 1; bit <= kBootstrapAll; bit <<= 1)
        if (c.methods & bit) methods.push_back(bootstrap_methods_text(bit));
    json j{{"name", c.name}, {"source", c.source}, {"enabled", c.enabled}, {"bootstrap", methods}};
    if (c.source == "admin") {
        j["created_at"] = c.created_at;
        j["updated_at"] = c.updated_at;
        if (c.previous_until) j["previous_secret_until"] = c.previous_until;
    }
    return j;
}

Actor actor_of(const httplib::Request& req) {
    return Actor{"admin", req.remote_addr};
}

// "bootstrap": ["token", "approval", ...] and "idevid_roots": PEM, as in
// [classes.<name>]; absent "bootstrap" is token only. Sends 400 and returns
// nullopt when malformed (the registry checks the combination).
std::optional<std::pair<unsigned, std::string>> bootstrap_of(const json& body, httplib::Response& res) {
    unsigned methods = kBootstrapToken;
    if (body.contains("bootstrap")) {
        methods = 0;
        if (!body["bootstrap"].is_array()) {
            send_error(res, 400, Code::bad_argument, "'bootstrap' must be an array of method names");
            return std::nullopt;
        }
        for (const auto& m : body["bootstrap"]) {
            const unsigned bit = m.is_string() ? bootstrap_method(m.get<std::string>()) : 0;
            if (!bit) {
                send_error(res, 400, Code::bad_argument, "'bootstrap' entries are token, preregistered, idevid or approval");
                return std::nullopt;
            }
            methods |= bit;
        }
    }
    const auto roots = string_field(body, "idevid_roots", false, res);
    if (!roots) return std::nullopt;
    return std::pair{methods, *roots};
}

}  // namespace

void add_class_routes(Routes& r) {
    r.admin.Get("/v1/classes", r.guarded([&d = r.d](const httplib::Request&, httplib::Response& res) {
        auto list = d.classes.list();
        if (!list) return send_error(res, list.error());
        json out = json::array();
        for (const auto& c : *list) out.push_back(class_json(c));
        send_json(res, 200, json{{"classes", out}});
    }));

    r.admin.Post("/v1/classes", r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
        const auto body = object_body(req, res);
        if (!body) return;
        const auto name = string_field(*body, "name", true, res);
        if (!name) return;
        const auto secret_hex = string_field(*body, "secret", false, res);
        if (!secret_hex) return;
        std::optional<Bytes> imported;
        if (!secret_hex->empty()) {
            Bytes b;
            if (!from_hex(*secret_hex, b)) return send_error(res, 400, Code::bad_argument, "'secret' must be hex");
            imported = std::move(b);
        }
        const auto bootstrap = bootstrap_of(*body, res);
        if (!bootstrap) return;
        auto secret = d.classes.create(*name, imported, actor_of(req), bootstrap->first, bootstrap->second);
        if (!secret) return send_error(res, secret.error());
        send_json(res, 201, json{{"name", *name}, {"secret", to_hex(*secret)}});
    }));

    r.admin.Post(std::string(kName) + "/rotate",
                 r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
                     const auto body = object_body(req, res);
                     if (!body) return;
                     std::int64_t grace_days = ClassRegistry::kDefaultGraceS / 86400;
                     if (body->contains("grace_days")) {
                         if (!(*body)["grace_days"].is_number_integer())
                             return send_error(res, 400, Code::bad_argument, "'grace_days' must be an integer");
                         grace_days = (*body)["grace_days"].get<std::int64_t>();
                         if (grace_days < 0 || grace_days > 3650)
                             return send_error(res, 400, Code::bad_argument, "'grace_days' must be 0 to 3650");
                     }
                     auto secret = d.classes.rotate(req.matches[1], grace_days * 86400, actor_of(req));
                     if (!secret) return send_error(res, secret.error());
                     send_json(res, 200,
                               json{{"name", std::string(req.matches[1])},
                                    {"secret", to_hex(*secret)},
                                    {"previous_secret_until", grace_days ? d.clock() + grace_days * 86400 : 0}});
                 }));

    r.admin.Post(std::string(kName) + "/bootstrap",
                 r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
                     const auto body = object_body(req, res);
                     if (!body) return;
                     const auto bootstrap = bootstrap_of(*body, res);
                     if (!bootstrap) return;
                     if (auto st = d.classes.set_bootstrap(req.matches[1], bootstrap->first, bootstrap->second, actor_of(req)); !st)
                         return send_error(res, st.error());
                     send_json(res, 200, json{{"name", std::string(req.matches[1])},
                                              {"bootstrap", bootstrap_methods_text(bootstrap->first)}});
                 }));

    for (const bool enable : {true, false}) {
        r.admin.Post(std::string(kName) + (enable ? "/enable" : "/disable"),
                     r.guarded([&d = r.d, enable](const httplib::Request& req, httplib::Response& res) {
                         if (auto st = d.classes.set_enabled(req.matches[1], enable, actor_of(req)); !st)
                             return send_error(res, st.error());
                         send_json(res, 200, json{{"name", std::string(req.matches[1])}, {"enabled", enable}});
                     }));
    }

    r.admin.Post(
        std::string(kName) + "/token", r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
            const auto body = object_body(req, res);
            if (!body) return;
            const auto device = string_field(*body, "device_id", true, res);
            if (!device) return;
            auto token = d.classes.device_token(req.matches[1], *device);
            if (!token) return send_error(res, token.error());
            send_json(res, 200,
                      json{{"class", std::string(req.matches[1])}, {"device_id", *device}, {"token", to_hex(*token)}});
        }));
}

}  // namespace irp::server::admin
