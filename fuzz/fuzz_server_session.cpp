// Fuzz target: the server state machine, after a valid ClientHello.
//
// Input layout: fuzz/fuzz_common.hpp ("the input layout of the session
// targets"); a flag picks the operation the hello announces. The stream is
// what a device sends after its hello. Because the server's random source is
// seeded the same way for every input, a seed can carry a CSR bound to the
// transcript (fuzz/make_corpus.cpp builds them), so the fuzzer starts from
// requests that reach RequestReceived, the answer and the install report.
//
// Invariants: the state never returns to await_hello and never leaves a
// terminal state; once finished, receive() yields no event and no byte;
// answer() and acknowledge_install() work exactly in their state, and once;
// a RequestReceived is only ever seen in await_decision (a failed session
// drops it) and is for the announced operation; every event fits the state
// it leaves behind; the exchange is over by the whole-exchange deadline; and
// everything the server wrote is a sequence of valid ServerMessage frames in
// protocol order (hello, then at most one answer, then at most an install
// ack; a ProtocolError only last, and exactly when the session failed).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <string>
#include <variant>

#include "fuzz_common.hpp"
#include "irp/core/server_session.hpp"
#include "irp/core/transcript.hpp"

namespace {

using namespace irp;
using State = ServerSession::State;

struct Harness {
    Harness(ServerSession& s, const fuzz::SessionInput& i) : session(s), in(i) {}

    ServerSession& session;
    const fuzz::SessionInput& in;
    Bytes output;
    State last_state = State::await_hello;
    int requests = 0;
    int reports = 0;
    int failures = 0;
    bool issued = false;
    bool acknowledged = false;
    bool event_after_failure = false;

    Operation operation() const { return in.renew ? Operation::renew : Operation::enroll; }

    void check_state() {
        const State s = session.state();
        IRP_FUZZ_CHECK(s != State::await_hello);
        // Forward only, in the order of the enum; failed from anywhere.
        if (last_state == State::done || last_state == State::failed) IRP_FUZZ_CHECK(s == last_state);
        IRP_FUZZ_CHECK(static_cast<int>(s) >= static_cast<int>(last_state) || s == State::failed);
        IRP_FUZZ_CHECK(session.finished() == !session.next_deadline().has_value());
        last_state = s;
    }

    void collect() {
        const Bytes out = session.take_output();
        output.insert(output.end(), out.begin(), out.end());
    }

    void on_request(const RequestReceived& ev, Time now) {
        ++requests;
        IRP_FUZZ_CHECK(requests == 1);
        // Frames after the request in the same receive() fail the session,
        // and a failed session drops the request: it is never seen then.
        IRP_FUZZ_CHECK(session.state() == State::await_decision);
        IRP_FUZZ_CHECK(ev.operation == operation());
        IRP_FUZZ_CHECK(!ev.request_id.empty());
        IRP_FUZZ_CHECK(is_valid_identifier(ev.device_id));
        IRP_FUZZ_CHECK(ev.operation == Operation::renew ? !ev.current_certificate.empty()
                                                        : is_valid_identifier(ev.class_id));
        IRP_FUZZ_CHECK(ev.csr.challenge == csr_challenge(ev.transcript));
        IRP_FUZZ_CHECK(ev.csr.algorithm == KeyAlgorithm::ecdsa_p256 || ev.csr.algorithm == KeyAlgorithm::ed25519);

        Answer a;
        if (in.accept)
            a.result = Issued{fuzz::fixed_certificate(), {fuzz::fixed_certificate()}};
        else
            a.result = Rejected{Code::identity_mismatch, "the fuzzer says no"};
        IRP_FUZZ_CHECK(session.answer(a, now).ok());
        issued = in.accept;
        IRP_FUZZ_CHECK(session.state() == (in.accept ? State::await_install_report : State::done));
        const auto again = session.answer(a, now);
        IRP_FUZZ_CHECK(!again.ok() && again.error().code == Code::bad_argument);
    }

    void on_install_report(const InstallReported& ev, Time now) {
        ++reports;
        IRP_FUZZ_CHECK(reports == 1);
        IRP_FUZZ_CHECK(issued);
        IRP_FUZZ_CHECK(is_known_install_status(ev.status));
        // A frame after the report in the same receive() fails the session.
        const bool recording = session.state() == State::await_install_record;
        IRP_FUZZ_CHECK(recording || session.state() == State::failed);
        IRP_FUZZ_CHECK(session.acknowledge_install(in.recorded, now).ok() == recording);
        if (recording) {
            acknowledged = true;
            IRP_FUZZ_CHECK(session.state() == State::done);
            IRP_FUZZ_CHECK(!session.acknowledge_install(in.recorded, now).ok());
        }
    }

    void drain(Time now) {
        check_state();
        // answer() and acknowledge_install() only in their own state.
        if (session.state() != State::await_decision) IRP_FUZZ_CHECK(!session.answer(Answer{}, now).ok());
        if (session.state() != State::await_install_record)
            IRP_FUZZ_CHECK(!session.acknowledge_install(true, now).ok());
        while (auto ev = session.poll_event()) {
            if (failures > 0) event_after_failure = true;
            if (const auto* req = std::get_if<RequestReceived>(&*ev)) {
                on_request(*req, now);
            } else if (const auto* rej = std::get_if<RequestRejected>(&*ev)) {
                IRP_FUZZ_CHECK(session.state() == State::done);
                IRP_FUZZ_CHECK(rej->error.code != Code::ok);
            } else if (const auto* rep = std::get_if<InstallReported>(&*ev)) {
                on_install_report(*rep, now);
            } else {
                ++failures;
                IRP_FUZZ_CHECK(session.state() == State::failed);
                IRP_FUZZ_CHECK(std::get<SessionFailed>(*ev).error.code != Code::ok);
            }
            check_state();
        }
        IRP_FUZZ_CHECK(!event_after_failure);
        collect();
    }

    void receive(ByteView chunk, Time now) {
        const bool was_finished = session.finished();
        session.receive(chunk, now);
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

    // Everything written, in protocol order.
    void check_output() {
        const auto messages = fuzz::decode_all(output, &decode_server_message);
        IRP_FUZZ_CHECK(!messages.empty());
        const auto* hello = std::get_if<ServerHello>(&messages.front());
        IRP_FUZZ_CHECK(hello != nullptr);
        IRP_FUZZ_CHECK(hello->domain == fuzz::kDomain);
        int answers = 0;
        int acks = 0;
        bool answer_issued = false;
        for (std::size_t i = 1; i < messages.size(); ++i) {
            const auto& m = messages[i];
            const bool last = i + 1 == messages.size();
            if (const auto* a = std::get_if<Answer>(&m)) {
                ++answers;
                IRP_FUZZ_CHECK(answers == 1);
                answer_issued = std::holds_alternative<Issued>(a->result);
                IRP_FUZZ_CHECK(!a->request_id.empty());
            } else if (const auto* ack = std::get_if<InstallAck>(&m)) {
                ++acks;
                IRP_FUZZ_CHECK(answer_issued && last);
                IRP_FUZZ_CHECK(ack->recorded == in.recorded);
            } else if (std::holds_alternative<ProtocolError>(m)) {
                IRP_FUZZ_CHECK(last);
            } else {
                fuzz::violation(__FILE__, __LINE__, "a second ServerHello");
            }
        }
        IRP_FUZZ_CHECK(acks == (acknowledged ? 1 : 0));
        const bool ends_in_error = std::holds_alternative<ProtocolError>(messages.back());
        IRP_FUZZ_CHECK(ends_in_error == (session.state() == State::failed));
        IRP_FUZZ_CHECK(failures == (ends_in_error ? 1 : 0));
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    fuzz::quiet_decoder();
    const auto in = fuzz::parse_session_input(data, size);
    auto rng = crypto::deterministic_random(fuzz::kRandomSeed);
    const auto config = fuzz::server_config();
    ServerSession session(config, *rng, fuzz::channel_binding(), Time{0});
    Harness h(session, in);

    session.receive(encode_frame(encode(ClientMessage{fuzz::valid_client_hello(h.operation())})), Time{0});
    IRP_FUZZ_CHECK(session.state() == State::await_request);
    IRP_FUZZ_CHECK(!session.poll_event().has_value());
    h.drain(Time{0});

    Time now{0};
    for (const ByteView call : in.calls) {
        now += in.step;
        h.receive(call, now);
        if (in.deadlines) h.deadline(now);
    }
    h.deadline(now);
    // Whatever the state, the exchange ends by the whole-exchange bound.
    const Time end = std::max(now, Time{0} + config.limits.exchange_timeout);
    h.deadline(end);
    IRP_FUZZ_CHECK(session.finished());
    // Bytes after the end are ignored.
    h.receive(in.stream, end + Time{1});
    h.check_output();
    return 0;
}
