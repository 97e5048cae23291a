#include "irp/core/server_session.hpp"

#include <algorithm>

#include "irp/core/transcript.hpp"

namespace irp {

// Which message is acceptable in which state. Anything not listed here is a
// protocol error (default deny): no message type can skip a check another
// type has, because the checks live in the one handler each row names.
struct ServerSession::Row {
    State state;
    std::size_t message;  // index in the ClientMessage variant
    void (ServerSession::*handler)(ClientMessage&&, Time);
};

template <typename T>
constexpr std::size_t client_index() {
    return variant_index<T, ClientMessage>();
}

const ServerSession::Row ServerSession::kTransitions[] = {
    {State::await_hello, client_index<ClientHello>(), &ServerSession::on_hello},
    {State::await_request, client_index<EnrollRequest>(), &ServerSession::on_enroll},
    {State::await_request, client_index<RenewRequest>(), &ServerSession::on_renew},
    {State::await_request, client_index<CheckIn>(), &ServerSession::on_check_in},
    {State::await_install_report, client_index<InstallReport>(), &ServerSession::on_install_report},
};

namespace {
// Text on the wire must fit bounds::kMaxText and be UTF-8, or the device's
// decoder refuses the whole frame. Our messages can quote the peer's input
// through the crypto library (a CSR with a long unknown OID yields a message
// of any length), so they go out clipped, as printable ASCII. The event
// keeps the full text for the log.
std::string wire_text(std::string_view s) {
    std::string out;
    for (const char c : s) {
        if (out.size() == bounds::kMaxText) break;
        out.push_back(c >= 0x20 && c < 0x7f ? c : '?');
    }
    return out;
}
}  // namespace

const char* server_state_name(ServerSession::State s) {
    switch (s) {
        case ServerSession::State::await_hello: return "await_hello";
        case ServerSession::State::await_request: return "await_request";
        case ServerSession::State::await_decision: return "await_decision";
        case ServerSession::State::await_install_report: return "await_install_report";
        case ServerSession::State::await_install_record: return "await_install_record";
        case ServerSession::State::done: return "done";
        case ServerSession::State::failed: return "failed";
    }
    return "unknown";
}

ServerSession::ServerSession(ServerSessionConfig cfg, crypto::Random& rng, Bytes channel_binding, Time now)
    : cfg_(std::move(cfg)),
      rng_(rng),
      binding_(std::move(channel_binding)),
      decoder_(cfg_.limits.max_frame_bytes),
      started_(now),
      last_activity_(now) {}

void ServerSession::receive(ByteView data, Time now) {
    while (!finished()) {
        const auto status = decoder_.feed(data);
        if (status == FrameDecoder::Status::need_more) return;
        if (status == FrameDecoder::Status::error) return fail(decoder_.error());
        last_activity_ = now;
        auto msg = decode_client_message(decoder_.payload());
        if (!msg) return fail(msg.error());
        dispatch(std::move(msg.value()), now);
    }
    // Bytes after the end of the exchange are ignored; the adapter closes.
}

void ServerSession::dispatch(ClientMessage&& m, Time now) {
    for (const auto& row : kTransitions) {
        if (row.state == state_ && row.message == m.index()) return (this->*row.handler)(std::move(m), now);
    }
    fail(make_error(Code::unexpected_message, std::string("message not allowed in state ") +
                                                  server_state_name(state_)));
}

void ServerSession::on_hello(ClientMessage&& msg, Time now) {
    auto& m = std::get<ClientHello>(msg);
    if (std::find(m.versions.begin(), m.versions.end(), kProtocolVersion) == m.versions.end())
        return fail(make_error(Code::unsupported_version, "this server speaks IRP version 1 only"));
    operation_ = m.operation;
    client_nonce_ = std::move(m.client_nonce);
    server_nonce_ = rng_.bytes(bounds::kNonce);
    challenge_sent_ = now;
    request_id_ = to_hex(rng_.bytes(8));
    ServerHello hello;
    hello.version = kProtocolVersion;
    hello.server_nonce = server_nonce_;
    hello.domain = cfg_.domain;
    hello.ca_chain = cfg_.ca_chain;
    hello.key_algorithms = cfg_.key_algorithms;
    hello.challenge_ttl_seconds = static_cast<std::uint32_t>(cfg_.limits.challenge_ttl.count() / 1000);
    hello.max_frame_bytes = cfg_.limits.max_frame_bytes;
    send(hello);
    state_ = State::await_request;
}

crypto::Digest ServerSession::transcript_for(Operation op, const std::string& device_id, const std::string& class_id,
                                             const Bytes& current_cert) const {
    TranscriptInput t;
    t.operation = op;
    t.client_nonce = client_nonce_;
    t.server_nonce = server_nonce_;
    t.channel_binding = binding_;
    t.domain = cfg_.domain;
    t.device_id = device_id;
    t.class_id = class_id;
    t.current_certificate = current_cert;
    return transcript_hash(t);
}

bool ServerSession::check_csr(Operation op, const std::string& device_id, const std::string& class_id,
                              const Bytes& current_cert, const Bytes& csr_der, RequestReceived& out,
                              Time now) {
    if (now - challenge_sent_ > cfg_.limits.challenge_ttl) {
        reject(op, device_id, make_error(Code::challenge_expired, "the challenge expired; start a new exchange"));
        return false;
    }
    if (!is_valid_identifier(device_id)) {
        reject(op, device_id, make_error(Code::invalid_device_id,
                                         "device id must be 1-64 characters from [A-Za-z0-9._-]"));
        return false;
    }
    if (op == Operation::enroll && !is_valid_identifier(class_id)) {
        reject(op, device_id, make_error(Code::unknown_class, "class id is not a valid identifier"));
        return false;
    }
    auto csr = crypto::parse_and_verify_csr(csr_der);
    if (!csr) {
        reject(op, device_id, csr.error());
        return false;
    }
    if (std::find(cfg_.key_algorithms.begin(), cfg_.key_algorithms.end(), csr->algorithm) ==
        cfg_.key_algorithms.end()) {
        reject(op, device_id, make_error(Code::key_algorithm_not_allowed,
                                         std::string("key algorithm ") + crypto::key_algorithm_name(csr->algorithm) +
                                             " is not allowed in this domain"));
        return false;
    }
    out.transcript = transcript_for(op, device_id, class_id, current_cert);
    // The CSR's self-signature covers its challengePassword, so this one
    // verification proves possession of the key AND binds it to this
    // connection's transcript (docs/PROTOCOL.md, "Proof of possession").
    if (csr->challenge != csr_challenge(out.transcript)) {
        reject(op, device_id, make_error(Code::challenge_mismatch,
                                         "the CSR is not bound to this exchange's transcript"));
        return false;
    }
    out.request_id = request_id_;
    out.operation = op;
    out.device_id = device_id;
    out.class_id = class_id;
    out.csr_der = csr_der;
    out.csr = std::move(csr.value());
    return true;
}

void ServerSession::on_enroll(ClientMessage&& msg, Time now) {
    auto& m = std::get<EnrollRequest>(msg);
    if (operation_ != Operation::enroll)
        return fail(make_error(Code::unexpected_message, "EnrollRequest after a ClientHello announcing another operation"));
    RequestReceived ev;
    if (!check_csr(Operation::enroll, m.device_id, m.class_id, {}, m.csr, ev, now)) return;
    // A held request's id is one of ours (hex); anything else cannot name one.
    if (!m.request_id.empty() && !is_valid_identifier(m.request_id))
        return reject(Operation::enroll, m.device_id, make_error(Code::field_invalid, "request_id is not a valid id"));
    for (const char c : m.model)
        if (c < 0x20 || c > 0x7e)
            return reject(Operation::enroll, m.device_id, make_error(Code::field_invalid, "model must be printable ASCII"));
    const bool has_bootstrap = !m.bootstrap_key.empty() || !m.bootstrap_chain.empty();
    if (has_bootstrap == m.bootstrap_signature.empty() || (!m.bootstrap_key.empty() && !m.bootstrap_chain.empty()) ||
        (has_bootstrap && !m.token_proof.empty()))
        return reject(Operation::enroll, m.device_id,
                      make_error(Code::field_invalid,
                                 "give one proof: a token proof, a bootstrap key or chain with its signature, or none"));
    ev.token_proof = std::move(m.token_proof);
    ev.held_request_id = std::move(m.request_id);
    ev.bootstrap_key = std::move(m.bootstrap_key);
    ev.bootstrap_chain = std::move(m.bootstrap_chain);
    ev.bootstrap_signature = std::move(m.bootstrap_signature);
    ev.model = std::move(m.model);
    events_.emplace_back(std::move(ev));
    state_ = State::await_decision;
}

void ServerSession::on_check_in(ClientMessage&& msg, Time now) {
    auto& m = std::get<CheckIn>(msg);
    if (operation_ != Operation::check_in)
        return fail(make_error(Code::unexpected_message, "CheckIn after a ClientHello announcing another operation"));
    if (now - challenge_sent_ > cfg_.limits.challenge_ttl)
        return reject(Operation::check_in, m.device_id,
                      make_error(Code::challenge_expired, "the challenge expired; start a new exchange"));
    if (!is_valid_identifier(m.device_id))
        return reject(Operation::check_in, m.device_id,
                      make_error(Code::invalid_device_id, "device id must be 1-64 characters from [A-Za-z0-9._-]"));
    RequestReceived ev;
    ev.request_id = request_id_;
    ev.operation = Operation::check_in;
    ev.device_id = std::move(m.device_id);
    ev.transcript = transcript_for(Operation::check_in, ev.device_id, "", m.certificate);
    ev.current_certificate = std::move(m.certificate);
    ev.renewal_signature = std::move(m.signature);
    ev.have_crl_number = m.have_crl_number;
    ev.max_crl_bytes = m.max_crl_bytes;
    events_.emplace_back(std::move(ev));
    state_ = State::await_decision;
}

void ServerSession::on_renew(ClientMessage&& msg, Time now) {
    auto& m = std::get<RenewRequest>(msg);
    if (operation_ != Operation::renew)
        return fail(make_error(Code::unexpected_message, "RenewRequest after a ClientHello announcing another operation"));
    RequestReceived ev;
    if (!check_csr(Operation::renew, m.device_id, "", m.certificate, m.csr, ev, now)) return;
    ev.current_certificate = std::move(m.certificate);
    ev.renewal_signature = std::move(m.signature);
    events_.emplace_back(std::move(ev));
    state_ = State::await_decision;
}

void ServerSession::on_install_report(ClientMessage&& msg, Time /*now*/) {
    auto& m = std::get<InstallReport>(msg);
    events_.emplace_back(InstallReported{request_id_, m.status, std::move(m.certificate_serial)});
    state_ = State::await_install_record;
}

Result<void> ServerSession::acknowledge_install(bool recorded, Time now) {
    if (state_ != State::await_install_record)
        return make_error(Code::bad_argument, std::string("acknowledge_install() in state ") + server_state_name(state_));
    send(InstallAck{recorded});
    last_activity_ = now;
    state_ = State::done;
    return {};
}

Result<void> ServerSession::answer(Answer a, Time now) {
    if (state_ != State::await_decision)
        return make_error(Code::bad_argument, std::string("answer() in state ") + server_state_name(state_));
    if (a.request_id.empty() || !is_valid_identifier(a.request_id)) a.request_id = request_id_;
    if (auto* rej = std::get_if<Rejected>(&a.result)) rej->message = wire_text(rej->message);
    const bool issued = std::holds_alternative<Issued>(a.result);
    send(a);
    last_activity_ = now;
    state_ = issued ? State::await_install_report : State::done;
    return {};
}


void ServerSession::reject(Operation op, const std::string& device_id, Error e) {
    Answer a;
    a.request_id = request_id_;
    a.result = Rejected{e.code, wire_text(e.message)};
    send(a);
    events_.emplace_back(RequestRejected{request_id_, op, device_id, std::move(e)});
    state_ = State::done;
}

void ServerSession::fail(Error e) {
    if (finished()) return;
    // A request queued earlier in the same receive() can no longer be
    // answered: drop it, so the application never signs or records a
    // certificate that cannot be delivered.
    std::erase_if(events_, [](const ServerEvent& ev) { return std::holds_alternative<RequestReceived>(ev); });
    send(ProtocolError{e.code, wire_text(e.message)});
    events_.emplace_back(SessionFailed{std::move(e)});
    state_ = State::failed;
}

void ServerSession::send(const ServerMessage& m) {
    const Bytes frame = encode_frame(encode(m));
    output_.insert(output_.end(), frame.begin(), frame.end());
}

Bytes ServerSession::take_output() { return std::exchange(output_, {}); }

std::optional<ServerEvent> ServerSession::poll_event() {
    if (events_.empty()) return std::nullopt;
    ServerEvent e = std::move(events_.front());
    events_.pop_front();
    return e;
}

std::optional<Time> ServerSession::next_deadline() const {
    const Time whole = started_ + cfg_.limits.exchange_timeout;
    switch (state_) {
        case State::await_hello:
            return std::min(whole, started_ + cfg_.limits.hello_timeout);
        case State::await_request:
            return std::min({whole, last_activity_ + cfg_.limits.idle_timeout,
                             challenge_sent_ + cfg_.limits.challenge_ttl});
        case State::await_install_report:
            return std::min(whole, last_activity_ + cfg_.limits.idle_timeout);
        case State::await_decision:  // our own work: only the whole-exchange bound
        case State::await_install_record:
            return whole;
        case State::done:
        case State::failed:
            return std::nullopt;
    }
    return std::nullopt;
}

void ServerSession::on_deadline(Time now) {
    const auto deadline = next_deadline();
    if (!deadline || now < *deadline) return;
    fail(make_error(Code::deadline_exceeded, std::string("deadline passed in state ") + server_state_name(state_)));
}

}  // namespace irp
