// Errors as values. Every failure the protocol can report has one numbered
// code; docs/PROTOCOL.md ("Error codes") is the table for humans, and
// lib/base/error.cpp is the only place that maps codes to names and
// categories.
#pragma once

#include <cstdint>
#include <string>
#include <utility>
#include <variant>

namespace irp {

enum class Category : std::uint8_t {
    protocol,     // malformed or out-of-order input; the connection is closed
    auth,         // a proof did not verify
    policy,       // well-formed and authentic, but not allowed
    usage,        // the local caller got something wrong (bad argument, file)
    unavailable,  // temporary: retry later
    internal,     // a bug or an unexpected failure
};

enum class Code : std::uint16_t {
    ok = 0,
    // 100-199 protocol
    frame_too_large = 100,
    frame_empty = 101,
    malformed_message = 102,
    unexpected_message = 103,
    unsupported_version = 104,
    unknown_message = 105,
    field_invalid = 106,
    deadline_exceeded = 107,
    connection_closed = 108,
    tls_failure = 109,
    bad_redirect = 110,  // a Redirect the wallet will not follow (malformed, a loop, too many hops)
    // 200-299 authentication
    bad_token_proof = 200,
    bad_possession_proof = 201,
    challenge_mismatch = 202,
    challenge_expired = 203,
    unknown_class = 204,
    bad_renewal_signature = 205,
    unknown_certificate = 206,
    certificate_not_active = 207,
    identity_mismatch = 208,
    bad_bootstrap_proof = 209,  // the manufacturer certificate / pre-registered key proof fails
    not_registered = 210,       // no pre-registration for this device and key
    // 300-399 policy
    invalid_device_id = 300,
    key_algorithm_not_allowed = 301,
    extension_not_allowed = 302,
    same_key_not_allowed = 303,
    invalid_csr = 304,
    class_disabled = 305,
    bootstrap_not_allowed = 306,  // the class does not accept this way of proving membership
    request_rejected = 307,       // an administrator rejected the held request
    device_released = 308,        // released by its owner: enroll with the new owner's domain
    too_many_pending = 309,       // the queue of held requests is full
    // 400-499 local usage (never sent on the wire)
    bad_argument = 400,
    file_error = 401,
    config_invalid = 402,
    not_found = 403,       // no such object: admin (class, pending request, ...), a token key, an SRV record
    already_exists = 404,  // admin: an object with that name exists
    conflict = 405,        // admin: not possible in the object's current state
    // 500-599 unavailable / internal
    storage_unavailable = 500,
    internal = 501,
    issuance_failed = 502,
    too_many_connections = 503,  // the CRL/OCSP port: the source address has its share of connections open
};

const char* code_name(Code c);
Category category_of(Code c);
const char* category_name(Category c);
// True when the peer should try the same request again later.
bool is_retryable(Code c);
// Codes the wire may carry; anything else received is mapped to `internal`.
bool is_known_code(std::uint32_t raw);

struct Error {
    Code code = Code::internal;
    std::string message;

    Category category() const { return category_of(code); }
};

inline Error make_error(Code c, std::string msg) { return Error{c, std::move(msg)}; }

// A minimal expected<T, Error>: the core and the crypto layer return these
// instead of throwing.
template <typename T>
class [[nodiscard]] Result {
public:
    Result(T value) : v_(std::move(value)) {}
    Result(Error e) : v_(std::move(e)) {}

    bool ok() const { return v_.index() == 0; }
    explicit operator bool() const { return ok(); }
    T& value() & { return std::get<0>(v_); }
    const T& value() const& { return std::get<0>(v_); }
    T&& value() && { return std::get<0>(std::move(v_)); }
    T* operator->() { return &value(); }
    const T* operator->() const { return &value(); }
    T& operator*() & { return value(); }
    const T& operator*() const& { return value(); }
    const Error& error() const { return std::get<1>(v_); }

private:
    std::variant<T, Error> v_;
};

template <>
class [[nodiscard]] Result<void> {
public:
    Result() = default;
    Result(Error e) : err_(std::move(e)), failed_(true) {}
    bool ok() const { return !failed_; }
    explicit operator bool() const { return ok(); }
    const Error& error() const { return err_; }

private:
    Error err_;
    bool failed_ = false;
};

}  // namespace irp
