// The account statement a domain CA server signs for relying parties
// (include/irp/rp/account.hpp): which account a certificate is active in
// and what that account's policy allows. Served at GET /account/<serial>
// on the public HTTP listener, beside the CRL and OCSP, and built from the
// store on every request so that replicas sharing a database agree.
#pragma once

#include <functional>
#include <mutex>
#include <string>
#include <unordered_map>

#include "ca/authority.hpp"
#include "irp/rp/account.hpp"
#include "store/store.hpp"

namespace irp::server {

class AccountStatements {
public:
    AccountStatements(const DomainMaterial& m, Store& store, crypto::Random& rng, std::int64_t validity_s,
                      std::function<std::int64_t()> clock)
        : m_(m), store_(store), rng_(rng), validity_s_(validity_s), clock_(std::move(clock)) {}

    // What the statement says: the current owner (the provider's account,
    // with an empty policy, until a transfer is accepted), and active when
    // the certificate is unrevoked and within its validity.
    // Unknown serial: unknown_certificate.
    Result<rp::AccountStatus> status(const std::string& serial_hex);

    // The SignedAccountStatement, signed by the CA (current or retired) that
    // issued the certificate, valid for validity_s. The same bytes are served
    // again while the account, policy and active flag are unchanged and the
    // statement is younger than validity_s / 2; any change signs afresh.
    Result<Bytes> signed_statement(const std::string& serial_hex);

private:
    Result<CertificateRecord> certificate(const std::string& serial_hex);
    Result<rp::AccountStatus> status_of(const CertificateRecord& c);

    const DomainMaterial& m_;
    Store& store_;
    crypto::Random& rng_;
    std::int64_t validity_s_;
    std::function<std::int64_t()> clock_;

    // Signed statements by serial, with what they said and when.
    struct Cached {
        rp::AccountStatus status;
        Bytes signed_statement;
    };
    static constexpr std::size_t kCacheEntries = 10'000;
    std::mutex mu_;
    std::unordered_map<std::string, Cached> cache_;
};

}  // namespace irp::server
