// Botan signers kept for reuse with one key (signer_cache.hpp).
#include "signer_cache.hpp"

#include <botan/x509_obj.h>

#include <exception>

namespace irp::crypto {

SignerCache::Lease::Lease(SignerCache& cache, Entry entry)
    : cache_(cache), entry_(std::move(entry)), unwinding_at_start_(std::uncaught_exceptions()) {}

SignerCache::Lease::~Lease() {
    // A signer whose use threw may hold half-fed hash state: drop it.
    if (std::uncaught_exceptions() > unwinding_at_start_) return;
    cache_.give_back(std::move(entry_));
}

bool SignerCache::take(const std::string& scheme, Entry& out) {
    std::lock_guard lock(mu_);
    for (auto it = idle_.rbegin(); it != idle_.rend(); ++it) {
        if (it->scheme != scheme) continue;
        out = std::move(*it);
        idle_.erase(std::next(it).base());
        return true;
    }
    return false;
}

void SignerCache::give_back(Entry entry) {
    std::lock_guard lock(mu_);
    if (idle_.size() < kMaxIdle) idle_.push_back(std::move(entry));
}

std::size_t SignerCache::idle() const {
    std::lock_guard lock(mu_);
    return idle_.size();
}

SignerCache::Lease SignerCache::x509(const Botan::Private_Key& key, const std::string& hash,
                                     Botan::RandomNumberGenerator& rng) {
    Entry e;
    const std::string scheme = "x509/" + hash;
    if (!take(scheme, e)) {
        e.scheme = scheme;
        e.signer = Botan::X509_Object::choose_sig_format(e.algorithm, key, rng, hash, "");
    }
    return Lease(*this, std::move(e));
}

SignerCache::Lease SignerCache::raw(const Botan::Private_Key& key, const std::string& emsa,
                                    Botan::Signature_Format format, Botan::RandomNumberGenerator& rng) {
    Entry e;
    const std::string scheme = "raw/" + emsa + (format == Botan::DER_SEQUENCE ? "/der" : "/ieee1363");
    if (!take(scheme, e)) {
        e.scheme = scheme;
        e.signer = std::make_unique<Botan::PK_Signer>(key, rng, emsa, format);
    }
    return Lease(*this, std::move(e));
}

}  // namespace irp::crypto
