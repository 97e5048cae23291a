// Shared pieces of the admin API's route files: JSON answers, errors with
// their numbered code, paging parameters, and the record -> JSON mappings.
#pragma once

#include <httplib.h>
#include <nlohmann/json.hpp>

#include "irp/base/error.hpp"
#include "store/store.hpp"

namespace irp::server::admin {

using json = nlohmann::json;

// HTTP status for an error code (404 unknown, 409 conflict/state, 400 bad
// input, 503 retryable, else 500).
int http_status_for(Code c);

void send_json(httplib::Response& res, int status, const json& body);
// {"error": {"code": N, "name": "...", "message": "..."}}
void send_error(httplib::Response& res, int status, Code code, const std::string& message);
void send_error(httplib::Response& res, const Error& e);

// ?limit= clamped to 1..1000 (default 100).
std::size_t limit_param(const httplib::Request& req);
// The body as a JSON object ("" = {}); otherwise sends 400 and returns nullopt.
std::optional<json> object_body(const httplib::Request& req, httplib::Response& res);

json cert_json(const CertificateRecord& c, bool with_pem);
json device_json(const DeviceRecord& d);
json audit_json(const AuditEvent& e);
json held_json(const HeldRequest& h);
json registration_json(const Registration& r);
// A string member of the body ("" when absent and not required), or
// nullopt after sending 400.
std::optional<std::string> string_field(const json& body, const char* key, bool required, httplib::Response& res);

// A public key as PEM ("-----BEGIN PUBLIC KEY-----") or base64 DER
// SubjectPublicKeyInfo of an algorithm we support; nullopt otherwise.
std::optional<Bytes> parse_public_key(const std::string& text);

}  // namespace irp::server::admin
