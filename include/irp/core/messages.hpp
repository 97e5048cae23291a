// The IRP messages as plain C++ values. The protobuf types never leave
// lib/core/codec.cpp: decoding validates every field's size and range, so
// the state machines only ever see well-formed values.
#pragma once

#include <cstdint>
#include <string>
#include <type_traits>
#include <variant>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"
#include "irp/crypto/crypto.hpp"

namespace irp {

inline constexpr std::uint32_t kProtocolVersion = 1;
inline constexpr std::uint16_t kDefaultPort = 4604;

using crypto::KeyAlgorithm;

enum class Operation : std::uint8_t { enroll = 1, renew = 2, check_in = 3 };
const char* operation_name(Operation op);

// Field bounds enforced by the decoder (docs/PROTOCOL.md, "Messages").
namespace bounds {
inline constexpr std::size_t kNonce = 32;
inline constexpr std::size_t kMaxVersions = 8;
inline constexpr std::size_t kMaxIdLength = 64;       // device and class ids
inline constexpr std::size_t kMaxWireIdLength = 256;  // beyond this: malformed
inline constexpr std::size_t kMaxDomain = 253;
inline constexpr std::size_t kMaxDer = 8 * 1024;      // one certificate or CSR
inline constexpr std::size_t kMaxChain = 4;
inline constexpr std::size_t kMaxSignature = 512;
inline constexpr std::size_t kMac = 32;
inline constexpr std::size_t kMaxText = 1024;         // human messages
inline constexpr std::size_t kMaxRequestId = 64;
inline constexpr std::size_t kMaxSerial = 20;
inline constexpr std::size_t kMaxAlgorithms = 8;
inline constexpr std::size_t kMaxModel = 64;          // EnrollRequest.model
// CheckedIn.crl: a CRL carried in a check-in answer. The frame limit of the
// receiving session bounds it further: the client announces what fits
// (CheckIn.max_crl_bytes, see kCheckedInOverhead) and the server never sends
// more. At about 50 bytes per entry, 1 MiB holds some 20 000 revoked
// certificates; the default 64 KiB frame about 1 300.
inline constexpr std::size_t kMaxCrl = 1024 * 1024;
// The most an Answer{CheckedIn} frame adds around its CRL (request id, the
// other fields, tags and lengths): a CRL of max_frame_bytes - this fits.
inline constexpr std::size_t kCheckedInOverhead = 256;
}  // namespace bounds

// Install report codes: the device's verdict on what it received. Numbered
// in the spirit of the cable-modem patent's Table 2 (same numbers where the
// meaning is the same). Documented in docs/PROTOCOL.md, "Install errors".
enum class InstallStatus : std::uint32_t {
    installed = 0,
    timeout = 1,
    identity_mismatch = 2,      // device id not in subject / SAN
    public_key_mismatch = 3,    // not the key the device generated
    malformed_certificate = 5,
    no_certificate = 7,
    untrusted_chain = 8,        // does not chain to the trusted root
    bad_signature = 9,
    issuer_mismatch = 10,
    storage_write_failed = 11,
    validity_error = 12,        // not yet valid, expired, or outlives the CA
    profile_mismatch = 13,      // key usage / EKU not what a device needs
};
const char* install_status_name(InstallStatus s);
bool is_known_install_status(std::uint32_t raw);

struct ClientHello {
    std::vector<std::uint32_t> versions;
    Bytes client_nonce;
    Operation operation = Operation::enroll;
};

struct ServerHello {
    std::uint32_t version = kProtocolVersion;
    Bytes server_nonce;
    std::string domain;
    std::vector<Bytes> ca_chain;
    std::vector<KeyAlgorithm> key_algorithms;
    std::uint32_t challenge_ttl_seconds = 0;
    std::uint32_t max_frame_bytes = 0;
};

struct EnrollRequest {
    std::string device_id;
    std::string class_id;
    Bytes csr;
    Bytes token_proof;                // 32 bytes, or empty: no class token
    std::string request_id{};            // re-asking about a held request
    Bytes bootstrap_key{};               // pre-registered key (SPKI DER)
    std::vector<Bytes> bootstrap_chain{};  // manufacturer certificate first
    Bytes bootstrap_signature{};         // with bootstrap_key or bootstrap_chain
    std::string model{};                 // claimed model, for the approver
};

struct CheckIn {
    std::string device_id;
    Bytes certificate;
    Bytes signature;
    std::uint64_t have_crl_number{};  // the CRL the device holds; 0 = none
    std::uint32_t max_crl_bytes{};    // the largest CRL it takes back; 0 = none
};

struct RenewRequest {
    std::string device_id;
    Bytes certificate;
    Bytes csr;
    Bytes signature;
};

struct Issued {
    Bytes certificate;
    std::vector<Bytes> chain;
};
struct Rejected {
    Code code = Code::internal;
    std::string message;
};
struct Pending {
    std::uint32_t retry_after_seconds = 0;
};
struct Redirect {
    std::string server;
    std::string domain;
};
struct CheckedIn {
    std::uint32_t next_check_in_seconds = 0;
    bool renew_now = false;
    Bytes crl{};  // DER, only when newer than CheckIn.have_crl_number; at most kMaxCrl
};

struct Answer {
    std::string request_id;
    std::variant<Issued, Rejected, Pending, Redirect, CheckedIn> result;
};

struct InstallReport {
    std::uint32_t status = 0;
    Bytes certificate_serial;
};

struct InstallAck {
    bool recorded = false;
};

struct ProtocolError {
    Code code = Code::internal;
    std::string message;
};

using ClientMessage = std::variant<ClientHello, EnrollRequest, RenewRequest, InstallReport, CheckIn>;

// variant_index<T, V>(): the index of alternative T in std::variant V, at
// compile time (the state tables key on it).
template <typename T, typename V>
struct VariantIndex;
template <typename T, typename... Ts>
struct VariantIndex<T, std::variant<Ts...>> {
    static constexpr std::size_t value = [] {
        std::size_t i = 0;
        bool found = false;
        ((found = found || std::is_same_v<T, Ts>, i += found ? 0 : 1), ...);
        return i;
    }();
};
template <typename T, typename V>
constexpr std::size_t variant_index() {
    return VariantIndex<T, V>::value;
}
using ServerMessage = std::variant<ServerHello, Answer, InstallAck, ProtocolError>;

// Encoding never fails for values that satisfy the bounds above.
Bytes encode(const ClientMessage& m);
Bytes encode(const ServerMessage& m);

// Decoding a complete frame payload. Errors: malformed_message (not
// protobuf), unknown_message (no/unknown oneof body), field_invalid (a field
// outside its bounds or an unknown enum value).
Result<ClientMessage> decode_client_message(ByteView payload);
Result<ServerMessage> decode_server_message(ByteView payload);

// The protobuf runtime logs to stderr when a peer sends invalid UTF-8 in a
// string field. A server calls this once at start-up so peers cannot write
// into its log; the decode error is still returned as malformed_message.
void silence_decoder_logging();

}  // namespace irp
