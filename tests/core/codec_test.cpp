// Tests for the message codec (lib/core/codec.cpp): every message survives
// encode -> decode, and every field outside its bounds, unknown enum value
// or unknown oneof body is refused with the documented code.
#include <doctest/doctest.h>

#include <cstdint>
#include <initializer_list>
#include <string>
#include <variant>
#include <vector>

#include "corpus.hpp"
#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"
#include "irp/core/messages.hpp"

namespace {

using irp::Bytes;
using irp::ClientMessage;
using irp::Code;
using irp::ServerMessage;

Bytes filled(std::size_t n, std::uint8_t v) { return Bytes(n, v); }

ClientMessage round_trip(const ClientMessage& m) {
    const Bytes wire = irp::encode(m);
    auto r = irp::decode_client_message(wire);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    REQUIRE(r->index() == m.index());
    return std::move(r.value());
}

ServerMessage round_trip(const ServerMessage& m) {
    const Bytes wire = irp::encode(m);
    auto r = irp::decode_server_message(wire);
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    REQUIRE(r->index() == m.index());
    return std::move(r.value());
}

Code client_code(const ClientMessage& m) {
    const auto r = irp::decode_client_message(irp::encode(m));
    return r.ok() ? Code::ok : r.error().code;
}
Code server_code(const ServerMessage& m) {
    const auto r = irp::decode_server_message(irp::encode(m));
    return r.ok() ? Code::ok : r.error().code;
}

// A few protobuf wire-format helpers for hand-crafted inputs.
Bytes key(std::uint32_t field, std::uint8_t wire) { return {static_cast<std::uint8_t>(field << 3 | wire)}; }
Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}
Bytes ld(std::uint32_t field, const Bytes& body) {  // body < 128 bytes
    REQUIRE(body.size() < 128);
    return cat({key(field, 2), {static_cast<std::uint8_t>(body.size())}, body});
}
Bytes vint(std::uint32_t field, std::uint8_t v) { return cat({key(field, 0), {v}}); }  // v < 128

irp::ClientHello good_hello() { return {{1}, filled(32, 0x11), irp::Operation::enroll}; }
irp::EnrollRequest good_enroll() { return {"dev-1", "class-a", filled(100, 0x30), filled(32, 0xAB)}; }
irp::RenewRequest good_renew() { return {"dev-1", filled(300, 0x30), filled(100, 0x31), filled(72, 0x02)}; }
irp::ServerHello good_server_hello() {
    irp::ServerHello h;
    h.version = 1;
    h.server_nonce = filled(32, 0x22);
    h.domain = "example.test";
    h.ca_chain = {filled(500, 0x30), filled(400, 0x31)};
    h.key_algorithms = {irp::KeyAlgorithm::ecdsa_p256, irp::KeyAlgorithm::ed25519, irp::KeyAlgorithm::ecdsa_p384};
    h.challenge_ttl_seconds = 60;
    h.max_frame_bytes = 65536;
    return h;
}

}  // namespace

// ---- round trips ---------------------------------------------------------------

TEST_CASE("ClientHello round-trips") {
    irp::ClientHello h{{1, 2, 7}, filled(32, 0x5A), irp::Operation::renew};
    const auto out = std::get<irp::ClientHello>(round_trip(h));
    CHECK(out.versions == h.versions);
    CHECK(out.client_nonce == h.client_nonce);
    CHECK(out.operation == irp::Operation::renew);
}

TEST_CASE("EnrollRequest round-trips") {
    const auto in = good_enroll();
    const auto out = std::get<irp::EnrollRequest>(round_trip(in));
    CHECK(out.device_id == in.device_id);
    CHECK(out.class_id == in.class_id);
    CHECK(out.csr == in.csr);
    CHECK(out.token_proof == in.token_proof);
}

TEST_CASE("RenewRequest round-trips") {
    const auto in = good_renew();
    const auto out = std::get<irp::RenewRequest>(round_trip(in));
    CHECK(out.device_id == in.device_id);
    CHECK(out.certificate == in.certificate);
    CHECK(out.csr == in.csr);
    CHECK(out.signature == in.signature);
}

TEST_CASE("InstallReport round-trips") {
    irp::InstallReport in{static_cast<std::uint32_t>(irp::InstallStatus::untrusted_chain), {0x01, 0x02, 0x03}};
    const auto out = std::get<irp::InstallReport>(round_trip(in));
    CHECK(out.status == in.status);
    CHECK(out.certificate_serial == in.certificate_serial);
}

TEST_CASE("ServerHello round-trips") {
    const auto in = good_server_hello();
    const auto out = std::get<irp::ServerHello>(round_trip(in));
    CHECK(out.version == in.version);
    CHECK(out.server_nonce == in.server_nonce);
    CHECK(out.domain == in.domain);
    CHECK(out.ca_chain == in.ca_chain);
    CHECK(out.key_algorithms == in.key_algorithms);
    CHECK(out.challenge_ttl_seconds == 60);
    CHECK(out.max_frame_bytes == 65536);
}

TEST_CASE("Answer round-trips with each result") {
    SUBCASE("Issued") {
        irp::Answer in{"req-1", irp::Issued{filled(600, 0x30), {filled(500, 0x31), filled(400, 0x32)}}};
        const auto out = std::get<irp::Answer>(round_trip(in));
        CHECK(out.request_id == "req-1");
        const auto& i = std::get<irp::Issued>(out.result);
        CHECK(i.certificate == filled(600, 0x30));
        CHECK(i.chain == std::vector<Bytes>{filled(500, 0x31), filled(400, 0x32)});
    }
    SUBCASE("Rejected") {
        irp::Answer in{"req-2", irp::Rejected{Code::bad_token_proof, "no"}};
        const auto out = std::get<irp::Answer>(round_trip(in));
        const auto& r = std::get<irp::Rejected>(out.result);
        CHECK(r.code == Code::bad_token_proof);
        CHECK(r.message == "no");
    }
    SUBCASE("Pending") {
        irp::Answer in{"req-3", irp::Pending{90}};
        const auto out = std::get<irp::Answer>(round_trip(in));
        CHECK(std::get<irp::Pending>(out.result).retry_after_seconds == 90);
    }
    SUBCASE("Redirect") {
        irp::Answer in{"req-4", irp::Redirect{"other.test:4604", "other.test"}};
        const auto out = std::get<irp::Answer>(round_trip(in));
        const auto& r = std::get<irp::Redirect>(out.result);
        CHECK(r.server == "other.test:4604");
        CHECK(r.domain == "other.test");
    }
}

TEST_CASE("InstallAck round-trips") {
    CHECK(std::get<irp::InstallAck>(round_trip(irp::InstallAck{true})).recorded);
    CHECK_FALSE(std::get<irp::InstallAck>(round_trip(irp::InstallAck{false})).recorded);
}

TEST_CASE("ProtocolError round-trips") {
    const auto out = std::get<irp::ProtocolError>(round_trip(irp::ProtocolError{Code::unexpected_message, "why"}));
    CHECK(out.code == Code::unexpected_message);
    CHECK(out.message == "why");
}

TEST_CASE("every encoded message is non-empty, so it always makes a valid frame") {
    const std::vector<ClientMessage> cms = {good_hello(), good_enroll(), good_renew(), irp::InstallReport{0, {1}}};
    for (const auto& m : cms) CHECK_FALSE(irp::encode(m).empty());
    const std::vector<ServerMessage> sms = {good_server_hello(), irp::Answer{"", irp::Pending{0}},
                                            irp::InstallAck{false}, irp::ProtocolError{Code::ok, ""}};
    for (const auto& m : sms) CHECK_FALSE(irp::encode(m).empty());
}

// ---- refusals ---------------------------------------------------------------------

TEST_CASE("garbage bytes are malformed_message") {
    const Bytes garbage(11, 0xFF);  // a tag varint that never ends
    auto c = irp::decode_client_message(garbage);
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == Code::malformed_message);
    auto s = irp::decode_server_message(garbage);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::malformed_message);
}

TEST_CASE("a truncated message is malformed_message") {
    Bytes wire = irp::encode(ClientMessage{good_enroll()});
    wire.resize(wire.size() - 3);
    auto r = irp::decode_client_message(wire);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::malformed_message);
}

TEST_CASE("an empty protobuf (no oneof body) is unknown_message") {
    auto c = irp::decode_client_message(Bytes{});
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == Code::unknown_message);
    auto s = irp::decode_server_message(Bytes{});
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::unknown_message);
}

TEST_CASE("a oneof field unknown to this version is unknown_message") {
    // ClientMessage / ServerMessage field 9, length-delimited, 2 bytes.
    const Bytes wire = ld(9, {'h', 'i'});
    auto c = irp::decode_client_message(wire);
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == Code::unknown_message);
    auto s = irp::decode_server_message(wire);
    REQUIRE_FALSE(s.ok());
    CHECK(s.error().code == Code::unknown_message);

    // An Answer whose result is field 9.
    const Bytes answer = ld(2, cat({ld(1, {'r'}), ld(9, {})}));
    auto a = irp::decode_server_message(answer);
    REQUIRE_FALSE(a.ok());
    CHECK(a.error().code == Code::unknown_message);
}

TEST_CASE("an unknown ClientHello.operation is field_invalid") {
    const Bytes nonce = filled(32, 0x11);
    // hello { versions: 1, client_nonce: <32>, operation: 7 }
    const Bytes hello_body = cat({vint(1, 1), ld(2, nonce), vint(3, 7)});
    auto r = irp::decode_client_message(ld(1, hello_body));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::field_invalid);

    // The same with operation 0 (unspecified) and with the known ones.
    auto unspecified = irp::decode_client_message(ld(1, cat({vint(1, 1), ld(2, nonce)})));
    REQUIRE_FALSE(unspecified.ok());
    CHECK(unspecified.error().code == Code::field_invalid);
    CHECK(irp::decode_client_message(ld(1, cat({vint(1, 1), ld(2, nonce), vint(3, 1)}))).ok());
    CHECK(irp::decode_client_message(ld(1, cat({vint(1, 1), ld(2, nonce), vint(3, 2)}))).ok());
}

TEST_CASE("ClientHello bounds") {
    auto h = good_hello();
    CHECK(client_code(h) == Code::ok);
    SUBCASE("nonce of 31 bytes") {
        h.client_nonce = filled(31, 1);
        CHECK(client_code(h) == Code::field_invalid);
    }
    SUBCASE("nonce of 33 bytes") {
        h.client_nonce = filled(33, 1);
        CHECK(client_code(h) == Code::field_invalid);
    }
    SUBCASE("no nonce") {
        h.client_nonce.clear();
        CHECK(client_code(h) == Code::field_invalid);
    }
    SUBCASE("no versions") {
        h.versions.clear();
        CHECK(client_code(h) == Code::field_invalid);
    }
    SUBCASE("8 versions is the limit, 9 is too many") {
        h.versions = {1, 2, 3, 4, 5, 6, 7, 8};
        CHECK(client_code(h) == Code::ok);
        h.versions.push_back(9);
        CHECK(client_code(h) == Code::field_invalid);
    }
}

TEST_CASE("EnrollRequest bounds") {
    auto e = good_enroll();
    SUBCASE("csr of 8192 bytes is the limit, 8193 is too large") {
        e.csr = filled(8192, 0x30);
        CHECK(client_code(e) == Code::ok);
        e.csr = filled(8193, 0x30);
        CHECK(client_code(e) == Code::field_invalid);
    }
    SUBCASE("empty csr") {
        e.csr.clear();
        CHECK(client_code(e) == Code::field_invalid);
    }
    SUBCASE("token_proof absent is fine (other bootstrap methods)") {
        e.token_proof.clear();
        CHECK(client_code(e) == Code::ok);
    }
    SUBCASE("bootstrap fields are bounded") {
        e.bootstrap_key = filled(8193, 0x30);
        CHECK(client_code(e) == Code::field_invalid);
        e.bootstrap_key.clear();
        e.bootstrap_chain.assign(5, filled(10, 0x30));
        CHECK(client_code(e) == Code::field_invalid);
        e.bootstrap_chain.assign(4, filled(10, 0x30));
        CHECK(client_code(e) == Code::ok);
        e.bootstrap_chain.push_back({});
        e.bootstrap_chain.resize(1);
        e.bootstrap_chain[0].clear();
        CHECK(client_code(e) == Code::field_invalid);
        e.bootstrap_chain.clear();
        e.bootstrap_signature = filled(513, 1);
        CHECK(client_code(e) == Code::field_invalid);
        e.bootstrap_signature.clear();
        e.model = std::string(65, 'm');
        CHECK(client_code(e) == Code::field_invalid);
        e.model = std::string(64, 'm');
        e.request_id = std::string(65, 'a');
        CHECK(client_code(e) == Code::field_invalid);
        e.request_id = std::string(64, 'a');
        CHECK(client_code(e) == Code::ok);
    }
    SUBCASE("token_proof of the wrong length") {
        for (std::size_t n : {std::size_t{31}, std::size_t{33}, std::size_t{64}}) {
            CAPTURE(n);
            e.token_proof = filled(n, 0xAB);
            CHECK(client_code(e) == Code::field_invalid);
        }
    }
    SUBCASE("device_id of 256 bytes passes the codec, 257 does not") {
        // The codec bounds the wire size only; the 64-character identifier
        // rule is the session's (invalid_device_id, tested there).
        e.device_id = std::string(256, 'd');
        CHECK(client_code(e) == Code::ok);
        e.device_id = std::string(257, 'd');
        CHECK(client_code(e) == Code::field_invalid);
    }
    SUBCASE("class_id longer than 256") {
        e.class_id = std::string(257, 'c');
        CHECK(client_code(e) == Code::field_invalid);
    }
}

TEST_CASE("RenewRequest bounds") {
    auto r = good_renew();
    CHECK(client_code(r) == Code::ok);
    SUBCASE("empty certificate") {
        r.certificate.clear();
        CHECK(client_code(r) == Code::field_invalid);
    }
    SUBCASE("certificate of 8193 bytes") {
        r.certificate = filled(8193, 0x30);
        CHECK(client_code(r) == Code::field_invalid);
    }
    SUBCASE("csr of 8193 bytes") {
        r.csr = filled(8193, 0x30);
        CHECK(client_code(r) == Code::field_invalid);
    }
    SUBCASE("signature empty or over 512 bytes") {
        r.signature.clear();
        CHECK(client_code(r) == Code::field_invalid);
        r.signature = filled(512, 1);
        CHECK(client_code(r) == Code::ok);
        r.signature = filled(513, 1);
        CHECK(client_code(r) == Code::field_invalid);
    }
    SUBCASE("device_id longer than 256") {
        r.device_id = std::string(257, 'd');
        CHECK(client_code(r) == Code::field_invalid);
    }
}

TEST_CASE("InstallReport: unknown status and serial bounds") {
    irp::InstallReport r{0, {1, 2}};
    CHECK(client_code(r) == Code::ok);
    SUBCASE("every known status decodes") {
        for (std::uint32_t s : {0u, 1u, 2u, 3u, 5u, 7u, 8u, 9u, 10u, 11u, 12u, 13u}) {
            CAPTURE(s);
            r.status = s;
            CHECK(client_code(r) == Code::ok);
        }
    }
    SUBCASE("unknown statuses are field_invalid") {
        for (std::uint32_t s : {4u, 6u, 14u, 1000u, 0xFFFFFFFFu}) {
            CAPTURE(s);
            r.status = s;
            CHECK(client_code(r) == Code::field_invalid);
        }
    }
    SUBCASE("serial of 1 to 20 bytes") {
        r.certificate_serial.clear();
        CHECK(client_code(r) == Code::field_invalid);
        r.certificate_serial = filled(20, 1);
        CHECK(client_code(r) == Code::ok);
        r.certificate_serial = filled(21, 1);
        CHECK(client_code(r) == Code::field_invalid);
    }
}

TEST_CASE("ServerHello bounds") {
    auto h = good_server_hello();
    SUBCASE("nonce of 31 / 33 bytes") {
        h.server_nonce = filled(31, 1);
        CHECK(server_code(h) == Code::field_invalid);
        h.server_nonce = filled(33, 1);
        CHECK(server_code(h) == Code::field_invalid);
    }
    SUBCASE("domain empty or over 253") {
        h.domain.clear();
        CHECK(server_code(h) == Code::field_invalid);
        h.domain = std::string(253, 'd');
        CHECK(server_code(h) == Code::ok);
        h.domain = std::string(254, 'd');
        CHECK(server_code(h) == Code::field_invalid);
    }
    SUBCASE("ca_chain of 5") {
        h.ca_chain.assign(5, filled(10, 0x30));
        CHECK(server_code(h) == Code::field_invalid);
    }
    SUBCASE("ca_chain entry empty or over 8192") {
        h.ca_chain = {Bytes{}};
        CHECK(server_code(h) == Code::field_invalid);
        h.ca_chain = {filled(8193, 0x30)};
        CHECK(server_code(h) == Code::field_invalid);
    }
    SUBCASE("more than 8 key algorithms") {
        h.key_algorithms.assign(9, irp::KeyAlgorithm::ed25519);
        CHECK(server_code(h) == Code::field_invalid);
    }
}

TEST_CASE("ServerHello: unknown key algorithms are skipped") {
    const Bytes nonce = filled(32, 0x22);
    // hello { version 1, nonce, domain "d", key_algorithms [1, 9, 0, 2] }
    const Bytes body = cat({vint(1, 1), ld(2, nonce), ld(3, {'d'}), vint(5, 1), vint(5, 9), vint(5, 0), vint(5, 2)});
    auto r = irp::decode_server_message(ld(1, body));
    REQUIRE(r.ok());
    const auto& h = std::get<irp::ServerHello>(r.value());
    CHECK(h.key_algorithms == std::vector<irp::KeyAlgorithm>{irp::KeyAlgorithm::ecdsa_p256, irp::KeyAlgorithm::ed25519});
}

TEST_CASE("Answer bounds") {
    SUBCASE("request_id over 64") {
        CHECK(server_code(irp::Answer{std::string(64, 'r'), irp::Pending{1}}) == Code::ok);
        CHECK(server_code(irp::Answer{std::string(65, 'r'), irp::Pending{1}}) == Code::field_invalid);
    }
    SUBCASE("Issued with a certificate over 8192 or 5 chain entries") {
        CHECK(server_code(irp::Answer{"r", irp::Issued{filled(8193, 0x30), {}}}) == Code::field_invalid);
        CHECK(server_code(irp::Answer{"r", irp::Issued{filled(10, 0x30), std::vector<Bytes>(5, filled(10, 0x30))}}) ==
              Code::field_invalid);
        CHECK(server_code(irp::Answer{"r", irp::Issued{filled(10, 0x30), {filled(8193, 0x30)}}}) ==
              Code::field_invalid);
    }
    SUBCASE("Rejected message over 1024") {
        CHECK(server_code(irp::Answer{"r", irp::Rejected{Code::internal, std::string(1025, 'm')}}) ==
              Code::field_invalid);
    }
    SUBCASE("Redirect with no server") {
        CHECK(server_code(irp::Answer{"r", irp::Redirect{"", "other.test"}}) == Code::field_invalid);
    }
    SUBCASE("Answer with no result") {
        // encode() always sets the result, so craft { request_id: "r" }.
        auto r = irp::decode_server_message(ld(2, ld(1, {'r'})));
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::unknown_message);
    }
}

TEST_CASE("Rejected / ProtocolError with an unknown code decode to internal") {
    for (std::uint32_t raw : {1u, 99u, 999u, 65535u}) {
        CAPTURE(raw);
        const auto code = static_cast<Code>(raw);
        auto a = irp::decode_server_message(irp::encode(ServerMessage{irp::Answer{"r", irp::Rejected{code, "x"}}}));
        REQUIRE(a.ok());
        CHECK(std::get<irp::Rejected>(std::get<irp::Answer>(a.value()).result).code == Code::internal);
        auto e = irp::decode_server_message(irp::encode(ServerMessage{irp::ProtocolError{code, "x"}}));
        REQUIRE(e.ok());
        CHECK(std::get<irp::ProtocolError>(e.value()).code == Code::internal);
    }
    // A known code survives.
    auto a = irp::decode_server_message(
        irp::encode(ServerMessage{irp::Answer{"r", irp::Rejected{Code::challenge_expired, "x"}}}));
    REQUIRE(a.ok());
    CHECK(std::get<irp::Rejected>(std::get<irp::Answer>(a.value()).result).code == Code::challenge_expired);
}

TEST_CASE("ProtocolError message over 1024 is field_invalid") {
    CHECK(server_code(irp::ProtocolError{Code::internal, std::string(1024, 'm')}) == Code::ok);
    CHECK(server_code(irp::ProtocolError{Code::internal, std::string(1025, 'm')}) == Code::field_invalid);
}

TEST_CASE("a string field with invalid UTF-8 is malformed_message") {
    // proto3 strings must be UTF-8; protobuf refuses the whole message.
    const Bytes body = cat({ld(1, {'d', 'e', 'v', 0xC3, 0x28}), ld(2, {'c'}), ld(3, {0x30, 0x00}), ld(4, filled(32, 1))});
    auto r = irp::decode_client_message(ld(2, body));
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::malformed_message);
}

// ---- the shared corpus (tests/corpus/client, tests/corpus/server) ---------------

namespace {
struct CodecExpectation {
    const char* file;
    Code code;  // ok: decodes
};
// Keep in step with tests/corpus/README.md.
constexpr CodecExpectation kClientCorpus[] = {
    {"bad_enum.bin", Code::field_invalid},
    {"empty.bin", Code::unknown_message},
    {"enroll_bad_utf8_device_id.bin", Code::malformed_message},
    {"enroll_class_id_257.bin", Code::field_invalid},
    {"enroll_csr_8193.bin", Code::field_invalid},
    {"enroll_device_id_257.bin", Code::field_invalid},
    {"enroll_empty_csr.bin", Code::field_invalid},
    {"enroll_proof_31.bin", Code::field_invalid},
    {"enroll_proof_33.bin", Code::field_invalid},
    {"enroll_valid.bin", Code::ok},
    {"garbage.bin", Code::malformed_message},
    {"hello_nine_versions.bin", Code::field_invalid},
    {"hello_no_operation.bin", Code::field_invalid},
    {"hello_no_versions.bin", Code::field_invalid},
    {"hello_nonce_31.bin", Code::field_invalid},
    {"hello_nonce_33.bin", Code::field_invalid},
    {"hello_valid.bin", Code::ok},
    {"install_empty_serial.bin", Code::field_invalid},
    {"install_serial_21.bin", Code::field_invalid},
    {"install_unknown_status.bin", Code::field_invalid},
    {"install_valid.bin", Code::ok},
    {"renew_empty_certificate.bin", Code::field_invalid},
    {"renew_empty_signature.bin", Code::field_invalid},
    {"renew_signature_513.bin", Code::field_invalid},
    {"renew_valid.bin", Code::ok},
    {"truncated_enroll.bin", Code::malformed_message},
    {"unknown_oneof.bin", Code::unknown_message},
    {"unknown_oneof_varint.bin", Code::unknown_message},
};
constexpr CodecExpectation kServerCorpus[] = {
    {"answer_no_result.bin", Code::unknown_message},
    {"answer_request_id_65.bin", Code::field_invalid},
    {"answer_unknown_result.bin", Code::unknown_message},
    {"empty.bin", Code::unknown_message},
    {"error_message_1025.bin", Code::field_invalid},
    {"garbage.bin", Code::malformed_message},
    {"hello_domain_254.bin", Code::field_invalid},
    {"hello_empty_domain.bin", Code::field_invalid},
    {"hello_five_ca.bin", Code::field_invalid},
    {"hello_nonce_31.bin", Code::field_invalid},
    {"hello_unknown_algorithm.bin", Code::ok},
    {"hello_valid.bin", Code::ok},
    {"issued_five_chain.bin", Code::field_invalid},
    {"redirect_empty_server.bin", Code::field_invalid},
    {"rejected_unknown_code.bin", Code::ok},  // decodes, with Code::internal
    {"unknown_oneof.bin", Code::unknown_message},
};
}  // namespace

TEST_CASE("client corpus: decode_client_message gives each file's expected code") {
    std::vector<std::string> listed;
    for (const auto& e : kClientCorpus) {
        const std::string file = e.file;
        CAPTURE(file);
        listed.emplace_back(e.file);
        const auto r = irp::decode_client_message(irp::test::read_corpus("client", e.file));
        CHECK((r.ok() ? Code::ok : r.error().code) == e.code);
    }
    CHECK(irp::test::list_corpus("client") == listed);
}

TEST_CASE("server corpus: decode_server_message gives each file's expected code") {
    std::vector<std::string> listed;
    for (const auto& e : kServerCorpus) {
        const std::string file = e.file;
        CAPTURE(file);
        listed.emplace_back(e.file);
        const auto r = irp::decode_server_message(irp::test::read_corpus("server", e.file));
        CHECK((r.ok() ? Code::ok : r.error().code) == e.code);
    }
    CHECK(irp::test::list_corpus("server") == listed);

    // The two files that decode say what they should.
    auto rej = irp::decode_server_message(irp::test::read_corpus("server", "rejected_unknown_code.bin"));
    REQUIRE(rej.ok());
    CHECK(std::get<irp::Rejected>(std::get<irp::Answer>(rej.value()).result).code == Code::internal);
    auto hello = irp::decode_server_message(irp::test::read_corpus("server", "hello_unknown_algorithm.bin"));
    REQUIRE(hello.ok());
    CHECK(std::get<irp::ServerHello>(hello.value()).key_algorithms ==
          std::vector<irp::KeyAlgorithm>{irp::KeyAlgorithm::ecdsa_p256, irp::KeyAlgorithm::ed25519});
}
