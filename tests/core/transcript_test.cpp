// Tests for the transcript and the proofs computed over it
// (include/irp/core/transcript.hpp): every input changes the digest, each
// proof binds both the transcript and the CSR, and the identifier rule.
#include <doctest/doctest.h>

#include <string>
#include <string_view>

#include "irp/base/bytes.hpp"
#include "irp/core/messages.hpp"
#include "irp/core/transcript.hpp"
#include "irp/crypto/crypto.hpp"

namespace {
using irp::Bytes;
const Bytes kClassSecret = irp::to_bytes("class-a secret, 32 bytes long!!!");
}  // namespace

TEST_CASE("the transcript changes with every input") {
    const Bytes cn(32, 0x01), sn(32, 0x02), cb(32, 0x03), cert(100, 0x30);
    const Bytes cn2(32, 0x11), sn2(32, 0x12), cb2(32, 0x13), cert2(100, 0x31);
    irp::TranscriptInput base;
    base.operation = irp::Operation::enroll;
    base.client_nonce = cn;
    base.server_nonce = sn;
    base.channel_binding = cb;
    base.domain = "example.test";
    base.device_id = "dev-1";
    base.class_id = "class-a";
    const auto h0 = irp::transcript_hash(base);
    CHECK(irp::transcript_hash(base) == h0);  // a function of its inputs only

    auto differs = [&](auto&& mutate) {
        irp::TranscriptInput t = base;
        mutate(t);
        return irp::transcript_hash(t) != h0;
    };
    CHECK(differs([&](irp::TranscriptInput& t) { t.version = 2; }));
    CHECK(differs([&](irp::TranscriptInput& t) { t.operation = irp::Operation::renew; }));
    CHECK(differs([&](irp::TranscriptInput& t) { t.client_nonce = cn2; }));
    CHECK(differs([&](irp::TranscriptInput& t) { t.server_nonce = sn2; }));
    CHECK(differs([&](irp::TranscriptInput& t) { t.channel_binding = cb2; }));
    CHECK(differs([&](irp::TranscriptInput& t) { t.domain = "example.tesu"; }));
    CHECK(differs([&](irp::TranscriptInput& t) { t.device_id = "dev-2"; }));
    CHECK(differs([&](irp::TranscriptInput& t) { t.class_id = "class-b"; }));
    CHECK(differs([&](irp::TranscriptInput& t) { t.class_id = ""; }));
    CHECK(differs([&](irp::TranscriptInput& t) { t.current_certificate = cert; }));
    // Swapping the nonces, or moving bytes between adjacent fields, changes it
    // too: each field is length-prefixed.
    CHECK(differs([&](irp::TranscriptInput& t) {
        t.client_nonce = sn;
        t.server_nonce = cn;
    }));
    CHECK(differs([&](irp::TranscriptInput& t) {
        t.device_id = "dev-1c";
        t.class_id = "lass-a";
    }));
    CHECK(differs([&](irp::TranscriptInput& t) {
        t.domain = "example.testdev-1";
        t.device_id = "";
    }));

    // Two different current certificates give two different transcripts.
    irp::TranscriptInput r1 = base, r2 = base;
    r1.current_certificate = cert;
    r2.current_certificate = cert2;
    CHECK(irp::transcript_hash(r1) != irp::transcript_hash(r2));
}

TEST_CASE("token proofs and renewal messages bind the transcript and the CSR") {
    const Bytes token(32, 0x07), csr(50, 0x30), csr2(50, 0x31);
    irp::crypto::Digest t1{}, t2{};
    t2[0] = 1;
    CHECK(irp::token_proof(token, t1, csr) != irp::token_proof(token, t2, csr));
    CHECK(irp::token_proof(token, t1, csr) != irp::token_proof(token, t1, csr2));
    CHECK(irp::token_proof(token, t1, csr) != irp::token_proof(Bytes(32, 0x08), t1, csr));
    CHECK(irp::renewal_message(t1, csr) != irp::renewal_message(t2, csr));
    CHECK(irp::renewal_message(t1, csr) != irp::renewal_message(t1, csr2));
    CHECK(irp::csr_challenge(t2).size() == 64);
    CHECK(irp::derive_device_token(kClassSecret, "a", "bc") != irp::derive_device_token(kClassSecret, "ab", "c"));
}

TEST_CASE("identifier rule") {
    for (std::string ok : {"a", "dev-1", "Dev_1.x", "0", "a-", "a.", "x.y-z_0"}) {
        CAPTURE(ok);
        CHECK(irp::is_valid_identifier(ok));
    }
    CHECK(irp::is_valid_identifier(std::string(64, 'a')));
    CHECK_FALSE(irp::is_valid_identifier(std::string(65, 'a')));
    for (std::string bad : {"", ".a", "-a", "a b", "a/b", "a:b", "a@b", "\xC3\xBC", "a\tb"}) {
        CAPTURE(bad);
        CHECK_FALSE(irp::is_valid_identifier(bad));
    }
    CHECK_FALSE(irp::is_valid_identifier(std::string_view("a\0b", 3)));
}
