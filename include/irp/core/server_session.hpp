// The server side of one IRP exchange, without I/O. The adapter hands in
// decrypted bytes and the time; it takes out bytes to encrypt and send,
// events to act on, and the next deadline to arm a timer for.
//
//   await_hello --ClientHello--> await_request --Enroll/Renew--> await_decision
//   await_decision --answer(Issued)--> await_install_report --InstallReport-->
//   await_install_record --acknowledge_install(recorded)--> done
//   await_request --CheckIn--> await_decision          (no CSR: nothing issued)
//   await_decision --answer(other)--> done
// Anything else is a protocol error (lib/core/server_session.cpp's table).
#pragma once

#include <deque>
#include <optional>
#include <variant>

#include "irp/core/frame.hpp"
#include "irp/core/limits.hpp"
#include "irp/core/messages.hpp"
#include "irp/crypto/crypto.hpp"

namespace irp {

struct ServerSessionConfig {
    std::string domain;
    std::vector<Bytes> ca_chain;  // DER, issuing CA first
    std::vector<KeyAlgorithm> key_algorithms;
    Limits limits;
};

// A request whose framing, fields, CSR signature (proof of possession) and
// CSR-to-transcript binding have been checked. Authorisation (token proof,
// bootstrap proof, renewal signature, policy) is the application's job.
// A check-in carries no CSR: csr_der is empty.
struct RequestReceived {
    std::string request_id;
    Operation operation = Operation::enroll;
    std::string device_id;
    std::string class_id;  // enroll only
    Bytes csr_der;
    crypto::CsrInfo csr;
    crypto::Digest transcript{};
    Bytes token_proof;          // enroll only; empty: no class token
    Bytes current_certificate;  // renew and check-in
    Bytes renewal_signature;    // renew: over renewal_message; check-in: over check_in_message
    // enroll only (docs/PROTOCOL.md, "Bootstrap methods")
    std::string held_request_id;  // re-asking about a held request; printable, checked
    Bytes bootstrap_key;
    std::vector<Bytes> bootstrap_chain;
    Bytes bootstrap_signature;
    std::string model;  // printable ASCII, as claimed
    // check-in only: the CRL the device holds (its CRL Number, 0 = none) and
    // the largest CRL it takes back in CheckedIn.crl (0 = none), as sent.
    std::uint64_t have_crl_number{};
    std::uint32_t max_crl_bytes{};
};

// The session answered a request itself (a check above failed).
struct RequestRejected {
    std::string request_id;
    Operation operation = Operation::enroll;
    std::string device_id;
    Error error;
};

struct InstallReported {
    std::string request_id;
    std::uint32_t status = 0;
    Bytes certificate_serial;
};

// The exchange ended on a protocol error or deadline; a ProtocolError frame
// is in the output when the peer should be told.
struct SessionFailed {
    Error error;
};

using ServerEvent = std::variant<RequestReceived, RequestRejected, InstallReported, SessionFailed>;

class ServerSession {
public:
    enum class State {
        await_hello,
        await_request,
        await_decision,
        await_install_report,
        await_install_record,
        done,
        failed
    };

    ServerSession(ServerSessionConfig cfg, crypto::Random& rng, Bytes channel_binding, Time now);

    void receive(ByteView data, Time now);
    // Answers the pending request (state await_decision). An empty request
    // id is filled in with this exchange's (a held request keeps its own).
    // Returns a usage error in any other state.
    Result<void> answer(Answer a, Time now);
    // Acknowledges the install report (state await_install_record): the
    // InstallAck tells the device whether the server recorded it.
    Result<void> acknowledge_install(bool recorded, Time now);

    Bytes take_output();
    std::optional<ServerEvent> poll_event();
    std::optional<Time> next_deadline() const;
    void on_deadline(Time now);

    State state() const { return state_; }
    // The adapter should flush the output and close the connection.
    bool finished() const { return state_ == State::done || state_ == State::failed; }

private:
    struct Row;
    static const Row kTransitions[];

    void on_hello(ClientMessage&& m, Time now);
    void on_enroll(ClientMessage&& m, Time now);
    void on_renew(ClientMessage&& m, Time now);
    void on_install_report(ClientMessage&& m, Time now);
    void on_check_in(ClientMessage&& m, Time now);
    crypto::Digest transcript_for(Operation op, const std::string& device_id, const std::string& class_id,
                                  const Bytes& current_cert) const;
    void dispatch(ClientMessage&& m, Time now);
    void fail(Error e);
    void send(const ServerMessage& m);
    void reject(Operation op, const std::string& device_id, Error e);
    bool check_csr(Operation op, const std::string& device_id, const std::string& class_id,
                   const Bytes& current_cert, const Bytes& csr_der, RequestReceived& out, Time now);

    ServerSessionConfig cfg_;
    crypto::Random& rng_;
    Bytes binding_;
    FrameDecoder decoder_;
    State state_ = State::await_hello;
    Time started_;
    Time last_activity_;
    Time challenge_sent_{0};
    Operation operation_ = Operation::enroll;  // announced in the ClientHello
    Bytes client_nonce_;
    Bytes server_nonce_;
    std::string request_id_;
    Bytes output_;
    std::deque<ServerEvent> events_;
};

const char* server_state_name(ServerSession::State s);

}  // namespace irp
