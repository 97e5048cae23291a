// Hand-made DER for tests: requests that OpenSSL would not send (bad input)
// and small OCSP requests built without a client library. Tests only; the
// product parses and encodes ASN.1 through the crypto library.
#pragma once

#include <cstdint>
#include <initializer_list>

#include "irp/base/bytes.hpp"

namespace irp_test {

// One TLV with a definite length (up to 65535 bytes of content).
inline irp::Bytes tlv(std::uint8_t tag, const irp::Bytes& content) {
    irp::Bytes out;
    out.reserve(content.size() + 4);
    out.push_back(tag);
    const std::size_t n = content.size();
    if (n >= 0x100) {
        out.push_back(0x82);
        out.push_back(static_cast<std::uint8_t>(n >> 8));
    } else if (n >= 0x80) {
        out.push_back(0x81);
    }
    out.push_back(static_cast<std::uint8_t>(n & 0xff));
    out.insert(out.end(), content.begin(), content.end());
    return out;
}

inline irp::Bytes cat(std::initializer_list<irp::Bytes> parts) {
    irp::Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

}  // namespace irp_test
