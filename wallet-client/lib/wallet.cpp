// The wallet's exchange driver: feeds the core ClientSession from a
// Transport, answers its events with keys, CSRs and proofs, validates and
// installs what the server issues, and confirms the install.
#include <algorithm>

#include "idwallet.hpp"
#include "irp/core/client_session.hpp"
#include "irp/core/transcript.hpp"

namespace irp::wallet {

namespace {

// The CA certificate in the wallet's chain that signed its certificate: the
// one whose CRL covers it. Empty when the chain holds none.
Bytes issuing_ca(const Credentials& c) {
    for (const auto& ca : c.chain)
        if (crypto::signed_by(c.certificate, ca)) return ca;
    return {};
}

constexpr std::int32_t kCertificateHold = 6;  // RFC 5280 CRLReason: suspended, not revoked

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
    std::shared_ptr<const crypto::PrivateKey> bootstrap_key;
    std::vector<Bytes> bootstrap_chain;
    std::string model;
    std::optional<PendingEnrollment> pending;  // a held request this enrollment continues
    KeyAlgorithm algorithm = KeyAlgorithm::ecdsa_p256;
    // renew
    std::optional<Credentials> current;
    bool same_key = false;
    std::vector<Bytes> trusted_roots;
    Limits limits;
    // check-in: the CRL
    bool fetch_crl = false;
    Bytes issuer_ca;                            // verifies it
    std::optional<std::int64_t> held_crl_number;  // of the one held from issuer_ca

    std::shared_ptr<const crypto::PrivateKey> new_key;
    bool generated = false;  // new_key came from storage.generate_key
    bool kept = false;       // ... and was installed or held
    std::string expected_domain;  // enroll after a redirect, or at a server found by mDNS
    std::string domain;
    Outcome outcome;

    Result<void> on_challenge(ClientSession& s, const ChallengeReceived& c) {
        domain = c.hello.domain;
        if (!expected_domain.empty() && domain != expected_domain)
            return make_error(Code::identity_mismatch, "expected domain " + expected_domain +
                                                           " (from a redirect or discovery), but the server says it serves " + domain);
        if (op == Operation::check_in) {
            const Bytes sig = current->key->sign(check_in_message(c.transcript), rng);
            if (sig.empty()) return make_error(Code::internal, "signing with the current key failed");
            if (!fetch_crl) return s.send_check_in(sig, clock.monotonic());
            return s.send_check_in(sig, static_cast<std::uint64_t>(held_crl_number.value_or(0)), clock.monotonic());
        }
        const auto& offered = c.hello.key_algorithms;
        if (pending) {
            new_key = pending->key;  // the key the held request was made for
        } else if (same_key && current) {
            new_key = current->key;
        } else {
            const KeyAlgorithm alg = current ? current->key->algorithm() : algorithm;
            if (std::find(offered.begin(), offered.end(), alg) == offered.end())
                return make_error(Code::key_algorithm_not_allowed,
                                  std::string("the server does not accept ") + crypto::key_algorithm_name(alg) + " keys");
            // In software, or inside the store's PKCS#11 token.
            auto k = storage.generate_key(alg, rng);
            if (!k) return k.error();
            new_key = std::move(k.value());
            generated = true;
        }
        // The CSR carries the transcript, so its self-signature is the proof
        // of possession bound to this connection.
        auto csr = crypto::create_csr(*new_key, device_id, csr_challenge(c.transcript), rng);
        if (!csr) return csr.error();
        const Time now = clock.monotonic();
        if (op == Operation::enroll) {
            EnrollProof p;
            if (!token.empty()) {
                const auto proof = token_proof(token, c.transcript, *csr);
                p.token_proof.assign(proof.begin(), proof.end());
            } else if (bootstrap_key) {
                p.bootstrap_signature = bootstrap_key->sign(bootstrap_message(c.transcript, *csr), rng);
                if (p.bootstrap_signature.empty()) return make_error(Code::internal, "signing with the bootstrap key failed");
                if (bootstrap_chain.empty())
                    p.bootstrap_key = bootstrap_key->public_key_der();
                else
                    p.bootstrap_chain = bootstrap_chain;
            }
            return s.send_enroll(std::move(csr.value()), std::move(p), now);
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
            return on_rejected(rej->code);
        }
        if (auto* p = std::get_if<Pending>(&a.result)) {
            outcome.kind = Outcome::Kind::pending;
            outcome.retry_after_seconds = p->retry_after_seconds;
            s.finish();
            if (op != Operation::enroll) return {};
            if (auto r = storage.save_pending(PendingEnrollment{new_key, a.request_id, device_id, class_id}); !r)
                return r;
            kept = true;
            return {};
        }
        if (auto* c = std::get_if<CheckedIn>(&a.result)) {
            outcome.kind = Outcome::Kind::checked_in;
            outcome.checked_in = std::move(*c);
            s.finish();
            if (outcome.checked_in.crl.empty()) return {};
            return take_crl(outcome.checked_in.crl);
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
        kept = true;
        outcome.kind = Outcome::Kind::installed;
        outcome.certificate = std::move(parsed.value());
        if (pending)
            if (auto r = storage.clear_pending(); !r) return r;
        return s.send_install_report(InstallStatus::installed, serial, clock.monotonic());
    }

    // A CRL that came with a check-in: verified, not older than the one
    // held, then saved; a refused one is reported, never stored, and does
    // not fail the check-in. One that lists this device resets it.
    Result<void> take_crl(const Bytes& der) {
        auto refuse = [this](Code code, std::string why) -> Result<void> {
            outcome.crl_refused = make_error(code, "refused the CRL from the server: " + std::move(why));
            return {};
        };
        if (!fetch_crl) return refuse(Code::unexpected_message, "the check-in did not ask for one");
        if (issuer_ca.empty())
            return refuse(Code::bad_argument, "the wallet's chain holds no certificate of the CA that issued its "
                                              "certificate, so the CRL cannot be verified");
        auto info = crypto::parse_and_verify_crl(der, issuer_ca);
        if (!info) {
            const std::string why = info.error().code == Code::identity_mismatch
                                        ? "it was not signed by this device's issuing CA (" + info.error().message + ")"
                                        : info.error().message;
            return refuse(info.error().code, why);
        }
        outcome.crl_number = info->crl_number;
        if (held_crl_number && info->crl_number < *held_crl_number)
            return refuse(Code::already_exists, "its CRL Number " + std::to_string(info->crl_number) +
                                                    " is lower than that of the CRL held (" +
                                                    std::to_string(*held_crl_number) + ")");
        auto me = crypto::parse_certificate(current->certificate);
        if (!me) return me.error();
        for (const auto& e : info->entries) {
            if (e.serial != me->serial || e.reason == kCertificateHold) continue;
            // Revoked: stop using the identity at once, as when the server
            // answers certificate_not_active (docs/PROTOCOL.md, "Reset").
            if (auto r = storage.wipe(); !r) return r;
            outcome.reset = true;
            outcome.rejection = make_error(Code::certificate_not_active,
                                           "the domain's CRL (number " + std::to_string(info->crl_number) +
                                               ") lists this device's certificate as revoked");
            return {};
        }
        if (auto r = storage.save_crl(der); !r) return refuse(Code::file_error, "cannot store it: " + r.error().message);
        outcome.crl_stored = true;
        return {};
    }

    // What a refusal means for what the device holds.
    Result<void> on_rejected(Code code) {
        // Released by its owner, or (check-in) its certificate is revoked or
        // expired: stop using the identity at once (docs/PROTOCOL.md,
        // "Release").
        const bool dead = code == Code::device_released ||
                          (op == Operation::check_in && code == Code::certificate_not_active);
        if (dead && op != Operation::enroll) {
            if (auto r = storage.wipe(); !r) return r;
            outcome.reset = true;
            return {};
        }
        // An administrator said no: the held request is over.
        if (op == Operation::enroll && pending && code == Code::request_rejected) return storage.clear_pending();
        return {};
    }

    Result<Outcome> run() {
        auto r = exchange();
        // A key made for this exchange and neither installed nor held: a
        // token store destroys it rather than leave it in the token.
        if (generated && !kept) storage.discard_key(*new_key);
        return r;
    }

    Result<Outcome> exchange() {
        ClientSessionConfig cfg;
        cfg.operation = op;
        cfg.device_id = device_id;
        cfg.class_id = op == Operation::enroll ? class_id : "";
        if (pending) cfg.held_request_id = pending->request_id;
        cfg.model = model;
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
    x.bootstrap_key = o.bootstrap_key;
    x.bootstrap_chain = o.bootstrap_chain;
    x.model = o.model;
    x.algorithm = o.key_algorithm;
    x.expected_domain = o.expected_domain;
    if (!o.token.empty() && o.bootstrap_key)
        return make_error(Code::bad_argument, "give a token or a bootstrap key, not both");
    if (!o.bootstrap_chain.empty() && !o.bootstrap_key)
        return make_error(Code::bad_argument, "a manufacturer certificate needs its key");
    auto held = s.load_pending();
    if (!held) return held.error();
    // A held request is continued only by the same device and class.
    if (*held && (*held)->device_id == o.device_id && (*held)->class_id == o.class_id) x.pending = std::move(**held);
    x.trusted_roots = o.trusted_roots;
    x.limits = o.limits;
    return x.run();
}

Result<Outcome> check_in(Transport& t, Storage& s, const CheckInOptions& o, crypto::Random& rng, const Clock& clock) {
    auto cur = s.load();
    if (!cur) return cur.error();
    if (!cur.value()) return make_error(Code::file_error, "no certificate is installed; enroll first");
    auto info = crypto::parse_certificate(cur.value()->certificate);
    if (!info) return make_error(Code::file_error, "the installed certificate does not parse: " + info.error().message);
    Exchange x{t, s, rng, clock, Operation::check_in, info->subject_cn};
    x.current = std::move(*cur.value());
    x.limits = o.limits;
    x.fetch_crl = o.fetch_crl;
    if (o.fetch_crl) {
        x.issuer_ca = issuing_ca(*x.current);
        // The number of the CRL held, if it is this issuer's: after a
        // renewal by another CA, or a damaged file, it counts as none and
        // the server's current CRL replaces it.
        auto held = s.load_crl();
        if (held && *held && !x.issuer_ca.empty())
            if (auto crl = crypto::parse_and_verify_crl(**held, x.issuer_ca); crl) x.held_crl_number = crl->crl_number;
    }
    return x.run();
}

Result<std::optional<HeldCrl>> held_crl(Storage& s) {
    auto der = s.load_crl();
    if (!der) return der.error();
    if (!der.value()) return std::optional<HeldCrl>{};
    auto cur = s.load();
    if (!cur) return cur.error();
    if (!cur.value()) return make_error(Code::file_error, "no certificate is installed, so the CRL cannot be verified");
    HeldCrl out;
    out.issuer_ca = issuing_ca(*cur.value());
    if (out.issuer_ca.empty())
        return make_error(Code::identity_mismatch, "the wallet's chain holds no certificate of its issuing CA");
    auto info = crypto::parse_and_verify_crl(**der, out.issuer_ca);
    if (!info)
        return make_error(info.error().code, "the stored CRL does not verify with this wallet's issuing CA: " +
                                                 info.error().message);
    out.der = std::move(**der);
    out.info = std::move(info.value());
    return std::optional<HeldCrl>(std::move(out));
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
