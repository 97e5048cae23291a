// Internal to lib/crypto/botan: the Botan types behind our opaque handles.
#pragma once

#include <botan/pk_keys.h>
#include <botan/rng.h>

#include <memory>
#include <string>

#include "irp/crypto/crypto.hpp"
#include "signer_cache.hpp"

namespace irp::crypto {

struct PrivateKey::Impl {
    std::unique_ptr<Botan::Private_Key> key;
    KeyAlgorithm algorithm;
    bool token = false;  // a PKCS#11 key (pkcs11.cpp): signs, never exports
    std::string pkcs11_uri = {};  // token keys: the URI that loads it again (PrivateKey::pkcs11_uri)
    mutable SignerCache signers;  // signers made for `key`, reused (signer_cache.hpp)
};

// Presents one of our Random sources to Botan.
class BotanRng final : public Botan::RandomNumberGenerator {
public:
    explicit BotanRng(Random& r) : r_(r) {}
    void randomize(uint8_t out[], size_t len) override { r_.fill({out, len}); }
    bool accepts_input() const override { return false; }
    void add_entropy(const uint8_t[], size_t) override {}
    std::string name() const override { return "irp::crypto::Random"; }
    void clear() override {}
    bool is_seeded() const override { return true; }

private:
    Random& r_;
};

// Signature parameters we use for each algorithm (padding, hash for X.509).
const char* padding_for(KeyAlgorithm a);
const char* x509_hash_for(KeyAlgorithm a);
std::optional<KeyAlgorithm> algorithm_of(const Botan::Public_Key& key);

}  // namespace irp::crypto
