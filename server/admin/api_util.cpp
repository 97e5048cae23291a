#include "admin/api_util.hpp"

#include "admin/error_body.hpp"
#include "irp/crypto/revocation.hpp"
#include "revocation/revocation.hpp"

namespace irp::server::admin {

int http_status_for(Code c) {
    switch (c) {
        case Code::unknown_certificate: return 404;
        case Code::certificate_not_active: return 409;
        case Code::bad_argument: return 400;
        case Code::already_exists: return 409;
        case Code::not_found: return 404;
        case Code::unknown_class: return 404;
        case Code::class_disabled: return 409;
        case Code::conflict: return 409;
        case Code::too_many_pending: return 409;
        case Code::bootstrap_not_allowed: return 409;
        case Code::storage_unavailable: return 503;
        case Code::too_many_connections: return 503;
        default: return 500;
    }
}

void send_json(httplib::Response& res, int status, const json& body) {
    res.status = status;
    res.set_content(body.dump(2) + "\n", "application/json");
}

void send_error(httplib::Response& res, int status, Code code, const std::string& message) {
    send_json(res, status,
              error_body(code, message));
}

void send_error(httplib::Response& res, const Error& e) {
    send_error(res, http_status_for(e.code), e.code, e.message);
}

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
    json j{{"device_id", d.device_id}, {"class", d.class_id}, {"first_seen", d.first_seen}, {"last_seen", d.last_seen}};
    if (d.released_at) j["released_at"] = *d.released_at;
    return j;
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

std::optional<json> object_body(const httplib::Request& req, httplib::Response& res) {
    if (req.body.empty()) return json::object();
    json body = json::parse(req.body, nullptr, false);
    if (body.is_discarded() || !body.is_object()) {
        send_error(res, 400, Code::bad_argument, "the body must be a JSON object");
        return std::nullopt;
    }
    return body;
}

std::optional<std::string> string_field(const json& body, const char* key, bool required, httplib::Response& res) {
    if (!body.contains(key)) {
        if (required) send_error(res, 400, Code::bad_argument, std::string("'") + key + "' is required");
        return required ? std::nullopt : std::optional<std::string>("");
    }
    if (!body[key].is_string()) {
        send_error(res, 400, Code::bad_argument, std::string("'") + key + "' must be a string");
        return std::nullopt;
    }
    return body[key].get<std::string>();
}

json held_json(const HeldRequest& h) {
    json j{{"id", h.id},
           {"device_id", h.device_id},
           {"class", h.class_id},
           {"model", h.model},
           {"peer", h.peer},
           {"reason", h.reason},
           {"proof", h.method},
           {"key_sha256", h.public_key_sha256_hex},
           {"state", hold_state_name(h.state)},
           {"first_seen", h.first_seen},
           {"last_seen", h.last_seen},
           {"asks", h.asks}};
    if (h.decided_at) {
        j["decided_at"] = h.decided_at;
        j["decided_by"] = h.decided_by;
        j["note"] = h.note;
    }
    if (!h.serial_hex.empty()) j["serial"] = h.serial_hex;
    return j;
}

json registration_json(const Registration& r) {
    return json{{"device_id", r.device_id}, {"class", r.class_id}, {"key_sha256", r.public_key_sha256_hex},
                {"created_at", r.created_at}, {"note", r.note}};
}

json audit_json(const AuditEvent& e) {
    return json{{"at", e.at},
                {"actor", e.actor},
                {"action", e.action},
                {"device_id", e.device_id},
                {"serial", e.serial_hex},
                {"peer", e.peer},
                {"detail", e.detail}};
}

// A public key as PEM ("-----BEGIN PUBLIC KEY-----") or base64 DER.
std::optional<Bytes> parse_public_key(const std::string& text) {
    Bytes der;
    if (text.find("-----BEGIN") != std::string::npos) {
        auto blocks = crypto::pem_blocks(text, "PUBLIC KEY");
        if (!blocks || blocks->size() != 1) return std::nullopt;
        der = std::move(blocks->front());
    } else if (auto b = crypto::base64_decode(text)) {
        der = std::move(*b);
    } else {
        return std::nullopt;
    }
    if (der.empty() || der.size() > 8192 || !crypto::spki_algorithm(der)) return std::nullopt;
    return der;
}


}  // namespace irp::server::admin
