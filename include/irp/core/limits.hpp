// Limits and deadlines shared by both session state machines.
#pragma once

#include <cstdint>

#include "irp/base/bytes.hpp"
#include "irp/core/frame.hpp"

namespace irp {

struct Limits {
    std::uint32_t max_frame_bytes = kDefaultMaxFrame;
    Time hello_timeout{10'000};      // session start -> first message
    Time idle_timeout{30'000};       // longest silence while waiting for the peer
    Time exchange_timeout{120'000};  // session start -> done, whatever happens
    Time challenge_ttl{60'000};      // ServerHello -> request (server only)
};

}  // namespace irp
