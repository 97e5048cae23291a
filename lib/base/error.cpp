#include "irp/base/error.hpp"

namespace irp {

namespace {
struct Row {
    Code code;
    const char* name;
};
// The one table of code names. Keep in step with docs/PROTOCOL.md.
constexpr Row kNames[] = {
    {Code::ok, "ok"},
    {Code::frame_too_large, "frame_too_large"},
    {Code::frame_empty, "frame_empty"},
    {Code::malformed_message, "malformed_message"},
    {Code::unexpected_message, "unexpected_message"},
    {Code::unsupported_version, "unsupported_version"},
    {Code::unknown_message, "unknown_message"},
    {Code::field_invalid, "field_invalid"},
    {Code::deadline_exceeded, "deadline_exceeded"},
    {Code::connection_closed, "connection_closed"},
    {Code::tls_failure, "tls_failure"},
    {Code::bad_redirect, "bad_redirect"},
    {Code::bad_token_proof, "bad_token_proof"},
    {Code::bad_possession_proof, "bad_possession_proof"},
    {Code::challenge_mismatch, "challenge_mismatch"},
    {Code::challenge_expired, "challenge_expired"},
    {Code::unknown_class, "unknown_class"},
    {Code::bad_renewal_signature, "bad_renewal_signature"},
    {Code::unknown_certificate, "unknown_certificate"},
    {Code::certificate_not_active, "certificate_not_active"},
    {Code::identity_mismatch, "identity_mismatch"},
    {Code::bad_bootstrap_proof, "bad_bootstrap_proof"},
    {Code::not_registered, "not_registered"},
    {Code::invalid_device_id, "invalid_device_id"},
    {Code::key_algorithm_not_allowed, "key_algorithm_not_allowed"},
    {Code::extension_not_allowed, "extension_not_allowed"},
    {Code::same_key_not_allowed, "same_key_not_allowed"},
    {Code::invalid_csr, "invalid_csr"},
    {Code::class_disabled, "class_disabled"},
    {Code::bootstrap_not_allowed, "bootstrap_not_allowed"},
    {Code::request_rejected, "request_rejected"},
    {Code::device_released, "device_released"},
    {Code::too_many_pending, "too_many_pending"},
    {Code::bad_argument, "bad_argument"},
    {Code::file_error, "file_error"},
    {Code::config_invalid, "config_invalid"},
    {Code::not_found, "not_found"},
    {Code::already_exists, "already_exists"},
    {Code::conflict, "conflict"},
    {Code::storage_unavailable, "storage_unavailable"},
    {Code::internal, "internal"},
    {Code::issuance_failed, "issuance_failed"},
    {Code::too_many_connections, "too_many_connections"},
};
}  // namespace

const char* code_name(Code c) {
    for (const auto& r : kNames)
        if (r.code == c) return r.name;
    return "unknown";
}

bool is_known_code(std::uint32_t raw) {
    for (const auto& r : kNames)
        if (static_cast<std::uint32_t>(r.code) == raw) return true;
    return false;
}

Category category_of(Code c) {
    const auto n = static_cast<unsigned>(c);
    if (n >= 100 && n < 200) return Category::protocol;
    if (n >= 200 && n < 300) return Category::auth;
    if (n >= 300 && n < 400) return Category::policy;
    if (n >= 400 && n < 500) return Category::usage;
    if (c == Code::storage_unavailable || c == Code::too_many_connections) return Category::unavailable;
    return Category::internal;
}

const char* category_name(Category c) {
    switch (c) {
        case Category::protocol: return "protocol";
        case Category::auth: return "auth";
        case Category::policy: return "policy";
        case Category::usage: return "usage";
        case Category::unavailable: return "unavailable";
        case Category::internal: return "internal";
    }
    return "internal";
}

bool is_retryable(Code c) {
    return c == Code::storage_unavailable || c == Code::too_many_connections || c == Code::challenge_expired ||
           c == Code::deadline_exceeded || c == Code::connection_closed;
}

}  // namespace irp
