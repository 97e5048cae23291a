// Byte buffers and the monotonic time type the core is driven with.
#pragma once

#include <chrono>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace irp {

using Bytes = std::vector<std::uint8_t>;
using ByteView = std::span<const std::uint8_t>;

// The core never reads a clock: callers pass "now" as milliseconds on a
// monotonic scale of their choosing (steady_clock in the adapters, a virtual
// clock in tests and simulators).
using Time = std::chrono::milliseconds;

inline ByteView as_bytes(std::string_view s) {
    return {reinterpret_cast<const std::uint8_t*>(s.data()), s.size()};
}
inline Bytes to_bytes(std::string_view s) { return Bytes(s.begin(), s.end()); }

std::string to_hex(ByteView b);
// Returns false on odd length or a non-hex character; `out` is then unspecified.
bool from_hex(std::string_view hex, Bytes& out);

// Appends a 4-byte big-endian length and then `v`: fields framed this way
// cannot run into each other in a signed message.
void append_field(Bytes& out, ByteView v);

}  // namespace irp
