// The device side of one IRP exchange, without I/O.
//
//   (start: ClientHello queued) await_server_hello --ServerHello--> ready
//   ready --send_enroll/send_renew/send_check_in--> await_answer --Answer--> answered
//   answered --send_install_report--> await_install_ack --InstallAck--> done
//   answered --finish()--> done          (rejected / pending / redirect / checked in)
// A ProtocolError from the server is accepted in every non-terminal state
// and ends the exchange. Anything else is a protocol error.
#pragma once

#include <deque>
#include <optional>
#include <variant>

#include "irp/core/frame.hpp"
#include "irp/core/limits.hpp"
#include "irp/core/messages.hpp"
#include "irp/crypto/crypto.hpp"

namespace irp {

struct ClientSessionConfig {
    Operation operation = Operation::enroll;
    std::string device_id;
    std::string class_id;       // enroll
    Bytes current_certificate;  // renew and check-in (DER)
    Limits limits;
    // Added after `limits` so that positional initialisers written for the
    // earlier struct still compile.
    std::string held_request_id{};  // enroll: re-asking about a held request
    std::string model{};            // enroll: shown to an approver
};

// How an enrolling device proves it belongs (docs/PROTOCOL.md, "Bootstrap
// methods"): one of a class token proof, a bootstrap key or chain with its
// signature, or nothing (the server may hold the request for approval).
struct EnrollProof {
    Bytes token_proof;
    Bytes bootstrap_key;
    std::vector<Bytes> bootstrap_chain;
    Bytes bootstrap_signature;
};

// The server's challenge arrived; build the request over `transcript`.
struct ChallengeReceived {
    ServerHello hello;
    crypto::Digest transcript{};
};
struct AnswerReceived {
    Answer answer;
};
struct InstallAcknowledged {
    bool recorded = false;
};
struct ClientFailed {
    Error error;  // from the server (ProtocolError) or detected locally
    bool from_server = false;
};

using ClientEvent = std::variant<ChallengeReceived, AnswerReceived, InstallAcknowledged, ClientFailed>;

class ClientSession {
public:
    enum class State { await_server_hello, ready, await_answer, answered, await_install_ack, done, failed };

    // Queues the ClientHello at once.
    ClientSession(ClientSessionConfig cfg, crypto::Random& rng, Bytes channel_binding, Time now);

    void receive(ByteView data, Time now);
    Result<void> send_enroll(Bytes csr_der, Bytes token_proof, Time now);
    Result<void> send_enroll(Bytes csr_der, EnrollProof proof, Time now);
    // A check-in that asks for no CRL (CheckIn.max_crl_bytes = 0).
    Result<void> send_check_in(Bytes signature, Time now);
    // A check-in that asks for the issuing CA's CRL when it is newer than
    // the one the device holds (`have_crl_number`, 0 = none). The session
    // announces the largest CRL its frame limit can take:
    // min(bounds::kMaxCrl, limits.max_frame_bytes - bounds::kCheckedInOverhead).
    Result<void> send_check_in(Bytes signature, std::uint64_t have_crl_number, Time now);
    Result<void> send_renew(Bytes csr_der, Bytes signature, Time now);
    Result<void> send_install_report(InstallStatus status, Bytes serial, Time now);
    // Ends an exchange whose answer needs no install report.
    void finish();

    Bytes take_output();
    std::optional<ClientEvent> poll_event();
    std::optional<Time> next_deadline() const;
    void on_deadline(Time now);

    State state() const { return state_; }
    bool finished() const { return state_ == State::done || state_ == State::failed; }

private:
    struct Row;
    static const Row kTransitions[];

    void on_server_hello(ServerMessage&& m, Time now);
    void on_answer(ServerMessage&& m, Time now);
    void on_install_ack(ServerMessage&& m, Time now);
    void on_error(ServerMessage&& m, Time now);

    Result<void> check_in(Bytes signature, std::uint64_t have_crl_number, std::uint32_t max_crl_bytes, Time now);
    void dispatch(ServerMessage&& m, Time now);
    void fail(Error e, bool from_server);
    void send(const ClientMessage& m);
    Result<void> expect(State s, const char* what) const;

    ClientSessionConfig cfg_;
    Bytes binding_;
    FrameDecoder decoder_;
    State state_ = State::await_server_hello;
    Time started_;
    Time last_activity_;
    Bytes client_nonce_;
    Bytes output_;
    std::deque<ClientEvent> events_;
};

const char* client_state_name(ClientSession::State s);

}  // namespace irp
