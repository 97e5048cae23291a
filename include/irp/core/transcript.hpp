// The transcript: what every proof a device makes is computed over.
// docs/PROTOCOL.md ("Transcript and proofs") gives the exact byte layout and
// the reasons: the two nonces make a proof single use, the TLS exporter binds
// it to this connection, and the request hash binds it to this request.
#pragma once

#include <string>

#include "irp/base/bytes.hpp"
#include "irp/core/messages.hpp"
#include "irp/crypto/crypto.hpp"

namespace irp {

struct TranscriptInput {
    std::uint32_t version = kProtocolVersion;
    Operation operation = Operation::enroll;
    ByteView client_nonce;
    ByteView server_nonce;
    ByteView channel_binding;  // RFC 5705 exporter output
    std::string_view domain;
    std::string_view device_id;
    std::string_view class_id;     // enroll only; "" otherwise
    ByteView current_certificate;  // renew and check-in; empty for enroll
};

crypto::Digest transcript_hash(const TranscriptInput& in);

// The PKCS#10 challengePassword that binds a CSR to the transcript.
std::string csr_challenge(const crypto::Digest& transcript);

// HMAC-SHA256(token, "IRP/1 token-proof" 0x00 || transcript || SHA-256(csr)).
// The token itself never crosses the wire.
crypto::Digest token_proof(ByteView token, const crypto::Digest& transcript, ByteView csr_der);

// The message a renewing device signs with its current key:
// "IRP/1 renew-proof" 0x00 || transcript || SHA-256(csr).
Bytes renewal_message(const crypto::Digest& transcript, ByteView csr_der);

// The message a device signs with its bootstrap key (manufacturer
// certificate or pre-registered key) when enrolling:
// "IRP/1 bootstrap-proof" 0x00 || transcript || SHA-256(csr).
Bytes bootstrap_message(const crypto::Digest& transcript, ByteView csr_der);

// The message a device signs with its current key to check in:
// "IRP/1 check-in-proof" 0x00 || transcript (the transcript already holds
// the certificate's hash).
Bytes check_in_message(const crypto::Digest& transcript);

// The manufacturer's per-device bootstrap token:
// HMAC-SHA256(class_secret, class_id || 0x00 || device_id).
crypto::Digest derive_device_token(ByteView class_secret, std::string_view class_id,
                                   std::string_view device_id);

// Device and class identifiers: 1..64 characters from [A-Za-z0-9._-], not
// starting with '.' or '-'. They end up in certificate subjects and URIs.
bool is_valid_identifier(std::string_view id);

// A DNS host name (RFC 1123): 1..253 characters, labels of 1..63 letters,
// digits and '-' (not first or last), no empty label and no trailing dot.
// `lower_only`: letters must be lower-case (domain names as IRP writes them
// into certificates and configs). A dotted IPv4 address passes too.
bool is_valid_dns_name(std::string_view name, bool lower_only);

}  // namespace irp
