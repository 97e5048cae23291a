// CRLs (RFC 5280) and OCSP (RFC 6960) on Botan 2.
//
// Botan 2 can neither set a CRL number through X509_CA (make_crl is
// private) nor parse an OCSP request nor build an OCSP response, so the
// structures are encoded here with DER_Encoder / parsed with BER_Decoder,
// and signed with X509_Object::choose_sig_format + make_signed.
#include <botan/asn1_obj.h>
#include <botan/ber_dec.h>
#include <botan/bigint.h>
#include <botan/der_enc.h>
#include <botan/hash.h>
#include <botan/pubkey.h>
#include <botan/x509_ext.h>
#include <botan/x509_obj.h>
#include <botan/x509cert.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <set>
#include <utility>

#include "botan_glue.hpp"
#include "irp/crypto/revocation.hpp"

namespace irp::crypto {

namespace {

constexpr const char* kOidOcspNonce = "1.3.6.1.5.5.7.48.1.2";  // id-pkix-ocsp-nonce
constexpr const char* kOidOcspBasic = "1.3.6.1.5.5.7.48.1.1";  // id-pkix-ocsp-basic
constexpr std::size_t kMaxNonceBytes = 32;                     // RFC 8954: Nonce ::= OCTET STRING (SIZE(1..32))

// 1950-01-01T00:00:00Z .. 9999-12-31T23:59:59Z: what UTCTime/GeneralizedTime can say.
constexpr std::int64_t kMinTime = -631'152'000;
constexpr std::int64_t kMaxTime = 253'402'300'799;

const Botan::ASN1_Tag kContextConstructed = Botan::ASN1_Tag(Botan::CONTEXT_SPECIFIC | Botan::CONSTRUCTED);

// An encoded X.509 time: its tag and its string.
struct Time {
    Botan::ASN1_Tag tag = Botan::GENERALIZED_TIME;
    std::string text;
};

// RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050 (and,
// for completeness, before 1950). `generalized` forces GeneralizedTime, as
// OCSP (RFC 6960) requires.
std::optional<Time> encode_time(std::int64_t t, bool generalized) {
    if (t < kMinTime || t > kMaxTime) return std::nullopt;
    using namespace std::chrono;
    const sys_seconds tp{seconds{t}};
    const auto day = floor<days>(tp);
    const year_month_day ymd{day};
    const hh_mm_ss hms{tp - day};
    const int year = static_cast<int>(ymd.year());
    const unsigned month = static_cast<unsigned>(ymd.month()), dom = static_cast<unsigned>(ymd.day());
    const auto h = static_cast<unsigned>(hms.hours().count()), m = static_cast<unsigned>(hms.minutes().count()),
               s = static_cast<unsigned>(hms.seconds().count());
    char buf[32];
    Time out;
    if (!generalized && year >= 1950 && year < 2050) {
        out.tag = Botan::UTC_TIME;
        std::snprintf(buf, sizeof buf, "%02d%02u%02u%02u%02u%02uZ", year % 100, month, dom, h, m, s);
    } else {
        out.tag = Botan::GENERALIZED_TIME;
        std::snprintf(buf, sizeof buf, "%04d%02u%02u%02u%02u%02uZ", year, month, dom, h, m, s);
    }
    out.text = buf;
    return out;
}

void put_time(Botan::DER_Encoder& der, const Time& t) {
    der.add_object(t.tag, Botan::UNIVERSAL, t.text);
}

bool valid_reason(std::int32_t r) { return r >= 0 && r <= 10 && r != 7; }

Bytes from_secure(const Botan::secure_vector<uint8_t>& v) { return Bytes(v.begin(), v.end()); }

// The subjectPublicKey BIT STRING contents (without the unused-bits byte)
// of a SubjectPublicKeyInfo: what RFC 6960 key hashes are computed over.
Bytes spki_key_bits(const std::vector<uint8_t>& spki) {
    Botan::BER_Decoder top(spki);
    Botan::BER_Decoder seq = top.start_cons(Botan::SEQUENCE);
    seq.get_next_object();  // AlgorithmIdentifier
    Bytes bits;
    seq.decode(bits, Botan::BIT_STRING);
    seq.verify_end();
    return bits;
}

Bytes digest_of(const char* algo, const std::vector<uint8_t>& data) {
    return from_secure(Botan::HashFunction::create_or_throw(algo)->process(data));
}

// What the CA's certificate contributes to a CRL or an OCSP response.
struct CaView {
    Bytes subject;   // subject Name DER, as in the certificate
    Bytes key_bits;  // subjectPublicKey BIT STRING contents
    Bytes ski;       // subject key identifier (SHA-1 of key_bits if absent)
    bool crl_sign = true;
};

Result<CaView> load_ca(const PrivateKey& key, ByteView ca_cert) {
    try {
        const Botan::X509_Certificate cert(ca_cert.data(), ca_cert.size());
        const std::unique_ptr<Botan::Public_Key> pub(cert.subject_public_key());
        const auto& priv = *key.impl().key;
        if (pub->algo_name() != priv.algo_name() || pub->public_key_bits() != priv.public_key_bits())
            return make_error(Code::bad_argument, "the CA key does not match the CA certificate");
        CaView v;
        v.subject = cert.raw_subject_dn();
        v.key_bits = spki_key_bits(cert.subject_public_key_info());
        v.ski = cert.subject_key_id();
        if (v.ski.empty()) v.ski = digest_of("SHA-160", v.key_bits);
        v.crl_sign = cert.constraints() == Botan::NO_CONSTRAINTS || (cert.constraints() & Botan::CRL_SIGN);
        return v;
    } catch (const std::exception& e) {
        return make_error(Code::bad_argument, std::string("the CA certificate does not parse: ") + e.what());
    }
}

Bytes strip_leading_zeros(const Bytes& b) {
    auto it = std::find_if(b.begin(), b.end(), [](std::uint8_t v) { return v != 0; });
    return Bytes(it, b.end());
}

// ---- OCSP request parsing ---------------------------------------------------------

// Thrown inside parse_ocsp_request only, and caught there.
struct Malformed {
    std::string what;
};

void expect(const Botan::BER_Object& o, Botan::ASN1_Tag type, Botan::ASN1_Tag cls, const char* what) {
    if (!o.is_a(type, cls)) throw Malformed{what};
}

OcspCertId parse_cert_id(const Botan::BER_Object& obj) {
    OcspCertId id;
    Botan::BER_Decoder d(obj);
    const auto alg = d.get_next_object();
    expect(alg, Botan::SEQUENCE, Botan::CONSTRUCTED, "CertID.hashAlgorithm is not a SEQUENCE");
    {
        Botan::BER_Decoder a(alg);
        Botan::OID oid;
        a.decode(oid);
        if (a.more_items()) {
            const auto params = a.get_next_object();
            if (!params.is_a(Botan::NULL_TAG, Botan::UNIVERSAL) || params.length() != 0)
                throw Malformed{"CertID.hashAlgorithm has parameters other than NULL"};
            if (a.more_items()) throw Malformed{"trailing data in CertID.hashAlgorithm"};
        }
        id.hash_oid = oid.to_string();
    }
    d.decode(id.issuer_name_hash, Botan::OCTET_STRING);
    d.decode(id.issuer_key_hash, Botan::OCTET_STRING);
    Botan::BigInt serial;
    d.decode(serial);
    if (d.more_items()) throw Malformed{"trailing data in CertID"};
    if (serial.is_negative()) throw Malformed{"CertID.serialNumber is negative"};
    id.serial = Botan::BigInt::encode(serial);
    if (id.serial.empty()) id.serial = {0};
    Botan::DER_Encoder(id.der).add_object(Botan::SEQUENCE, Botan::CONSTRUCTED, obj.bits(), obj.length());
    return id;
}

void parse_request_extensions(const Botan::BER_Object& wrapper, OcspRequestInfo& info) {
    Botan::BER_Decoder w(wrapper);
    const auto seq = w.get_next_object();
    expect(seq, Botan::SEQUENCE, Botan::CONSTRUCTED, "requestExtensions is not a SEQUENCE");
    if (w.more_items()) throw Malformed{"trailing data in requestExtensions"};
    Botan::BER_Decoder exts(seq);
    if (!exts.more_items()) throw Malformed{"requestExtensions is empty"};
    const Botan::OID nonce_oid(kOidOcspNonce);
    while (exts.more_items()) {
        const auto ext = exts.get_next_object();
        expect(ext, Botan::SEQUENCE, Botan::CONSTRUCTED, "an Extension is not a SEQUENCE");
        Botan::BER_Decoder e(ext);
        Botan::OID oid;
        bool critical = false;
        Bytes value;
        e.decode(oid).decode_optional(critical, Botan::BOOLEAN, Botan::UNIVERSAL, false);
        e.decode(value, Botan::OCTET_STRING);
        if (e.more_items()) throw Malformed{"trailing data in an Extension"};
        if (oid != nonce_oid) continue;  // others (acceptable responses, ...) are optional to honour
        if (info.nonce) throw Malformed{"two nonce extensions"};
        Botan::BER_Decoder v(value);
        const auto inner = v.get_next_object();
        if (!inner.is_a(Botan::OCTET_STRING, Botan::UNIVERSAL) || v.more_items())
            throw Malformed{"the nonce extension's value is not an OCTET STRING"};
        if (inner.length() == 0 || inner.length() > kMaxNonceBytes)
            throw Malformed{"the nonce is not 1 to 32 bytes long (RFC 8954)"};
        info.nonce = Bytes(inner.bits(), inner.bits() + inner.length());
    }
}

OcspRequestInfo parse_request(ByteView der) {
    OcspRequestInfo info;
    Botan::BER_Decoder top(der.data(), der.size());
    const auto request = top.get_next_object();
    expect(request, Botan::SEQUENCE, Botan::CONSTRUCTED, "OCSPRequest is not a SEQUENCE");
    if (top.more_items()) throw Malformed{"trailing data after the OCSPRequest"};

    Botan::BER_Decoder req(request);
    const auto tbs_obj = req.get_next_object();
    expect(tbs_obj, Botan::SEQUENCE, Botan::CONSTRUCTED, "tbsRequest is not a SEQUENCE");
    const auto signature = req.get_next_object();  // optionalSignature: ignored
    if (signature.is_set() && !signature.is_a(0, kContextConstructed))
        throw Malformed{"unexpected element after tbsRequest"};
    if (req.more_items()) throw Malformed{"trailing data in OCSPRequest"};

    Botan::BER_Decoder tbs(tbs_obj);
    auto o = tbs.get_next_object();
    if (o.is_a(0, kContextConstructed)) {  // [0] EXPLICIT Version DEFAULT v1
        Botan::BER_Decoder v(o);
        size_t version = 0;
        v.decode(version);
        if (v.more_items()) throw Malformed{"trailing data in version"};
        if (version != 0) throw Malformed{"unsupported version " + std::to_string(version + 1)};
        o = tbs.get_next_object();
    }
    if (o.is_a(1, kContextConstructed)) o = tbs.get_next_object();  // requestorName: ignored
    expect(o, Botan::SEQUENCE, Botan::CONSTRUCTED, "requestList is missing or not a SEQUENCE");
    Botan::BER_Decoder list(o);
    while (list.more_items()) {
        if (info.ids.size() == kOcspMaxCertIds)
            throw Malformed{"more than " + std::to_string(kOcspMaxCertIds) + " certificates in one request"};
        const auto r = list.get_next_object();
        expect(r, Botan::SEQUENCE, Botan::CONSTRUCTED, "a Request is not a SEQUENCE");
        Botan::BER_Decoder rd(r);
        const auto cert_id = rd.get_next_object();
        expect(cert_id, Botan::SEQUENCE, Botan::CONSTRUCTED, "a reqCert is not a CertID SEQUENCE");
        const auto single_ext = rd.get_next_object();  // singleRequestExtensions: ignored
        if (single_ext.is_set() && !single_ext.is_a(0, kContextConstructed))
            throw Malformed{"unexpected element in a Request"};
        if (rd.more_items()) throw Malformed{"trailing data in a Request"};
        info.ids.push_back(parse_cert_id(cert_id));
    }
    if (info.ids.empty()) throw Malformed{"requestList is empty"};

    o = tbs.get_next_object();
    if (o.is_set()) {
        if (!o.is_a(2, kContextConstructed)) throw Malformed{"unexpected element in tbsRequest"};
        parse_request_extensions(o, info);
        if (tbs.more_items()) throw Malformed{"trailing data in tbsRequest"};
    }
    return info;
}

const char* hash_for_oid(const std::string& oid) {
    if (oid == "1.3.14.3.2.26") return "SHA-160";
    if (oid == "2.16.840.1.101.3.4.2.1") return "SHA-256";
    if (oid == "2.16.840.1.101.3.4.2.2") return "SHA-384";
    if (oid == "2.16.840.1.101.3.4.2.3") return "SHA-512";
    return nullptr;
}

// CertID ::= SEQUENCE { hashAlgorithm, issuerNameHash, issuerKeyHash, serialNumber }
void put_cert_id(Botan::DER_Encoder& der, const OcspCertId& id) {
    if (!id.der.empty()) {
        der.raw_bytes(id.der);
        return;
    }
    der.start_cons(Botan::SEQUENCE)
        .start_cons(Botan::SEQUENCE)
        .encode(Botan::OID(id.hash_oid))
        .encode_null()
        .end_cons()
        .encode(id.issuer_name_hash, Botan::OCTET_STRING)
        .encode(id.issuer_key_hash, Botan::OCTET_STRING)
        .encode(Botan::BigInt(id.serial.data(), id.serial.size()))
        .end_cons();
}

}  // namespace

// ---- CRL ---------------------------------------------------------------------------

Result<Bytes> issue_crl(const PrivateKey& ca_key, ByteView ca_cert, const std::vector<CrlEntry>& entries,
                        std::int64_t crl_number, std::int64_t this_update, std::int64_t next_update, Random& rng) {
    try {
        if (crl_number < 0) return make_error(Code::bad_argument, "the CRL number is negative");
        if (next_update <= this_update) return make_error(Code::bad_argument, "nextUpdate is not after thisUpdate");
        const auto this_t = encode_time(this_update, false);
        const auto next_t = encode_time(next_update, false);
        if (!this_t || !next_t) return make_error(Code::bad_argument, "CRL time out of range (1950..9999)");

        struct Prepared {
            Bytes serial;
            Time at;
            std::int32_t reason;
        };
        std::vector<Prepared> revoked;
        std::set<Bytes> seen;
        for (const auto& e : entries) {
            Bytes serial = strip_leading_zeros(e.serial);
            if (serial.empty()) return make_error(Code::bad_argument, "a CRL entry has an empty or zero serial");
            if (!seen.insert(serial).second)
                return make_error(Code::bad_argument, "serial " + to_hex(serial) + " is listed twice");
            if (!valid_reason(e.reason))
                return make_error(Code::bad_argument, "invalid CRL reason " + std::to_string(e.reason));
            const auto at = encode_time(e.revoked_at, false);
            if (!at) return make_error(Code::bad_argument, "revocation time out of range (1950..9999)");
            revoked.push_back({std::move(serial), *at, e.reason});
        }

        auto ca = load_ca(ca_key, ca_cert);
        if (!ca) return ca.error();
        if (!ca->crl_sign) return make_error(Code::bad_argument, "the CA certificate's key usage lacks cRLSign");

        BotanRng brng(rng);
        auto lease = ca_key.impl().signers.x509(*ca_key.impl().key, x509_hash_for(ca_key.algorithm()), brng);
        const Botan::AlgorithmIdentifier& sig_algo = lease.algorithm();
        Botan::secure_vector<uint8_t> tbs;
        Botan::DER_Encoder der(tbs);
        der.start_cons(Botan::SEQUENCE)
            .encode(size_t{1})  // v2
            .encode(sig_algo)
            .raw_bytes(ca->subject);
        put_time(der, *this_t);
        put_time(der, *next_t);
        if (!revoked.empty()) {
            der.start_cons(Botan::SEQUENCE);
            for (const auto& r : revoked) {
                der.start_cons(Botan::SEQUENCE).encode(Botan::BigInt(r.serial.data(), r.serial.size()));
                put_time(der, r.at);
                if (r.reason != 0) {  // RFC 5280 5.3.1: omit reasonCode rather than say unspecified
                    Botan::Extensions ext;
                    ext.add(new Botan::Cert_Extension::CRL_ReasonCode(static_cast<Botan::CRL_Code>(r.reason)), false);
                    // Botan 2 encodes the Extension entries without the
                    // enclosing SEQUENCE OF; callers wrap them.
                    der.start_cons(Botan::SEQUENCE).encode(ext).end_cons();
                }
                der.end_cons();
            }
            der.end_cons();
        }
        Botan::Extensions crl_ext;
        crl_ext.add(new Botan::Cert_Extension::Authority_Key_ID(ca->ski), false);
        crl_ext.add(new Botan::Cert_Extension::CRL_Number(static_cast<size_t>(crl_number)), false);
        der.start_cons(Botan::ASN1_Tag(0), Botan::CONTEXT_SPECIFIC)
            .start_cons(Botan::SEQUENCE)
            .encode(crl_ext)
            .end_cons()
            .end_cons();
        der.end_cons();
        return Botan::X509_Object::make_signed(&lease.signer(), brng, sig_algo, tbs);
    } catch (const std::exception& e) {
        return make_error(Code::internal, std::string("cannot issue CRL: ") + e.what());
    }
}

// ---- OCSP --------------------------------------------------------------------------

Result<OcspRequestInfo> parse_ocsp_request(ByteView der) {
    auto malformed = [](const std::string& what) {
        return make_error(Code::malformed_message, "OCSP request: " + what);
    };
    if (der.empty()) return malformed("empty");
    if (der.size() > kOcspMaxRequestBytes)
        return malformed("larger than " + std::to_string(kOcspMaxRequestBytes) + " bytes");
    try {
        return parse_request(der);
    } catch (const Malformed& m) {
        return malformed(m.what);
    } catch (const std::exception& e) {
        return malformed(std::string("does not decode: ") + e.what());
    } catch (...) {
        return malformed("does not decode");
    }
}

bool ocsp_id_matches_issuer(const OcspCertId& id, ByteView ca_cert) {
    try {
        const char* algo = hash_for_oid(id.hash_oid);
        if (algo == nullptr) return false;
        const Botan::X509_Certificate cert(ca_cert.data(), ca_cert.size());
        return digest_of(algo, cert.raw_subject_dn()) == id.issuer_name_hash &&
               digest_of(algo, spki_key_bits(cert.subject_public_key_info())) == id.issuer_key_hash;
    } catch (...) {
        return false;
    }
}

Result<Bytes> make_ocsp_response(const PrivateKey& ca_key, ByteView ca_cert, const std::vector<OcspSingle>& answers,
                                 const std::optional<Bytes>& nonce, std::int64_t produced_at, std::int64_t next_update,
                                 Random& rng) {
    try {
        if (answers.empty()) return make_error(Code::bad_argument, "an OCSP response needs at least one answer");
        if (next_update <= produced_at) return make_error(Code::bad_argument, "nextUpdate is not after producedAt");
        const auto produced_t = encode_time(produced_at, true);
        const auto next_t = encode_time(next_update, true);
        if (!produced_t || !next_t) return make_error(Code::bad_argument, "OCSP time out of range (1950..9999)");
        std::vector<Time> revoked_times(answers.size());
        for (std::size_t i = 0; i < answers.size(); ++i) {
            const auto& a = answers[i];
            if (a.id.der.empty()) {
                if (a.id.serial.empty()) return make_error(Code::bad_argument, "an OCSP answer has an empty serial");
                try {
                    Botan::OID check(a.id.hash_oid);
                } catch (...) {
                    return make_error(Code::bad_argument, "an OCSP answer has an invalid hash OID");
                }
            }
            if (a.status != OcspStatus::revoked) continue;
            if (!valid_reason(a.reason))
                return make_error(Code::bad_argument, "invalid CRL reason " + std::to_string(a.reason));
            const auto t = encode_time(a.revoked_at, true);
            if (!t) return make_error(Code::bad_argument, "revocation time out of range (1950..9999)");
            revoked_times[i] = *t;
        }
        if (nonce && (nonce->empty() || nonce->size() > kMaxNonceBytes))
            return make_error(Code::bad_argument, "the nonce is not 1 to 32 bytes long");

        auto ca = load_ca(ca_key, ca_cert);
        if (!ca) return ca.error();

        BotanRng brng(rng);
        auto lease = ca_key.impl().signers.x509(*ca_key.impl().key, x509_hash_for(ca_key.algorithm()), brng);
        const Botan::AlgorithmIdentifier& sig_algo = lease.algorithm();
        const std::vector<uint8_t> empty;

        // ResponseData (version v1 is the DEFAULT, so absent).
        Botan::secure_vector<uint8_t> tbs;
        Botan::DER_Encoder der(tbs);
        der.start_cons(Botan::SEQUENCE)
            .start_cons(Botan::ASN1_Tag(2), Botan::CONTEXT_SPECIFIC)  // responderID byKey
            .encode(digest_of("SHA-160", ca->key_bits), Botan::OCTET_STRING)
            .end_cons();
        put_time(der, *produced_t);
        der.start_cons(Botan::SEQUENCE);
        for (std::size_t i = 0; i < answers.size(); ++i) {
            const auto& a = answers[i];
            der.start_cons(Botan::SEQUENCE);
            put_cert_id(der, a.id);
            switch (a.status) {
                case OcspStatus::good:
                    der.add_object(Botan::ASN1_Tag(0), Botan::CONTEXT_SPECIFIC, empty);  // [0] IMPLICIT NULL
                    break;
                case OcspStatus::revoked:
                    der.start_cons(Botan::ASN1_Tag(1), Botan::CONTEXT_SPECIFIC);  // [1] IMPLICIT RevokedInfo
                    put_time(der, revoked_times[i]);
                    if (a.reason != 0)
                        der.start_cons(Botan::ASN1_Tag(0), Botan::CONTEXT_SPECIFIC)
                            .encode(static_cast<size_t>(a.reason), Botan::ENUMERATED, Botan::UNIVERSAL)
                            .end_cons();
                    der.end_cons();
                    break;
                case OcspStatus::unknown:
                    der.add_object(Botan::ASN1_Tag(2), Botan::CONTEXT_SPECIFIC, empty);  // [2] IMPLICIT NULL
                    break;
            }
            put_time(der, *produced_t);  // thisUpdate
            der.start_cons(Botan::ASN1_Tag(0), Botan::CONTEXT_SPECIFIC);
            put_time(der, *next_t);
            der.end_cons();
            der.end_cons();
        }
        der.end_cons();
        if (nonce) {
            std::vector<uint8_t> value;
            Botan::DER_Encoder(value).encode(*nonce, Botan::OCTET_STRING);
            der.start_cons(Botan::ASN1_Tag(1), Botan::CONTEXT_SPECIFIC)
                .start_cons(Botan::SEQUENCE)
                .start_cons(Botan::SEQUENCE)
                .encode(Botan::OID(kOidOcspNonce))
                .encode(value, Botan::OCTET_STRING)
                .end_cons()
                .end_cons()
                .end_cons();
        }
        der.end_cons();

        // BasicOCSPResponse without certs: SEQUENCE { tbs, algorithm, signature }.
        const auto basic = Botan::X509_Object::make_signed(&lease.signer(), brng, sig_algo, tbs);

        Bytes out;
        Botan::DER_Encoder(out)
            .start_cons(Botan::SEQUENCE)
            .encode(size_t{0}, Botan::ENUMERATED, Botan::UNIVERSAL)  // successful
            .start_cons(Botan::ASN1_Tag(0), Botan::CONTEXT_SPECIFIC)
            .start_cons(Botan::SEQUENCE)
            .encode(Botan::OID(kOidOcspBasic))
            .encode(basic, Botan::OCTET_STRING)
            .end_cons()
            .end_cons()
            .end_cons();
        return out;
    } catch (const std::exception& e) {
        return make_error(Code::internal, std::string("cannot make OCSP response: ") + e.what());
    }
}

Bytes ocsp_error_response(int status) {
    if (status != 1 && status != 2 && status != 3 && status != 5 && status != 6) status = 2;
    // OCSPResponse ::= SEQUENCE { responseStatus ENUMERATED }
    return {0x30, 0x03, 0x0a, 0x01, static_cast<std::uint8_t>(status)};
}

const char* crl_reason_name(std::int32_t reason) {
    switch (reason) {
        case 0: return "unspecified";
        case 1: return "keyCompromise";
        case 2: return "cACompromise";
        case 3: return "affiliationChanged";
        case 4: return "superseded";
        case 5: return "cessationOfOperation";
        case 6: return "certificateHold";
        case 8: return "removeFromCRL";
        case 9: return "privilegeWithdrawn";
        case 10: return "aACompromise";
        default: return "unknown";
    }
}

}  // namespace irp::crypto
