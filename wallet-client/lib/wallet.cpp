// The wallet's exchange driver: feeds the core ClientSession from a
// Transport, answers its events with keys, CSRs and proofs, validates and
// installs what the server issues, and confirms the install.
#include <algorithm>

#include "idwallet.hpp"
#include "irp/core/client_session.hpp"
#include "irp/core/transcript.hpp"

namespace irp::wallet {

namespace {

struct Exchange {
    Exchange(Transport& t, Storage& s, crypto::Random& r, const Clock& c, Operation o, std::string id)
        : transport(t), storage(s), rng(r), clock(c), op(o), device_id(std::move(id)) {}

    Transport& transport;
    Storage& storage;
    crypto::Random& rng;
    const Clock& clock;
    Operation op;
    std::string device_id;
    // enroll
    std::string class_id;
    Bytes token;
    KeyAlgorithm algorithm = KeyAlgorithm::ecdsa_p256;
    // renew
    std::optional<Credentials> current;
    bool same_key = false;
    std::vector<Bytes> trusted_roots;
    Limits limits;

    std::shared_ptr<const crypto::PrivateKey> new_key;
    std::string domain;
    Outcome outcome;

    Result<void> on_challenge(ClientSession& s, const ChallengeReceived& c) {
        domain = c.hello.domain;
        const auto& offered = c.hello.key_algorithms;
        if (same_key && current) {
            new_key = current->key;
        } else {
            const KeyAlgorithm alg = current ? current->key->algorithm() : algorithm;
            if (std::find(offered.begin(), offered.end(), alg) == offered.end())
                return make_error(Code::key_algorithm_not_allowed,
                                  std::string("the server does not accept ") + crypto::key_algorithm_name(alg) + " keys");
            auto k = crypto::PrivateKey::generate(alg, rng);
            if (!k) return k.error();
            new_key = std::make_shared<const crypto::PrivateKey>(std::move(k.value()));
        }
        // The CSR carries the transcript, so its self-signature is the proof
        // of possession bound to this connection.
        auto csr = crypto::create_csr(*new_key, device_id, csr_challenge(c.transcript), rng);
        if (!csr) return csr.error();
        const Time now = clock.monotonic();
        if (op == Operation::enroll) {
            const auto proof = token_proof(token, c.transcript, *csr);
            return s.send_enroll(std::move(csr.value()), Bytes(proof.begin(), proof.end()), now);
        }
        const Bytes sig = current->key->sign(renewal_message(c.transcript, *csr), rng);
        if (sig.empty()) return make_error(Code::internal, "signing with the current key failed");
        return s.send_renew(std::move(csr.value()), sig, now);
    }

    Result<void> on_answer(ClientSession& s, Answer&& a) {
        outcome.request_id = a.request_id;
        if (auto* rej = std::get_if<Rejected>(&a.result)) {
            outcome.kind = Outcome::Kind::rejected;
            outcome.rejection = make_error(rej->code, rej->message);
            s.finish();
            return {};
        }
        if (auto* p = std::get_if<Pending>(&a.result)) {
            outcome.kind = Outcome::Kind::pending;
            outcome.retry_after_seconds = p->retry_after_seconds;
            s.finish();
            return {};
        }
        if (auto* r = std::get_if<Redirect>(&a.result)) {
            outcome.kind = Outcome::Kind::redirect;
            outcome.redirect = *r;
            s.finish();
            return {};
        }
        auto& issued = std::get<Issued>(a.result);
        Expectation e{device_id, domain, new_key->public_key_der(), trusted_roots, clock.unix_now()};
        auto parsed = crypto::parse_certificate(issued.certificate);
        Bytes serial = parsed && !parsed->serial.empty() && parsed->serial.size() <= bounds::kMaxSerial ? parsed->serial
                                                                                                          : Bytes{0};
        if (auto bad = validate_issued(issued, e)) {
            outcome.kind = Outcome::Kind::invalid;
            outcome.invalid = bad;
            return s.send_install_report(bad->status, serial, clock.monotonic());
        }
        if (auto r = storage.install(Credentials{new_key, issued.certificate, issued.chain}); !r) {
            outcome.kind = Outcome::Kind::invalid;
            outcome.invalid = InstallFailure{InstallStatus::storage_write_failed, r.error().message};
            return s.send_install_report(InstallStatus::storage_write_failed, serial, clock.monotonic());
        }
        outcome.kind = Outcome::Kind::installed;
        outcome.certificate = std::move(parsed.value());
        return s.send_install_report(InstallStatus::installed, serial, clock.monotonic());
    }

    Result<Outcome> run() {
        ClientSessionConfig cfg;
        cfg.operation = op;
        cfg.device_id = device_id;
        cfg.class_id = op == Operation::enroll ? class_id : "";
        if (current) cfg.current_certificate = current->certificate;
        cfg.limits = limits;
        ClientSession s(std::move(cfg), rng, transport.channel_binding(), clock.monotonic());

        for (;;) {
            while (auto ev = s.poll_event()) {
                Result<void> r;
                if (auto* c = std::get_if<ChallengeReceived>(&*ev)) {
                    r = on_challenge(s, *c);
                } else if (auto* a = std::get_if<AnswerReceived>(&*ev)) {
                    r = on_answer(s, std::move(a->answer));
                } else if (auto* ack = std::get_if<InstallAcknowledged>(&*ev)) {
                    outcome.install_confirmed = ack->recorded;
                } else if (auto* f = std::get_if<ClientFailed>(&*ev)) {
                    return f->error;
                }
                if (!r) return r.error();
            }
            if (const Bytes out = s.take_output(); !out.empty())
                if (auto r = transport.send(out); !r) return r.error();
            if (s.finished()) return outcome;

            const auto deadline = s.next_deadline();
            const Time now = clock.monotonic();
            const Time wait = deadline ? std::max(Time{1}, *deadline - now) : limits.idle_timeout;
            auto data = transport.receive(wait);
            if (!data) {
                if (data.error().code != Code::deadline_exceeded) {
                    // Installed but the ack was lost: the certificate is ours
                    // (the server may show it as issued, not installed).
                    if (s.state() == ClientSession::State::await_install_ack) return outcome;
                    return data.error();
                }
                s.on_deadline(clock.monotonic());
                continue;
            }
            s.receive(*data, clock.monotonic());
        }
    }
};

}  // namespace

Result<Outcome> enroll(Transport& t, Storage& s, const EnrollOptions& o, crypto::Random& rng, const Clock& clock) {
    Exchange x{t, s, rng, clock, Operation::enroll, o.device_id};
    x.class_id = o.class_id;
    x.token = o.token;
    x.algorithm = o.key_algorithm;
    x.trusted_roots = o.trusted_roots;
    x.limits = o.limits;
    return x.run();
}

Result<Outcome> renew(Transport& t, Storage& s, const RenewOptions& o, crypto::Random& rng, const Clock& clock) {
    auto cur = s.load();
    if (!cur) return cur.error();
    if (!cur.value()) return make_error(Code::file_error, "no certificate is installed; enroll first");
    auto info = crypto::parse_certificate(cur.value()->certificate);
    if (!info) return make_error(Code::file_error, "the installed certificate does not parse: " + info.error().message);
    Exchange x{t, s, rng, clock, Operation::renew, info->subject_cn};
    x.current = std::move(*cur.value());
    x.same_key = o.same_key;
    x.trusted_roots = o.trusted_roots;
    x.limits = o.limits;
    return x.run();
}

}  // namespace irp::wallet
