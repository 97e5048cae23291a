#include "revocation/revocation.hpp"

#include <algorithm>

#include "irp/crypto/revocation.hpp"

namespace irp::server {

namespace {

struct ReasonName {
    std::int32_t code;
    const char* name;
};
// RFC 5280 5.3.1. certificateHold (6) and removeFromCRL (8) are not offered:
// a revocation here is final.
constexpr ReasonName kReasons[] = {
    {0, "unspecified"},          {1, "keyCompromise"},        {2, "cACompromise"},
    {3, "affiliationChanged"},   {4, "superseded"},           {5, "cessationOfOperation"},
    {9, "privilegeWithdrawn"},
};

}  // namespace

std::optional<std::int32_t> parse_reason(std::string_view name) {
    for (const auto& r : kReasons)
        if (name == r.name) return r.code;
    return std::nullopt;
}

const char* reason_name(std::int32_t code) {
    for (const auto& r : kReasons)
        if (code == r.code) return r.name;
    return "unspecified";
}

RevocationService::RevocationService(const DomainMaterial& m, Store& store, crypto::Random& rng, RevocationSettings s,
                                     std::function<std::int64_t()> clock)
    : m_(m), store_(store), rng_(rng), s_(s), clock_(std::move(clock)) {}

Result<Bytes> RevocationService::crl() {
    const std::int64_t now = clock_();
    // Entries may leave the CRL once the certificate has expired (RFC 5280
    // 3.3); keep them a day longer for relying parties with skewed clocks.
    auto entries = store_.revoked(m_.issuer_id, now - 86'400);
    if (!entries) return entries.error();
    std::lock_guard lock(mu_);
    const bool same_set = !crl_.empty() && entries->size() == crl_entries_.size() &&
                          std::equal(entries->begin(), entries->end(), crl_entries_.begin(),
                                     [](const RevokedEntry& a, const RevokedEntry& b) {
                                         return a.serial_hex == b.serial_hex && a.reason == b.reason;
                                     });
    if (same_set && now - crl_status_.this_update < s_.crl_refresh_s) return crl_;

    std::vector<crypto::CrlEntry> list;
    list.reserve(entries->size());
    for (const auto& e : *entries) {
        Bytes serial;
        if (!from_hex(e.serial_hex, serial)) return make_error(Code::internal, "bad serial in store: " + e.serial_hex);
        list.push_back(crypto::CrlEntry{std::move(serial), e.revoked_at, e.reason});
    }
    auto number = store_.next_crl_number(m_.issuer_id);
    if (!number) return number.error();
    auto signed_crl = crypto::issue_crl(*m_.ca_key, m_.ca_der, list, *number, now, now + s_.crl_validity_s, rng_);
    if (!signed_crl) return signed_crl.error();
    crl_ = std::move(signed_crl.value());
    crl_entries_ = std::move(entries.value());
    crl_status_ = CrlStatus{*number, now, now + s_.crl_validity_s, crl_entries_.size()};
    if (metrics_) metrics_->crl_signed(now);
    return crl_;
}

Result<CrlStatus> RevocationService::crl_status() {
    if (auto r = crl(); !r) return r.error();
    std::lock_guard lock(mu_);
    return crl_status_;
}

Bytes RevocationService::ocsp(ByteView request) {
    auto req = crypto::parse_ocsp_request(request);
    if (!req) return crypto::ocsp_error_response(1);  // malformedRequest
    const std::int64_t now = clock_();
    std::vector<crypto::OcspSingle> answers;
    for (const auto& id : req->ids) {
        crypto::OcspSingle one{id, crypto::OcspStatus::unknown, 0, 0};
        // Only certificates of our issuing CA get good/revoked; anything
        // else is "unknown" (RFC 6960 2.2), never "good".
        if (crypto::ocsp_id_matches_issuer(id, m_.ca_der)) {
            // The store keys serials as minimal big-endian hex.
            std::size_t skip = 0;
            while (skip + 1 < id.serial.size() && id.serial[skip] == 0) ++skip;
            auto rec = store_.find_certificate(to_hex(ByteView(id.serial).subspan(skip)));
            if (!rec) return crypto::ocsp_error_response(3);  // tryLater: the database is away
            if (rec.value() && rec.value()->issuer == m_.issuer_id) {
                if (rec.value()->revoked_at) {
                    one.status = crypto::OcspStatus::revoked;
                    one.revoked_at = *rec.value()->revoked_at;
                    one.reason = rec.value()->revocation_reason;
                } else {
                    one.status = crypto::OcspStatus::good;
                }
            }
        }
        answers.push_back(std::move(one));
    }
    auto resp = crypto::make_ocsp_response(*m_.ca_key, m_.ca_der, answers, req->nonce, now, now + s_.ocsp_validity_s, rng_);
    if (!resp) return crypto::ocsp_error_response(2);  // internalError
    return std::move(resp.value());
}

}  // namespace irp::server
