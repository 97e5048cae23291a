// Shared by the EnrollService tests: requests built the way ServerSession
// builds them after its own checks (transcript, CSR bound to it, proof of
// possession verified), and a Fixture with one domain, one SQLite store, one
// service, a fixed clock and captured logs.
#pragma once

#include <doctest/doctest.h>

#include <algorithm>
#include <optional>
#include <string>
#include <vector>

#include "enroll_service.hpp"
#include "irp/core/client_session.hpp"
#include "irp/core/server_session.hpp"
#include "irp/core/transcript.hpp"
#include "test_domain.hpp"

namespace enroll_fixture {
using namespace irp;
using namespace irp::server;
using irp_test::kDay;
using irp_test::kNow;
using irp_test::TestDomain;
}  // namespace enroll_fixture

namespace enroll_fixture {

const std::string kDomain = "example.test";
const net::PeerInfo kPeer{"192.0.2.7:50000"};

inline crypto::PrivateKey new_key(crypto::Random& rng, KeyAlgorithm alg = KeyAlgorithm::ecdsa_p256) {
    auto k = crypto::PrivateKey::generate(alg, rng);
    REQUIRE(k.ok());
    return std::move(k.value());
}

inline Bytes bytes_of(const crypto::Digest& d) { return Bytes(d.begin(), d.end()); }

// The transcript over fixed nonces and a fixed channel binding, as both
// sides would compute it for one exchange.
inline crypto::Digest transcript_for(Operation op, const std::string& device_id, const std::string& class_id,
                              ByteView current_certificate) {
    static const Bytes client_nonce(32, 0x11), server_nonce(32, 0x22), binding(32, 0x33);
    TranscriptInput t;
    t.operation = op;
    t.client_nonce = client_nonce;
    t.server_nonce = server_nonce;
    t.channel_binding = binding;
    t.domain = kDomain;
    t.device_id = device_id;
    t.class_id = class_id;
    t.current_certificate = current_certificate;
    return transcript_hash(t);
}

// Fills csr_der / csr the way ServerSession::check_csr does.
inline void attach_csr(RequestReceived& r, const crypto::PrivateKey& key, crypto::Random& rng) {
    auto csr = crypto::create_csr(key, r.device_id, csr_challenge(r.transcript), rng);
    REQUIRE(csr.ok());
    auto info = crypto::parse_and_verify_csr(*csr);
    REQUIRE(info.ok());
    REQUIRE(info->challenge == csr_challenge(r.transcript));
    r.csr_der = std::move(csr.value());
    r.csr = std::move(info.value());
}

// An enrollment whose token proof is computed with `token`.
inline RequestReceived enroll_request(const std::string& device_id, const std::string& class_id, ByteView token,
                               const crypto::PrivateKey& key, crypto::Random& rng,
                               const std::string& request_id = "req-enroll") {
    RequestReceived r;
    r.request_id = request_id;
    r.operation = Operation::enroll;
    r.device_id = device_id;
    r.class_id = class_id;
    r.transcript = transcript_for(Operation::enroll, device_id, class_id, {});
    attach_csr(r, key, rng);
    r.token_proof = bytes_of(token_proof(token, r.transcript, r.csr_der));
    return r;
}

// A renewal of `current` for a CSR over `new_key`, signed by `signer`.
inline RequestReceived renew_request(const std::string& device_id, const Bytes& current, const crypto::PrivateKey& signer,
                              const crypto::PrivateKey& next_key, crypto::Random& rng,
                              const std::string& request_id = "req-renew") {
    RequestReceived r;
    r.request_id = request_id;
    r.operation = Operation::renew;
    r.device_id = device_id;
    r.transcript = transcript_for(Operation::renew, device_id, "", current);
    attach_csr(r, next_key, rng);
    r.current_certificate = current;
    r.renewal_signature = signer.sign(renewal_message(r.transcript, r.csr_der), rng);
    return r;
}

inline Bytes token_of(const Bytes& secret, const std::string& class_id, const std::string& device_id) {
    return bytes_of(derive_device_token(secret, class_id, device_id));
}

inline std::int64_t value(Result<std::int64_t> r) {
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return *r;
}

struct Snapshot {
    std::int64_t certificates = 0;
    std::int64_t devices = 0;
    std::size_t audit = 0;
};

inline Snapshot snapshot(Store& s) {
    auto audit = s.audit_log(100000);
    REQUIRE(audit.ok());
    return Snapshot{value(s.count_certificates()), value(s.count_devices()), audit->size()};
}

inline void check_unchanged(const Snapshot& before, Store& s) {
    const Snapshot after = snapshot(s);
    CHECK(after.certificates == before.certificates);
    CHECK(after.devices == before.devices);
    CHECK(after.audit == before.audit);
}

inline CertificateRecord record_of(Store& s, const std::string& serial_hex) {
    auto r = s.find_certificate(serial_hex);
    REQUIRE(r.ok());
    REQUIRE(r->has_value());
    return **r;
}

inline std::string serial_hex_of(const Bytes& der) {
    auto info = crypto::parse_certificate(der);
    REQUIRE(info.ok());
    return to_hex(info->serial);
}

inline const Issued& issued_of(const Answer& a) {
    const auto* rej = std::get_if<Rejected>(&a.result);
    REQUIRE_MESSAGE(std::holds_alternative<Issued>(a.result),
                    "expected Issued, got " << (rej ? code_name(rej->code) + (": " + rej->message) : "another answer"));
    return std::get<Issued>(a.result);
}

inline void check_rejected(const Answer& a, Code expected) {
    REQUIRE_MESSAGE(std::holds_alternative<Rejected>(a.result), "expected a rejection with " << std::string(code_name(expected)));
    const auto& rej = std::get<Rejected>(a.result);
    CHECK_MESSAGE(rej.code == expected, "got " << std::string(code_name(rej.code)) << " (" << rej.message << "), expected "
                                               << std::string(code_name(expected)));
    CHECK_FALSE(rej.message.empty());
}

// One domain, one store, one service with a fixed clock and captured logs.
struct Fixture {
    TestDomain d{kDomain, 1};
    std::unique_ptr<crypto::Random> rng = crypto::deterministic_random(42);
    Authority ca{d.material(), ProfileSettings{}, *rng};
    std::int64_t now = kNow;
    std::vector<std::string> log;
    ClassRegistry classes{d.store(), *rng, d.material().class_secrets, [this] { return now; }};
    HoldDesk holds{d.store(), [this] { return now; }, ApprovalPolicy{}};
    EnrollService svc{ca, d.store(), classes, holds, ServicePolicy{}, [this](const std::string& l) { log.push_back(l); },
                      [this] { return now; }};

    Bytes token(const std::string& device_id) { return token_of(d.secret(), "default", device_id); }

    // A device enrolled through the service: its key and certificate.
    struct Enrolled {
        crypto::PrivateKey key;
        Bytes cert;
        std::string serial;
    };
    Enrolled enroll(const std::string& device_id, const std::string& request_id = "req-enroll") {
        auto key = new_key(*rng);
        const Answer a = svc.on_request(enroll_request(device_id, "default", token(device_id), key, *rng, request_id), kPeer);
        const Issued& i = issued_of(a);
        return Enrolled{std::move(key), i.certificate, serial_hex_of(i.certificate)};
    }
};

// A signed check-in by `device_id` with `cert`, signed by `signer`.
inline RequestReceived check_in_request(const std::string& device_id, const Bytes& cert, const crypto::PrivateKey& signer,
                                        crypto::Random& rng, std::uint64_t have_crl_number = 0,
                                        std::uint32_t max_crl_bytes = 0) {
    RequestReceived r;
    r.request_id = "ci";
    r.operation = Operation::check_in;
    r.device_id = device_id;
    r.transcript = transcript_for(Operation::check_in, device_id, "", cert);
    r.current_certificate = cert;
    r.renewal_signature = signer.sign(check_in_message(r.transcript), rng);
    r.have_crl_number = have_crl_number;
    r.max_crl_bytes = max_crl_bytes;
    return r;
}

}  // namespace enroll_fixture

using namespace enroll_fixture;
