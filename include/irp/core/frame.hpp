// Framing: a 4-byte big-endian length, then that many bytes of one protobuf
// message. The decoder is resumable (feed any split of the stream) and
// checks the declared length against its maximum as soon as the 4 header
// bytes are in, before it buffers a byte of payload.
#pragma once

#include <cstdint>
#include <optional>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"

namespace irp {

inline constexpr std::size_t kFrameHeaderSize = 4;
inline constexpr std::uint32_t kDefaultMaxFrame = 64 * 1024;

// Prepends the length header. `payload.size()` must fit in 32 bits.
Bytes encode_frame(ByteView payload);

class FrameDecoder {
public:
    enum class Status { need_more, frame, error };

    explicit FrameDecoder(std::uint32_t max_payload = kDefaultMaxFrame) : max_(max_payload) {}

    // Consumes bytes from `input` (advancing it) until one frame is complete,
    // more input is needed, or the stream is invalid. After `frame`,
    // payload() holds the frame until the next call. After `error`, the
    // decoder stays failed: a framing error ends the connection.
    Status feed(ByteView& input);

    ByteView payload() const { return payload_; }
    const Error& error() const { return error_; }
    // Bytes of a partial frame currently held (header or payload).
    std::size_t buffered() const { return header_len_ + payload_.size(); }

private:
    std::uint32_t max_;
    std::uint8_t header_[kFrameHeaderSize] = {};
    std::size_t header_len_ = 0;
    std::uint32_t expected_ = 0;
    Bytes payload_;
    bool in_payload_ = false;
    bool complete_ = false;
    bool failed_ = false;
    Error error_;
};

}  // namespace irp
