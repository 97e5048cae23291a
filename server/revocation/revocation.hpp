// Revocation for relying parties: a CRL (RFC 5280) per domain CA, current
// or retired, and an OCSP responder (RFC 6960), both built from the store on
// demand so that every replica sharing a database serves the same answers.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <string_view>
#include <vector>

#include "admin/metrics.hpp"
#include "ca/authority.hpp"
#include "irp/crypto/revocation.hpp"
#include "store/store.hpp"

namespace irp::server {

struct RevocationSettings {
    std::int64_t crl_validity_s = 86'400;
    std::int64_t crl_refresh_s = 3'600;
    std::int64_t ocsp_validity_s = 3'600;
};

struct CrlStatus {
    std::string issuer_id;  // hex SKI of the CA that signs this CRL
    std::string subject;    // that CA's subject, for people
    bool retired = false;   // a [[domain.retired]] CA rather than the current one
    std::int64_t number = 0;
    std::int64_t this_update = 0;
    std::int64_t next_update = 0;
    std::size_t entries = 0;
};

// RFC 5280 CRLReason names <-> codes. Accepted for revocation: 0-5 and 9
// (certificateHold and removeFromCRL are not supported).
std::optional<std::int32_t> parse_reason(std::string_view name);
const char* reason_name(std::int32_t code);

class RevocationService {
public:
    RevocationService(const DomainMaterial& m, Store& store, crypto::Random& rng, RevocationSettings s,
                      std::function<std::int64_t()> clock);

    // The CRL (DER) of the CA whose issuer id is `issuer_id`, current or
    // retired; bad_argument for any other id (check serves() first). Each
    // CA's CRL is cached on its own and re-signed when the set of revoked
    // certificates in the store differs from the cached one (a revocation
    // through any replica), or when the cached one is older than
    // crl_refresh_s. The revoked set is read only when the store's
    // revocation_epoch has moved, or to re-sign: a request costs one small
    // read, however many certificates are revoked.
    Result<Bytes> crl(std::string_view issuer_id);
    Result<Bytes> crl() { return crl(issuer_id()); }  // the current CA's
    // For check-in (docs/PROTOCOL.md, "Check-in"): the CRL Number of
    // `issuer_id`'s current CRL and, only when that number is greater than
    // `have_number` and the DER is at most `max_bytes`, the DER itself (a
    // copy of the cached CRL; empty otherwise, so a device that is up to date
    // costs no copy). Same freshness rules as crl(): no read of the revoked
    // set and no signature unless that set changed or the cache is
    // crl_refresh_s old.
    struct CrlOffer {
        std::int64_t number = 0;
        Bytes der;  // empty: not newer, or larger than max_bytes
    };
    Result<CrlOffer> crl_if_newer(std::string_view issuer_id, std::uint64_t have_number, std::size_t max_bytes);
    Result<CrlStatus> crl_status(std::string_view issuer_id);
    Result<CrlStatus> crl_status() { return crl_status(issuer_id()); }
    // Every CA: the current one first, then the retired ones in config order.
    Result<std::vector<CrlStatus>> crl_statuses();
    // A complete OCSPResponse (DER) for a DER OCSPRequest; errors are OCSP
    // error responses (malformedRequest, internalError, tryLater). One CA
    // answers a request and signs it: see responder_for.
    Bytes ocsp(ByteView request);

    // Also registers every issuer id for irp_crl_age_seconds: call before
    // serving.
    void set_metrics(Metrics* m);
    const std::string& issuer_id() const { return m_.issuer_id; }  // the current CA's
    bool serves(std::string_view issuer_id) const { return index_of(issuer_id).has_value(); }
    std::vector<std::string> issuer_ids() const;

private:
    // One CA this service signs for. The fields above `crl` never change
    // after construction; the cache below is guarded by mu_.
    struct Issuer {
        std::string id;
        const Bytes* ca_der = nullptr;
        const crypto::CertInfo* ca_info = nullptr;
        std::shared_ptr<const crypto::PrivateKey> key;
        bool retired = false;
        Bytes crl;
        std::vector<RevokedEntry> entries;
        CrlStatus status;
        std::int64_t epoch = -1;  // the store's revocation_epoch when `entries` were read
    };
    std::optional<std::size_t> index_of(std::string_view issuer_id) const;
    // The cached CRL of issuers_[at], re-signed first when stale; mu_ held
    // on return through `lock`.
    Result<void> refresh(std::size_t at, std::unique_lock<std::mutex>& lock);
    Result<Bytes> resign(Issuer& is, std::vector<RevokedEntry> entries, std::int64_t now);  // mu_ held
    const Issuer& responder_for(const std::vector<crypto::OcspCertId>& ids) const;
    bool look_up(crypto::OcspSingle& one, const Issuer& is);

    Metrics* metrics_ = nullptr;
    const DomainMaterial& m_;
    Store& store_;
    crypto::Random& rng_;
    RevocationSettings s_;
    std::function<std::int64_t()> clock_;

    std::mutex mu_;
    std::vector<Issuer> issuers_;  // the current CA first, then the retired ones

    // Signed OCSP answers to requests without a nonce, by request bytes
    // (RFC 5019's pre-produced responses). A cached answer is reused only
    // while the store still gives every CertID the same status and it is
    // younger than half of ocsp_validity_s: a revocation shows at once, and
    // a relying party never gets an answer close to its nextUpdate. Requests
    // with a nonce are always signed afresh.
    struct CachedOcsp {
        Bytes response;
        std::vector<crypto::OcspSingle> answers;
        std::int64_t produced_at = 0;
    };
    static constexpr std::size_t kOcspCacheEntries = 10'000;
    std::mutex ocsp_mu_;
    std::unordered_map<std::string, CachedOcsp> ocsp_cache_;
};

}  // namespace irp::server
