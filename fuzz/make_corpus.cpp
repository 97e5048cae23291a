// Writes the seed corpora of the fuzz targets:
//
//   irp_make_corpus fuzz/corpus      (creates frame/, server_session/, client_session/)
//
// Every valid message is built with the library's own encode(), the CSRs and
// certificates with the crypto layer, all from deterministic random sources,
// so a rerun writes the same bytes. The session seeds use the fixed setup of
// fuzz/fuzz_common.hpp: the server target's server nonce is known in
// advance, so its CSRs are bound to the very transcript the target's session
// will compute, and those seeds reach RequestReceived. Each session seed is
// replayed here against the expected sequence of events, so a change in the
// setup that would silently make the seeds shallow stops the generator.
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <variant>
#include <vector>

#include "fuzz_common.hpp"
#include "irp/core/client_session.hpp"
#include "irp/core/server_session.hpp"
#include "irp/core/transcript.hpp"

namespace {

using namespace irp;
namespace fs = std::filesystem;

[[noreturn]] void die(const std::string& what) {
    std::fprintf(stderr, "irp_make_corpus: %s\n", what.c_str());
    std::exit(1);
}

template <typename T>
T must(Result<T> r, const char* what) {
    if (!r) die(std::string(what) + ": " + r.error().message);
    return std::move(r.value());
}

Bytes frame(const ClientMessage& m) { return encode_frame(encode(m)); }
Bytes frame(const ServerMessage& m) { return encode_frame(encode(m)); }
Bytes raw_frame(std::initializer_list<std::uint8_t> payload) { return encode_frame(Bytes(payload)); }

Bytes cat(std::initializer_list<Bytes> parts) {
    Bytes out;
    for (const auto& p : parts) out.insert(out.end(), p.begin(), p.end());
    return out;
}

class Writer {
public:
    explicit Writer(fs::path root) : root_(std::move(root)) {}

    void put(const std::string& target, const std::string& name, const Bytes& data) {
        const fs::path dir = root_ / target;
        fs::create_directories(dir);
        std::ofstream f(dir / name, std::ios::binary | std::ios::trunc);
        f.write(reinterpret_cast<const char*>(data.data()), static_cast<std::streamsize>(data.size()));
        if (!f) die("cannot write " + (dir / name).string());
        ++written_;
    }
    int written() const { return written_; }

private:
    fs::path root_;
    int written_ = 0;
};

// ---- crypto material ----------------------------------------------------------

constexpr std::int64_t kNotBefore = 1'700'000'000;  // 2023-11-14
constexpr std::int64_t kNotAfter = kNotBefore + 10LL * 365 * 24 * 3600;

struct Material {
    crypto::PrivateKey root_key;
    Bytes root_cert;
    crypto::PrivateKey device_key;  // the key of the current certificate
    Bytes device_cert;
};

Material make_material(crypto::Random& rng) {
    auto root_key = must(crypto::PrivateKey::generate(KeyAlgorithm::ecdsa_p256, rng), "root key");
    crypto::IssueProfile root;
    root.serial = crypto::random_serial(rng);
    root.common_name = "Fuzz Root CA";
    root.not_before = kNotBefore;
    root.not_after = kNotAfter;
    root.ca = true;
    auto root_cert = must(crypto::issue_certificate(root_key, {}, root_key.public_key_der(), root, rng), "root cert");

    auto device_key = must(crypto::PrivateKey::generate(KeyAlgorithm::ecdsa_p256, rng), "device key");
    crypto::IssueProfile leaf;
    leaf.serial = crypto::random_serial(rng);
    leaf.common_name = std::string(fuzz::kDeviceId);
    leaf.san_uris = {"irp://" + std::string(fuzz::kDomain) + "/device/" + std::string(fuzz::kDeviceId)};
    leaf.not_before = kNotBefore;
    leaf.not_after = kNotAfter;
    leaf.eku_client_auth = true;
    auto device_cert =
        must(crypto::issue_certificate(root_key, root_cert, device_key.public_key_der(), leaf, rng), "device cert");
    return Material{std::move(root_key), std::move(root_cert), std::move(device_key), std::move(device_cert)};
}

// ---- requests bound to the server target's transcript -------------------------

// The ServerHello the server target's session sends after the fixed hello.
ServerHello fuzz_server_hello() {
    auto rng = crypto::deterministic_random(fuzz::kRandomSeed);
    ServerSession s(fuzz::server_config(), *rng, fuzz::channel_binding(), Time{0});
    s.receive(frame(fuzz::valid_client_hello()), Time{0});
    const auto messages = fuzz::decode_all(s.take_output(), &decode_server_message);
    return std::get<ServerHello>(messages.at(0));
}

struct Requests {
    Requests(crypto::Random& r, const Material& m, Bytes nonce) : rng(r), pki(m), server_nonce(std::move(nonce)) {}

    crypto::Random& rng;
    const Material& pki;
    Bytes server_nonce;
    Bytes client_nonce = fuzz::hello_client_nonce();
    Bytes binding = fuzz::channel_binding();

    crypto::Digest transcript(Operation op, std::string_view device, std::string_view cls, ByteView cert) const {
        TranscriptInput t;
        t.operation = op;
        t.client_nonce = client_nonce;
        t.server_nonce = server_nonce;
        t.channel_binding = binding;
        t.domain = fuzz::kDomain;
        t.device_id = device;
        t.class_id = cls;
        t.current_certificate = cert;
        return transcript_hash(t);
    }

    Bytes csr(KeyAlgorithm alg, std::string_view cn, const crypto::Digest& bound_to) const {
        const auto key = must(crypto::PrivateKey::generate(alg, rng), "CSR key");
        return must(crypto::create_csr(key, cn, csr_challenge(bound_to), rng), "CSR");
    }

    EnrollRequest enroll(KeyAlgorithm alg, std::string device = std::string(fuzz::kDeviceId),
                         std::string cls = std::string(fuzz::kClassId)) const {
        const auto t = transcript(Operation::enroll, device, cls, {});
        EnrollRequest r{device, cls, csr(alg, device, t), {}};
        const auto token = derive_device_token(as_bytes("fuzz class secret"), cls, device);
        const auto proof = token_proof(token, t, r.csr);
        r.token_proof.assign(proof.begin(), proof.end());
        return r;
    }

    RenewRequest renew(KeyAlgorithm alg) const {
        const std::string device(fuzz::kDeviceId);
        const auto t = transcript(Operation::renew, device, "", pki.device_cert);
        RenewRequest r{device, pki.device_cert, csr(alg, device, t), {}};
        r.signature = pki.device_key.sign(renewal_message(t, r.csr), rng);
        return r;
    }
};

// A CSR the crypto layer cannot build: its key algorithm is an unknown OID
// of 100 arcs. The crypto library quotes the OID in its error message, which
// once made the server's Rejected frame longer than a device accepts
// (fuzz/README.md, "Findings"). Written with a minimal DER encoder.
Bytes der(std::uint8_t tag, const Bytes& value) {
    Bytes out{tag};
    const std::size_t n = value.size();
    if (n < 0x80) {
        out.push_back(static_cast<std::uint8_t>(n));
    } else if (n <= 0xff) {
        out.insert(out.end(), {0x81, static_cast<std::uint8_t>(n)});
    } else {
        out.insert(out.end(), {0x82, static_cast<std::uint8_t>(n >> 8), static_cast<std::uint8_t>(n)});
    }
    out.insert(out.end(), value.begin(), value.end());
    return out;
}

Bytes long_oid_csr() {
    Bytes oid{0x2a};  // 1.2
    for (std::uint32_t arc = 1u << 28; arc < (1u << 28) + 100; ++arc)
        for (int shift = 28; shift >= 0; shift -= 7)
            oid.push_back(static_cast<std::uint8_t>((arc >> shift & 0x7f) | (shift > 0 ? 0x80 : 0)));
    Bytes point(66, 0x04);
    point[0] = 0x00;  // BIT STRING: no unused bits
    const Bytes spki = der(0x30, cat({der(0x30, der(0x06, oid)), der(0x03, point)}));
    const Bytes info = der(0x30, cat({der(0x02, {0x00}), der(0x30, {}), spki, der(0xa0, {})}));
    const Bytes ecdsa_sha256 = der(0x30, der(0x06, {0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02}));
    const Bytes signature = der(0x03, cat({{0x00}, der(0x30, cat({der(0x02, {0x01}), der(0x02, {0x01})}))}));
    return der(0x30, cat({info, ecdsa_sha256, signature}));
}

// ---- replaying a seed the way the targets do, to check where it leads ---------

std::string server_outcome(const Bytes& seed) {
    const auto in = fuzz::parse_session_input(seed.data(), seed.size());
    auto rng = crypto::deterministic_random(fuzz::kRandomSeed);
    ServerSession s(fuzz::server_config(), *rng, fuzz::channel_binding(), Time{0});
    s.receive(frame(fuzz::valid_client_hello(in.renew ? Operation::renew : Operation::enroll)), Time{0});
    std::string out;
    Time now{0};
    for (const ByteView call : in.calls) {
        now += in.step;
        s.receive(call, now);
        if (in.deadlines) s.on_deadline(now);
        while (auto ev = s.poll_event()) {
            if (!out.empty()) out += ",";
            if (std::holds_alternative<RequestReceived>(*ev)) {
                out += "request";
                Answer a;
                if (in.accept)
                    a.result = Issued{fuzz::fixed_certificate(), {}};
                else
                    a.result = Rejected{Code::identity_mismatch, "no"};
                (void)s.answer(a, now);
            } else if (const auto* r = std::get_if<RequestRejected>(&*ev)) {
                out += std::string("rejected:") + code_name(r->error.code);
            } else if (std::holds_alternative<InstallReported>(*ev)) {
                out += "installed";
                (void)s.acknowledge_install(in.recorded, now);
            } else {
                out += std::string("failed:") + code_name(std::get<SessionFailed>(*ev).error.code);
            }
        }
    }
    return out;
}

std::string client_outcome(const Bytes& seed) {
    const auto in = fuzz::parse_session_input(seed.data(), seed.size());
    auto rng = crypto::deterministic_random(fuzz::kRandomSeed);
    ClientSession c(fuzz::client_config(), *rng, fuzz::channel_binding(), Time{0});
    std::string out;
    Time now{0};
    for (const ByteView call : in.calls) {
        now += in.step;
        c.receive(call, now);
        if (in.deadlines) c.on_deadline(now);
        while (auto ev = c.poll_event()) {
            if (!out.empty()) out += ",";
            if (std::holds_alternative<ChallengeReceived>(*ev)) {
                out += "challenge";
                (void)c.send_enroll(fuzz::fixed_csr(), fuzz::fixed_token_proof(), now);
            } else if (const auto* a = std::get_if<AnswerReceived>(&*ev)) {
                const bool issued = std::holds_alternative<Issued>(a->answer.result);
                out += issued ? "issued" : "answer";
                if (issued)
                    (void)c.send_install_report(InstallStatus::installed, fuzz::fixed_serial(), now);
                else
                    c.finish();
            } else if (std::holds_alternative<InstallAcknowledged>(*ev)) {
                out += "ack";
            } else {
                out += std::string("failed:") + code_name(std::get<ClientFailed>(*ev).error.code);
            }
        }
    }
    return out;
}

void put_checked(Writer& w, const std::string& target, const std::string& name, const Bytes& seed,
                 const std::string& expected) {
    const std::string got = target == "server_session" ? server_outcome(seed) : client_outcome(seed);
    if (got != expected) die(target + "/" + name + ": expected \"" + expected + "\", got \"" + got + "\"");
    w.put(target, name, seed);
}

Bytes first(const Bytes& b, std::size_t n) { return Bytes(b.begin(), b.begin() + static_cast<std::ptrdiff_t>(n)); }
Bytes after(const Bytes& b, std::size_t n) { return Bytes(b.begin() + static_cast<std::ptrdiff_t>(n), b.end()); }

// ---- the three corpora ----------------------------------------------------------

constexpr std::uint8_t kAccept = fuzz::kFlagAccept;
constexpr std::uint8_t kDeadlines = fuzz::kFlagDeadlines;
constexpr std::uint8_t kRenew = fuzz::kFlagRenew;
constexpr std::uint8_t kRecorded = fuzz::kFlagRecorded;
constexpr std::uint8_t kSecond = 2;  // time step: one second per receive()

void server_corpus(Writer& w, const Requests& req) {
    const std::string t = "server_session";
    const Bytes enroll = frame(req.enroll(KeyAlgorithm::ecdsa_p256));
    const Bytes installed = frame(InstallReport{0, fuzz::fixed_serial()});
    const Bytes untrusted = frame(InstallReport{static_cast<std::uint32_t>(InstallStatus::untrusted_chain),
                                                fuzz::fixed_serial()});

    put_checked(w, t, "enroll_p256_issued_installed.bin",
                fuzz::session_input(kAccept | kRecorded, kSecond, {enroll, installed}), "request,installed");
    put_checked(w, t, "enroll_ed25519_rejected.bin",
                fuzz::session_input(0, kSecond, {frame(req.enroll(KeyAlgorithm::ed25519))}), "request");
    put_checked(w, t, "renew_p256_issued_installed.bin",
                fuzz::session_input(kRenew | kAccept | kRecorded, kSecond,
                                    {frame(req.renew(KeyAlgorithm::ecdsa_p256)), installed}),
                "request,installed");
    put_checked(w, t, "renew_ed25519_issued_untrusted_chain.bin",
                fuzz::session_input(kRenew | kAccept, kSecond, {frame(req.renew(KeyAlgorithm::ed25519)), untrusted}),
                "request,installed");
    put_checked(w, t, "renew_request_after_enroll_hello.bin",
                fuzz::session_input(kAccept, kSecond, {frame(req.renew(KeyAlgorithm::ecdsa_p256))}),
                "failed:unexpected_message");
    put_checked(w, t, "enroll_request_after_renew_hello.bin", fuzz::session_input(kRenew | kAccept, kSecond, {enroll}),
                "failed:unexpected_message");
    put_checked(w, t, "install_report_then_extra_frame.bin",
                fuzz::session_input(kAccept | kRecorded, kSecond, {enroll, cat({installed, installed})}),
                "request,installed,failed:unexpected_message");
    put_checked(w, t, "enroll_split_inside_frames.bin",
                fuzz::session_input(kAccept, kSecond, {first(enroll, 3), after(enroll, 3), first(installed, 5),
                                                       after(installed, 5)}),
                "request,installed");
    // The request is dropped: a failed session never hands one out.
    put_checked(w, t, "enroll_and_install_report_in_one_call.bin",
                fuzz::session_input(kAccept, kSecond, {cat({enroll, installed})}), "failed:unexpected_message");
    put_checked(w, t, "enroll_rejected_then_trailing_bytes.bin",
                fuzz::session_input(0, kSecond, {enroll, installed, {0xff, 0xff, 0xff}}), "request");
    put_checked(w, t, "enroll_p384_key_not_allowed.bin",
                fuzz::session_input(kAccept, kSecond, {frame(req.enroll(KeyAlgorithm::ecdsa_p384))}),
                "rejected:key_algorithm_not_allowed");

    auto wrong_binding = req.enroll(KeyAlgorithm::ecdsa_p256, "dev-2");
    wrong_binding.device_id = "dev-1";  // CSR bound to dev-2's transcript
    put_checked(w, t, "enroll_challenge_mismatch.bin", fuzz::session_input(kAccept, kSecond, {frame(wrong_binding)}),
                "rejected:challenge_mismatch");
    auto bad_sig = req.enroll(KeyAlgorithm::ecdsa_p256);
    bad_sig.csr.back() ^= 0x01;
    put_checked(w, t, "enroll_csr_bad_signature.bin", fuzz::session_input(kAccept, kSecond, {frame(bad_sig)}),
                "rejected:bad_possession_proof");
    auto garbage_csr = req.enroll(KeyAlgorithm::ecdsa_p256);
    garbage_csr.csr = to_bytes("not a certificate request");
    put_checked(w, t, "enroll_csr_garbage.bin", fuzz::session_input(kAccept, kSecond, {frame(garbage_csr)}),
                "rejected:invalid_csr");
    auto long_oid = req.enroll(KeyAlgorithm::ecdsa_p256);
    long_oid.csr = long_oid_csr();
    put_checked(w, t, "enroll_csr_long_unknown_oid.bin", fuzz::session_input(0, kSecond, {frame(long_oid)}),
                "rejected:invalid_csr");
    put_checked(w, t, "enroll_invalid_device_id.bin",
                fuzz::session_input(kAccept, kSecond, {frame(req.enroll(KeyAlgorithm::ecdsa_p256, "../etc"))}),
                "rejected:invalid_device_id");
    put_checked(w, t, "enroll_invalid_class_id.bin",
                fuzz::session_input(kAccept, kSecond,
                                    {frame(req.enroll(KeyAlgorithm::ecdsa_p256, "dev-1", "class with spaces"))}),
                "rejected:unknown_class");
    put_checked(w, t, "enroll_challenge_expired.bin", fuzz::session_input(kAccept, 122, {enroll}),
                "rejected:challenge_expired");
    put_checked(w, t, "idle_until_deadline.bin", fuzz::session_input(kDeadlines, 70, {}),
                "failed:deadline_exceeded");
    put_checked(w, t, "second_client_hello.bin",
                fuzz::session_input(0, kSecond, {frame(fuzz::valid_client_hello())}), "failed:unexpected_message");
    put_checked(w, t, "install_report_before_request.bin", fuzz::session_input(0, kSecond, {installed}),
                "failed:unexpected_message");
    put_checked(w, t, "frame_too_large.bin", fuzz::session_input(0, kSecond, {{0x00, 0x01, 0x00, 0x01, 0x0a}}),
                "failed:frame_too_large");
    put_checked(w, t, "frame_zero_length.bin", fuzz::session_input(0, kSecond, {{0x00, 0x00, 0x00, 0x00}}),
                "failed:frame_empty");
    put_checked(w, t, "garbage_payload.bin", fuzz::session_input(0, kSecond, {raw_frame({0xff, 0xff, 0xff})}),
                "failed:malformed_message");
    put_checked(w, t, "renew_empty_signature.bin",
                fuzz::session_input(kRenew, kSecond, {frame(RenewRequest{"dev-1", req.pki.device_cert, {0x30}, {}})}),
                "failed:field_invalid");
}

void client_corpus(Writer& w, const Material& pki) {
    const std::string t = "client_session";
    ServerHello hello;
    hello.server_nonce = Bytes(bounds::kNonce, 0x5e);
    hello.domain = std::string(fuzz::kDomain);
    hello.ca_chain = {pki.root_cert};
    hello.key_algorithms = {KeyAlgorithm::ecdsa_p256, KeyAlgorithm::ed25519};
    hello.challenge_ttl_seconds = 60;
    hello.max_frame_bytes = kDefaultMaxFrame;
    const Bytes h = frame(hello);
    const Bytes issued = frame(Answer{"0011223344556677", Issued{pki.device_cert, {pki.root_cert}}});
    const Bytes ack = frame(InstallAck{true});
    const Bytes rejected = frame(Answer{"0011223344556677", Rejected{Code::bad_token_proof, "token proof"}});

    put_checked(w, t, "issued_installed_acked.bin", fuzz::session_input(kAccept, kSecond, {h, issued, ack}),
                "challenge,issued,ack");
    put_checked(w, t, "issued_untrusted_chain_acked.bin", fuzz::session_input(0, kSecond, {h, issued, ack}),
                "challenge,issued,ack");
    put_checked(w, t, "issued_split_inside_frames.bin",
                fuzz::session_input(kAccept, kSecond, {first(h, 2), after(h, 2), issued, ack}),
                "challenge,issued,ack");
    put_checked(w, t, "rejected.bin", fuzz::session_input(0, kSecond, {h, rejected}), "challenge,answer");
    put_checked(w, t, "pending.bin",
                fuzz::session_input(0, kSecond, {h, frame(Answer{"01", Pending{30}})}), "challenge,answer");
    put_checked(w, t, "redirect.bin",
                fuzz::session_input(0, kSecond, {h, frame(Answer{"01", Redirect{"ca2.fuzz.example:4604", "fuzz.example"}})}),
                "challenge,answer");
    put_checked(w, t, "protocol_error_after_hello.bin",
                fuzz::session_input(0, kSecond, {h, frame(ProtocolError{Code::bad_possession_proof, "bad CSR"})}),
                "challenge,failed:bad_possession_proof");
    put_checked(w, t, "protocol_error_while_ready.bin",
                fuzz::session_input(0, kSecond, {cat({h, frame(ProtocolError{Code::deadline_exceeded, "late"})})}),
                "challenge,failed:deadline_exceeded");
    put_checked(w, t, "protocol_error_after_answer.bin",
                fuzz::session_input(0, kSecond, {h, cat({rejected, frame(ProtocolError{Code::internal, "oops"})})}),
                "challenge,answer,failed:internal");
    put_checked(w, t, "protocol_error_first.bin",
                fuzz::session_input(0, kSecond, {frame(ProtocolError{Code::unsupported_version, "v1 only"})}),
                "failed:unsupported_version");
    auto v2 = hello;
    v2.version = 2;
    put_checked(w, t, "server_hello_version_2.bin", fuzz::session_input(0, kSecond, {frame(v2)}),
                "failed:unsupported_version");
    put_checked(w, t, "server_hello_twice.bin", fuzz::session_input(0, kSecond, {h, h}),
                "challenge,failed:unexpected_message");
    put_checked(w, t, "answer_before_hello.bin", fuzz::session_input(0, kSecond, {rejected}),
                "failed:unexpected_message");
    put_checked(w, t, "install_ack_before_answer.bin", fuzz::session_input(0, kSecond, {h, ack}),
                "challenge,failed:unexpected_message");
    put_checked(w, t, "hello_and_answer_in_one_call.bin", fuzz::session_input(kAccept, kSecond, {cat({h, issued})}),
                "challenge,failed:unexpected_message");
    put_checked(w, t, "acked_then_trailing_bytes.bin",
                fuzz::session_input(kAccept, kSecond, {h, issued, cat({ack, {0x00, 0x00}}), {0xff}}),
                "challenge,issued,ack");
    put_checked(w, t, "deadline_while_awaiting_answer.bin", fuzz::session_input(kDeadlines, 100, {h}),
                "challenge,failed:deadline_exceeded");
    put_checked(w, t, "frame_too_large.bin", fuzz::session_input(0, kSecond, {{0x7f, 0xff, 0xff, 0xff}}),
                "failed:frame_too_large");
    put_checked(w, t, "garbage_payload.bin", fuzz::session_input(0, kSecond, {raw_frame({0x0a, 0x05, 0x01})}),
                "failed:malformed_message");
    auto short_nonce = hello;
    short_nonce.server_nonce.pop_back();
    put_checked(w, t, "server_hello_nonce_31.bin", fuzz::session_input(0, kSecond, {frame(short_nonce)}),
                "failed:field_invalid");
}

void frame_corpus(Writer& w, const Requests& req, const Material& pki) {
    const std::string t = "frame";
    const Bytes hello = frame(fuzz::valid_client_hello());
    const Bytes enroll = frame(req.enroll(KeyAlgorithm::ecdsa_p256));
    const Bytes install = frame(InstallReport{0, fuzz::fixed_serial()});
    w.put(t, "client_hello_valid.bin", hello);
    w.put(t, "enroll_request_valid.bin", enroll);
    w.put(t, "enroll_request_ed25519_valid.bin", frame(req.enroll(KeyAlgorithm::ed25519)));
    w.put(t, "renew_request_valid.bin", frame(req.renew(KeyAlgorithm::ecdsa_p256)));
    w.put(t, "install_report_valid.bin", install);
    w.put(t, "client_exchange_three_frames.bin", cat({hello, enroll, install}));

    ServerHello sh = fuzz_server_hello();
    sh.ca_chain = {pki.root_cert};
    const Bytes server_hello = frame(sh);
    const Bytes issued = frame(Answer{"0011223344556677", Issued{pki.device_cert, {pki.root_cert}}});
    const Bytes ack = frame(InstallAck{true});
    w.put(t, "server_hello_valid.bin", server_hello);
    w.put(t, "answer_issued_valid.bin", issued);
    w.put(t, "answer_rejected_valid.bin", frame(Answer{"01", Rejected{Code::challenge_mismatch, "not bound"}}));
    w.put(t, "answer_pending_valid.bin", frame(Answer{"01", Pending{30}}));
    w.put(t, "answer_redirect_valid.bin", frame(Answer{"01", Redirect{"ca2.fuzz.example:4604", "fuzz.example"}}));
    w.put(t, "install_ack_valid.bin", ack);
    w.put(t, "protocol_error_valid.bin", frame(ProtocolError{Code::frame_too_large, "too large"}));
    w.put(t, "server_exchange_three_frames.bin", cat({server_hello, issued, ack}));

    // Invalid framing and invalid messages.
    w.put(t, "frame_zero_length.bin", {0x00, 0x00, 0x00, 0x00});
    w.put(t, "frame_too_large.bin", {0x00, 0x01, 0x00, 0x01, 0x00});
    w.put(t, "frame_truncated_header.bin", {0x00, 0x00});
    w.put(t, "frame_truncated_payload.bin", first(enroll, enroll.size() / 2));
    w.put(t, "frame_valid_then_zero_length.bin", cat({hello, {0x00, 0x00, 0x00, 0x00}, install}));
    w.put(t, "garbage_payload.bin", raw_frame({0xff, 0xff, 0xff, 0xff}));
    w.put(t, "answer_without_result.bin", raw_frame({0x12, 0x00}));
    auto short_nonce = fuzz::valid_client_hello();
    short_nonce.client_nonce.pop_back();
    w.put(t, "client_hello_nonce_31.bin", frame(short_nonce));
    w.put(t, "install_report_unknown_status.bin", frame(InstallReport{4, fuzz::fixed_serial()}));
}

}  // namespace

int main(int argc, char** argv) {
    if (argc != 2) {
        std::fprintf(stderr, "usage: %s CORPUS_ROOT   (e.g. fuzz/corpus)\n", argv[0]);
        return 2;
    }
    auto rng = crypto::deterministic_random(20240601);
    const Material pki = make_material(*rng);
    const Requests req(*rng, pki, fuzz_server_hello().server_nonce);

    Writer w(argv[1]);
    frame_corpus(w, req, pki);
    server_corpus(w, req);
    client_corpus(w, pki);
    std::printf("wrote %d files under %s\n", w.written(), argv[1]);
    return 0;
}
