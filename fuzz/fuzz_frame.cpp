// Fuzz target: the frame decoder and both message codecs.
//
// The input is a byte stream as it would arrive on a connection. It is fed
// to a FrameDecoder three ways: in one call, one byte per call, and in
// chunks whose sizes come from the first input bytes (which stay part of
// the stream, so files of raw frames, like tests/corpus/frames/, are useful
// seeds as they are). A resumable decoder must not care how the stream was
// split: all three runs must yield the same frames and the same end state.
// Every complete frame, and the whole input taken as one payload (so
// tests/corpus/client/ and server/ are useful seeds too), is decoded as a
// ClientMessage and as a ServerMessage; whatever decodes must survive
// encode -> decode -> encode unchanged.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <vector>

#include "fuzz_common.hpp"
#include "irp/core/frame.hpp"
#include "irp/core/messages.hpp"

namespace {

using irp::Bytes;
using irp::ByteView;
using irp::Code;
using irp::FrameDecoder;

constexpr std::uint32_t kMax = 64 * 1024;

enum class Split { whole, bytewise, from_input };

// Sizes 1..16, taken from the first 8 input bytes in turn.
std::size_t chunk_size(ByteView input, std::size_t i, Split split) {
    switch (split) {
        case Split::whole: return input.size();
        case Split::bytewise: return 1;
        case Split::from_input: break;
    }
    const std::size_t k = std::min<std::size_t>(input.size(), 8);
    return k == 0 ? 1 : 1 + input[i % k] % 16;
}

struct Run {
    std::vector<Bytes> frames;
    std::optional<Code> error;  // set when the decoder failed
    std::size_t consumed = 0;
    std::size_t buffered = 0;  // partial frame left at the end
};

Run decode_stream(ByteView input, Split split) {
    Run run;
    FrameDecoder decoder(kMax);
    std::size_t pos = 0;
    for (std::size_t i = 0; pos < input.size() && !run.error; ++i) {
        const std::size_t n = std::min(chunk_size(input, i, split), input.size() - pos);
        ByteView chunk = input.subspan(pos, n);
        pos += n;
        for (;;) {
            const std::size_t before = chunk.size();
            const auto status = decoder.feed(chunk);
            IRP_FUZZ_CHECK(chunk.size() <= before);
            run.consumed += before - chunk.size();
            IRP_FUZZ_CHECK(decoder.buffered() <= irp::kFrameHeaderSize + kMax);
            if (status == FrameDecoder::Status::frame) {
                const auto payload = decoder.payload();
                IRP_FUZZ_CHECK(!payload.empty() && payload.size() <= kMax);
                IRP_FUZZ_CHECK(decoder.buffered() == irp::kFrameHeaderSize + payload.size());
                run.frames.emplace_back(payload.begin(), payload.end());
                continue;  // also with an empty chunk: the next feed() must reset
            }
            if (status == FrameDecoder::Status::need_more) {
                IRP_FUZZ_CHECK(chunk.empty());
                IRP_FUZZ_CHECK(decoder.buffered() < irp::kFrameHeaderSize + kMax);
                break;
            }
            const Code code = decoder.error().code;
            IRP_FUZZ_CHECK(code == Code::frame_empty || code == Code::frame_too_large);
            run.error = code;
            // A failed decoder stays failed and consumes nothing more.
            ByteView rest = chunk;
            IRP_FUZZ_CHECK(decoder.feed(rest) == FrameDecoder::Status::error);
            IRP_FUZZ_CHECK(rest.size() == chunk.size());
            break;
        }
    }
    run.buffered = decoder.buffered();
    if (!run.error) {
        std::size_t framed = 0;
        for (const auto& f : run.frames) framed += irp::kFrameHeaderSize + f.size();
        IRP_FUZZ_CHECK(run.consumed == input.size());
        IRP_FUZZ_CHECK(framed + run.buffered == input.size());
    }
    return run;
}

bool same(const Run& a, const Run& b) {
    return a.frames == b.frames && a.error == b.error && a.consumed == b.consumed && a.buffered == b.buffered;
}

// encode(decode(encode(x))) == encode(x) for every x the decoder produced.
template <typename Message>
void check_round_trip(ByteView payload, irp::Result<Message> (*decode)(ByteView)) {
    auto first = decode(payload);
    if (!first) {
        IRP_FUZZ_CHECK(irp::fuzz::is_decode_error(first.error().code));
        return;
    }
    const Bytes encoded = irp::encode(first.value());
    auto second = decode(encoded);
    IRP_FUZZ_CHECK(second.ok());
    IRP_FUZZ_CHECK(second->index() == first->index());
    IRP_FUZZ_CHECK(irp::encode(second.value()) == encoded);
}

void check_payload(ByteView payload) {
    check_round_trip(payload, &irp::decode_client_message);
    check_round_trip(payload, &irp::decode_server_message);

    // And the frame encoder is the decoder's inverse.
    const Bytes framed = irp::encode_frame(payload);
    ByteView view(framed);
    FrameDecoder decoder(kMax);
    IRP_FUZZ_CHECK(decoder.feed(view) == FrameDecoder::Status::frame);
    IRP_FUZZ_CHECK(view.empty());
    IRP_FUZZ_CHECK(std::equal(payload.begin(), payload.end(), decoder.payload().begin(), decoder.payload().end()));
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    irp::fuzz::quiet_decoder();
    const ByteView input(data, size);
    const Run chunked = decode_stream(input, Split::from_input);
    IRP_FUZZ_CHECK(same(chunked, decode_stream(input, Split::whole)));
    IRP_FUZZ_CHECK(same(chunked, decode_stream(input, Split::bytewise)));
    for (const auto& frame : chunked.frames) check_payload(frame);
    if (!input.empty() && input.size() <= kMax) check_payload(input);
    return 0;
}
