#include <algorithm>

#include "irp/core/transcript.hpp"

namespace irp {

namespace {

// Each field is length-prefixed (4 bytes, big-endian) so no two different
// field sequences can produce the same byte string.
void put_field(Bytes& out, ByteView v) {
    const auto n = static_cast<std::uint32_t>(v.size());
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(static_cast<std::uint8_t>(n >> shift));
    out.insert(out.end(), v.begin(), v.end());
}
void put_label(Bytes& out, std::string_view label) {
    out.insert(out.end(), label.begin(), label.end());
    out.push_back(0);
}

}  // namespace

crypto::Digest transcript_hash(const TranscriptInput& in) {
    Bytes buf;
    buf.reserve(256 + in.current_certificate.size());
    put_label(buf, "IRP/1 transcript");
    const std::uint8_t version[4] = {static_cast<std::uint8_t>(in.version >> 24),
                                     static_cast<std::uint8_t>(in.version >> 16),
                                     static_cast<std::uint8_t>(in.version >> 8),
                                     static_cast<std::uint8_t>(in.version)};
    put_field(buf, version);
    const std::uint8_t op = static_cast<std::uint8_t>(in.operation);
    put_field(buf, ByteView(&op, 1));
    put_field(buf, in.client_nonce);
    put_field(buf, in.server_nonce);
    put_field(buf, in.channel_binding);
    put_field(buf, as_bytes(in.domain));
    put_field(buf, as_bytes(in.device_id));
    put_field(buf, as_bytes(in.class_id));
    if (in.current_certificate.empty()) {
        put_field(buf, {});
    } else {
        const auto h = crypto::sha256(in.current_certificate);
        put_field(buf, h);
    }
    return crypto::sha256(buf);
}

std::string csr_challenge(const crypto::Digest& transcript) { return to_hex(transcript); }

namespace {
Bytes bound_message(std::string_view label, const crypto::Digest& transcript, ByteView csr_der) {
    Bytes msg;
    put_label(msg, label);
    msg.insert(msg.end(), transcript.begin(), transcript.end());
    const auto csr_hash = crypto::sha256(csr_der);
    msg.insert(msg.end(), csr_hash.begin(), csr_hash.end());
    return msg;
}
}  // namespace

crypto::Digest token_proof(ByteView token, const crypto::Digest& transcript, ByteView csr_der) {
    return crypto::hmac_sha256(token, bound_message("IRP/1 token-proof", transcript, csr_der));
}

Bytes renewal_message(const crypto::Digest& transcript, ByteView csr_der) {
    return bound_message("IRP/1 renew-proof", transcript, csr_der);
}

Bytes bootstrap_message(const crypto::Digest& transcript, ByteView csr_der) {
    return bound_message("IRP/1 bootstrap-proof", transcript, csr_der);
}

Bytes check_in_message(const crypto::Digest& transcript) {
    Bytes msg;
    put_label(msg, "IRP/1 check-in-proof");
    msg.insert(msg.end(), transcript.begin(), transcript.end());
    return msg;
}

crypto::Digest derive_device_token(ByteView class_secret, std::string_view class_id,
                                   std::string_view device_id) {
    Bytes msg(class_id.begin(), class_id.end());
    msg.push_back(0);
    msg.insert(msg.end(), device_id.begin(), device_id.end());
    return crypto::hmac_sha256(class_secret, msg);
}

bool is_valid_dns_name(std::string_view name, bool lower_only) {
    if (name.empty() || name.size() > 253) return false;
    std::size_t start = 0;
    while (start <= name.size()) {
        const std::size_t dot = std::min(name.find('.', start), name.size());
        const std::string_view label = name.substr(start, dot - start);
        if (label.empty() || label.size() > 63 || label.front() == '-' || label.back() == '-') return false;
        for (const char c : label) {
            const bool ok = (c >= 'a' && c <= 'z') || (!lower_only && c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                            c == '-';
            if (!ok) return false;
        }
        start = dot + 1;
    }
    return true;
}

bool is_valid_identifier(std::string_view id) {
    if (id.empty() || id.size() > bounds::kMaxIdLength) return false;
    if (id.front() == '.' || id.front() == '-') return false;
    for (char c : id) {
        const bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                        c == '.' || c == '_' || c == '-';
        if (!ok) return false;
    }
    return true;
}

}  // namespace irp
