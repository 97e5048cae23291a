#include "irp/core/client_session.hpp"

#include <algorithm>

#include "irp/core/transcript.hpp"

namespace irp {

struct ClientSession::Row {
    State state;
    std::size_t message;  // index in the ServerMessage variant
    void (ClientSession::*handler)(ServerMessage&&, Time);
};

template <typename T>
constexpr std::size_t server_index() {
    return variant_index<T, ServerMessage>();
}

// Default deny: a server message in a state not listed here ends the
// exchange with unexpected_message.
const ClientSession::Row ClientSession::kTransitions[] = {
    {State::await_server_hello, server_index<ServerHello>(), &ClientSession::on_server_hello},
    {State::await_answer, server_index<Answer>(), &ClientSession::on_answer},
    {State::await_install_ack, server_index<InstallAck>(), &ClientSession::on_install_ack},
    {State::await_server_hello, server_index<ProtocolError>(), &ClientSession::on_error},
    {State::await_answer, server_index<ProtocolError>(), &ClientSession::on_error},
    {State::await_install_ack, server_index<ProtocolError>(), &ClientSession::on_error},
    // The server's deadline can pass while we build the request or install:
    // its ProtocolError then says why, so it is accepted here too.
    {State::ready, server_index<ProtocolError>(), &ClientSession::on_error},
    {State::answered, server_index<ProtocolError>(), &ClientSession::on_error},
};

const char* client_state_name(ClientSession::State s) {
    switch (s) {
        case ClientSession::State::await_server_hello: return "await_server_hello";
        case ClientSession::State::ready: return "ready";
        case ClientSession::State::await_answer: return "await_answer";
        case ClientSession::State::answered: return "answered";
        case ClientSession::State::await_install_ack: return "await_install_ack";
        case ClientSession::State::done: return "done";
        case ClientSession::State::failed: return "failed";
    }
    return "unknown";
}

ClientSession::ClientSession(ClientSessionConfig cfg, crypto::Random& rng, Bytes channel_binding, Time now)
    : cfg_(std::move(cfg)),
      binding_(std::move(channel_binding)),
      decoder_(cfg_.limits.max_frame_bytes),
      started_(now),
      last_activity_(now),
      client_nonce_(rng.bytes(bounds::kNonce)) {
    send(ClientHello{{kProtocolVersion}, client_nonce_, cfg_.operation});
}

void ClientSession::receive(ByteView data, Time now) {
    while (!finished()) {
        const auto status = decoder_.feed(data);
        if (status == FrameDecoder::Status::need_more) return;
        if (status == FrameDecoder::Status::error) return fail(decoder_.error(), false);
        last_activity_ = now;
        auto msg = decode_server_message(decoder_.payload());
        if (!msg) return fail(msg.error(), false);
        dispatch(std::move(msg.value()), now);
    }
}

void ClientSession::dispatch(ServerMessage&& m, Time now) {
    for (const auto& row : kTransitions) {
        if (row.state == state_ && row.message == m.index()) return (this->*row.handler)(std::move(m), now);
    }
    fail(make_error(Code::unexpected_message,
                    std::string("server message not allowed in state ") + client_state_name(state_)),
         false);
}

void ClientSession::on_server_hello(ServerMessage&& msg, Time /*now*/) {
    auto& hello = std::get<ServerHello>(msg);
    if (hello.version != kProtocolVersion)
        return fail(make_error(Code::unsupported_version, "the server chose a protocol version we did not offer"),
                    false);
    TranscriptInput t;
    t.operation = cfg_.operation;
    t.client_nonce = client_nonce_;
    t.server_nonce = hello.server_nonce;
    t.channel_binding = binding_;
    t.domain = hello.domain;
    t.device_id = cfg_.device_id;
    t.class_id = cfg_.operation == Operation::enroll ? std::string_view(cfg_.class_id) : std::string_view();
    if (cfg_.operation != Operation::enroll) t.current_certificate = cfg_.current_certificate;
    const auto digest = transcript_hash(t);
    events_.emplace_back(ChallengeReceived{std::move(hello), digest});
    state_ = State::ready;
}

void ClientSession::on_answer(ServerMessage&& msg, Time /*now*/) {
    events_.emplace_back(AnswerReceived{std::move(std::get<Answer>(msg))});
    state_ = State::answered;
}

void ClientSession::on_install_ack(ServerMessage&& msg, Time /*now*/) {
    events_.emplace_back(InstallAcknowledged{std::get<InstallAck>(msg).recorded});
    state_ = State::done;
}

void ClientSession::on_error(ServerMessage&& msg, Time /*now*/) {
    auto& e = std::get<ProtocolError>(msg);
    events_.emplace_back(ClientFailed{make_error(e.code, std::move(e.message)), true});
    state_ = State::failed;
}

Result<void> ClientSession::expect(State s, const char* what) const {
    if (state_ == s) return {};
    return make_error(Code::bad_argument, std::string(what) + " is not allowed in state " + client_state_name(state_));
}

Result<void> ClientSession::send_enroll(Bytes csr_der, Bytes token_proof, Time now) {
    EnrollProof p;
    p.token_proof = std::move(token_proof);
    return send_enroll(std::move(csr_der), std::move(p), now);
}

Result<void> ClientSession::send_enroll(Bytes csr_der, EnrollProof proof, Time now) {
    if (auto r = expect(State::ready, "send_enroll"); !r) return r;
    if (cfg_.operation != Operation::enroll) return make_error(Code::bad_argument, "session was not opened for enrollment");
    EnrollRequest m;
    m.device_id = cfg_.device_id;
    m.class_id = cfg_.class_id;
    m.csr = std::move(csr_der);
    m.token_proof = std::move(proof.token_proof);
    m.request_id = cfg_.held_request_id;
    m.bootstrap_key = std::move(proof.bootstrap_key);
    m.bootstrap_chain = std::move(proof.bootstrap_chain);
    m.bootstrap_signature = std::move(proof.bootstrap_signature);
    m.model = cfg_.model;
    send(m);
    last_activity_ = now;
    state_ = State::await_answer;
    return {};
}

Result<void> ClientSession::send_check_in(Bytes signature, Time now) {
    return check_in(std::move(signature), 0, 0, now);
}

Result<void> ClientSession::send_check_in(Bytes signature, std::uint64_t have_crl_number, Time now) {
    // What our own frame decoder can take back around the CRL.
    const std::size_t frame = cfg_.limits.max_frame_bytes;
    const std::size_t room = frame > bounds::kCheckedInOverhead ? frame - bounds::kCheckedInOverhead : 0;
    return check_in(std::move(signature), have_crl_number,
                    static_cast<std::uint32_t>(std::min(room, bounds::kMaxCrl)), now);
}

Result<void> ClientSession::check_in(Bytes signature, std::uint64_t have_crl_number, std::uint32_t max_crl_bytes,
                                     Time now) {
    if (auto r = expect(State::ready, "send_check_in"); !r) return r;
    if (cfg_.operation != Operation::check_in) return make_error(Code::bad_argument, "session was not opened for a check-in");
    send(CheckIn{cfg_.device_id, cfg_.current_certificate, std::move(signature), have_crl_number, max_crl_bytes});
    last_activity_ = now;
    state_ = State::await_answer;
    return {};
}

Result<void> ClientSession::send_renew(Bytes csr_der, Bytes signature, Time now) {
    if (auto r = expect(State::ready, "send_renew"); !r) return r;
    if (cfg_.operation != Operation::renew) return make_error(Code::bad_argument, "session was not opened for renewal");
    send(RenewRequest{cfg_.device_id, cfg_.current_certificate, std::move(csr_der), std::move(signature)});
    last_activity_ = now;
    state_ = State::await_answer;
    return {};
}

Result<void> ClientSession::send_install_report(InstallStatus status, Bytes serial, Time now) {
    if (auto r = expect(State::answered, "send_install_report"); !r) return r;
    send(InstallReport{static_cast<std::uint32_t>(status), std::move(serial)});
    last_activity_ = now;
    state_ = State::await_install_ack;
    return {};
}

void ClientSession::finish() {
    if (!finished()) state_ = State::done;
}

void ClientSession::fail(Error e, bool from_server) {
    if (finished()) return;
    events_.emplace_back(ClientFailed{std::move(e), from_server});
    state_ = State::failed;
}

void ClientSession::send(const ClientMessage& m) {
    const Bytes frame = encode_frame(encode(m));
    output_.insert(output_.end(), frame.begin(), frame.end());
}

Bytes ClientSession::take_output() { return std::exchange(output_, {}); }

std::optional<ClientEvent> ClientSession::poll_event() {
    if (events_.empty()) return std::nullopt;
    ClientEvent e = std::move(events_.front());
    events_.pop_front();
    return e;
}

std::optional<Time> ClientSession::next_deadline() const {
    const Time whole = started_ + cfg_.limits.exchange_timeout;
    switch (state_) {
        case State::await_server_hello:
            return std::min(whole, started_ + cfg_.limits.hello_timeout);
        case State::await_answer:  // the server may be signing and committing
            return whole;
        case State::await_install_ack:
            return std::min(whole, last_activity_ + cfg_.limits.idle_timeout);
        case State::ready:
        case State::answered:  // our own work
            return whole;
        case State::done:
        case State::failed:
            return std::nullopt;
    }
    return std::nullopt;
}

void ClientSession::on_deadline(Time now) {
    const auto deadline = next_deadline();
    if (!deadline || now < *deadline) return;
    fail(make_error(Code::deadline_exceeded, std::string("the server did not answer in time (state ") +
                                                 client_state_name(state_) + ")"),
         false);
}

}  // namespace irp
