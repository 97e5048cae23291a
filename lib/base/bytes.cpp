#include "irp/base/bytes.hpp"

#include <algorithm>

namespace irp {

std::string to_hex(ByteView b) {
    static constexpr char kDigits[] = "0123456789abcdef";
    std::string out;
    out.reserve(b.size() * 2);
    for (auto v : b) {
        out.push_back(kDigits[v >> 4]);
        out.push_back(kDigits[v & 0x0f]);
    }
    return out;
}

namespace {
int nibble(char c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}
}  // namespace

bool from_hex(std::string_view hex, Bytes& out) {
    if (hex.size() % 2 != 0) return false;
    out.clear();
    out.reserve(hex.size() / 2);
    for (std::size_t i = 0; i < hex.size(); i += 2) {
        const int hi = nibble(hex[i]);
        const int lo = nibble(hex[i + 1]);
        if (hi < 0 || lo < 0) return false;
        out.push_back(static_cast<std::uint8_t>(hi << 4 | lo));
    }
    return true;
}

void append_field(Bytes& out, ByteView v) {
    // Resized up front: GCC 12's -Wstringop-overflow misfires on
    // insert/push_back sequences at -O2.
    const std::size_t at = out.size();
    out.resize(at + 4 + v.size());
    const auto n = static_cast<std::uint32_t>(v.size());
    for (std::size_t i = 0; i < 4; ++i) out[at + i] = static_cast<std::uint8_t>(n >> (24 - 8 * i));
    if (!v.empty()) std::copy(v.begin(), v.end(), out.begin() + static_cast<std::ptrdiff_t>(at + 4));
}

}  // namespace irp
