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
    : m_(m), store_(store), rng_(rng), s_(s), clock_(std::move(clock)) {
    issuers_.push_back(Issuer{m.issuer_id, &m.ca_der, &m.ca_info, m.ca_key, false, {}, {}, {}});
    for (const auto& r : m.retired)
        issuers_.push_back(Issuer{r.issuer_id, &r.ca_der, &r.ca_info, r.ca_key, true, {}, {}, {}});
}

void RevocationService::set_metrics(Metrics* m) {
    metrics_ = m;
    if (m) m->track_crl_issuers(issuer_ids());
}

std::vector<std::string> RevocationService::issuer_ids() const {
    std::vector<std::string> out;
    for (const auto& is : issuers_) out.push_back(is.id);
    return out;
}

std::optional<std::size_t> RevocationService::index_of(std::string_view issuer_id) const {
    for (std::size_t i = 0; i < issuers_.size(); ++i)
        if (issuers_[i].id == issuer_id) return i;
    return std::nullopt;
}

Result<void> RevocationService::refresh(std::size_t at, std::unique_lock<std::mutex>& lock) {
    Issuer& is = issuers_[at];
    const std::int64_t now = clock_();
    // The epoch first: a revocation committed after this read moves it
    // again, so the next request reads the set anew.
    auto epoch = store_.revocation_epoch(is.id);
    if (!epoch) return epoch.error();
    lock = std::unique_lock(mu_);
    auto fresh = [&] { return !is.crl.empty() && now - is.status.this_update < s_.crl_refresh_s; };
    // Nothing revoked since the cached set was read (or a concurrent
    // request has cached a newer one), and the CRL is young: serve it.
    if (fresh() && *epoch <= is.epoch) return {};
    lock.unlock();
    // Entries may leave the CRL once the certificate has expired (RFC 5280
    // 3.3); keep them a day longer for relying parties with skewed clocks.
    auto entries = store_.revoked(is.id, now - 86'400);
    if (!entries) return entries.error();
    lock.lock();
    if (is.epoch > *epoch && fresh()) return {};  // a concurrent request cached a newer set meanwhile
    const bool same_set = !is.crl.empty() && entries->size() == is.entries.size() &&
                          std::equal(entries->begin(), entries->end(), is.entries.begin(),
                                     [](const RevokedEntry& a, const RevokedEntry& b) {
                                         return a.serial_hex == b.serial_hex && a.reason == b.reason;
                                     });
    if (!(same_set && fresh())) {
        auto r = resign(is, std::move(entries.value()), now);
        if (!r) return r.error();  // the epoch stays: the next request tries again
    }
    is.epoch = *epoch;
    return {};
}

Result<Bytes> RevocationService::crl(std::string_view issuer_id) {
    const auto at = index_of(issuer_id);
    if (!at) return make_error(Code::bad_argument, "no domain CA with issuer id '" + std::string(issuer_id) + "'");
    std::unique_lock<std::mutex> lock;
    if (auto r = refresh(*at, lock); !r) return r.error();
    return issuers_[*at].crl;
}

Result<RevocationService::CrlOffer> RevocationService::crl_if_newer(std::string_view issuer_id,
                                                                    std::uint64_t have_number, std::size_t max_bytes) {
    const auto at = index_of(issuer_id);
    if (!at) return make_error(Code::bad_argument, "no domain CA with issuer id '" + std::string(issuer_id) + "'");
    std::unique_lock<std::mutex> lock;
    if (auto r = refresh(*at, lock); !r) return r.error();
    const Issuer& is = issuers_[*at];
    CrlOffer offer;
    offer.number = is.status.number;
    if (is.status.number > 0 && static_cast<std::uint64_t>(is.status.number) > have_number && is.crl.size() <= max_bytes)
        offer.der = is.crl;
    return offer;
}

Result<Bytes> RevocationService::resign(Issuer& is, std::vector<RevokedEntry> entries, std::int64_t now) {
    std::vector<crypto::CrlEntry> list;
    list.reserve(entries.size());
    for (const auto& e : entries) {
        Bytes serial;
        if (!from_hex(e.serial_hex, serial)) return make_error(Code::internal, "bad serial in store: " + e.serial_hex);
        list.push_back(crypto::CrlEntry{std::move(serial), e.revoked_at, e.reason});
    }
    // CRL numbers are per issuer (RFC 5280 5.2.3: per CRL issuer and scope).
    auto number = store_.next_crl_number(is.id);
    if (!number) return number.error();
    auto signed_crl = crypto::issue_crl(*is.key, *is.ca_der, list, *number, now, now + s_.crl_validity_s, rng_);
    if (!signed_crl) return signed_crl.error();
    is.crl = std::move(signed_crl.value());
    is.entries = std::move(entries);
    is.status = CrlStatus{is.id, is.ca_info->subject, is.retired, *number, now, now + s_.crl_validity_s, is.entries.size()};
    if (metrics_) metrics_->crl_signed(is.id, now);
    return is.crl;
}

Result<CrlStatus> RevocationService::crl_status(std::string_view issuer_id) {
    if (auto r = crl(issuer_id); !r) return r.error();
    std::lock_guard lock(mu_);
    return issuers_[*index_of(issuer_id)].status;
}

Result<std::vector<CrlStatus>> RevocationService::crl_statuses() {
    std::vector<CrlStatus> out;
    for (const auto& id : issuer_ids()) {
        auto st = crl_status(id);
        if (!st) return st.error();
        out.push_back(std::move(st.value()));
    }
    return out;
}

// RFC 6960 puts one responder signature on a response, so one CA answers a
// whole request: the CA of the first CertID that names one of ours (current
// or retired), or the current CA when none does. CertIDs of any other CA are
// answered "unknown"; a relying party asks again, one request per issuer
// (docs/OPERATIONS.md, "Key rotation").
const RevocationService::Issuer& RevocationService::responder_for(const std::vector<crypto::OcspCertId>& ids) const {
    for (const auto& id : ids)
        for (const auto& is : issuers_)
            if (crypto::ocsp_id_matches_issuer(id, *is.ca_der)) return is;
    return issuers_.front();
}

// Sets good or revoked for a CertID of `is` that the store knows; false when
// the store cannot be read.
bool RevocationService::look_up(crypto::OcspSingle& one, const Issuer& is) {
    // The store keys serials as minimal big-endian hex.
    const Bytes& serial = one.id.serial;
    std::size_t skip = 0;
    while (skip + 1 < serial.size() && serial[skip] == 0) ++skip;
    auto rec = store_.find_certificate(to_hex(ByteView(serial).subspan(skip)));
    if (!rec) return false;
    if (!rec.value() || rec.value()->issuer != is.id) return true;  // stays unknown
    if (rec.value()->revoked_at) {
        one.status = crypto::OcspStatus::revoked;
        one.revoked_at = *rec.value()->revoked_at;
        one.reason = rec.value()->revocation_reason;
    } else {
        one.status = crypto::OcspStatus::good;
    }
    return true;
}

namespace {
bool same_answers(const std::vector<crypto::OcspSingle>& a, const std::vector<crypto::OcspSingle>& b) {
    return a.size() == b.size() &&
           std::equal(a.begin(), a.end(), b.begin(), [](const crypto::OcspSingle& x, const crypto::OcspSingle& y) {
               return x.status == y.status && x.revoked_at == y.revoked_at && x.reason == y.reason;
           });
}
}  // namespace

Bytes RevocationService::ocsp(ByteView request) {
    auto req = crypto::parse_ocsp_request(request);
    if (!req) return crypto::ocsp_error_response(1);  // malformedRequest
    const std::int64_t now = clock_();
    const Issuer& signer = responder_for(req->ids);
    std::vector<crypto::OcspSingle> answers;
    for (const auto& id : req->ids) {
        crypto::OcspSingle one{id, crypto::OcspStatus::unknown, 0, 0};
        // Only certificates of the signing CA get good/revoked; anything
        // else is "unknown" (RFC 6960 2.2), never "good".
        if (crypto::ocsp_id_matches_issuer(id, *signer.ca_der) && !look_up(one, signer))
            return crypto::ocsp_error_response(3);  // tryLater: the database is away
        answers.push_back(std::move(one));
    }
    const std::string key = req->nonce ? std::string() : std::string(request.begin(), request.end());
    if (!key.empty()) {
        std::lock_guard lock(ocsp_mu_);
        const auto it = ocsp_cache_.find(key);
        if (it != ocsp_cache_.end() && now - it->second.produced_at < s_.ocsp_validity_s / 2 &&
            now >= it->second.produced_at && same_answers(it->second.answers, answers))
            return it->second.response;
    }
    auto resp = crypto::make_ocsp_response(*signer.key, *signer.ca_der, answers, req->nonce, now,
                                           now + s_.ocsp_validity_s, rng_);
    if (!resp) return crypto::ocsp_error_response(2);  // internalError
    if (!key.empty()) {
        std::lock_guard lock(ocsp_mu_);
        if (ocsp_cache_.size() >= kOcspCacheEntries && !ocsp_cache_.count(key)) ocsp_cache_.erase(ocsp_cache_.begin());
        ocsp_cache_[key] = CachedOcsp{resp.value(), std::move(answers), now};
    }
    return std::move(resp.value());
}

}  // namespace irp::server
