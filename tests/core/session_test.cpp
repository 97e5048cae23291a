// The two session state machines (include/irp/core/{server,client}_session.hpp)
// wired together in memory: no sockets, no TLS (both sides get the same fake
// channel binding), a virtual clock, deterministic nonces, and real crypto
// for keys and CSRs. Every refusal asserts its documented code, the state the
// sessions end in, and that the server never handed the application a request.
#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "corpus.hpp"
#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"
#include "irp/core/client_session.hpp"
#include "irp/core/frame.hpp"
#include "irp/core/messages.hpp"
#include "irp/core/server_session.hpp"
#include "irp/core/transcript.hpp"
#include "irp/crypto/crypto.hpp"

namespace {

using namespace std::chrono_literals;
using irp::Bytes;
using irp::ByteView;
using irp::ClientSession;
using irp::Code;
using irp::ServerSession;
using irp::Time;
using irp::crypto::KeyAlgorithm;
using irp::crypto::PrivateKey;
using CState = irp::ClientSession::State;
using SState = irp::ServerSession::State;

const Bytes kBinding(32, 0xB1);
const Bytes kOtherBinding(32, 0xB2);
const Bytes kClassSecret = irp::to_bytes("class-a secret, 32 bytes long!!!");
constexpr const char* kDomain = "example.test";
constexpr const char* kDevice = "dev-1";
constexpr const char* kClass = "class-a";

irp::ServerSessionConfig server_config() {
    irp::ServerSessionConfig c;
    c.domain = kDomain;
    c.ca_chain = {Bytes(40, 0x30), Bytes(30, 0x31)};  // opaque at this layer
    c.key_algorithms = {KeyAlgorithm::ecdsa_p256, KeyAlgorithm::ed25519, KeyAlgorithm::ecdsa_p384};
    return c;
}

irp::ClientSessionConfig client_config(irp::Operation op = irp::Operation::enroll) {
    irp::ClientSessionConfig c;
    c.operation = op;
    c.device_id = kDevice;
    c.class_id = op == irp::Operation::enroll ? kClass : "";
    if (op != irp::Operation::enroll) c.current_certificate = Bytes(300, 0x30);
    return c;
}

// Everything one side emitted, drained after each pump.
struct Recorder {
    std::vector<irp::ServerEvent> server;
    std::vector<irp::ClientEvent> client;

    template <typename T>
    std::vector<T> server_events() const {
        std::vector<T> out;
        for (const auto& e : server)
            if (const auto* p = std::get_if<T>(&e)) out.push_back(*p);
        return out;
    }
    template <typename T>
    std::vector<T> client_events() const {
        std::vector<T> out;
        for (const auto& e : client)
            if (const auto* p = std::get_if<T>(&e)) out.push_back(*p);
        return out;
    }
};

void drain(ServerSession& s, Recorder& r) {
    while (auto e = s.poll_event()) r.server.push_back(std::move(*e));
}
void drain(ClientSession& c, Recorder& r) {
    while (auto e = c.poll_event()) r.client.push_back(std::move(*e));
}

// Moves bytes client -> server -> client until neither has anything to send.
void pump(ClientSession& c, ServerSession& s, Time now, Recorder& r) {
    for (int round = 0; round < 16; ++round) {
        const Bytes up = c.take_output();
        if (!up.empty()) s.receive(up, now);
        drain(s, r);
        const Bytes down = s.take_output();
        if (!down.empty()) c.receive(down, now);
        drain(c, r);
        if (up.empty() && down.empty()) return;
    }
    FAIL("the sessions did not go quiet");
}

// Splits a byte stream into decoded ServerMessages (what the client would see).
std::vector<irp::ServerMessage> server_messages(ByteView stream) {
    std::vector<irp::ServerMessage> out;
    irp::FrameDecoder dec;
    for (;;) {
        const auto st = dec.feed(stream);
        if (st != irp::FrameDecoder::Status::frame) {
            REQUIRE(st == irp::FrameDecoder::Status::need_more);
            REQUIRE(stream.empty());
            return out;
        }
        auto m = irp::decode_server_message(dec.payload());
        REQUIRE(m.ok());
        out.push_back(std::move(m.value()));
    }
}

// The single ProtocolError a failed server sent, checked for its code.
void check_protocol_error_sent(ServerSession& s, Code code) {
    const auto msgs = server_messages(s.take_output());
    REQUIRE(msgs.size() == 1);
    const auto* pe = std::get_if<irp::ProtocolError>(&msgs[0]);
    REQUIRE(pe != nullptr);
    CHECK(pe->code == code);
}

Bytes client_frame(const irp::ClientMessage& m) { return irp::encode_frame(irp::encode(m)); }
Bytes server_frame(const irp::ServerMessage& m) { return irp::encode_frame(irp::encode(m)); }

// The request a device builds once it has the challenge.
struct Built {
    Bytes csr;
    Bytes proof;  // token proof (enroll) or renewal signature (renew)
};

Built build_enroll(const PrivateKey& key, const irp::crypto::Digest& transcript, std::string_view device,
                   std::string_view cls, irp::crypto::Random& rng) {
    auto csr = irp::crypto::create_csr(key, device, irp::csr_challenge(transcript), rng);
    REQUIRE(csr.ok());
    const auto token = irp::derive_device_token(kClassSecret, cls, device);
    const auto proof = irp::token_proof(token, transcript, *csr);
    return {*csr, Bytes(proof.begin(), proof.end())};
}

// A client and server after the ServerHello: the client holds its challenge.
struct Exchange {
    std::unique_ptr<irp::crypto::Random> rng = irp::crypto::deterministic_random(42);
    Recorder rec;
    ServerSession server;
    ClientSession client;
    std::optional<irp::ChallengeReceived> challenge;
    Bytes client_nonce;

    Exchange(irp::ServerSessionConfig scfg, irp::ClientSessionConfig ccfg, Bytes client_binding = kBinding,
             Time start = 1000ms)
        : server(std::move(scfg), *rng, kBinding, start), client(std::move(ccfg), *rng, client_binding, start) {
        // Look at the ClientHello on its way, to learn the client nonce.
        const Bytes hello = client.take_output();
        irp::FrameDecoder dec;
        ByteView in = hello;
        REQUIRE(dec.feed(in) == irp::FrameDecoder::Status::frame);
        auto m = irp::decode_client_message(dec.payload());
        REQUIRE(m.ok());
        client_nonce = std::get<irp::ClientHello>(m.value()).client_nonce;
        server.receive(hello, start);
        drain(server, rec);
        pump(client, server, start, rec);
        const auto ch = rec.client_events<irp::ChallengeReceived>();
        if (ch.size() == 1) challenge = ch[0];
    }
    const irp::crypto::Digest& transcript() const { return challenge->transcript; }
};

void check_no_request(const Recorder& r) { CHECK(r.server_events<irp::RequestReceived>().empty()); }

// Runs one enrollment whose request the server refuses itself; returns the
// code of the RequestRejected event and checks both sides agree on it.
Code rejected_code(Exchange& x) {
    check_no_request(x.rec);
    const auto rej = x.rec.server_events<irp::RequestRejected>();
    REQUIRE(rej.size() == 1);
    CHECK(x.server.state() == SState::done);
    // The client got the same code in a Rejected answer.
    const auto answers = x.rec.client_events<irp::AnswerReceived>();
    REQUIRE(answers.size() == 1);
    const auto* r = std::get_if<irp::Rejected>(&answers[0].answer.result);
    REQUIRE(r != nullptr);
    CHECK(r->code == rej[0].error.code);
    CHECK(answers[0].answer.request_id == rej[0].request_id);
    CHECK(x.client.state() == CState::answered);
    x.client.finish();
    CHECK(x.client.state() == CState::done);
    return rej[0].error.code;
}

}  // namespace

// ---- happy paths ------------------------------------------------------------------

TEST_CASE("a full enrollment, hello to install report") {
    Exchange x(server_config(), client_config());
    REQUIRE(x.challenge.has_value());
    CHECK(x.server.state() == SState::await_request);
    CHECK(x.client.state() == CState::ready);

    const auto& hello = x.challenge->hello;
    CHECK(hello.version == irp::kProtocolVersion);
    CHECK(hello.server_nonce.size() == 32);
    CHECK(hello.domain == kDomain);
    CHECK(hello.ca_chain == server_config().ca_chain);
    CHECK(hello.key_algorithms == server_config().key_algorithms);
    CHECK(hello.challenge_ttl_seconds == 60);
    CHECK(hello.max_frame_bytes == irp::kDefaultMaxFrame);

    // The client's transcript is the documented function of this exchange.
    irp::TranscriptInput t;
    t.operation = irp::Operation::enroll;
    t.client_nonce = x.client_nonce;
    t.server_nonce = hello.server_nonce;
    t.channel_binding = kBinding;
    t.domain = kDomain;
    t.device_id = kDevice;
    t.class_id = kClass;
    CHECK(irp::transcript_hash(t) == x.transcript());
    CHECK(x.client_nonce.size() == 32);
    CHECK(x.client_nonce != hello.server_nonce);

    auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *x.rng);
    REQUIRE(key.ok());
    const Built b = build_enroll(*key, x.transcript(), kDevice, kClass, *x.rng);
    REQUIRE(x.client.send_enroll(b.csr, b.proof, 2000ms).ok());
    CHECK(x.client.state() == CState::await_answer);
    pump(x.client, x.server, 2000ms, x.rec);

    const auto reqs = x.rec.server_events<irp::RequestReceived>();
    REQUIRE(reqs.size() == 1);
    const auto& req = reqs[0];
    CHECK(req.transcript == x.transcript());
    CHECK(req.operation == irp::Operation::enroll);
    CHECK(req.device_id == kDevice);
    CHECK(req.class_id == kClass);
    CHECK(req.csr_der == b.csr);
    CHECK(req.csr.algorithm == KeyAlgorithm::ecdsa_p256);
    CHECK(req.csr.public_key == key->public_key_der());
    CHECK(req.csr.challenge == irp::csr_challenge(x.transcript()));
    CHECK(req.token_proof == b.proof);
    CHECK(req.current_certificate.empty());
    CHECK(req.renewal_signature.empty());
    CHECK_FALSE(req.request_id.empty());
    CHECK(x.server.state() == SState::await_decision);

    // The application checks the token proof itself; it holds here.
    const auto token = irp::derive_device_token(kClassSecret, req.class_id, req.device_id);
    const auto expected = irp::token_proof(token, req.transcript, req.csr_der);
    CHECK(irp::crypto::constant_time_equal(expected, req.token_proof));

    const Bytes cert = irp::to_bytes("certificate DER (opaque here)");
    const Bytes chain0 = irp::to_bytes("issuing CA");
    REQUIRE(x.server.answer(irp::Answer{"", irp::Issued{cert, {chain0}}}, 2500ms).ok());
    CHECK(x.server.state() == SState::await_install_report);
    pump(x.client, x.server, 2500ms, x.rec);

    const auto answers = x.rec.client_events<irp::AnswerReceived>();
    REQUIRE(answers.size() == 1);
    CHECK(answers[0].answer.request_id == req.request_id);  // the session fills it in
    const auto* issued = std::get_if<irp::Issued>(&answers[0].answer.result);
    REQUIRE(issued != nullptr);
    CHECK(issued->certificate == cert);
    CHECK(issued->chain == std::vector<Bytes>{chain0});
    CHECK(x.client.state() == CState::answered);

    const Bytes serial = {0x01, 0x23, 0x45};
    REQUIRE(x.client.send_install_report(irp::InstallStatus::installed, serial, 3000ms).ok());
    pump(x.client, x.server, 3000ms, x.rec);

    const auto reports = x.rec.server_events<irp::InstallReported>();
    REQUIRE(reports.size() == 1);
    CHECK(reports[0].request_id == req.request_id);
    CHECK(reports[0].status == 0);
    CHECK(reports[0].certificate_serial == serial);
    // The ack waits for the application to say whether it recorded it.
    CHECK(x.server.state() == SState::await_install_record);
    CHECK(x.rec.client_events<irp::InstallAcknowledged>().empty());
    CHECK(x.server.next_deadline().has_value());
    REQUIRE(x.server.acknowledge_install(true, 3000ms).ok());
    CHECK_FALSE(x.server.acknowledge_install(true, 3000ms).ok());  // once only
    pump(x.client, x.server, 3000ms, x.rec);
    const auto acks = x.rec.client_events<irp::InstallAcknowledged>();
    REQUIRE(acks.size() == 1);
    CHECK(acks[0].recorded);

    CHECK(x.server.state() == SState::done);
    CHECK(x.client.state() == CState::done);
    CHECK(x.server.finished());
    CHECK(x.client.finished());
    CHECK_FALSE(x.server.next_deadline().has_value());
    CHECK_FALSE(x.client.next_deadline().has_value());
    CHECK(x.rec.server_events<irp::SessionFailed>().empty());
    CHECK(x.rec.client_events<irp::ClientFailed>().empty());
}

TEST_CASE("an Ed25519 and a P-384 key enroll too") {
    for (auto alg : {KeyAlgorithm::ed25519, KeyAlgorithm::ecdsa_p384}) {
        const std::string alg_name = irp::crypto::key_algorithm_name(alg);
        CAPTURE(alg_name);
        Exchange x(server_config(), client_config());
        REQUIRE(x.challenge.has_value());
        auto key = PrivateKey::generate(alg, *x.rng);
        REQUIRE(key.ok());
        const Built b = build_enroll(*key, x.transcript(), kDevice, kClass, *x.rng);
        REQUIRE(x.client.send_enroll(b.csr, b.proof, 2000ms).ok());
        pump(x.client, x.server, 2000ms, x.rec);
        const auto reqs = x.rec.server_events<irp::RequestReceived>();
        REQUIRE(reqs.size() == 1);
        CHECK(reqs[0].csr.algorithm == alg);
    }
}

TEST_CASE("a full renewal") {
    auto ccfg = client_config(irp::Operation::renew);
    const Bytes current = ccfg.current_certificate;
    Exchange x(server_config(), ccfg);
    REQUIRE(x.challenge.has_value());

    // The transcript binds the current certificate and has no class id.
    irp::TranscriptInput t;
    t.operation = irp::Operation::renew;
    t.client_nonce = x.client_nonce;
    t.server_nonce = x.challenge->hello.server_nonce;
    t.channel_binding = kBinding;
    t.domain = kDomain;
    t.device_id = kDevice;
    t.current_certificate = current;
    CHECK(irp::transcript_hash(t) == x.transcript());

    // The current key signs the renewal: ECDSA (DER signature) or Ed25519.
    KeyAlgorithm old_alg = KeyAlgorithm::ecdsa_p256;
    SUBCASE("current key P-256") { old_alg = KeyAlgorithm::ecdsa_p256; }
    SUBCASE("current key Ed25519") { old_alg = KeyAlgorithm::ed25519; }
    auto old_key = PrivateKey::generate(old_alg, *x.rng);
    auto new_key = PrivateKey::generate(KeyAlgorithm::ed25519, *x.rng);
    REQUIRE(old_key.ok());
    REQUIRE(new_key.ok());
    auto csr = irp::crypto::create_csr(*new_key, kDevice, irp::csr_challenge(x.transcript()), *x.rng);
    REQUIRE(csr.ok());
    const Bytes sig = old_key->sign(irp::renewal_message(x.transcript(), *csr), *x.rng);
    CHECK(x.client.send_enroll(*csr, Bytes(32, 0), 2000ms).error().code == Code::bad_argument);
    REQUIRE(x.client.send_renew(*csr, sig, 2000ms).ok());
    pump(x.client, x.server, 2000ms, x.rec);

    const auto reqs = x.rec.server_events<irp::RequestReceived>();
    REQUIRE(reqs.size() == 1);
    const auto& req = reqs[0];
    CHECK(req.operation == irp::Operation::renew);
    CHECK(req.transcript == x.transcript());
    CHECK(req.device_id == kDevice);
    CHECK(req.class_id.empty());
    CHECK(req.current_certificate == current);
    CHECK(req.renewal_signature == sig);
    CHECK(req.token_proof.empty());
    CHECK(req.csr.algorithm == KeyAlgorithm::ed25519);
    CHECK(req.csr_der == *csr);
    // What the application will verify with the current certificate's key.
    CHECK(irp::crypto::verify_signature(old_key->public_key_der(), irp::renewal_message(req.transcript, req.csr_der),
                                        req.renewal_signature));

    REQUIRE(x.server.answer(irp::Answer{"", irp::Issued{Bytes(10, 0x30), {}}}, 2100ms).ok());
    pump(x.client, x.server, 2100ms, x.rec);
    REQUIRE(x.rec.client_events<irp::AnswerReceived>().size() == 1);
    REQUIRE(x.client.send_install_report(irp::InstallStatus::installed, {0x42}, 2200ms).ok());
    pump(x.client, x.server, 2200ms, x.rec);
    REQUIRE(x.rec.server_events<irp::InstallReported>().size() == 1);
    // The application could not record it: the device is told so.
    REQUIRE(x.server.acknowledge_install(false, 2200ms).ok());
    pump(x.client, x.server, 2200ms, x.rec);
    const auto acks = x.rec.client_events<irp::InstallAcknowledged>();
    REQUIRE(acks.size() == 1);
    CHECK_FALSE(acks[0].recorded);
    CHECK(x.server.state() == SState::done);
    CHECK(x.client.state() == CState::done);
}

TEST_CASE("an answer other than Issued ends the exchange without an install report") {
    Exchange x(server_config(), client_config());
    REQUIRE(x.challenge.has_value());
    auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *x.rng);
    const Built b = build_enroll(*key, x.transcript(), kDevice, kClass, *x.rng);
    REQUIRE(x.client.send_enroll(b.csr, b.proof, 2000ms).ok());
    pump(x.client, x.server, 2000ms, x.rec);
    REQUIRE(x.rec.server_events<irp::RequestReceived>().size() == 1);
    REQUIRE(x.server.answer(irp::Answer{"", irp::Pending{30}}, 2000ms).ok());
    CHECK(x.server.state() == SState::done);
    pump(x.client, x.server, 2000ms, x.rec);
    const auto answers = x.rec.client_events<irp::AnswerReceived>();
    REQUIRE(answers.size() == 1);
    CHECK(std::get<irp::Pending>(answers[0].answer.result).retry_after_seconds == 30);
    x.client.finish();
    CHECK(x.client.state() == CState::done);
}

TEST_CASE("a held request: the re-ask carries its id and model, and the Pending answer keeps the held id") {
    auto ccfg = client_config();
    ccfg.held_request_id = "0123456789abcdef";
    ccfg.model = "Cam 2000 (rev B)";
    Exchange x(server_config(), std::move(ccfg));
    REQUIRE(x.challenge.has_value());
    auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *x.rng);
    auto csr = irp::crypto::create_csr(*key, kDevice, irp::csr_challenge(x.transcript()), *x.rng);
    REQUIRE(csr.ok());
    // No proof at all: the approval method.
    REQUIRE(x.client.send_enroll(*csr, irp::EnrollProof{}, 2000ms).ok());
    pump(x.client, x.server, 2000ms, x.rec);
    const auto reqs = x.rec.server_events<irp::RequestReceived>();
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].held_request_id == "0123456789abcdef");
    CHECK(reqs[0].model == "Cam 2000 (rev B)");
    CHECK(reqs[0].token_proof.empty());
    CHECK(reqs[0].request_id != "0123456789abcdef");  // the exchange keeps its own id
    REQUIRE(x.server.answer(irp::Answer{"0123456789abcdef", irp::Pending{60}}, 2000ms).ok());
    pump(x.client, x.server, 2000ms, x.rec);
    const auto answers = x.rec.client_events<irp::AnswerReceived>();
    REQUIRE(answers.size() == 1);
    CHECK(answers[0].answer.request_id == "0123456789abcdef");
    CHECK(std::get<irp::Pending>(answers[0].answer.result).retry_after_seconds == 60);
}

TEST_CASE("a bootstrap key and its signature reach the application; two proofs at once are refused") {
    Exchange x(server_config(), client_config());
    REQUIRE(x.challenge.has_value());
    auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *x.rng);
    auto boot = PrivateKey::generate(KeyAlgorithm::ed25519, *x.rng);
    auto csr = irp::crypto::create_csr(*key, kDevice, irp::csr_challenge(x.transcript()), *x.rng);
    REQUIRE(csr.ok());
    irp::EnrollProof p;
    p.bootstrap_key = boot->public_key_der();
    p.bootstrap_signature = boot->sign(irp::bootstrap_message(x.transcript(), *csr), *x.rng);
    SUBCASE("one proof") {
        REQUIRE(x.client.send_enroll(*csr, p, 2000ms).ok());
        pump(x.client, x.server, 2000ms, x.rec);
        const auto reqs = x.rec.server_events<irp::RequestReceived>();
        REQUIRE(reqs.size() == 1);
        CHECK(reqs[0].bootstrap_key == boot->public_key_der());
        CHECK(irp::crypto::verify_signature(reqs[0].bootstrap_key, irp::bootstrap_message(reqs[0].transcript, *csr),
                                            reqs[0].bootstrap_signature));
    }
    SUBCASE("a token proof as well") {
        p.token_proof = Bytes(32, 1);
        REQUIRE(x.client.send_enroll(*csr, p, 2000ms).ok());
        pump(x.client, x.server, 2000ms, x.rec);
        CHECK(rejected_code(x) == Code::field_invalid);
    }
    SUBCASE("a signature without a key") {
        p.bootstrap_key.clear();
        REQUIRE(x.client.send_enroll(*csr, p, 2000ms).ok());
        pump(x.client, x.server, 2000ms, x.rec);
        CHECK(rejected_code(x) == Code::field_invalid);
    }
    SUBCASE("a model that is not printable") {
        // Built by hand: the client session takes the model from its config.
        irp::EnrollRequest m;
        m.device_id = kDevice;
        m.class_id = kClass;
        m.csr = *csr;
        m.model = std::string("cam\x01");
        x.server.receive(client_frame(m), 2000ms);
        drain(x.server, x.rec);
        CHECK(x.rec.server_events<irp::RequestRejected>().at(0).error.code == Code::field_invalid);
        check_no_request(x.rec);
    }
}

TEST_CASE("a check-in: signed by the current key over the transcript, answered with CheckedIn") {
    Exchange x(server_config(), client_config(irp::Operation::check_in));
    REQUIRE(x.challenge.has_value());
    auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *x.rng);
    const Bytes sig = key->sign(irp::check_in_message(x.transcript()), *x.rng);
    REQUIRE(x.client.send_check_in(sig, 2000ms).ok());
    pump(x.client, x.server, 2000ms, x.rec);
    const auto reqs = x.rec.server_events<irp::RequestReceived>();
    REQUIRE(reqs.size() == 1);
    CHECK(reqs[0].operation == irp::Operation::check_in);
    CHECK(reqs[0].csr_der.empty());
    CHECK(reqs[0].current_certificate == Bytes(300, 0x30));
    // Both sides computed the same transcript, certificate included.
    CHECK(irp::crypto::verify_signature(key->public_key_der(), irp::check_in_message(reqs[0].transcript),
                                        reqs[0].renewal_signature));
    REQUIRE(x.server.answer(irp::Answer{"", irp::CheckedIn{3600, true}}, 2000ms).ok());
    CHECK(x.server.state() == SState::done);
    pump(x.client, x.server, 2000ms, x.rec);
    const auto answers = x.rec.client_events<irp::AnswerReceived>();
    REQUIRE(answers.size() == 1);
    const auto& c = std::get<irp::CheckedIn>(answers[0].answer.result);
    CHECK(c.next_check_in_seconds == 3600);
    CHECK(c.renew_now);
    // A check-in session cannot send an enrollment, nor an enroll session a check-in.
    Exchange y(server_config(), client_config());
    CHECK(y.client.send_check_in(sig, 2000ms).error().code == Code::bad_argument);
    y.server.receive(client_frame(irp::CheckIn{kDevice, Bytes(300, 0x30), sig}), 2000ms);
    drain(y.server, y.rec);
    CHECK(y.server.state() == SState::failed);
    check_no_request(y.rec);
}

TEST_CASE("a check-in carries the CRL the device holds, and the CRL comes back in CheckedIn") {
    SUBCASE("the plain send_check_in asks for no CRL") {
        Exchange x(server_config(), client_config(irp::Operation::check_in));
        REQUIRE(x.challenge.has_value());
        REQUIRE(x.client.send_check_in(Bytes(64, 0x51), 2000ms).ok());
        pump(x.client, x.server, 2000ms, x.rec);
        const auto reqs = x.rec.server_events<irp::RequestReceived>();
        REQUIRE(reqs.size() == 1);
        CHECK(reqs[0].have_crl_number == 0u);
        CHECK(reqs[0].max_crl_bytes == 0u);
    }
    SUBCASE("have_crl_number, and the room the client's frame limit leaves, reach the server") {
        auto cfg = client_config(irp::Operation::check_in);
        cfg.limits.max_frame_bytes = 10'000;
        Exchange x(server_config(), std::move(cfg));
        REQUIRE(x.challenge.has_value());
        REQUIRE(x.client.send_check_in(Bytes(64, 0x51), 0x1'0000'0007ull, 2000ms).ok());
        pump(x.client, x.server, 2000ms, x.rec);
        const auto reqs = x.rec.server_events<irp::RequestReceived>();
        REQUIRE(reqs.size() == 1);
        CHECK(reqs[0].have_crl_number == 0x1'0000'0007ull);  // 64 bits survive the wire
        CHECK(reqs[0].max_crl_bytes == 10'000u - 256u);
        CHECK(reqs[0].renewal_signature == Bytes(64, 0x51));

        SUBCASE("a CRL that fills the announced room fits the client's frame limit") {
            irp::CheckedIn c{600, false, Bytes(reqs[0].max_crl_bytes, 0xC1)};
            REQUIRE(x.server.answer(irp::Answer{"", c}, 2000ms).ok());
            pump(x.client, x.server, 2000ms, x.rec);
            CHECK(x.rec.client_events<irp::ClientFailed>().empty());
            const auto answers = x.rec.client_events<irp::AnswerReceived>();
            REQUIRE(answers.size() == 1);
            const auto& got = std::get<irp::CheckedIn>(answers[0].answer.result);
            CHECK(got.next_check_in_seconds == 600u);
            CHECK_FALSE(got.renew_now);
            CHECK(got.crl == Bytes(10'000 - 256, 0xC1));
            CHECK(x.client.state() == CState::answered);
        }
        SUBCASE("an empty crl field decodes as no CRL") {
            REQUIRE(x.server.answer(irp::Answer{"", irp::CheckedIn{600, true}}, 2000ms).ok());
            pump(x.client, x.server, 2000ms, x.rec);
            const auto answers = x.rec.client_events<irp::AnswerReceived>();
            REQUIRE(answers.size() == 1);
            CHECK(std::get<irp::CheckedIn>(answers[0].answer.result).crl.empty());
        }
    }
    SUBCASE("the announced room never exceeds bounds::kMaxCrl, and is 0 under a tiny frame limit") {
        for (const auto& [frame, want] : {std::pair<std::uint32_t, std::uint32_t>{16u << 20, 1u << 20},
                                         std::pair<std::uint32_t, std::uint32_t>{200, 0},
                                         std::pair<std::uint32_t, std::uint32_t>{65'536, 65'280}}) {
            auto cfg = client_config(irp::Operation::check_in);
            cfg.limits.max_frame_bytes = frame;
            Exchange x(server_config(), std::move(cfg));
            REQUIRE(x.challenge.has_value());
            REQUIRE(x.client.send_check_in(Bytes(64, 0x51), 3, 2000ms).ok());
            pump(x.client, x.server, 2000ms, x.rec);
            const auto reqs = x.rec.server_events<irp::RequestReceived>();
            REQUIRE(reqs.size() == 1);
            CHECK(reqs[0].max_crl_bytes == want);
            CHECK(reqs[0].have_crl_number == 3u);
        }
    }
    SUBCASE("a CRL above bounds::kMaxCrl is field_invalid, even inside the frame limit") {
        auto cfg = client_config(irp::Operation::check_in);
        cfg.limits.max_frame_bytes = 2u << 20;
        Exchange x(server_config(), std::move(cfg));
        REQUIRE(x.challenge.has_value());
        REQUIRE(x.client.send_check_in(Bytes(64, 0x51), 0, 2000ms).ok());
        pump(x.client, x.server, 2000ms, x.rec);
        REQUIRE(x.rec.server_events<irp::RequestReceived>().size() == 1);
        REQUIRE(x.server.answer(irp::Answer{"", irp::CheckedIn{600, false, Bytes((1u << 20) + 1, 0xC1)}}, 2000ms).ok());
        pump(x.client, x.server, 2000ms, x.rec);
        CHECK(x.rec.client_events<irp::AnswerReceived>().empty());
        const auto failed = x.rec.client_events<irp::ClientFailed>();
        REQUIRE(failed.size() == 1);
        CHECK(failed[0].error.code == Code::field_invalid);
        CHECK_FALSE(failed[0].from_server);
        CHECK(x.client.state() == CState::failed);
    }
    SUBCASE("a CRL larger than the client's frame limit is frame_too_large, before it is buffered") {
        Exchange x(server_config(), client_config(irp::Operation::check_in));  // 64 KiB frames
        REQUIRE(x.challenge.has_value());
        REQUIRE(x.client.send_check_in(Bytes(64, 0x51), 0, 2000ms).ok());
        pump(x.client, x.server, 2000ms, x.rec);
        REQUIRE(x.server.answer(irp::Answer{"", irp::CheckedIn{600, false, Bytes(70'000, 0xC1)}}, 2000ms).ok());
        pump(x.client, x.server, 2000ms, x.rec);
        const auto failed = x.rec.client_events<irp::ClientFailed>();
        REQUIRE(failed.size() == 1);
        CHECK(failed[0].error.code == Code::frame_too_large);
    }
}

TEST_CASE("the CheckIn CRL fields round-trip the codec; a server never sending them stays compatible") {
    const irp::CheckIn in{kDevice, Bytes(300, 0x30), Bytes(64, 0x51), 42, 65'280};
    auto back = irp::decode_client_message(irp::encode(irp::ClientMessage{in}));
    REQUIRE(back.ok());
    const auto& got = std::get<irp::CheckIn>(back.value());
    CHECK(got.have_crl_number == 42u);
    CHECK(got.max_crl_bytes == 65'280u);
    // A CheckIn from a wallet before these fields (fields 1-3 only) decodes
    // as "holds none, wants none".
    const irp::CheckIn old{kDevice, Bytes(300, 0x30), Bytes(64, 0x51)};
    auto old_back = irp::decode_client_message(irp::encode(irp::ClientMessage{old}));
    REQUIRE(old_back.ok());
    CHECK(std::get<irp::CheckIn>(old_back.value()).have_crl_number == 0u);
    CHECK(std::get<irp::CheckIn>(old_back.value()).max_crl_bytes == 0u);
    // The new fields cost nothing on the wire when unset.
    CHECK(irp::encode(irp::ClientMessage{old}).size() + 2 + 1 + 3 == irp::encode(irp::ClientMessage{in}).size());
}

// ---- the server refuses messages out of order ---------------------------------------

TEST_CASE("EnrollRequest before ClientHello is unexpected_message") {
    auto rng = irp::crypto::deterministic_random(1);
    ServerSession s(server_config(), *rng, kBinding, 0ms);
    Recorder rec;
    s.receive(client_frame(irp::EnrollRequest{kDevice, kClass, Bytes(10, 0x30), Bytes(32, 0xAB)}), 10ms);
    drain(s, rec);
    CHECK(s.state() == SState::failed);
    CHECK(s.finished());
    const auto failed = rec.server_events<irp::SessionFailed>();
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].error.code == Code::unexpected_message);
    check_protocol_error_sent(s, Code::unexpected_message);
    check_no_request(rec);
}

TEST_CASE("a second ClientHello after the ServerHello is unexpected_message") {
    Exchange x(server_config(), client_config());
    REQUIRE(x.challenge.has_value());
    const irp::ClientHello again{{1}, Bytes(32, 0x77), irp::Operation::enroll};
    x.server.receive(client_frame(again), 1500ms);
    drain(x.server, x.rec);
    CHECK(x.server.state() == SState::failed);
    const auto failed = x.rec.server_events<irp::SessionFailed>();
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].error.code == Code::unexpected_message);
    check_protocol_error_sent(x.server, Code::unexpected_message);
    check_no_request(x.rec);
}

TEST_CASE("an InstallReport before any answer is unexpected_message") {
    SUBCASE("while the server waits for the request") {
        Exchange x(server_config(), client_config());
        REQUIRE(x.challenge.has_value());
        x.server.receive(client_frame(irp::InstallReport{0, {1}}), 1500ms);
        drain(x.server, x.rec);
        CHECK(x.server.state() == SState::failed);
        check_protocol_error_sent(x.server, Code::unexpected_message);
        check_no_request(x.rec);
        CHECK(x.rec.server_events<irp::InstallReported>().empty());
    }
    SUBCASE("while the application decides") {
        Exchange x(server_config(), client_config());
        REQUIRE(x.challenge.has_value());
        auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *x.rng);
        const Built b = build_enroll(*key, x.transcript(), kDevice, kClass, *x.rng);
        REQUIRE(x.client.send_enroll(b.csr, b.proof, 2000ms).ok());
        pump(x.client, x.server, 2000ms, x.rec);
        REQUIRE(x.server.state() == SState::await_decision);
        x.server.receive(client_frame(irp::InstallReport{0, {1}}), 2100ms);
        drain(x.server, x.rec);
        CHECK(x.server.state() == SState::failed);
        check_protocol_error_sent(x.server, Code::unexpected_message);
        CHECK(x.rec.server_events<irp::InstallReported>().empty());
        // The pending request can no longer be answered.
        CHECK_FALSE(x.server.answer(irp::Answer{"", irp::Issued{Bytes(10, 0x30), {}}}, 2200ms).ok());
    }
}

TEST_CASE("a ClientHello without version 1 is unsupported_version") {
    auto rng = irp::crypto::deterministic_random(2);
    ServerSession s(server_config(), *rng, kBinding, 0ms);
    Recorder rec;
    s.receive(client_frame(irp::ClientHello{{2}, Bytes(32, 0x01), irp::Operation::enroll}), 5ms);
    drain(s, rec);
    CHECK(s.state() == SState::failed);
    const auto failed = rec.server_events<irp::SessionFailed>();
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].error.code == Code::unsupported_version);
    check_protocol_error_sent(s, Code::unsupported_version);  // and no ServerHello
}

TEST_CASE("a ClientHello listing version 1 among others is accepted") {
    auto rng = irp::crypto::deterministic_random(2);
    ServerSession s(server_config(), *rng, kBinding, 0ms);
    s.receive(client_frame(irp::ClientHello{{3, 1, 2}, Bytes(32, 0x01), irp::Operation::enroll}), 5ms);
    CHECK(s.state() == SState::await_request);
    const auto msgs = server_messages(s.take_output());
    REQUIRE(msgs.size() == 1);
    CHECK(std::get<irp::ServerHello>(msgs[0]).version == 1);
}

// ---- the server refuses requests that do not hold ------------------------------------

TEST_CASE("a CSR bound to another connection's transcript is challenge_mismatch") {
    SUBCASE("the client sees another channel binding (a relayed exchange)") {
        Exchange x(server_config(), client_config(), kOtherBinding);
        REQUIRE(x.challenge.has_value());
        auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *x.rng);
        const Built b = build_enroll(*key, x.transcript(), kDevice, kClass, *x.rng);
        REQUIRE(x.client.send_enroll(b.csr, b.proof, 2000ms).ok());
        pump(x.client, x.server, 2000ms, x.rec);
        CHECK(rejected_code(x) == Code::challenge_mismatch);
    }
    SUBCASE("a request captured on one connection is replayed on another") {
        Bytes captured;
        {
            Exchange first(server_config(), client_config());
            REQUIRE(first.challenge.has_value());
            auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *first.rng);
            const Built b = build_enroll(*key, first.transcript(), kDevice, kClass, *first.rng);
            REQUIRE(first.client.send_enroll(b.csr, b.proof, 2000ms).ok());
            captured = first.client.take_output();
            first.server.receive(captured, 2000ms);
            drain(first.server, first.rec);
            REQUIRE(first.rec.server_events<irp::RequestReceived>().size() == 1);
        }
        // Same device, same channel binding, but fresh nonces: the replayed
        // CSR's challenge no longer matches.
        auto rng = irp::crypto::deterministic_random(777);
        ServerSession s(server_config(), *rng, kBinding, 0ms);
        Recorder rec;
        s.receive(client_frame(irp::ClientHello{{1}, Bytes(32, 0x99), irp::Operation::enroll}), 10ms);
        REQUIRE(s.state() == SState::await_request);
        (void)s.take_output();
        s.receive(captured, 20ms);
        drain(s, rec);
        check_no_request(rec);
        const auto rej = rec.server_events<irp::RequestRejected>();
        REQUIRE(rej.size() == 1);
        CHECK(rej[0].error.code == Code::challenge_mismatch);
        CHECK(s.state() == SState::done);
    }
}

TEST_CASE("a CSR whose signature was tampered with is refused") {
    Exchange x(server_config(), client_config());
    REQUIRE(x.challenge.has_value());
    auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *x.rng);
    Built b = build_enroll(*key, x.transcript(), kDevice, kClass, *x.rng);
    b.csr[b.csr.size() - 2] ^= 0x01;  // inside the signature BIT STRING
    REQUIRE(x.client.send_enroll(b.csr, b.proof, 2000ms).ok());
    pump(x.client, x.server, 2000ms, x.rec);
    // A CSR that parses but whose self-signature fails is a failed proof
    // of possession, not a malformed request.
    CHECK(rejected_code(x) == Code::bad_possession_proof);
}

TEST_CASE("a request of the other kind than the ClientHello announced is unexpected_message") {
    Exchange x(server_config(), client_config(irp::Operation::enroll));
    REQUIRE(x.challenge.has_value());
    x.server.receive(client_frame(irp::RenewRequest{kDevice, Bytes(300, 0x30), Bytes(100, 0x30), Bytes(64, 1)}), 2000ms);
    drain(x.server, x.rec);
    check_no_request(x.rec);
    CHECK(x.server.state() == SState::failed);
    check_protocol_error_sent(x.server, Code::unexpected_message);
}

TEST_CASE("a server ProtocolError while the client builds its request is reported as the server's") {
    Exchange x(server_config(), client_config());
    REQUIRE(x.challenge.has_value());
    REQUIRE(x.client.state() == CState::ready);
    x.client.receive(server_frame(irp::ProtocolError{Code::deadline_exceeded, "challenge expired"}), 70000ms);
    drain(x.client, x.rec);
    CHECK(x.client.state() == CState::failed);
    const auto f = x.rec.client_events<irp::ClientFailed>();
    REQUIRE(f.size() == 1);
    CHECK(f[0].from_server);
    CHECK(f[0].error.code == Code::deadline_exceeded);
}

TEST_CASE("a CSR that is not DER is invalid_csr") {
    Exchange x(server_config(), client_config());
    REQUIRE(x.challenge.has_value());
    REQUIRE(x.client.send_enroll(irp::to_bytes("this is not a PKCS#10 request"), Bytes(32, 0xAB), 2000ms).ok());
    pump(x.client, x.server, 2000ms, x.rec);
    CHECK(rejected_code(x) == Code::invalid_csr);
}

TEST_CASE("device ids outside [A-Za-z0-9._-]{1,64} are invalid_device_id") {
    const std::vector<std::string> bad = {"dev/../x", "dev id", "\xC3\xBC", std::string(65, 'd'), ".hidden",
                                          "-dash", "", "dev\n1"};
    for (const auto& id : bad) {
        CAPTURE(id);
        auto ccfg = client_config();
        ccfg.device_id = id;
        Exchange x(server_config(), ccfg);
        REQUIRE(x.challenge.has_value());
        auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *x.rng);
        const Built b = build_enroll(*key, x.transcript(), "x", kClass, *x.rng);
        REQUIRE(x.client.send_enroll(b.csr, b.proof, 2000ms).ok());
        pump(x.client, x.server, 2000ms, x.rec);
        CHECK(rejected_code(x) == Code::invalid_device_id);
    }
    // The longest valid id, for contrast.
    auto ccfg = client_config();
    ccfg.device_id = std::string(64, 'd');
    Exchange x(server_config(), ccfg);
    auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *x.rng);
    const Built b = build_enroll(*key, x.transcript(), ccfg.device_id, kClass, *x.rng);
    REQUIRE(x.client.send_enroll(b.csr, b.proof, 2000ms).ok());
    pump(x.client, x.server, 2000ms, x.rec);
    CHECK(x.rec.server_events<irp::RequestReceived>().size() == 1);
}

TEST_CASE("an invalid class id is unknown_class") {
    auto ccfg = client_config();
    ccfg.class_id = "class/a";
    Exchange x(server_config(), ccfg);
    REQUIRE(x.challenge.has_value());
    auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *x.rng);
    const Built b = build_enroll(*key, x.transcript(), kDevice, ccfg.class_id, *x.rng);
    REQUIRE(x.client.send_enroll(b.csr, b.proof, 2000ms).ok());
    pump(x.client, x.server, 2000ms, x.rec);
    CHECK(rejected_code(x) == Code::unknown_class);
}

TEST_CASE("a key algorithm the domain does not allow is key_algorithm_not_allowed") {
    auto scfg = server_config();
    scfg.key_algorithms = {KeyAlgorithm::ed25519};
    Exchange x(scfg, client_config());
    REQUIRE(x.challenge.has_value());
    CHECK(x.challenge->hello.key_algorithms == std::vector<KeyAlgorithm>{KeyAlgorithm::ed25519});
    auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *x.rng);
    const Built b = build_enroll(*key, x.transcript(), kDevice, kClass, *x.rng);
    REQUIRE(x.client.send_enroll(b.csr, b.proof, 2000ms).ok());
    pump(x.client, x.server, 2000ms, x.rec);
    CHECK(rejected_code(x) == Code::key_algorithm_not_allowed);
}

TEST_CASE("a request after the challenge's lifetime is challenge_expired") {
    auto scfg = server_config();
    scfg.limits.challenge_ttl = 5000ms;
    scfg.limits.idle_timeout = 60'000ms;
    const Time start = 1000ms;  // the ServerHello goes out at `start`
    SUBCASE("just inside the lifetime: accepted") {
        Exchange x(scfg, client_config(), kBinding, start);
        REQUIRE(x.challenge.has_value());
        CHECK(x.challenge->hello.challenge_ttl_seconds == 5);
        auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *x.rng);
        const Built b = build_enroll(*key, x.transcript(), kDevice, kClass, *x.rng);
        REQUIRE(x.client.send_enroll(b.csr, b.proof, start + 4999ms).ok());
        pump(x.client, x.server, start + 4999ms, x.rec);
        CHECK(x.rec.server_events<irp::RequestReceived>().size() == 1);
    }
    SUBCASE("past it: refused") {
        Exchange x(scfg, client_config(), kBinding, start);
        REQUIRE(x.challenge.has_value());
        auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *x.rng);
        const Built b = build_enroll(*key, x.transcript(), kDevice, kClass, *x.rng);
        REQUIRE(x.client.send_enroll(b.csr, b.proof, start + 5001ms).ok());
        pump(x.client, x.server, start + 5001ms, x.rec);
        const Code c = rejected_code(x);
        CHECK(c == Code::challenge_expired);
        CHECK(irp::is_retryable(c));
    }
}

TEST_CASE("a request replayed on the same connection is refused") {
    Exchange x(server_config(), client_config());
    REQUIRE(x.challenge.has_value());
    auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *x.rng);
    const Built b = build_enroll(*key, x.transcript(), kDevice, kClass, *x.rng);
    REQUIRE(x.client.send_enroll(b.csr, b.proof, 2000ms).ok());
    const Bytes request_frame = x.client.take_output();
    x.server.receive(request_frame, 2000ms);
    drain(x.server, x.rec);
    REQUIRE(x.rec.server_events<irp::RequestReceived>().size() == 1);

    SUBCASE("while the application decides") {
        x.server.receive(request_frame, 2100ms);
    }
    SUBCASE("after the answer went out") {
        REQUIRE(x.server.answer(irp::Answer{"", irp::Issued{Bytes(10, 0x30), {}}}, 2050ms).ok());
        (void)server_messages(x.server.take_output());
        x.server.receive(request_frame, 2100ms);
    }
    SUBCASE("replayed twice") {
        x.server.receive(request_frame, 2100ms);
        x.server.receive(request_frame, 2100ms);  // ignored: the session is over
    }
    drain(x.server, x.rec);
    CHECK(x.rec.server_events<irp::RequestReceived>().size() == 1);  // still one
    CHECK(x.server.state() == SState::failed);
    const auto failed = x.rec.server_events<irp::SessionFailed>();
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].error.code == Code::unexpected_message);
    const auto msgs = server_messages(x.server.take_output());
    REQUIRE_FALSE(msgs.empty());
    const auto* pe = std::get_if<irp::ProtocolError>(&msgs.back());
    REQUIRE(pe != nullptr);
    CHECK(pe->code == Code::unexpected_message);
}

TEST_CASE("a request and its replay in one read: the session fails and no request is handed out") {
    Exchange x(server_config(), client_config());
    REQUIRE(x.challenge.has_value());
    auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *x.rng);
    const Built b = build_enroll(*key, x.transcript(), kDevice, kClass, *x.rng);
    REQUIRE(x.client.send_enroll(b.csr, b.proof, 2000ms).ok());
    Bytes twice = x.client.take_output();
    const Bytes once = twice;
    twice.insert(twice.end(), once.begin(), once.end());
    x.server.receive(twice, 2000ms);
    drain(x.server, x.rec);
    // The first request could no longer be answered on a failed session:
    // the application must not sign (or record) anything for it.
    CHECK(x.rec.server_events<irp::RequestReceived>().empty());
    CHECK(x.server.state() == SState::failed);
    check_protocol_error_sent(x.server, Code::unexpected_message);
}

// ---- deadlines and the application's calls --------------------------------------------

TEST_CASE("server deadlines") {
    auto scfg = server_config();
    scfg.limits.hello_timeout = 10'000ms;
    scfg.limits.idle_timeout = 30'000ms;
    scfg.limits.challenge_ttl = 20'000ms;
    scfg.limits.exchange_timeout = 120'000ms;
    auto rng = irp::crypto::deterministic_random(3);
    const Time start = 5000ms;

    SUBCASE("no ClientHello in time") {
        ServerSession s(scfg, *rng, kBinding, start);
        Recorder rec;
        REQUIRE(s.next_deadline().has_value());
        const Time deadline = *s.next_deadline();
        CHECK(deadline == start + scfg.limits.hello_timeout);
        s.on_deadline(deadline - 1ms);
        drain(s, rec);
        CHECK(s.state() == SState::await_hello);
        CHECK(rec.server.empty());
        CHECK(s.take_output().empty());
        s.on_deadline(deadline);
        drain(s, rec);
        CHECK(s.state() == SState::failed);
        const auto failed = rec.server_events<irp::SessionFailed>();
        REQUIRE(failed.size() == 1);
        CHECK(failed[0].error.code == Code::deadline_exceeded);
        check_protocol_error_sent(s, Code::deadline_exceeded);
        CHECK_FALSE(s.next_deadline().has_value());
    }
    SUBCASE("waiting for the request: the challenge lifetime bounds it") {
        ServerSession s(scfg, *rng, kBinding, start);
        s.receive(client_frame(irp::ClientHello{{1}, Bytes(32, 1), irp::Operation::enroll}), start + 1000ms);
        REQUIRE(s.state() == SState::await_request);
        (void)s.take_output();
        CHECK(s.next_deadline() == start + 1000ms + scfg.limits.challenge_ttl);
        s.on_deadline(start + 1000ms + scfg.limits.challenge_ttl - 1ms);
        CHECK(s.state() == SState::await_request);
        s.on_deadline(start + 1000ms + scfg.limits.challenge_ttl);
        CHECK(s.state() == SState::failed);
        check_protocol_error_sent(s, Code::deadline_exceeded);
    }
    SUBCASE("the application's decision is bounded by the whole exchange only") {
        Exchange x(scfg, client_config(), kBinding, start);
        REQUIRE(x.challenge.has_value());
        auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *x.rng);
        const Built b = build_enroll(*key, x.transcript(), kDevice, kClass, *x.rng);
        REQUIRE(x.client.send_enroll(b.csr, b.proof, start + 100ms).ok());
        pump(x.client, x.server, start + 100ms, x.rec);
        REQUIRE(x.server.state() == SState::await_decision);
        CHECK(x.server.next_deadline() == start + scfg.limits.exchange_timeout);
    }
}

TEST_CASE("client deadlines") {
    auto ccfg = client_config();
    ccfg.limits.hello_timeout = 7000ms;
    auto rng = irp::crypto::deterministic_random(4);
    const Time start = 100ms;
    ClientSession c(ccfg, *rng, kBinding, start);
    Recorder rec;
    REQUIRE(c.next_deadline().has_value());
    CHECK(*c.next_deadline() == start + 7000ms);
    c.on_deadline(start + 6999ms);
    drain(c, rec);
    CHECK(c.state() == CState::await_server_hello);
    CHECK(rec.client.empty());
    c.on_deadline(start + 7000ms);
    drain(c, rec);
    CHECK(c.state() == CState::failed);
    const auto failed = rec.client_events<irp::ClientFailed>();
    REQUIRE(failed.size() == 1);
    CHECK(failed[0].error.code == Code::deadline_exceeded);
    CHECK_FALSE(failed[0].from_server);
}

TEST_CASE("answer() outside await_decision is a usage error") {
    auto rng = irp::crypto::deterministic_random(5);
    ServerSession s(server_config(), *rng, kBinding, 0ms);
    const auto r = s.answer(irp::Answer{"", irp::Pending{1}}, 0ms);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::bad_argument);
    CHECK(r.error().category() == irp::Category::usage);
    CHECK(s.state() == SState::await_hello);
    CHECK(s.take_output().empty());  // nothing was sent

    // Nor twice for one request.
    Exchange x(server_config(), client_config());
    auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *x.rng);
    const Built b = build_enroll(*key, x.transcript(), kDevice, kClass, *x.rng);
    REQUIRE(x.client.send_enroll(b.csr, b.proof, 2000ms).ok());
    pump(x.client, x.server, 2000ms, x.rec);
    REQUIRE(x.server.answer(irp::Answer{"", irp::Pending{1}}, 2000ms).ok());
    CHECK(x.server.answer(irp::Answer{"", irp::Pending{1}}, 2000ms).error().code == Code::bad_argument);
}

TEST_CASE("client calls in the wrong state are usage errors") {
    auto rng = irp::crypto::deterministic_random(6);
    ClientSession c(client_config(), *rng, kBinding, 0ms);
    CHECK(c.send_enroll(Bytes(10, 0x30), Bytes(32, 1), 0ms).error().code == Code::bad_argument);
    CHECK(c.send_renew(Bytes(10, 0x30), Bytes(32, 1), 0ms).error().code == Code::bad_argument);
    CHECK(c.send_install_report(irp::InstallStatus::installed, {1}, 0ms).error().code == Code::bad_argument);
    CHECK(c.state() == CState::await_server_hello);
    // Only the ClientHello is in the output.
    const Bytes out = c.take_output();
    irp::FrameDecoder dec;
    ByteView in = out;
    REQUIRE(dec.feed(in) == irp::FrameDecoder::Status::frame);
    CHECK(in.empty());
    auto m = irp::decode_client_message(dec.payload());
    REQUIRE(m.ok());
    const auto& hello = std::get<irp::ClientHello>(m.value());
    CHECK(hello.versions == std::vector<std::uint32_t>{1});
    CHECK(hello.client_nonce.size() == 32);
    CHECK(hello.operation == irp::Operation::enroll);
}

// ---- the client refuses what the server should not send -------------------------------

namespace {
irp::ServerHello a_server_hello(std::uint32_t version) {
    irp::ServerHello h;
    h.version = version;
    h.server_nonce = Bytes(32, 0x22);
    h.domain = kDomain;
    h.key_algorithms = {KeyAlgorithm::ecdsa_p256};
    h.challenge_ttl_seconds = 60;
    h.max_frame_bytes = irp::kDefaultMaxFrame;
    return h;
}

irp::ClientFailed only_failure(const Recorder& rec) {
    const auto f = rec.client_events<irp::ClientFailed>();
    REQUIRE(f.size() == 1);
    CHECK(rec.client_events<irp::ChallengeReceived>().empty());
    return f[0];
}
}  // namespace

TEST_CASE("a ServerHello with a version the client did not offer is unsupported_version") {
    auto rng = irp::crypto::deterministic_random(7);
    ClientSession c(client_config(), *rng, kBinding, 0ms);
    Recorder rec;
    c.receive(server_frame(a_server_hello(2)), 10ms);
    drain(c, rec);
    CHECK(c.state() == CState::failed);
    const auto f = only_failure(rec);
    CHECK(f.error.code == Code::unsupported_version);
    CHECK_FALSE(f.from_server);
}

TEST_CASE("a server ProtocolError while waiting for the answer ends the exchange, from_server") {
    Exchange x(server_config(), client_config());
    REQUIRE(x.challenge.has_value());
    auto key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *x.rng);
    const Built b = build_enroll(*key, x.transcript(), kDevice, kClass, *x.rng);
    REQUIRE(x.client.send_enroll(b.csr, b.proof, 2000ms).ok());
    (void)x.client.take_output();  // never reaches the server
    REQUIRE(x.client.state() == CState::await_answer);
    x.client.receive(server_frame(irp::ProtocolError{Code::deadline_exceeded, "too slow"}), 2100ms);
    drain(x.client, x.rec);
    CHECK(x.client.state() == CState::failed);
    const auto f = x.rec.client_events<irp::ClientFailed>();
    REQUIRE(f.size() == 1);
    CHECK(f[0].from_server);
    CHECK(f[0].error.code == Code::deadline_exceeded);
    CHECK(f[0].error.message == "too slow");
    CHECK(x.rec.client_events<irp::AnswerReceived>().empty());
}

TEST_CASE("an InstallAck while waiting for the ServerHello is unexpected_message") {
    auto rng = irp::crypto::deterministic_random(9);
    ClientSession c(client_config(), *rng, kBinding, 0ms);
    Recorder rec;
    c.receive(server_frame(irp::InstallAck{true}), 10ms);
    drain(c, rec);
    CHECK(c.state() == CState::failed);
    const auto f = only_failure(rec);
    CHECK(f.error.code == Code::unexpected_message);
    CHECK_FALSE(f.from_server);
    CHECK(rec.client_events<irp::InstallAcknowledged>().empty());
}

TEST_CASE("an Answer while waiting for the ServerHello is unexpected_message") {
    auto rng = irp::crypto::deterministic_random(9);
    ClientSession c(client_config(), *rng, kBinding, 0ms);
    Recorder rec;
    c.receive(server_frame(irp::Answer{"r", irp::Issued{Bytes(10, 0x30), {}}}), 10ms);
    drain(c, rec);
    CHECK(c.state() == CState::failed);
    CHECK(only_failure(rec).error.code == Code::unexpected_message);
    CHECK(rec.client_events<irp::AnswerReceived>().empty());
}

TEST_CASE("a garbage frame is malformed_message on the client") {
    auto rng = irp::crypto::deterministic_random(10);
    ClientSession c(client_config(), *rng, kBinding, 0ms);
    Recorder rec;
    c.receive(irp::test::read_corpus("frames", "garbage_payload.bin"), 10ms);
    drain(c, rec);
    CHECK(c.state() == CState::failed);
    const auto f = only_failure(rec);
    CHECK(f.error.code == Code::malformed_message);
    CHECK_FALSE(f.from_server);
}

TEST_CASE("framing errors end either session") {
    SUBCASE("client: a zero-length frame") {
        auto rng = irp::crypto::deterministic_random(11);
        ClientSession c(client_config(), *rng, kBinding, 0ms);
        Recorder rec;
        c.receive(irp::test::read_corpus("frames", "zero_length.bin"), 10ms);
        drain(c, rec);
        CHECK(c.state() == CState::failed);
        CHECK(only_failure(rec).error.code == Code::frame_empty);
    }
    SUBCASE("server: an oversize header") {
        auto rng = irp::crypto::deterministic_random(11);
        ServerSession s(server_config(), *rng, kBinding, 0ms);
        Recorder rec;
        s.receive(irp::test::read_corpus("frames", "oversize_header.bin"), 10ms);
        drain(s, rec);
        CHECK(s.state() == SState::failed);
        check_protocol_error_sent(s, Code::frame_too_large);
    }
    SUBCASE("server: a frame over its configured maximum") {
        auto scfg = server_config();
        scfg.limits.max_frame_bytes = 100;
        auto rng = irp::crypto::deterministic_random(11);
        ServerSession s(scfg, *rng, kBinding, 0ms);
        Recorder rec;
        s.receive(client_frame(irp::EnrollRequest{kDevice, kClass, Bytes(200, 0x30), Bytes(32, 1)}), 10ms);
        drain(s, rec);
        CHECK(s.state() == SState::failed);
        check_protocol_error_sent(s, Code::frame_too_large);
    }
}

TEST_CASE("client corpus: every bad message ends a fresh server session with its code") {
    struct Row {
        const char* file;
        Code code;
    };
    // The subset of tests/corpus/client/ that decode_client_message refuses
    // (codec_test.cpp checks the whole folder); the session must pass the
    // codec's verdict on unchanged, in a ProtocolError frame.
    constexpr Row kRows[] = {
        {"bad_enum.bin", Code::field_invalid},
        {"enroll_bad_utf8_device_id.bin", Code::malformed_message},
        {"enroll_csr_8193.bin", Code::field_invalid},
        {"enroll_device_id_257.bin", Code::field_invalid},
        {"garbage.bin", Code::malformed_message},
        {"hello_nonce_31.bin", Code::field_invalid},
        {"hello_nonce_33.bin", Code::field_invalid},
        {"install_unknown_status.bin", Code::field_invalid},
        {"truncated_enroll.bin", Code::malformed_message},
        {"unknown_oneof.bin", Code::unknown_message},
    };
    for (const auto& row : kRows) {
        const std::string file = row.file;
        CAPTURE(file);
        auto rng = irp::crypto::deterministic_random(12);
        ServerSession s(server_config(), *rng, kBinding, 0ms);
        Recorder rec;
        s.receive(irp::encode_frame(irp::test::read_corpus("client", row.file)), 1ms);
        drain(s, rec);
        CHECK(s.state() == SState::failed);
        const auto failed = rec.server_events<irp::SessionFailed>();
        REQUIRE(failed.size() == 1);
        CHECK(failed[0].error.code == row.code);
        check_protocol_error_sent(s, row.code);
    }
}
