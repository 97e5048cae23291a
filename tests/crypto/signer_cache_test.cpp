// The signers a key keeps for reuse (lib/crypto/botan/signer_cache.hpp):
// a signer is reused only for the scheme it was made for, a failed one is
// dropped, the cache is bounded, and signatures from reused signers verify,
// also when several threads sign with one key.
#include <doctest/doctest.h>

#include <botan/ec_group.h>
#include <botan/ecdsa.h>
#include <botan/pubkey.h>
#include <botan/system_rng.h>

#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <thread>
#include <vector>

#include "irp/crypto/crypto.hpp"
#include "botan_glue.hpp"  // internal to lib/crypto/botan: PrivateKey::Impl, SignerCache

namespace {

using irp::Bytes;
using namespace irp::crypto;

bool verifies(const Botan::Public_Key& key, const std::string& emsa, Botan::Signature_Format format,
              const std::vector<uint8_t>& msg, const std::vector<uint8_t>& sig) {
    Botan::PK_Verifier v(key, emsa, format);
    return v.verify_message(msg, sig);
}

}  // namespace

TEST_CASE("signer cache: reuse per scheme, failed signers dropped, bounded") {
    Botan::System_RNG rng;
    const Botan::ECDSA_PrivateKey key(rng, Botan::EC_Group("secp256r1"));
    SignerCache cache;
    const std::vector<uint8_t> msg{'h', 'e', 'l', 'l', 'o'};

    Botan::PK_Signer* first = nullptr;
    std::vector<uint8_t> sig1;
    {
        auto lease = cache.raw(key, "EMSA1(SHA-256)", Botan::IEEE_1363, rng);
        first = &lease.signer();
        sig1 = lease.signer().sign_message(msg, rng);
        CHECK(cache.idle() == 0);
    }
    CHECK(cache.idle() == 1);

    SUBCASE("the same scheme gets the same signer back, and its signatures verify") {
        auto lease = cache.raw(key, "EMSA1(SHA-256)", Botan::IEEE_1363, rng);
        CHECK(&lease.signer() == first);
        CHECK(cache.idle() == 0);
        const auto sig2 = lease.signer().sign_message(msg, rng);
        CHECK(verifies(key, "EMSA1(SHA-256)", Botan::IEEE_1363, msg, sig1));
        CHECK(verifies(key, "EMSA1(SHA-256)", Botan::IEEE_1363, msg, sig2));
    }
    SUBCASE("another format or hash gets a signer of its own") {
        auto der = cache.raw(key, "EMSA1(SHA-256)", Botan::DER_SEQUENCE, rng);
        CHECK(&der.signer() != first);
        CHECK(cache.idle() == 1);
        auto x509 = cache.x509(key, "SHA-384", rng);
        CHECK(&x509.signer() != first);
        CHECK(x509.algorithm().get_oid().to_formatted_string() == "ECDSA/EMSA1(SHA-384)");
        const auto sig = der.signer().sign_message(msg, rng);
        CHECK(verifies(key, "EMSA1(SHA-256)", Botan::DER_SEQUENCE, msg, sig));
        CHECK_FALSE(verifies(key, "EMSA1(SHA-256)", Botan::IEEE_1363, msg, sig));
    }
    SUBCASE("a signer whose use threw is not kept") {
        try {
            auto lease = cache.raw(key, "EMSA1(SHA-256)", Botan::IEEE_1363, rng);
            lease.signer().update(msg);  // half-fed
            throw std::runtime_error("token failed");
        } catch (const std::runtime_error&) {
        }
        CHECK(cache.idle() == 0);
        auto lease = cache.raw(key, "EMSA1(SHA-256)", Botan::IEEE_1363, rng);
        CHECK(verifies(key, "EMSA1(SHA-256)", Botan::IEEE_1363, msg, lease.signer().sign_message(msg, rng)));
    }
    SUBCASE("at most kMaxIdle signers stay") {
        // Holds n leases at once (a Lease does not move), then lets all go.
        auto hold = [&](auto& self, std::size_t n) -> void {
            if (n == 0) {
                CHECK(cache.idle() == 0);
                return;
            }
            auto lease = cache.raw(key, "EMSA1(SHA-256)", Botan::IEEE_1363, rng);
            self(self, n - 1);
        };
        hold(hold, SignerCache::kMaxIdle + 4);
        CHECK(cache.idle() == SignerCache::kMaxIdle);
    }
}

TEST_CASE("signer cache: four threads signing with one key, every signature verifies") {
    auto rng = system_random();
    for (const auto alg : {KeyAlgorithm::ecdsa_p256, KeyAlgorithm::ecdsa_p384, KeyAlgorithm::ed25519}) {
        CAPTURE(static_cast<int>(alg));
        auto key = PrivateKey::generate(alg, *rng);
        REQUIRE(key.ok());
        const Bytes spki = key->public_key_der();
        std::atomic<int> good{0}, bad{0};
        std::vector<std::thread> threads;
        for (int t = 0; t < 4; ++t)
            threads.emplace_back([&, t] {
                auto r = system_random();
                for (int i = 0; i < 40; ++i) {
                    const Bytes msg{static_cast<std::uint8_t>(t), static_cast<std::uint8_t>(i), 7, 7};
                    const Bytes sig = key->sign(msg, *r);
                    (!sig.empty() && verify_signature(spki, msg, sig) ? good : bad)++;
                }
            });
        for (auto& th : threads) th.join();
        CHECK(good.load() == 160);
        CHECK(bad.load() == 0);
        CHECK(key->impl().signers.idle() >= 1);
        CHECK(key->impl().signers.idle() <= 4);
    }
}
