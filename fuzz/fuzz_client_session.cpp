// Fuzz target: the device state machine.
//
// Input layout: fuzz/fuzz_common.hpp ("the input layout of the session
// targets"). The stream is what the server sends. The harness plays a
// well-behaved device: on ChallengeReceived it sends an enroll (fixed CSR
// bytes and proof), on an Issued answer an install report, on any other
// answer it calls finish().
//
// Invariants: the state never returns to await_server_hello and never
// leaves a terminal state; once finished, receive() yields no event and no
// byte; the send_* calls work exactly in their state; the transcript in
// ChallengeReceived is the one computed from what was on the wire; the
// exchange is over by the whole-exchange deadline; and everything the device
// wrote is a sequence of valid ClientMessage frames: the hello, then the
// enroll if one was sent, then the install report if one was sent.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <variant>

#include "fuzz_common.hpp"
#include "irp/core/client_session.hpp"
#include "irp/core/transcript.hpp"

namespace {

using namespace irp;
using State = ClientSession::State;

struct Harness {
    Harness(ClientSession& s, const fuzz::SessionInput& i) : session(s), in(i) {}

    ClientSession& session;
    const fuzz::SessionInput& in;
    Bytes client_nonce;
    Bytes output;
    State last_state = State::await_server_hello;
    int challenges = 0;
    int answers = 0;
    int failures = 0;
    bool enrolled = false;
    bool reported = false;
    bool event_after_failure = false;

    void check_state() {
        const State s = session.state();
        if (last_state == State::done || last_state == State::failed) IRP_FUZZ_CHECK(s == last_state);
        // Forward only, in the order of the enum; failed from anywhere.
        IRP_FUZZ_CHECK(static_cast<int>(s) >= static_cast<int>(last_state) || s == State::failed);
        IRP_FUZZ_CHECK(session.finished() == !session.next_deadline().has_value());
        last_state = s;
    }

    void collect() {
        const Bytes out = session.take_output();
        output.insert(output.end(), out.begin(), out.end());
    }

    void on_challenge(const ChallengeReceived& ev, Time now) {
        ++challenges;
        IRP_FUZZ_CHECK(challenges == 1);
        IRP_FUZZ_CHECK(ev.hello.version == kProtocolVersion);
        IRP_FUZZ_CHECK(ev.hello.server_nonce.size() == bounds::kNonce);
        IRP_FUZZ_CHECK(!ev.hello.domain.empty() && ev.hello.domain.size() <= bounds::kMaxDomain);
        TranscriptInput t;
        t.operation = Operation::enroll;
        t.client_nonce = client_nonce;
        t.server_nonce = ev.hello.server_nonce;
        const Bytes binding = fuzz::channel_binding();
        t.channel_binding = binding;
        t.domain = ev.hello.domain;
        t.device_id = fuzz::kDeviceId;
        t.class_id = fuzz::kClassId;
        IRP_FUZZ_CHECK(transcript_hash(t) == ev.transcript);

        // More frames in the same receive() call may have failed the session.
        const bool ready = session.state() == State::ready;
        const auto renew = session.send_renew(fuzz::fixed_csr(), Bytes{0x01}, now);
        IRP_FUZZ_CHECK(!renew.ok() && renew.error().code == Code::bad_argument);
        IRP_FUZZ_CHECK(session.state() == last_state);
        const auto r = session.send_enroll(fuzz::fixed_csr(), fuzz::fixed_token_proof(), now);
        IRP_FUZZ_CHECK(r.ok() == ready);
        if (r.ok()) {
            enrolled = true;
            IRP_FUZZ_CHECK(session.state() == State::await_answer);
        }
    }

    void on_answer(const AnswerReceived& ev, Time now) {
        ++answers;
        IRP_FUZZ_CHECK(answers == 1);
        IRP_FUZZ_CHECK(enrolled);
        const bool answered = session.state() == State::answered;
        if (std::holds_alternative<Issued>(ev.answer.result)) {
            const auto status = in.accept ? InstallStatus::installed : InstallStatus::untrusted_chain;
            const auto r = session.send_install_report(status, fuzz::fixed_serial(), now);
            IRP_FUZZ_CHECK(r.ok() == answered);
            if (r.ok()) {
                reported = true;
                IRP_FUZZ_CHECK(session.state() == State::await_install_ack);
            }
        } else {
            session.finish();
            IRP_FUZZ_CHECK(session.finished());
        }
    }

    void drain(Time now) {
        check_state();
        while (auto ev = session.poll_event()) {
            if (failures > 0) event_after_failure = true;
            if (const auto* ch = std::get_if<ChallengeReceived>(&*ev)) {
                on_challenge(*ch, now);
            } else if (const auto* an = std::get_if<AnswerReceived>(&*ev)) {
                on_answer(*an, now);
            } else if (std::holds_alternative<InstallAcknowledged>(*ev)) {
                IRP_FUZZ_CHECK(reported);
                IRP_FUZZ_CHECK(session.state() == State::done);
            } else {
                ++failures;
                IRP_FUZZ_CHECK(session.state() == State::failed);
            }
            check_state();
        }
        IRP_FUZZ_CHECK(!event_after_failure);
        collect();
    }

    void receive(ByteView call, Time now) {
        const bool was_finished = session.finished();
        session.receive(call, now);
        if (was_finished) {
            IRP_FUZZ_CHECK(!session.poll_event().has_value());
            IRP_FUZZ_CHECK(session.take_output().empty());
        }
        drain(now);
    }

    void deadline(Time now) {
        session.on_deadline(now);
        drain(now);
    }

    void check_output() {
        const auto messages = fuzz::decode_all(output, &decode_client_message);
        const std::size_t expected = 1 + (enrolled ? 1 : 0) + (reported ? 1 : 0);
        IRP_FUZZ_CHECK(messages.size() == expected);
        const auto* hello = std::get_if<ClientHello>(&messages[0]);
        IRP_FUZZ_CHECK(hello != nullptr);
        IRP_FUZZ_CHECK(hello->client_nonce == client_nonce);
        IRP_FUZZ_CHECK(hello->operation == Operation::enroll);
        if (enrolled) {
            const auto* e = std::get_if<EnrollRequest>(&messages[1]);
            IRP_FUZZ_CHECK(e != nullptr);
            IRP_FUZZ_CHECK(e->device_id == fuzz::kDeviceId && e->class_id == fuzz::kClassId);
            IRP_FUZZ_CHECK(e->csr == fuzz::fixed_csr() && e->token_proof == fuzz::fixed_token_proof());
        }
        if (reported) {
            const auto* r = std::get_if<InstallReport>(&messages[2]);
            IRP_FUZZ_CHECK(r != nullptr);
            IRP_FUZZ_CHECK(r->certificate_serial == fuzz::fixed_serial());
        }
        IRP_FUZZ_CHECK(failures == (session.state() == State::failed ? 1 : 0));
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::quiet_decoder();
    const auto in = fuzz::parse_session_input(data, size);
    auto rng = crypto::deterministic_random(fuzz::kRandomSeed);
    const auto config = fuzz::client_config();
    ClientSession session(config, *rng, fuzz::channel_binding(), Time{0});
    Harness h(session, in);

    // The constructor queued exactly one ClientHello.
    h.collect();
    {
        const auto hello = fuzz::decode_all(h.output, &decode_client_message);
        IRP_FUZZ_CHECK(hello.size() == 1 && std::holds_alternative<ClientHello>(hello[0]));
        h.client_nonce = std::get<ClientHello>(hello[0]).client_nonce;
    }
    IRP_FUZZ_CHECK(session.state() == State::await_server_hello);

    Time now{0};
    for (const ByteView call : in.calls) {
        now += in.step;
        h.receive(call, now);
        if (in.deadlines) h.deadline(now);
    }
    h.deadline(now);
    const Time end = std::max(now, Time{0} + config.limits.exchange_timeout);
    h.deadline(end);
    IRP_FUZZ_CHECK(session.finished());
    h.receive(in.stream, end + Time{1});
    h.check_output();
    return 0;
}
