// Shared by the fuzz targets and fuzz/make_corpus.cpp: the fixed session
// setup (the seed corpus is only useful if it was built against exactly the
// sessions the targets build), the layout of a session target's input, and
// the invariant checks. A violated invariant calls abort(), which libFuzzer
// and fuzz/replay_main.cpp both report as a failure.
#pragma once

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string_view>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/core/client_session.hpp"
#include "irp/core/frame.hpp"
#include "irp/core/messages.hpp"
#include "irp/core/server_session.hpp"
#include "irp/crypto/crypto.hpp"

namespace irp::fuzz {

[[noreturn]] inline void violation(const char* file, int line, const char* what) {
    std::fprintf(stderr, "%s:%d: fuzz invariant violated: %s\n", file, line, what);
    std::abort();
}

#define IRP_FUZZ_CHECK(cond)                                                   \
    do {                                                                       \
        if (!(cond)) ::irp::fuzz::violation(__FILE__, __LINE__, #cond);        \
    } while (0)

// ---- the fixed setup ---------------------------------------------------------

inline constexpr std::string_view kDomain = "fuzz.example";
inline constexpr std::string_view kDeviceId = "dev-1";
inline constexpr std::string_view kClassId = "default";
// Both targets seed crypto::deterministic_random with this, afresh for every
// input, so the server nonce (the first 32 bytes drawn) is the same each run
// and a seed can carry a CSR bound to the transcript.
inline constexpr std::uint64_t kRandomSeed = 1;

// Stands in for the TLS exporter output.
inline Bytes channel_binding() { return Bytes(32, 0xcb); }

// The nonce of the ClientHello the server target is fed first.
inline Bytes hello_client_nonce() {
    Bytes n(bounds::kNonce);
    for (std::size_t i = 0; i < n.size(); ++i) n[i] = static_cast<std::uint8_t>(i);
    return n;
}

inline ClientHello valid_client_hello(Operation op = Operation::enroll) {
    return ClientHello{{kProtocolVersion}, hello_client_nonce(), op};
}

// The protobuf runtime logs every string field with invalid UTF-8 to stderr;
// at millions of inputs that is noise (the decode error is still returned).
inline void quiet_decoder() {
    static const bool once = (silence_decoder_logging(), true);
    (void)once;
}

inline ServerSessionConfig server_config() {
    ServerSessionConfig cfg;
    cfg.domain = std::string(kDomain);
    cfg.key_algorithms = {KeyAlgorithm::ecdsa_p256, KeyAlgorithm::ed25519};
    return cfg;
}

inline ClientSessionConfig client_config() {
    ClientSessionConfig cfg;
    cfg.operation = Operation::enroll;
    cfg.device_id = std::string(kDeviceId);
    cfg.class_id = std::string(kClassId);
    return cfg;
}

// The fixed bytes the harnesses answer with.
inline Bytes fixed_certificate() { return Bytes{0x30, 0x03, 0x02, 0x01, 0x01}; }
inline Bytes fixed_serial() { return Bytes{0x01, 0x02, 0x03, 0x04}; }
inline Bytes fixed_csr() { return Bytes{0x30, 0x05, 0x30, 0x03, 0x02, 0x01, 0x00}; }
inline Bytes fixed_token_proof() { return Bytes(bounds::kMac, 0xab); }

// ---- the input layout of the session targets ---------------------------------
//
//   byte 0     flags: accept, deadlines, and for the server target renew
//              and recorded (below)
//   byte 1     time step: `now` advances by this many 500 ms before each receive()
//   bytes 2-7  three 16-bit big-endian lengths: the first three receive() calls
//              take that many bytes of the stream (fewer when it runs out), the
//              fourth takes the rest
//   rest       the peer's byte stream
//
// The cuts are part of the input, rather than derived from it, because the
// harness only reacts (answers, sends the next request) between receive()
// calls: a happy path needs a cut between the frames, and a cut inside a
// frame or two frames in one call are what the fuzzer should vary.

inline constexpr std::size_t kSessionCalls = 4;
inline constexpr std::size_t kSessionPrefix = 2 + 2 * (kSessionCalls - 1);
inline constexpr std::uint8_t kFlagAccept = 0x01;     // server: answer Issued (else Rejected);
                                                      // client: report installed (else untrusted_chain)
inline constexpr std::uint8_t kFlagDeadlines = 0x02;  // call on_deadline after every receive()
inline constexpr std::uint8_t kFlagRenew = 0x04;      // server: the ClientHello announces renew
inline constexpr std::uint8_t kFlagRecorded = 0x08;   // server: acknowledge_install(recorded = true)
inline constexpr Time kStepUnit{500};

struct SessionInput {
    bool accept = false;
    bool deadlines = false;
    bool renew = false;
    bool recorded = false;
    Time step{0};
    ByteView stream;
    ByteView calls[kSessionCalls];
};

inline SessionInput parse_session_input(const std::uint8_t* data, std::size_t size) {
    std::uint8_t prefix[kSessionPrefix] = {};
    for (std::size_t i = 0; i < kSessionPrefix && i < size; ++i) prefix[i] = data[i];
    SessionInput in;
    in.accept = (prefix[0] & kFlagAccept) != 0;
    in.deadlines = (prefix[0] & kFlagDeadlines) != 0;
    in.renew = (prefix[0] & kFlagRenew) != 0;
    in.recorded = (prefix[0] & kFlagRecorded) != 0;
    in.step = kStepUnit * prefix[1];
    if (size > kSessionPrefix) in.stream = ByteView(data + kSessionPrefix, size - kSessionPrefix);
    ByteView rest = in.stream;
    for (std::size_t i = 0; i + 1 < kSessionCalls; ++i) {
        const std::size_t want = std::size_t{prefix[2 + 2 * i]} << 8 | prefix[3 + 2 * i];
        const std::size_t n = want < rest.size() ? want : rest.size();
        in.calls[i] = rest.first(n);
        rest = rest.subspan(n);
    }
    in.calls[kSessionCalls - 1] = rest;
    return in;
}

// The inverse, for fuzz/make_corpus.cpp: one entry of `calls` per receive()
// (at most kSessionCalls; each of the first three below 64 KiB).
inline Bytes session_input(std::uint8_t flags, std::uint8_t step, const std::vector<Bytes>& calls) {
    Bytes out{flags, step};
    for (std::size_t i = 0; i + 1 < kSessionCalls; ++i) {
        const std::size_t n = i < calls.size() ? calls[i].size() : 0;
        out.push_back(static_cast<std::uint8_t>(n >> 8));
        out.push_back(static_cast<std::uint8_t>(n));
    }
    for (const auto& c : calls) out.insert(out.end(), c.begin(), c.end());
    return out;
}

// ---- checks ------------------------------------------------------------------

inline bool is_decode_error(Code c) {
    return c == Code::malformed_message || c == Code::unknown_message || c == Code::field_invalid;
}

// `out` must be back-to-back complete frames, each one message that decodes.
template <typename Message>
std::vector<Message> decode_all(ByteView out, Result<Message> (*decode)(ByteView)) {
    std::vector<Message> messages;
    FrameDecoder decoder;
    while (!out.empty()) {
        const auto status = decoder.feed(out);
        IRP_FUZZ_CHECK(status == FrameDecoder::Status::frame);
        auto m = decode(decoder.payload());
        IRP_FUZZ_CHECK(m.ok());
        messages.push_back(std::move(m.value()));
    }
    return messages;
}

}  // namespace irp::fuzz
