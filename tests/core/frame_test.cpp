// Tests for the length-prefixed framing (include/irp/core/frame.hpp): the
// resumable decoder, and the rule that an oversize frame is refused right
// after its 4 header bytes, before one byte of payload is buffered.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdint>
#include <string>
#include <vector>

#include "corpus.hpp"
#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"
#include "irp/core/frame.hpp"

namespace {

using irp::Bytes;
using irp::ByteView;
using irp::Code;
using irp::FrameDecoder;
using Status = irp::FrameDecoder::Status;

Bytes payload_of(std::size_t n, std::uint8_t seed = 1) {
    Bytes b(n);
    for (std::size_t i = 0; i < n; ++i) b[i] = static_cast<std::uint8_t>(seed + i * 7);
    return b;
}

Bytes header(std::uint32_t n) {
    return {static_cast<std::uint8_t>(n >> 24), static_cast<std::uint8_t>(n >> 16),
            static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)};
}

Bytes to_bytes(ByteView v) { return Bytes(v.begin(), v.end()); }

// What a decoder made of a whole stream.
struct Outcome {
    std::vector<Bytes> frames;
    Code error = Code::ok;  // ok: the stream ended without a framing error
    std::size_t unconsumed = 0;
    std::size_t buffered = 0;
};

// Feeds `stream` in chunks of `chunk` bytes (0: all at once) until it is used
// up or the decoder fails.
Outcome run(ByteView stream, std::size_t chunk, std::uint32_t max = irp::kDefaultMaxFrame) {
    FrameDecoder dec(max);
    Outcome out;
    std::size_t pos = 0;
    while (pos < stream.size()) {
        const std::size_t n = chunk == 0 ? stream.size() - pos : std::min(chunk, stream.size() - pos);
        ByteView in = stream.subspan(pos, n);
        for (;;) {
            const std::size_t before = in.size();
            const auto st = dec.feed(in);
            pos += before - in.size();
            if (st == Status::frame) {
                out.frames.push_back(to_bytes(dec.payload()));
                continue;
            }
            if (st == Status::error) {
                out.error = dec.error().code;
                out.unconsumed = stream.size() - pos;
                out.buffered = dec.buffered();
                return out;
            }
            break;  // need_more: next chunk
        }
    }
    out.buffered = dec.buffered();
    return out;
}

}  // namespace

TEST_CASE("encode_frame prepends a big-endian length") {
    const Bytes p = payload_of(0x0102);
    const Bytes f = irp::encode_frame(p);
    REQUIRE(f.size() == irp::kFrameHeaderSize + p.size());
    CHECK(f[0] == 0x00);
    CHECK(f[1] == 0x00);
    CHECK(f[2] == 0x01);
    CHECK(f[3] == 0x02);
    CHECK(Bytes(f.begin() + 4, f.end()) == p);
}

TEST_CASE("a frame round-trips through the decoder") {
    const Bytes p = payload_of(300);
    const Bytes f = irp::encode_frame(p);
    FrameDecoder dec;
    ByteView in = f;
    REQUIRE(dec.feed(in) == Status::frame);
    CHECK(in.empty());
    CHECK(to_bytes(dec.payload()) == p);
    // Nothing more: the next call starts a new frame and needs input.
    CHECK(dec.feed(in) == Status::need_more);
    CHECK(dec.buffered() == 0);
}

TEST_CASE("the decoder is resumable: one byte at a time") {
    const Bytes p = payload_of(40);
    const Bytes f = irp::encode_frame(p);
    FrameDecoder dec;
    for (std::size_t i = 0; i < f.size(); ++i) {
        ByteView in(&f[i], 1);
        const auto st = dec.feed(in);
        CHECK(in.empty());  // every byte is taken
        if (i + 1 < f.size()) {
            REQUIRE(st == Status::need_more);
            CHECK(dec.buffered() == i + 1);
        } else {
            REQUIRE(st == Status::frame);
        }
    }
    CHECK(to_bytes(dec.payload()) == p);
}

TEST_CASE("two frames in one buffer come out one per call") {
    const Bytes a = payload_of(10, 1);
    const Bytes b = payload_of(20, 2);
    Bytes stream = irp::encode_frame(a);
    const Bytes fb = irp::encode_frame(b);
    stream.insert(stream.end(), fb.begin(), fb.end());

    FrameDecoder dec;
    ByteView in = stream;
    REQUIRE(dec.feed(in) == Status::frame);
    CHECK(to_bytes(dec.payload()) == a);
    CHECK(in.size() == fb.size());  // the second frame is left for the next call
    REQUIRE(dec.feed(in) == Status::frame);
    CHECK(to_bytes(dec.payload()) == b);
    CHECK(in.empty());
    CHECK(dec.feed(in) == Status::need_more);
}

TEST_CASE("a header split across feeds") {
    const Bytes p = payload_of(5);
    const Bytes f = irp::encode_frame(p);
    FrameDecoder dec;
    ByteView first(f.data(), 2);
    CHECK(dec.feed(first) == Status::need_more);
    CHECK(first.empty());
    CHECK(dec.buffered() == 2);
    ByteView second(f.data() + 2, 3);  // 2 more header bytes, 1 payload byte
    CHECK(dec.feed(second) == Status::need_more);
    CHECK(dec.buffered() == 5);
    ByteView rest(f.data() + 5, f.size() - 5);
    REQUIRE(dec.feed(rest) == Status::frame);
    CHECK(to_bytes(dec.payload()) == p);
}

TEST_CASE("a zero-length frame is an error") {
    const Bytes f = header(0);
    FrameDecoder dec;
    ByteView in = f;
    REQUIRE(dec.feed(in) == Status::error);
    CHECK(dec.error().code == Code::frame_empty);
    CHECK(dec.error().category() == irp::Category::protocol);
}

TEST_CASE("an oversize frame is refused after its header, before any payload is buffered") {
    constexpr std::uint32_t kMax = 16;
    Bytes stream = header(kMax + 1);
    const Bytes p = payload_of(kMax + 1);
    stream.insert(stream.end(), p.begin(), p.end());

    FrameDecoder dec(kMax);
    ByteView in = stream;
    REQUIRE(dec.feed(in) == Status::error);
    CHECK(dec.error().code == Code::frame_too_large);
    CHECK(dec.buffered() == 4);         // the header only
    CHECK(in.size() == kMax + 1);       // not one payload byte taken
    // Feeding again takes nothing and reports the same error.
    CHECK(dec.feed(in) == Status::error);
    CHECK(in.size() == kMax + 1);
    CHECK(dec.buffered() == 4);
    CHECK(dec.error().code == Code::frame_too_large);
}

TEST_CASE("an oversize header fed byte by byte fails on its 4th byte") {
    const Bytes h = header(irp::kDefaultMaxFrame + 1);
    FrameDecoder dec;
    for (std::size_t i = 0; i < 3; ++i) {
        ByteView in(&h[i], 1);
        CHECK(dec.feed(in) == Status::need_more);
    }
    ByteView last(&h[3], 1);
    CHECK(dec.feed(last) == Status::error);
    CHECK(dec.error().code == Code::frame_too_large);
    CHECK(dec.buffered() == 4);
}

TEST_CASE("a frame of exactly the maximum is accepted") {
    constexpr std::uint32_t kMax = 16;
    const Bytes p = payload_of(kMax);
    const Bytes f = irp::encode_frame(p);
    FrameDecoder dec(kMax);
    ByteView in = f;
    REQUIRE(dec.feed(in) == Status::frame);
    CHECK(to_bytes(dec.payload()) == p);

    // The default maximum too.
    const Bytes big = payload_of(irp::kDefaultMaxFrame);
    const Bytes fbig = irp::encode_frame(big);
    FrameDecoder dec2;
    ByteView in2 = fbig;
    REQUIRE(dec2.feed(in2) == Status::frame);
    CHECK(dec2.payload().size() == irp::kDefaultMaxFrame);
}

TEST_CASE("the decoder stays failed after an error") {
    Bytes stream = header(0);
    const Bytes good = irp::encode_frame(payload_of(8));
    stream.insert(stream.end(), good.begin(), good.end());
    FrameDecoder dec;
    ByteView in = stream;
    REQUIRE(dec.feed(in) == Status::error);
    CHECK(in.size() == good.size());
    for (int i = 0; i < 3; ++i) {
        CHECK(dec.feed(in) == Status::error);
        CHECK(in.size() == good.size());
        CHECK(dec.error().code == Code::frame_empty);
    }
}

TEST_CASE("a declared length of 0xFFFFFFFF is refused without allocating") {
    const Bytes h = header(0xFFFFFFFFu);
    SUBCASE("default maximum") {
        FrameDecoder dec;
        ByteView in = h;
        REQUIRE(dec.feed(in) == Status::error);
        CHECK(dec.error().code == Code::frame_too_large);
        CHECK(dec.buffered() == 4);
    }
    SUBCASE("largest maximum below it") {
        FrameDecoder dec(0xFFFFFFFEu);
        ByteView in = h;
        REQUIRE(dec.feed(in) == Status::error);
        CHECK(dec.error().code == Code::frame_too_large);
        CHECK(dec.buffered() == 4);
    }
}

TEST_CASE("feeding an empty span changes nothing") {
    FrameDecoder dec;
    ByteView in;
    CHECK(dec.feed(in) == Status::need_more);
    CHECK(dec.buffered() == 0);
}

// ---- the shared corpus (tests/corpus/frames/) --------------------------------

namespace {
struct FrameExpectation {
    const char* file;
    Code error;          // ok: no framing error
    std::size_t frames;  // complete frames before the end or the error
};
// Keep in step with tests/corpus/README.md.
constexpr FrameExpectation kFrameCorpus[] = {
    {"garbage_payload.bin", Code::ok, 1},  // framing is fine; the payload is not protobuf
    {"max_u32_header.bin", Code::frame_too_large, 0},
    {"oversize_header.bin", Code::frame_too_large, 0},
    {"truncated_header.bin", Code::ok, 0},
    {"truncated_payload.bin", Code::ok, 0},
    {"two_frames.bin", Code::ok, 2},
    {"zero_after_frame.bin", Code::frame_empty, 1},
    {"zero_length.bin", Code::frame_empty, 0},
};
}  // namespace

TEST_CASE("frame corpus: every file gives its expected result, whole or byte by byte") {
    std::vector<std::string> listed;
    for (const auto& e : kFrameCorpus) {
        const std::string file = e.file;
        CAPTURE(file);
        listed.emplace_back(e.file);
        const Bytes stream = irp::test::read_corpus("frames", e.file);
        for (std::size_t chunk : {std::size_t{0}, std::size_t{1}, std::size_t{3}}) {
            CAPTURE(chunk);
            const Outcome o = run(stream, chunk);
            CHECK(o.error == e.error);
            CHECK(o.frames.size() == e.frames);
            if (e.error == Code::frame_too_large) {
                CHECK(o.buffered == 4);
                // Whatever payload followed the header is still unconsumed.
                CHECK(o.unconsumed == stream.size() - 4);
            }
        }
    }
    // A corpus file without an expectation here is a mistake.
    CHECK(irp::test::list_corpus("frames") == listed);
}
