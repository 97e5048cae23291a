#include "accounts/statement.hpp"

#include "accounts/rights_text.hpp"

namespace irp::server {

namespace {

struct Signer {
    const crypto::PrivateKey* key = nullptr;
    const Bytes* key_id = nullptr;
};

std::optional<Signer> signer_for(const DomainMaterial& m, const std::string& issuer_id) {
    if (issuer_id == m.issuer_id) return Signer{m.ca_key.get(), &m.ca_info.subject_key_id};
    for (const auto& r : m.retired)
        if (issuer_id == r.issuer_id) return Signer{r.ca_key.get(), &r.ca_info.subject_key_id};
    return std::nullopt;
}

}  // namespace

Result<CertificateRecord> AccountStatements::certificate(const std::string& serial_hex) {
    auto cert = store_.find_certificate(serial_hex);
    if (!cert) return cert.error();
    if (!*cert) return make_error(Code::unknown_certificate, "no certificate with serial " + serial_hex);
    return std::move(**cert);
}

Result<rp::AccountStatus> AccountStatements::status(const std::string& serial_hex) {
    auto c = certificate(serial_hex);
    if (!c) return c.error();
    return status_of(*c);
}

Result<rp::AccountStatus> AccountStatements::status_of(const CertificateRecord& c) {
    auto owners = store_.owners_of(c.device_id);
    if (!owners) return owners.error();
    const std::int64_t now = clock_();
    rp::AccountStatus s;
    s.serial_hex = c.serial_hex;
    s.domain = m_.domain;
    s.device_id = c.device_id;
    s.account = kProviderAccount;
    for (const auto& o : *owners) {
        if (o.until != 0) continue;
        auto policy = parse_rights_text(o.policy);
        if (!policy) return make_error(Code::internal, "stored policy of " + c.device_id + ": " + policy.error().message);
        s.account = o.account;
        s.policy = std::move(*policy);
    }
    s.active = !c.revoked_at && now >= c.not_before && now < c.not_after;
    s.produced_at = now;
    s.next_update = now + validity_s_;
    return s;
}

Result<Bytes> AccountStatements::signed_statement(const std::string& serial_hex) {
    auto c = certificate(serial_hex);
    if (!c) return c.error();
    const auto signer = signer_for(m_, c->issuer);
    if (!signer)
        return make_error(Code::unknown_certificate, "certificate " + serial_hex + " was issued by a CA this server does not hold");
    auto s = status_of(*c);
    if (!s) return s.error();
    // The endpoint is public: a signature per request would let anyone spend
    // the CA's CPU. A statement is reused while what it says still holds and
    // it is younger than half its validity (as pre-produced OCSP answers).
    {
        std::lock_guard lock(mu_);
        const auto it = cache_.find(serial_hex);
        if (it != cache_.end() && it->second.status.account == s->account && it->second.status.active == s->active &&
            it->second.status.policy == s->policy && s->produced_at - it->second.status.produced_at < validity_s_ / 2)
            return it->second.signed_statement;
    }
    auto body = rp::encode_account_statement(*s, *signer->key_id);
    if (!body) return body.error();
    auto sig = signer->key->sign(rp::account_statement_message(*body), rng_);
    Bytes out = rp::encode_signed_account_statement(*body, sig);
    std::lock_guard lock(mu_);
    if (cache_.size() >= kCacheEntries) cache_.clear();  // bounded; refills from what is asked
    cache_[serial_hex] = Cached{std::move(*s), out};
    return out;
}

}  // namespace irp::server
