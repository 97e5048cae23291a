// Conversion between the protobuf wire types and the plain message values.
// This is the only file that sees generated protobuf code. Decoding checks
// every field against include/irp/core/messages.hpp's bounds.
#include <string>

#include "irp/core/messages.hpp"
#include "irp/v1/irp.pb.h"

#include <google/protobuf/stubs/logging.h>

namespace irp {

namespace {

namespace pb = ::irp::v1;

Error invalid(std::string what) { return make_error(Code::field_invalid, std::move(what)); }

bool fits(const std::string& s, std::size_t max) { return s.size() <= max; }
Bytes bytes_of(const std::string& s) { return Bytes(s.begin(), s.end()); }
std::string str_of(const Bytes& b) { return std::string(b.begin(), b.end()); }

// ---- encoding --------------------------------------------------------------

void put(pb::ClientMessage& out, const ClientHello& m) {
    auto* h = out.mutable_hello();
    for (auto v : m.versions) h->add_versions(v);
    h->set_client_nonce(str_of(m.client_nonce));
    h->set_operation(static_cast<pb::Operation>(m.operation));
}
void put(pb::ClientMessage& out, const EnrollRequest& m) {
    auto* e = out.mutable_enroll();
    e->set_device_id(m.device_id);
    e->set_class_id(m.class_id);
    e->set_csr(str_of(m.csr));
    e->set_token_proof(str_of(m.token_proof));
    e->set_request_id(m.request_id);
    e->set_bootstrap_key(str_of(m.bootstrap_key));
    for (const auto& c : m.bootstrap_chain) e->add_bootstrap_chain(str_of(c));
    e->set_bootstrap_signature(str_of(m.bootstrap_signature));
    e->set_model(m.model);
}
void put(pb::ClientMessage& out, const CheckIn& m) {
    auto* c = out.mutable_check_in();
    c->set_device_id(m.device_id);
    c->set_certificate(str_of(m.certificate));
    c->set_signature(str_of(m.signature));
    c->set_have_crl_number(m.have_crl_number);
    c->set_max_crl_bytes(m.max_crl_bytes);
}
void put(pb::ClientMessage& out, const RenewRequest& m) {
    auto* r = out.mutable_renew();
    r->set_device_id(m.device_id);
    r->set_certificate(str_of(m.certificate));
    r->set_csr(str_of(m.csr));
    r->set_signature(str_of(m.signature));
}
void put(pb::ClientMessage& out, const InstallReport& m) {
    auto* r = out.mutable_install_report();
    r->set_status(m.status);
    r->set_certificate_serial(str_of(m.certificate_serial));
}

void put(pb::ServerMessage& out, const ServerHello& m) {
    auto* h = out.mutable_hello();
    h->set_version(m.version);
    h->set_server_nonce(str_of(m.server_nonce));
    h->set_domain(m.domain);
    for (const auto& c : m.ca_chain) h->add_ca_chain(str_of(c));
    for (auto a : m.key_algorithms) h->add_key_algorithms(static_cast<pb::KeyAlgorithm>(a));
    h->set_challenge_ttl_seconds(m.challenge_ttl_seconds);
    h->set_max_frame_bytes(m.max_frame_bytes);
}
void put(pb::ServerMessage& out, const Answer& m) {
    auto* a = out.mutable_answer();
    a->set_request_id(m.request_id);
    struct Visitor {
        pb::Answer* a;
        void operator()(const Issued& i) const {
            auto* o = a->mutable_issued();
            o->set_certificate(str_of(i.certificate));
            for (const auto& c : i.chain) o->add_chain(str_of(c));
        }
        void operator()(const Rejected& r) const {
            auto* o = a->mutable_rejected();
            o->set_code(static_cast<std::uint32_t>(r.code));
            o->set_message(r.message);
        }
        void operator()(const Pending& p) const {
            a->mutable_pending()->set_retry_after_seconds(p.retry_after_seconds);
        }
        void operator()(const Redirect& r) const {
            auto* o = a->mutable_redirect();
            o->set_server(r.server);
            o->set_domain(r.domain);
        }
        void operator()(const CheckedIn& c) const {
            auto* o = a->mutable_checked_in();
            o->set_next_check_in_seconds(c.next_check_in_seconds);
            o->set_renew_now(c.renew_now);
            o->set_crl(str_of(c.crl));
        }
    };
    std::visit(Visitor{a}, m.result);
}
void put(pb::ServerMessage& out, const InstallAck& m) {
    out.mutable_install_ack()->set_recorded(m.recorded);
}
void put(pb::ServerMessage& out, const ProtocolError& m) {
    auto* e = out.mutable_error();
    e->set_code(static_cast<std::uint32_t>(m.code));
    e->set_message(m.message);
}

template <typename Pb>
Bytes serialize(const Pb& msg) {
    Bytes out(msg.ByteSizeLong());
    msg.SerializeWithCachedSizesToArray(out.data());
    return out;
}

// ---- decoding --------------------------------------------------------------

Result<ClientMessage> take(const pb::ClientHello& h) {
    if (h.versions_size() == 0 || static_cast<std::size_t>(h.versions_size()) > bounds::kMaxVersions)
        return invalid("ClientHello.versions must list 1 to 8 versions");
    if (h.client_nonce().size() != bounds::kNonce)
        return invalid("ClientHello.client_nonce must be 32 bytes");
    if (h.operation() != pb::OPERATION_ENROLL && h.operation() != pb::OPERATION_RENEW &&
        h.operation() != pb::OPERATION_CHECK_IN)
        return invalid("ClientHello.operation is not a known operation");
    ClientHello m;
    m.versions.assign(h.versions().begin(), h.versions().end());
    m.client_nonce = bytes_of(h.client_nonce());
    m.operation = static_cast<Operation>(h.operation());
    return ClientMessage{std::move(m)};
}

Result<ClientMessage> take(const pb::EnrollRequest& e) {
    if (!fits(e.device_id(), bounds::kMaxWireIdLength) || !fits(e.class_id(), bounds::kMaxWireIdLength))
        return invalid("EnrollRequest ids exceed 256 bytes");
    if (e.csr().empty() || !fits(e.csr(), bounds::kMaxDer))
        return invalid("EnrollRequest.csr must be 1 to 8192 bytes");
    if (!e.token_proof().empty() && e.token_proof().size() != bounds::kMac)
        return invalid("EnrollRequest.token_proof must be 32 bytes or absent");
    if (!fits(e.request_id(), bounds::kMaxRequestId)) return invalid("EnrollRequest.request_id exceeds 64 bytes");
    if (!fits(e.bootstrap_key(), bounds::kMaxDer)) return invalid("EnrollRequest.bootstrap_key exceeds 8192 bytes");
    if (static_cast<std::size_t>(e.bootstrap_chain_size()) > bounds::kMaxChain)
        return invalid("EnrollRequest.bootstrap_chain has more than 4 certificates");
    if (!fits(e.bootstrap_signature(), bounds::kMaxSignature))
        return invalid("EnrollRequest.bootstrap_signature exceeds 512 bytes");
    if (!fits(e.model(), bounds::kMaxModel)) return invalid("EnrollRequest.model exceeds 64 bytes");
    EnrollRequest m;
    m.device_id = e.device_id();
    m.class_id = e.class_id();
    m.csr = bytes_of(e.csr());
    m.token_proof = bytes_of(e.token_proof());
    m.request_id = e.request_id();
    m.bootstrap_key = bytes_of(e.bootstrap_key());
    for (const auto& c : e.bootstrap_chain()) {
        if (c.empty() || c.size() > bounds::kMaxDer) return invalid("EnrollRequest.bootstrap_chain entry size");
        m.bootstrap_chain.push_back(bytes_of(c));
    }
    m.bootstrap_signature = bytes_of(e.bootstrap_signature());
    m.model = e.model();
    return ClientMessage{std::move(m)};
}

Result<ClientMessage> take(const pb::CheckIn& c) {
    if (!fits(c.device_id(), bounds::kMaxWireIdLength)) return invalid("CheckIn.device_id exceeds 256 bytes");
    if (c.certificate().empty() || !fits(c.certificate(), bounds::kMaxDer))
        return invalid("CheckIn.certificate must be 1 to 8192 bytes");
    if (c.signature().empty() || !fits(c.signature(), bounds::kMaxSignature))
        return invalid("CheckIn.signature must be 1 to 512 bytes");
    // have_crl_number and max_crl_bytes: any value (the server clamps the
    // size to bounds::kMaxCrl).
    return ClientMessage{CheckIn{c.device_id(), bytes_of(c.certificate()), bytes_of(c.signature()),
                                 c.have_crl_number(), c.max_crl_bytes()}};
}

Result<ClientMessage> take(const pb::RenewRequest& r) {
    if (!fits(r.device_id(), bounds::kMaxWireIdLength))
        return invalid("RenewRequest.device_id exceeds 256 bytes");
    if (r.certificate().empty() || !fits(r.certificate(), bounds::kMaxDer))
        return invalid("RenewRequest.certificate must be 1 to 8192 bytes");
    if (r.csr().empty() || !fits(r.csr(), bounds::kMaxDer))
        return invalid("RenewRequest.csr must be 1 to 8192 bytes");
    if (r.signature().empty() || !fits(r.signature(), bounds::kMaxSignature))
        return invalid("RenewRequest.signature must be 1 to 512 bytes");
    return ClientMessage{RenewRequest{r.device_id(), bytes_of(r.certificate()), bytes_of(r.csr()),
                                      bytes_of(r.signature())}};
}

Result<ClientMessage> take(const pb::InstallReport& r) {
    if (!is_known_install_status(r.status()))
        return invalid("InstallReport.status is not a known install status");
    if (r.certificate_serial().empty() || !fits(r.certificate_serial(), bounds::kMaxSerial))
        return invalid("InstallReport.certificate_serial must be 1 to 20 bytes");
    return ClientMessage{InstallReport{r.status(), bytes_of(r.certificate_serial())}};
}

Result<ServerMessage> take(const pb::ServerHello& h) {
    if (h.server_nonce().size() != bounds::kNonce)
        return invalid("ServerHello.server_nonce must be 32 bytes");
    if (h.domain().empty() || !fits(h.domain(), bounds::kMaxDomain))
        return invalid("ServerHello.domain must be 1 to 253 bytes");
    if (static_cast<std::size_t>(h.ca_chain_size()) > bounds::kMaxChain)
        return invalid("ServerHello.ca_chain has more than 4 certificates");
    if (static_cast<std::size_t>(h.key_algorithms_size()) > bounds::kMaxAlgorithms)
        return invalid("ServerHello.key_algorithms has more than 8 entries");
    ServerHello m;
    m.version = h.version();
    m.server_nonce = bytes_of(h.server_nonce());
    m.domain = h.domain();
    for (const auto& c : h.ca_chain()) {
        if (c.empty() || c.size() > bounds::kMaxDer) return invalid("ServerHello.ca_chain entry size");
        m.ca_chain.push_back(bytes_of(c));
    }
    // Unknown algorithms are skipped: a newer server may offer more.
    for (int a : h.key_algorithms())
        if (a >= 1 && a <= 3) m.key_algorithms.push_back(static_cast<KeyAlgorithm>(a));
    m.challenge_ttl_seconds = h.challenge_ttl_seconds();
    m.max_frame_bytes = h.max_frame_bytes();
    return ServerMessage{std::move(m)};
}

Result<ServerMessage> take(const pb::Answer& a) {
    if (!fits(a.request_id(), bounds::kMaxRequestId)) return invalid("Answer.request_id exceeds 64 bytes");
    Answer m;
    m.request_id = a.request_id();
    switch (a.result_case()) {
        case pb::Answer::kIssued: {
            const auto& i = a.issued();
            if (i.certificate().size() > bounds::kMaxDer) return invalid("Issued.certificate exceeds 8192 bytes");
            if (static_cast<std::size_t>(i.chain_size()) > bounds::kMaxChain)
                return invalid("Issued.chain has more than 4 certificates");
            Issued out{bytes_of(i.certificate()), {}};
            for (const auto& c : i.chain()) {
                if (c.size() > bounds::kMaxDer) return invalid("Issued.chain entry exceeds 8192 bytes");
                out.chain.push_back(bytes_of(c));
            }
            m.result = std::move(out);
            break;
        }
        case pb::Answer::kRejected: {
            const auto& r = a.rejected();
            if (!fits(r.message(), bounds::kMaxText)) return invalid("Rejected.message exceeds 1024 bytes");
            const Code code = is_known_code(r.code()) ? static_cast<Code>(r.code()) : Code::internal;
            m.result = Rejected{code, r.message()};
            break;
        }
        case pb::Answer::kPending:
            m.result = Pending{a.pending().retry_after_seconds()};
            break;
        case pb::Answer::kCheckedIn: {
            const auto& c = a.checked_in();
            if (c.crl().size() > bounds::kMaxCrl) return invalid("CheckedIn.crl exceeds 1 MiB");
            m.result = CheckedIn{c.next_check_in_seconds(), c.renew_now(), bytes_of(c.crl())};
            break;
        }
        case pb::Answer::kRedirect: {
            const auto& r = a.redirect();
            if (r.server().empty() || !fits(r.server(), bounds::kMaxDomain + 6) || !fits(r.domain(), bounds::kMaxDomain))
                return invalid("Redirect.server/domain size");
            m.result = Redirect{r.server(), r.domain()};
            break;
        }
        default:
            return make_error(Code::unknown_message, "Answer carries no known result");
    }
    return ServerMessage{std::move(m)};
}

Result<ServerMessage> take(const pb::ProtocolError& e) {
    if (!fits(e.message(), bounds::kMaxText)) return invalid("ProtocolError.message exceeds 1024 bytes");
    const Code code = is_known_code(e.code()) ? static_cast<Code>(e.code()) : Code::internal;
    return ServerMessage{ProtocolError{code, e.message()}};
}

template <typename Pb>
bool parse(Pb& msg, ByteView payload) {
    // The frame decoder has already bounded the payload size.
    return msg.ParseFromArray(payload.data(), static_cast<int>(payload.size()));
}

}  // namespace

const char* operation_name(Operation op) {
    switch (op) {
        case Operation::enroll: return "enroll";
        case Operation::renew: return "renew";
        case Operation::check_in: return "check_in";
    }
    return "unknown";
}

const char* install_status_name(InstallStatus s) {
    switch (s) {
        case InstallStatus::installed: return "installed";
        case InstallStatus::timeout: return "timeout";
        case InstallStatus::identity_mismatch: return "identity_mismatch";
        case InstallStatus::public_key_mismatch: return "public_key_mismatch";
        case InstallStatus::malformed_certificate: return "malformed_certificate";
        case InstallStatus::no_certificate: return "no_certificate";
        case InstallStatus::untrusted_chain: return "untrusted_chain";
        case InstallStatus::bad_signature: return "bad_signature";
        case InstallStatus::issuer_mismatch: return "issuer_mismatch";
        case InstallStatus::storage_write_failed: return "storage_write_failed";
        case InstallStatus::validity_error: return "validity_error";
        case InstallStatus::profile_mismatch: return "profile_mismatch";
    }
    return "unknown";
}

bool is_known_install_status(std::uint32_t raw) {
    return std::string_view(install_status_name(static_cast<InstallStatus>(raw))) != "unknown";
}

void silence_decoder_logging() { google::protobuf::SetLogHandler(nullptr); }

Bytes encode(const ClientMessage& m) {
    pb::ClientMessage out;
    std::visit([&](const auto& v) { put(out, v); }, m);
    return serialize(out);
}

Bytes encode(const ServerMessage& m) {
    pb::ServerMessage out;
    std::visit([&](const auto& v) { put(out, v); }, m);
    return serialize(out);
}

Result<ClientMessage> decode_client_message(ByteView payload) {
    pb::ClientMessage msg;
    if (!parse(msg, payload)) return make_error(Code::malformed_message, "frame is not a valid ClientMessage");
    switch (msg.body_case()) {
        case pb::ClientMessage::kHello: return take(msg.hello());
        case pb::ClientMessage::kEnroll: return take(msg.enroll());
        case pb::ClientMessage::kRenew: return take(msg.renew());
        case pb::ClientMessage::kInstallReport: return take(msg.install_report());
        case pb::ClientMessage::kCheckIn: return take(msg.check_in());
        default: return make_error(Code::unknown_message, "ClientMessage carries no known body");
    }
}

Result<ServerMessage> decode_server_message(ByteView payload) {
    pb::ServerMessage msg;
    if (!parse(msg, payload)) return make_error(Code::malformed_message, "frame is not a valid ServerMessage");
    switch (msg.body_case()) {
        case pb::ServerMessage::kHello: return take(msg.hello());
        case pb::ServerMessage::kAnswer: return take(msg.answer());
        case pb::ServerMessage::kInstallAck: return ServerMessage{InstallAck{msg.install_ack().recorded()}};
        case pb::ServerMessage::kError: return take(msg.error());
        default: return make_error(Code::unknown_message, "ServerMessage carries no known body");
    }
}

}  // namespace irp
