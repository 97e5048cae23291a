// CRL parsing and verification for relying parties
// (parse_and_verify_crl in include/irp/crypto/revocation.hpp), on Botan 2's
// X509_CRL. Botan keeps the CRL Number in 32 bits, so the number is read
// from the raw extension with BER_Decoder.
#include <botan/asn1_obj.h>
#include <botan/ber_dec.h>
#include <botan/bigint.h>
#include <botan/der_enc.h>
#include <botan/pubkey.h>
#include <botan/x509_crl.h>
#include <botan/x509_ext.h>
#include <botan/x509cert.h>

#include <algorithm>
#include <exception>
#include <limits>
#include <memory>

#include "botan_glue.hpp"
#include "irp/crypto/revocation.hpp"

namespace irp::crypto {

namespace {

constexpr const char* kOidCrlNumber = "2.5.29.20";

// Thrown inside parse_and_verify_crl only, and caught there.
struct Malformed {
    std::string what;
};

std::int64_t to_unix(const Botan::X509_Time& t, const char* what) {
    if (!t.time_is_set()) throw Malformed{std::string(what) + " is missing"};
    const auto s = t.time_since_epoch();  // throws for years before 1970
    if (s > static_cast<std::uint64_t>(std::numeric_limits<std::int64_t>::max()))
        throw Malformed{std::string(what) + " is out of range"};
    return static_cast<std::int64_t>(s);
}

// Critical extensions we would have to act on and do not: the CRL must then
// not be used at all (RFC 5280 5.2, 5.3).
void refuse_critical(const Botan::Extensions& ext, const char* where) {
    for (const auto& [oid, value] : ext.extensions_raw())
        if (value.second)
            throw Malformed{std::string("critical ") + where + " extension " + oid.to_string() + " is not supported"};
}

std::int64_t crl_number_of(const Botan::Extensions& ext) {
    const auto raw = ext.extensions_raw();
    const auto it = raw.find(Botan::OID(kOidCrlNumber));
    if (it == raw.end()) throw Malformed{"no CRL Number extension (RFC 5280 5.2.3)"};
    Botan::BigInt n;
    Botan::BER_Decoder(it->second.first).decode(n).verify_end();
    if (n.is_negative()) throw Malformed{"negative CRL Number"};
    if (n.bits() > 63) throw Malformed{"CRL Number larger than 2^63 - 1"};
    std::int64_t v = 0;
    for (std::size_t i = n.bytes(); i > 0; --i) v = (v << 8) | n.byte_at(i - 1);
    return v;
}

bool valid_reason(std::int64_t r) { return r >= 0 && r <= 10 && r != 7; }

}  // namespace

Result<CrlInfo> parse_and_verify_crl(ByteView crl_der, ByteView issuer_cert_der) {
    auto malformed = [](const std::string& what) { return make_error(Code::malformed_message, "CRL: " + what); };
    if (crl_der.empty()) return malformed("empty");
    if (crl_der.size() > kMaxCrlBytes) return malformed("larger than " + std::to_string(kMaxCrlBytes) + " bytes");

    std::unique_ptr<Botan::X509_Certificate> issuer;
    std::unique_ptr<Botan::Public_Key> issuer_key;
    try {
        issuer = std::make_unique<Botan::X509_Certificate>(issuer_cert_der.data(), issuer_cert_der.size());
        issuer_key.reset(issuer->subject_public_key());
    } catch (const std::exception& e) {
        return make_error(Code::bad_argument, std::string("the CRL issuer's certificate does not parse: ") + e.what());
    }
    if (!issuer->is_CA_cert())
        return make_error(Code::bad_argument, "the CRL issuer's certificate is not a CA certificate");
    if (issuer->constraints() != Botan::NO_CONSTRAINTS && !(issuer->constraints() & Botan::CRL_SIGN))
        return make_error(Code::bad_argument, "the CRL issuer's certificate lacks the cRLSign key usage");

    CrlInfo info;
    try {
        const Bytes input(crl_der.begin(), crl_der.end());
        const Botan::X509_CRL crl(input);
        // One encoding only, and nothing after it.
        if (crl.BER_encode() != input) throw Malformed{"not DER-encoded, or trailing data"};

        // The Name as encoded in the CRL (Botan keeps its raw contents).
        Botan::DER_Encoder(info.issuer_name).encode(crl.issuer_dn());
        if (info.issuer_name != issuer->raw_subject_dn())
            return make_error(Code::identity_mismatch, "CRL: its issuer (" + crl.issuer_dn().to_string() +
                                                           ") is not the given CA (" +
                                                           issuer->subject_dn().to_string() + ")");
        if (!crl.check_signature(*issuer_key))
            return make_error(Code::identity_mismatch,
                              "CRL: the signature does not verify with the CA's key (" +
                                  issuer->subject_dn().to_string() + ")");

        info.this_update = to_unix(crl.this_update(), "thisUpdate");
        info.next_update = to_unix(crl.next_update(), "nextUpdate");
        if (info.next_update < info.this_update) throw Malformed{"nextUpdate is before thisUpdate"};
        refuse_critical(crl.extensions(), "CRL");
        info.crl_number = crl_number_of(crl.extensions());

        const auto& revoked = crl.get_revoked();
        info.entries.reserve(revoked.size());
        for (const auto& e : revoked) {
            refuse_critical(e.extensions(), "CRL entry");
            CrlEntry entry;
            entry.serial = e.serial_number();
            const auto first = std::find_if(entry.serial.begin(), entry.serial.end(), [](std::uint8_t b) { return b != 0; });
            entry.serial.erase(entry.serial.begin(), first);
            entry.revoked_at = to_unix(e.expire_time(), "a revocationDate");
            const auto reason = static_cast<std::int64_t>(e.reason_code());
            if (!valid_reason(reason)) throw Malformed{"invalid reasonCode " + std::to_string(reason)};
            entry.reason = static_cast<std::int32_t>(reason);
            info.entries.push_back(std::move(entry));
        }
    } catch (const Malformed& m) {
        return malformed(m.what);
    } catch (const std::exception& e) {
        return malformed(std::string("does not decode: ") + e.what());
    } catch (...) {
        return malformed("does not decode");
    }
    return info;
}

}  // namespace irp::crypto
