#include "irp/core/frame.hpp"

#include <algorithm>
#include <string>

namespace irp {

Bytes encode_frame(ByteView payload) {
    const auto n = static_cast<std::uint32_t>(payload.size());
    Bytes out;
    out.reserve(kFrameHeaderSize + payload.size());
    out.push_back(static_cast<std::uint8_t>(n >> 24));
    out.push_back(static_cast<std::uint8_t>(n >> 16));
    out.push_back(static_cast<std::uint8_t>(n >> 8));
    out.push_back(static_cast<std::uint8_t>(n));
    out.insert(out.end(), payload.begin(), payload.end());
    return out;
}

FrameDecoder::Status FrameDecoder::feed(ByteView& input) {
    if (failed_) return Status::error;
    if (complete_) {  // the previous frame has been handed out: start afresh
        complete_ = false;
        in_payload_ = false;
        header_len_ = 0;
        payload_.clear();
    }
    if (!in_payload_) {
        const std::size_t take = std::min(kFrameHeaderSize - header_len_, input.size());
        std::copy_n(input.begin(), take, header_ + header_len_);
        header_len_ += take;
        input = input.subspan(take);
        if (header_len_ < kFrameHeaderSize) return Status::need_more;

        expected_ = std::uint32_t{header_[0]} << 24 | std::uint32_t{header_[1]} << 16 |
                    std::uint32_t{header_[2]} << 8 | std::uint32_t{header_[3]};
        // Checked before any payload byte is buffered: an attacker cannot make
        // us allocate more than max_ per connection.
        if (expected_ == 0) {
            failed_ = true;
            error_ = make_error(Code::frame_empty, "frame declares a zero-length payload");
            return Status::error;
        }
        if (expected_ > max_) {
            failed_ = true;
            error_ = make_error(Code::frame_too_large, "frame declares " + std::to_string(expected_) +
                                                           " bytes; the maximum is " + std::to_string(max_));
            return Status::error;
        }
        in_payload_ = true;
        payload_.reserve(expected_);
    }
    // remaining = expected_ - payload_.size() cannot underflow: we never copy
    // more than it.
    const std::size_t remaining = expected_ - payload_.size();
    const std::size_t take = std::min(remaining, input.size());
    payload_.insert(payload_.end(), input.begin(), input.begin() + static_cast<std::ptrdiff_t>(take));
    input = input.subspan(take);
    if (payload_.size() < expected_) return Status::need_more;
    complete_ = true;
    return Status::frame;
}

}  // namespace irp
