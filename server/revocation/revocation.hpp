// Revocation for relying parties: the domain CA's CRL (RFC 5280) and an OCSP
// responder (RFC 6960), both built from the store on demand so that every
// replica sharing a database serves the same answers.
#pragma once

#include <functional>
#include <mutex>
#include <optional>
#include <string>

#include "admin/metrics.hpp"
#include "ca/authority.hpp"
#include "store/store.hpp"

namespace irp::server {

struct RevocationSettings {
    std::int64_t crl_validity_s = 86'400;
    std::int64_t crl_refresh_s = 3'600;
    std::int64_t ocsp_validity_s = 3'600;
};

struct CrlStatus {
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

    // The current CRL (DER). Re-signed when the set of revoked certificates
    // in the store differs from the cached one (a revocation through any
    // replica), or when the cached one is older than crl_refresh_s.
    Result<Bytes> crl();
    Result<CrlStatus> crl_status();
    // A complete OCSPResponse (DER) for a DER OCSPRequest; errors are OCSP
    // error responses (malformedRequest, internalError, tryLater).
    Bytes ocsp(ByteView request);

    void set_metrics(Metrics* m) { metrics_ = m; }
    const std::string& issuer_id() const { return m_.issuer_id; }

private:
    Metrics* metrics_ = nullptr;
    const DomainMaterial& m_;
    Store& store_;
    crypto::Random& rng_;
    RevocationSettings s_;
    std::function<std::int64_t()> clock_;

    std::mutex mu_;
    Bytes crl_;
    std::vector<RevokedEntry> crl_entries_;
    CrlStatus crl_status_;
};

}  // namespace irp::server
