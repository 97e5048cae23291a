#include "enroll_service.hpp"

#include <algorithm>
#include <chrono>
#include <ctime>

#include "accounts/rights_text.hpp"
#include "irp/core/transcript.hpp"
#include "lifecycle/bootstrap.hpp"
#include "log.hpp"
#include "revocation/revocation.hpp"

namespace irp::server {

namespace {


Rejected to_rejected(const Error& e) { return Rejected{e.code, e.message}; }
std::string code_text(Code c) { return std::to_string(static_cast<int>(c)) + "/" + code_name(c); }

// Requested extensions a device may include in its CSR. The issued
// certificate's extensions are always set by the profile, never copied from
// the request; anything else requested is refused so a device cannot ask for
// more than the profile gives (docs/PROTOCOL.md, "Certificate profile").
constexpr const char* kTolerableExtensions[] = {
    "2.5.29.14",  // subjectKeyIdentifier
    "2.5.29.15",  // keyUsage
    "2.5.29.17",  // subjectAltName
    "2.5.29.19",  // basicConstraints (cA must be FALSE)
    "2.5.29.37",  // extKeyUsage
};

constexpr std::size_t kMaxAwaitingInstall = 10'000;

}  // namespace

EnrollService::EnrollService(const Authority& ca, Store& store, const ClassRegistry& classes, HoldDesk& holds,
                             ServicePolicy policy, LogSink log, std::function<std::int64_t()> clock)
    : ca_(ca),
      store_(store),
      policy_(policy),
      classes_(classes),
      holds_(holds),
      log_(std::move(log)),
      clock_(std::move(clock)) {}

Result<void> EnrollService::check_csr_policy(const RequestReceived& req) const {
    if (req.csr.requests_ca)
        return make_error(Code::extension_not_allowed, "the CSR asks for a CA certificate");
    for (const auto& oid : req.csr.extension_oids) {
        bool ok = false;
        for (const char* allowed : kTolerableExtensions) ok = ok || oid == allowed;
        if (!ok) return make_error(Code::extension_not_allowed, "the CSR requests extension " + oid + ", which this domain does not issue");
    }
    return {};
}

Result<void> EnrollService::check_not_released(const std::string& device_id) {
    auto dev = store_.find_device(device_id);
    if (!dev) return dev.error();
    if (*dev && (*dev)->released_at)
        return make_error(Code::device_released,
                          "this device was released by its owner; it must enroll with its new owner's domain");
    return {};
}

Result<EnrollService::Presented> EnrollService::authorise_renew(const RequestReceived& req) {
    const auto& m = ca_.material();
    const std::int64_t now = clock_();
    // The current CA or a retired one ([[domain.retired]]): a CA rotation
    // must not force every device to enroll again. The renewed certificate
    // comes from the current CA all the same.
    bool ours = crypto::signed_by(req.current_certificate, m.ca_der);
    for (std::size_t i = 0; !ours && i < m.retired.size(); ++i)
        ours = crypto::signed_by(req.current_certificate, m.retired[i].ca_der);
    if (!ours) return make_error(Code::unknown_certificate, "the presented certificate was not issued by this domain");
    auto info = crypto::parse_certificate(req.current_certificate);
    if (!info) return make_error(Code::unknown_certificate, info.error().message);
    const std::string serial = to_hex(info->serial);
    auto rec = store_.find_certificate(serial);
    if (!rec) return rec.error();
    if (!rec.value() || rec.value()->der != req.current_certificate)
        return make_error(Code::unknown_certificate, "no record of the presented certificate");
    const auto& r = *rec.value();
    if (r.device_id != req.device_id)
        return make_error(Code::identity_mismatch, "the certificate belongs to another device");
    if (auto rel = check_not_released(req.device_id); !rel) return rel.error();
    if (r.revoked_at)
        return make_error(Code::certificate_not_active, "the certificate is revoked; the device must enroll again");
    if (req.operation == Operation::check_in) {
        if (now > info->not_after || now < info->not_before)
            return make_error(Code::certificate_not_active, "the certificate is outside its validity period");
        if (!crypto::verify_signature(info->public_key, check_in_message(req.transcript), req.renewal_signature))
            return make_error(Code::bad_renewal_signature, "the check-in signature does not verify with the certificate's key");
        return Presented{std::move(*rec.value()), std::move(*info)};
    }
    if (r.status == CertStatus::superseded) {
        // A renewal whose answer never reached the device (or that the device
        // refused) must not lock it out: its successor was never installed.
        auto next = store_.find_certificate(r.replaced_by);
        if (!next) return next.error();
        // A revoked successor is not abandoned: revocation is final.
        const bool abandoned = next.value() && !next.value()->revoked_at &&
                               (next.value()->status == CertStatus::issued ||
                                next.value()->status == CertStatus::install_failed);
        if (!abandoned) return make_error(Code::certificate_not_active, "the certificate has already been renewed");
    } else if (r.status == CertStatus::install_failed) {
        return make_error(Code::certificate_not_active, "the device reported this certificate as not installed");
    }
    if (now > info->not_after || now < info->not_before)
        return make_error(Code::certificate_not_active, "the certificate is outside its validity period");
    // The current key signs the transcript and the new CSR's hash: the
    // renewal cannot be replayed and cannot be moved to another key.
    if (!crypto::verify_signature(info->public_key, renewal_message(req.transcript, req.csr_der), req.renewal_signature))
        return make_error(Code::bad_renewal_signature, "the renewal signature does not verify with the current key");
    if (!policy().allow_same_key_renewal && req.csr.public_key == info->public_key)
        return make_error(Code::same_key_not_allowed, "renewal must present a new key pair");
    return Presented{std::move(*rec.value()), std::move(*info)};
}

Result<Decision> EnrollService::check_in(const RequestReceived& req) {
    auto presented = authorise_renew(req);
    if (!presented) return presented.error();
    const CertificateRecord& rec = presented->record;
    const crypto::CertInfo& info = presented->info;
    const std::int64_t now = clock_();
    if (auto r = store_.touch_device(req.device_id, now); !r) return r.error();
    // Renew now: in the last third of its life, issued by a retired CA, or
    // renewed already (the renewal never reached the device).
    const bool late = now > info.not_after - (info.not_after - info.not_before) / 3;
    const bool retired = rec.issuer != ca_.material().issuer_id;
    const bool replaced = rec.status == CertStatus::superseded;
    Decision d;
    CheckedIn answer{policy().check_in_s, late || retired || replaced};
    // The CRL of the CA that issued the presented certificate (current or
    // retired): the one the device can verify with the CA certificate in
    // its chain. Sent only when newer than the device's and small enough for
    // it. A CRL that cannot be had now (the store, the CA key) does not fail
    // the check-in: the device keeps its CRL and asks again next time.
    if (revocation_ && req.max_crl_bytes > 0) {
        const std::size_t max = std::min<std::size_t>(req.max_crl_bytes, bounds::kMaxCrl);
        auto offer = revocation_->crl_if_newer(rec.issuer, req.have_crl_number, max);
        if (!offer) {
            d.crl = "unavailable";
        } else {
            d.crl_number = offer->number;
            if (!offer->der.empty()) {
                d.crl = "sent";
                answer.crl = std::move(offer->der);
            } else {
                d.crl = static_cast<std::uint64_t>(offer->number) > req.have_crl_number ? "too_large" : "current";
            }
        }
    }
    d.result = std::move(answer);
    d.serial_hex = rec.serial_hex;
    return d;
}

Result<Decision> EnrollService::enroll(const RequestReceived& req, const net::PeerInfo& peer) {
    if (auto r = check_not_released(req.device_id); !r) return r.error();
    auto policy = classes_.policy_for(req.class_id);
    if (!policy) return policy.error();
    if (auto r = check_csr_policy(req); !r) return r.error();
    auto proof = check_bootstrap(req, *policy, classes_, store_, clock_());
    if (!proof) return proof.error();
    auto screening = holds_.screen(req, peer, *proof);
    if (!screening) return screening.error();
    if (screening->held) {
        Decision d;
        d.result = Pending{screening->retry_after_s};
        d.answer_request_id = screening->held_id;
        d.held_reason = screening->reason;
        d.proof = proof_name(*proof);
        return d;
    }
    auto d = issue(req, peer, nullptr, screening->held_id);
    if (d) d->proof = proof_name(*proof);
    return d;
}

Result<Decision> EnrollService::decide(const RequestReceived& req, const net::PeerInfo& peer) {
    switch (req.operation) {
        case Operation::enroll:
            if (auto dir = directory())
                if (auto route = dir->route(req.device_id, req.class_id)) {
                    Decision d;
                    d.result = Redirect{route->server, route->domain};
                    d.route = std::move(route);
                    return d;
                }
            return enroll(req, peer);
        case Operation::check_in: return check_in(req);
        case Operation::renew: break;
    }
    auto presented = authorise_renew(req);
    if (!presented) return presented.error();
    if (auto r = check_csr_policy(req); !r) return r.error();
    return issue(req, peer, &presented->record, "");
}

Result<Decision> EnrollService::issue(const RequestReceived& req, const net::PeerInfo& peer,
                                      const CertificateRecord* replaces, const std::string& held_id) {
    const std::int64_t now = clock_();
    const std::string& class_id = replaces ? replaces->class_id : req.class_id;
    // Rights set by an administrator for the device, else for its class.
    auto rights_text = store_.rights_for(req.device_id, class_id);
    if (!rights_text) return rights_text.error();
    auto rights = parse_rights_text(*rights_text);
    if (!rights) return make_error(Code::internal, "stored rights of " + req.device_id + ": " + rights.error().message);
    auto issued = ca_.issue_device(req.device_id, req.csr.public_key, now, *rights);
    if (!issued) return issued.error();

    IssuanceRecord rec;
    auto& c = rec.certificate;
    c.serial_hex = std::move(issued->serial_hex);
    c.issuer = ca_.material().issuer_id;
    c.device_id = req.device_id;
    c.class_id = class_id;
    c.der = issued->der;
    c.not_before = issued->not_before;
    c.not_after = issued->not_after;
    c.issued_at = now;
    c.status = CertStatus::issued;
    c.replaces = replaces ? replaces->serial_hex : std::string();
    c.public_key_sha256_hex = to_hex(crypto::sha256(req.csr.public_key));
    rec.audit = AuditEvent{now, "device:" + req.device_id, operation_name(req.operation), req.device_id,
                           c.serial_hex, peer.address,
                           "request=" + req.request_id + (held_id.empty() ? "" : " held=" + held_id)};
    rec.held_request_id = held_id;
    // Durable before the device sees it (docs/PROTOCOL.md, "Durability").
    const auto db0 = std::chrono::steady_clock::now();
    auto recorded = store_.record_issuance(rec);
    if (metrics_) metrics_->database(std::chrono::duration<double>(std::chrono::steady_clock::now() - db0).count());
    if (auto& r = recorded; !r) {
        if (r.error().code == Code::storage_unavailable || r.error().code == Code::request_rejected) return r.error();
        return make_error(r.error().code, "cannot record the certificate: " + r.error().message);
    }
    {
        std::lock_guard lock(mu_);
        // Bounded: exchanges that end without a report are forgotten oldest first.
        while (awaiting_order_.size() >= kMaxAwaitingInstall) {
            awaiting_install_.erase(awaiting_order_.front());
            awaiting_order_.pop_front();
        }
        awaiting_install_[req.request_id] = {c.serial_hex, req.device_id};
        awaiting_order_.push_back(req.request_id);
    }
    Decision d;
    d.result = Issued{std::move(issued->der), {ca_.material().ca_der, ca_.material().root_der}};
    d.answer_request_id = held_id;
    d.serial_hex = c.serial_hex;
    return d;
}

void EnrollService::emit(std::string_view event, const std::vector<LogField>& fields) {
    log_(render_log(format_, event, fields));
}


Answer EnrollService::on_request(const RequestReceived& req, const net::PeerInfo& peer) {
    const auto t0 = std::chrono::steady_clock::now();
    auto result = decide(req, peer);
    const double ms = std::chrono::duration<double, std::milli>(std::chrono::steady_clock::now() - t0).count();
    char elapsed[32];
    std::snprintf(elapsed, sizeof elapsed, "%.1fms", ms);
    std::vector<LogField> f{{"device", printable(req.device_id)}};
    if (!req.class_id.empty()) f.emplace_back("class", printable(req.class_id));
    f.emplace_back("peer", peer.address);
    f.emplace_back("request", req.request_id);
    Answer a;
    bool issued = false;
    if (result) {
        Decision& d = result.value();
        a.request_id = d.answer_request_id;
        if (!d.answer_request_id.empty() && d.answer_request_id != req.request_id)
            f.emplace_back("held_request", d.answer_request_id);
        if (!d.proof.empty()) f.emplace_back("proof", d.proof);
        if (auto* p = std::get_if<Pending>(&d.result)) {
            f.emplace_back("outcome", "held");
            f.emplace_back("reason", d.held_reason);
            f.emplace_back("retry_after", std::to_string(p->retry_after_seconds) + "s");
            a.result = *p;
        } else if (auto* r = std::get_if<Redirect>(&d.result)) {
            f.emplace_back("outcome", "redirected");
            f.emplace_back("domain", r->domain);
            f.emplace_back("server", r->server);
            f.emplace_back("rule", d.route->rule);
            f.emplace_back("match", d.route->why);
            a.result = *r;
        } else if (auto* c = std::get_if<CheckedIn>(&d.result)) {
            f.emplace_back("outcome", "checked_in");
            f.emplace_back("serial", d.serial_hex);
            if (c->renew_now) f.emplace_back("renew_now", "true");
            if (!d.crl.empty()) f.emplace_back("crl", d.crl + (d.crl_number ? ":" + std::to_string(d.crl_number) : ""));
            a.result = std::move(*c);
        } else {
            issued = true;
            f.emplace_back("outcome", "issued");
            f.emplace_back("serial", d.serial_hex);
            a.result = std::move(std::get<Issued>(d.result));
        }
    } else {
        f.emplace_back("outcome", "rejected");
        f.emplace_back("code", code_text(result.error().code));
        f.emplace_back("reason", printable(result.error().message, true, 300));
        a.result = to_rejected(result.error());
        // Database and crypto-library text stays in our log; the device
        // gets the code and the request id to quote.
        const auto cat = result.error().category();
        if (cat == Category::internal || cat == Category::unavailable || cat == Category::usage)
            std::get<Rejected>(a.result).message = std::string(cat == Category::unavailable
                                                                   ? "the server is temporarily unable to record certificates; retry later"
                                                                   : "the server could not complete the request") +
                                                   " (request " + req.request_id + ")";
        if (cat == Category::usage) std::get<Rejected>(a.result).code = Code::internal;
    }
    f.emplace_back("elapsed", elapsed);
    emit(operation_name(req.operation), f);
    const bool redirected = std::holds_alternative<Redirect>(a.result);
    if (metrics_ && redirected) metrics_->redirected();
    if (metrics_ && req.operation != Operation::check_in && !redirected) metrics_->request(req.operation, issued, ms / 1000.0);
    return a;
}

bool EnrollService::on_install_report(const InstallReported& rep, const net::PeerInfo& peer) {
    std::pair<std::string, std::string> issued;
    {
        std::lock_guard lock(mu_);
        auto it = awaiting_install_.find(rep.request_id);
        if (it == awaiting_install_.end()) return false;
        issued = it->second;
        awaiting_install_.erase(it);
    }
    const std::string serial = to_hex(rep.certificate_serial);
    const std::string status = install_status_name(static_cast<InstallStatus>(rep.status));
    std::vector<LogField> f{{"device", issued.second}, {"peer", peer.address}, {"request", rep.request_id}};
    // "Installed" must name the certificate issued. A failure report cannot
    // always do so (the device could not parse what it got, or got another
    // certificate); it still means the one issued here was not installed.
    if (serial != issued.first && rep.status == 0) {
        f.emplace_back("outcome", "ignored");
        f.emplace_back("reason", "report names serial " + serial + ", not the one issued");
        emit("install", f);
        return false;
    }
    const std::string reported = serial == issued.first ? "" : " reported_serial=" + serial;
    AuditEvent ev{clock_(), "device:" + issued.second, "install", issued.second, issued.first, peer.address,
                  "status=" + std::to_string(rep.status) + "/" + status + reported};
    auto r = store_.record_install(issued.first, rep.status, ev);
    f.emplace_back("serial", issued.first);
    if (serial != issued.first) f.emplace_back("reported_serial", serial);
    f.emplace_back("status", status);
    if (!r) f.emplace_back("record_failed", printable(r.error().message, true, 300));
    emit("install", f);
    return r.ok();
}

void EnrollService::on_rejected(const RequestRejected& rej, const net::PeerInfo& peer) {
    emit(operation_name(rej.operation), {{"device", printable(rej.device_id)},
                                         {"peer", peer.address},
                                         {"request", rej.request_id},
                                         {"outcome", "rejected"},
                                         {"code", code_text(rej.error.code)},
                                         {"reason", printable(rej.error.message, true, 300)}});
}

void EnrollService::on_refused(const net::PeerInfo& peer, const char* reason) {
    if (metrics_) metrics_->refused();
    // One line per refusal would let a flood fill the log: every 100th.
    const auto n = refused_.fetch_add(1) + 1;
    if (n == 1 || n % 100 == 0)
        emit("connection", {{"peer", peer.address}, {"outcome", "refused"}, {"reason", reason},
                            {"refused_total", std::to_string(n)}});
}

void EnrollService::on_failure(const Error& err, const net::PeerInfo& peer) {
    if (metrics_) metrics_->session_failure();
    emit("session", {{"peer", peer.address}, {"outcome", "failed"}, {"code", code_text(err.code)},
                     {"reason", printable(err.message, true, 300)}});
}

}  // namespace irp::server
