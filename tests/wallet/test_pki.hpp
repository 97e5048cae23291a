// Test support for the wallet tests: a small certificate hierarchy built
// directly with crypto::issue_certificate (root -> issuing CA -> device).
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "irp/crypto/crypto.hpp"

namespace irp_test {

inline constexpr std::int64_t kPkiNow = 1'700'000'000;
inline constexpr std::int64_t kPkiDay = 24 * 3600;

inline std::shared_ptr<const irp::crypto::PrivateKey> make_key(irp::crypto::Random& rng) {
    auto k = irp::crypto::PrivateKey::generate(irp::crypto::KeyAlgorithm::ecdsa_p256, rng);
    REQUIRE(k.ok());
    return std::make_shared<const irp::crypto::PrivateKey>(std::move(k.value()));
}

inline irp::Bytes issue(const irp::crypto::PrivateKey& issuer_key, const irp::Bytes& issuer_cert,
                        const irp::crypto::PrivateKey& subject_key, irp::crypto::IssueProfile p,
                        irp::crypto::Random& rng) {
    if (p.serial.empty()) p.serial = irp::crypto::random_serial(rng);
    auto c = irp::crypto::issue_certificate(issuer_key, issuer_cert, subject_key.public_key_der(), p, rng);
    REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
    return c.value();
}

// A CA certificate profile; `org` and `cn` make up its subject name.
inline irp::crypto::IssueProfile ca_profile(const std::string& cn, const std::string& org = "example.test") {
    irp::crypto::IssueProfile p;
    p.common_name = cn;
    p.organization = org;
    p.not_before = kPkiNow - 3600;
    p.not_after = kPkiNow + 10 * 365 * kPkiDay;
    p.ca = true;
    return p;
}

// The device profile Authority::issue_device uses.
inline irp::crypto::IssueProfile device_profile(const std::string& domain, const std::string& device_id) {
    irp::crypto::IssueProfile p;
    p.common_name = device_id;
    p.serial_number = device_id;
    p.san_uris = {"urn:irp:" + domain + ":" + device_id};
    p.not_before = kPkiNow - 300;
    p.not_after = kPkiNow + 365 * kPkiDay;
    p.eku_client_auth = true;
    return p;
}

// Root -> issuing CA (pathLen 0).
struct Hierarchy {
    std::shared_ptr<const irp::crypto::PrivateKey> root_key, ca_key;
    irp::Bytes root, ca;

    Hierarchy(irp::crypto::Random& rng, const std::string& org = "example.test") {
        root_key = make_key(rng);
        ca_key = make_key(rng);
        root = issue(*root_key, {}, *root_key, ca_profile("IRP Root CA", org), rng);
        auto p = ca_profile("IRP Domain CA " + org, org);
        p.path_len = 0;
        ca = issue(*root_key, root, *ca_key, p, rng);
    }

    irp::Bytes device(const irp::crypto::PrivateKey& key, irp::crypto::IssueProfile p,
                      irp::crypto::Random& rng) const {
        return issue(*ca_key, ca, key, std::move(p), rng);
    }
};

}  // namespace irp_test
