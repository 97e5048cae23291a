// Internal to lib/crypto/botan: Botan signers kept for reuse with one key.
//
// Making a Botan 2 PK_Signer for an ECDSA key costs a modular inversion
// (the blinding factor) and a deterministic-nonce generator: about a third
// of a signature. A server signs with the same few keys on every request
// (TLS handshakes, certificates, OCSP responses), so it keeps the signers.
// A signer is used by one thread at a time: a Lease takes it out of the
// cache and puts it back when it goes out of scope, unless an exception is
// unwinding (a signer that failed halfway is dropped, never reused).
#pragma once

#include <botan/asn1_obj.h>
#include <botan/pk_keys.h>
#include <botan/pubkey.h>
#include <botan/rng.h>

#include <memory>
#include <mutex>
#include <string>
#include <vector>

namespace irp::crypto {

class SignerCache {
public:
    struct Entry {
        std::string scheme;  // what the signer was made for, e.g. "x509/SHA-256"
        std::unique_ptr<Botan::PK_Signer> signer;
        Botan::AlgorithmIdentifier algorithm;  // X.509 signers: the signatureAlgorithm to write
    };

    class Lease {
    public:
        Lease(SignerCache& cache, Entry entry);
        Lease(Lease&&) = delete;
        ~Lease();
        Botan::PK_Signer& signer() { return *entry_.signer; }
        const Botan::AlgorithmIdentifier& algorithm() const { return entry_.algorithm; }

    private:
        SignerCache& cache_;
        Entry entry_;
        int unwinding_at_start_;
    };

    // A signer for X.509-style structures (certificates, CSRs, CRLs, OCSP
    // responses) hashing with `hash`, as X509_Object::choose_sig_format
    // makes it, with the AlgorithmIdentifier to write next to the signature.
    Lease x509(const Botan::Private_Key& key, const std::string& hash, Botan::RandomNumberGenerator& rng);
    // A signer with an explicit padding (EMSA) and signature format, as TLS
    // and raw signatures use.
    Lease raw(const Botan::Private_Key& key, const std::string& emsa, Botan::Signature_Format format,
              Botan::RandomNumberGenerator& rng);

    // Idle signers kept per key: enough for every worker thread of a server.
    static constexpr std::size_t kMaxIdle = 16;
    std::size_t idle() const;

private:
    bool take(const std::string& scheme, Entry& out);
    void give_back(Entry entry);

    mutable std::mutex mu_;
    std::vector<Entry> idle_;
};

}  // namespace irp::crypto
