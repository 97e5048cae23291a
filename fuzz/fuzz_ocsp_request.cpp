// Fuzz target: the OCSP request parser, which reads unauthenticated bytes
// from anyone who can reach the http listener (POST /ocsp). It must never
// crash or throw, must stay within its documented bounds (at most 16
// CertIDs, a nonce of 1-32 bytes), and whatever it accepts must be
// answerable: make_ocsp_response() over the parsed ids must succeed.
#include <cstddef>
#include <cstdint>
#include <memory>

#include "fuzz_common.hpp"
#include "irp/crypto/crypto.hpp"
#include "irp/crypto/revocation.hpp"

namespace {

struct Ca {
    std::unique_ptr<irp::crypto::Random> rng = irp::crypto::deterministic_random(11);
    std::optional<irp::crypto::PrivateKey> key;
    irp::Bytes cert;
    Ca() {
        auto k = irp::crypto::PrivateKey::generate(irp::crypto::KeyAlgorithm::ecdsa_p256, *rng);
        irp::crypto::IssueProfile p;
        p.serial = irp::crypto::random_serial(*rng);
        p.common_name = "fuzz CA";
        p.not_before = 0;
        p.not_after = 4'000'000'000;
        p.ca = true;
        cert = *irp::crypto::issue_certificate(*k, {}, k->public_key_der(), p, *rng);
        key.emplace(std::move(k.value()));
    }
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    static Ca ca;
    auto req = irp::crypto::parse_ocsp_request(irp::ByteView(data, size));
    if (!req) {
        IRP_FUZZ_CHECK(req.error().code == irp::Code::malformed_message);
        return 0;
    }
    IRP_FUZZ_CHECK(!req->ids.empty() && req->ids.size() <= 16);
    if (req->nonce) IRP_FUZZ_CHECK(!req->nonce->empty() && req->nonce->size() <= 32);
    std::vector<irp::crypto::OcspSingle> answers;
    for (const auto& id : req->ids) {
        (void)irp::crypto::ocsp_id_matches_issuer(id, ca.cert);
        answers.push_back({id, irp::crypto::OcspStatus::unknown, 0, 0});
    }
    auto resp = irp::crypto::make_ocsp_response(*ca.key, ca.cert, answers, req->nonce, 1'800'000'000, 1'800'003'600, *ca.rng);
    IRP_FUZZ_CHECK(resp.ok());
    return 0;
}
