// A small PKI for the relying-party tests: root -> issuing CA -> device
// leaf (with rights), made with crypto::issue_certificate at fixed times.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/crypto/crypto.hpp"
#include "irp/crypto/revocation.hpp"
#include "irp/crypto/rights.hpp"

namespace rp_test {

using irp::Bytes;
using namespace irp::crypto;

constexpr std::int64_t kT0 = 1'700'000'000;  // 2023-11-14: "now" in the tests
constexpr std::int64_t kHour = 3600;
constexpr std::int64_t kDay = 24 * kHour;

inline PrivateKey make_key(Random& rng, KeyAlgorithm alg = KeyAlgorithm::ecdsa_p256) {
    auto k = PrivateKey::generate(alg, rng);
    REQUIRE(k.ok());
    return std::move(k.value());
}

inline IssueProfile ca_profile(Random& rng, const std::string& cn) {
    IssueProfile p;
    p.serial = random_serial(rng);
    p.common_name = cn;
    p.organization = "example.test";
    p.not_before = kT0 - 30 * kDay;
    p.not_after = kT0 + 3650 * kDay;
    p.ca = true;
    return p;
}

inline IssueProfile leaf_profile(Random& rng, const std::string& device_id, std::vector<Right> rights) {
    IssueProfile p;
    p.serial = random_serial(rng);
    p.common_name = device_id;
    p.serial_number = device_id;
    p.san_uris = {"irp://example.test/device/" + device_id};
    p.not_before = kT0 - kDay;
    p.not_after = kT0 + 90 * kDay;
    p.eku_client_auth = true;
    p.rights = std::move(rights);
    return p;
}

inline Bytes issue(const PrivateKey& issuer_key, const Bytes& issuer_cert, const PrivateKey& subject_key,
                   const IssueProfile& p, Random& rng) {
    auto c = issue_certificate(issuer_key, issuer_cert, subject_key.public_key_der(), p, rng);
    REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
    return std::move(c.value());
}

inline std::vector<Right> default_rights() {
    return {{"read", "device:cam-*"}, {"ota.push", "service:updates"}, {"*", "device:door-1"}};
}

// root -> ca -> leaf ("dev-1", default_rights()).
struct Pki {
    explicit Pki(std::uint64_t seed, const std::string& name = "Test", KeyAlgorithm leaf_alg = KeyAlgorithm::ecdsa_p256)
        : rng(deterministic_random(seed)),
          root_key(make_key(*rng)),
          ca_key(make_key(*rng)),
          leaf_key(make_key(*rng, leaf_alg)) {
        root = issue(root_key, {}, root_key, ca_profile(*rng, name + " Root"), *rng);
        auto cap = ca_profile(*rng, name + " Domain CA");
        cap.path_len = 0;
        ca = issue(root_key, root, ca_key, cap, *rng);
        leaf = issue(ca_key, ca, leaf_key, leaf_profile(*rng, "dev-1", default_rights()), *rng);
    }

    // Another leaf from the same CA.
    Bytes another_leaf(const PrivateKey& key, const std::string& device_id, std::vector<Right> rights = {}) {
        return issue(ca_key, ca, key, leaf_profile(*rng, device_id, std::move(rights)), *rng);
    }

    Bytes crl(const std::vector<CrlEntry>& entries, std::int64_t number, std::int64_t this_update = kT0 - kHour,
              std::int64_t next_update = kT0 + kDay) {
        auto c = issue_crl(ca_key, ca, entries, number, this_update, next_update, *rng);
        REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
        return std::move(c.value());
    }

    // The root's CRL (what `irp-ca root-crl` publishes), about the domain CAs.
    Bytes root_crl(const std::vector<CrlEntry>& entries, std::int64_t number, std::int64_t this_update = kT0 - kHour,
                   std::int64_t next_update = kT0 + 30 * kDay) {
        auto c = issue_crl(root_key, root, entries, number, this_update, next_update, *rng);
        REQUIRE_MESSAGE(c.ok(), (c.ok() ? "" : c.error().message));
        return std::move(c.value());
    }

    Bytes ca_serial() const {
        auto info = parse_certificate(ca);
        REQUIRE(info.ok());
        return info->serial;
    }

    Bytes leaf_serial() const {
        auto info = parse_certificate(leaf);
        REQUIRE(info.ok());
        return info->serial;
    }

    std::vector<Bytes> chain() const { return {leaf, ca}; }

    std::unique_ptr<Random> rng;
    PrivateKey root_key;
    PrivateKey ca_key;
    PrivateKey leaf_key;
    Bytes root;
    Bytes ca;
    Bytes leaf;
};

inline bool contains(const std::string& haystack, const std::string& needle) {
    return haystack.find(needle) != std::string::npos;
}

}  // namespace rp_test
