// PKCS#10 and X.509 on Botan 2: requests, parsing, path validation, issuance.
#include <botan/asn1_obj.h>
#include <botan/bigint.h>
#include <botan/certstor.h>
#include <botan/data_src.h>
#include <botan/der_enc.h>
#include <botan/pem.h>
#include <botan/pkcs10.h>
#include <botan/x509_ca.h>
#include <botan/x509_ext.h>
#include <botan/x509cert.h>
#include <botan/x509path.h>
#include <botan/x509self.h>
#include <botan/x509_key.h>
#include <botan/pubkey.h>

#include <algorithm>
#include <chrono>

#include "botan_glue.hpp"

namespace irp::crypto {

namespace {

std::chrono::system_clock::time_point to_tp(std::int64_t unix_seconds) {
    return std::chrono::system_clock::time_point(std::chrono::seconds(unix_seconds));
}

std::int64_t to_unix(const Botan::X509_Time& t) { return static_cast<std::int64_t>(t.time_since_epoch()); }

// An extension whose value we encode ourselves: Botan 2 throws
// Not_Implemented when encoding CRL Distribution Points, and its
// Authority_Information_Access carries one OCSP URI at most.
class RawExtension final : public Botan::Certificate_Extension {
public:
    RawExtension(const char* oid, std::vector<uint8_t> value) : oid_(oid), value_(std::move(value)) {}
    Botan::OID oid_of() const override { return oid_; }
    std::string oid_name() const override { return ""; }
    RawExtension* copy() const override { return new RawExtension(*this); }
    void contents_to(Botan::Data_Store&, Botan::Data_Store&) const override {}

private:
    std::vector<uint8_t> encode_inner() const override { return value_; }
    void decode_inner(const std::vector<uint8_t>& v) override { value_ = v; }
    Botan::OID oid_;
    std::vector<uint8_t> value_;
};

bool ascii_uris(const std::vector<std::string>& uris) {
    return std::all_of(uris.begin(), uris.end(), [](const std::string& u) {
        return !u.empty() && std::all_of(u.begin(), u.end(), [](char c) { return c > 0x20 && c < 0x7f; });
    });
}

// RFC 5280 4.2.1.13: one DistributionPoint whose fullName lists `uris`.
RawExtension* crl_distribution_points(const std::vector<std::string>& uris) {
    std::vector<uint8_t> v;
    Botan::DER_Encoder der(v);
    der.start_cons(Botan::SEQUENCE).start_cons(Botan::SEQUENCE)
        .start_cons(Botan::ASN1_Tag(0), Botan::CONTEXT_SPECIFIC)   // distributionPoint
        .start_cons(Botan::ASN1_Tag(0), Botan::CONTEXT_SPECIFIC);  // fullName
    for (const auto& u : uris) der.add_object(Botan::ASN1_Tag(6), Botan::CONTEXT_SPECIFIC, u);  // URI
    der.end_cons().end_cons().end_cons().end_cons();
    return new RawExtension("2.5.29.31", v);
}

// RFC 5280 4.2.2.1: one id-ad-ocsp AccessDescription per URI.
RawExtension* ocsp_access(const std::vector<std::string>& uris) {
    std::vector<uint8_t> v;
    Botan::DER_Encoder der(v);
    der.start_cons(Botan::SEQUENCE);
    for (const auto& u : uris)
        der.start_cons(Botan::SEQUENCE)
            .encode(Botan::OID("1.3.6.1.5.5.7.48.1"))
            .add_object(Botan::ASN1_Tag(6), Botan::CONTEXT_SPECIFIC, u)
            .end_cons();
    der.end_cons();
    return new RawExtension("1.3.6.1.5.5.7.1.1", v);
}

// RFC 5280 4.2.1.10: permittedSubtrees [0] only, each GeneralSubtree with
// its base alone (minimum 0 is the DEFAULT, so DER omits it). Botan 2 throws
// Not_Implemented when encoding its own Name_Constraints.
RawExtension* name_constraints(const std::vector<std::string>& dns, const std::vector<std::string>& uri_hosts) {
    std::vector<uint8_t> v;
    Botan::DER_Encoder der(v);
    der.start_cons(Botan::SEQUENCE).start_cons(Botan::ASN1_Tag(0), Botan::CONTEXT_SPECIFIC);
    for (const auto& d : dns)
        der.start_cons(Botan::SEQUENCE).add_object(Botan::ASN1_Tag(2), Botan::CONTEXT_SPECIFIC, d).end_cons();
    for (const auto& u : uri_hosts)
        der.start_cons(Botan::SEQUENCE).add_object(Botan::ASN1_Tag(6), Botan::CONTEXT_SPECIFIC, u).end_cons();
    der.end_cons().end_cons();
    return new RawExtension("2.5.29.30", v);
}

}  // namespace

// The CSR is encoded here rather than with Botan::X509::create_cert_req,
// which decodes its own output again and so verifies the signature it has
// just made (one ECDSA verification, an eighth of the device's CPU per
// enrollment). The fields are the ones create_cert_req writes for a
// common name and a challenge password, so the bytes to be signed are the
// same (crypto_test compares them).
Result<Bytes> create_csr(const PrivateKey& key, std::string_view common_name, std::string_view challenge,
                         Random& rng) {
    try {
        BotanRng brng(rng);
        const Botan::Private_Key& k = *key.impl().key;
        Botan::AlgorithmIdentifier sig_algo;
        auto signer = Botan::X509_Object::choose_sig_format(sig_algo, k, brng, x509_hash_for(key.algorithm()), "");

        Botan::X509_DN subject;
        subject.add_attribute("X520.CommonName", std::string(common_name));
        Botan::Extensions extensions;
        extensions.add(new Botan::Cert_Extension::Basic_Constraints(false, 0));
        std::vector<std::uint8_t> extension_request;
        Botan::DER_Encoder(extension_request).start_cons(Botan::SEQUENCE).encode(extensions).end_cons();

        std::vector<std::uint8_t> info;
        Botan::DER_Encoder der(info);
        der.start_cons(Botan::SEQUENCE)
            .encode(std::size_t{0})  // version 1
            .encode(subject)
            .raw_bytes(k.subject_public_key())
            .start_explicit(0);
        if (!challenge.empty()) {
            std::vector<std::uint8_t> value;
            Botan::DER_Encoder(value).encode(Botan::ASN1_String(std::string(challenge)));
            der.encode(Botan::Attribute("PKCS9.ChallengePassword", value));
        }
        der.encode(Botan::Attribute("PKCS9.ExtensionRequest", extension_request));
        der.end_explicit().end_cons();
        return Botan::X509_Object::make_signed(signer.get(), brng, sig_algo, Botan::secure_vector<std::uint8_t>(info.begin(), info.end()));
    } catch (const std::exception& e) {
        return make_error(Code::internal, std::string("cannot create CSR: ") + e.what());
    }
}

Result<CsrInfo> parse_and_verify_csr(ByteView der) {
    std::unique_ptr<Botan::PKCS10_Request> req;
    std::unique_ptr<Botan::Public_Key> pub;
    try {
        req = std::make_unique<Botan::PKCS10_Request>(std::vector<uint8_t>(der.begin(), der.end()));
        pub.reset(req->subject_public_key());
    } catch (const std::exception& e) {
        // Botan 2 verifies the self-signature while decoding and reports a
        // failure as "Bad signature": that is a failed proof of possession,
        // not a malformed request.
        if (std::string_view(e.what()).find("Bad signature") != std::string_view::npos)
            return make_error(Code::bad_possession_proof, "the CSR's signature does not verify with its own key");
        return make_error(Code::invalid_csr, std::string("CSR does not parse: ") + e.what());
    }
    const auto alg = algorithm_of(*pub);
    if (!alg) return make_error(Code::key_algorithm_not_allowed, "CSR key type " + pub->algo_name() + " is not supported");
    // No second check_signature(): Botan 2's PKCS10_Request constructor has
    // verified the self-signature already (a failure is the "Bad signature"
    // branch above; tests/core/session_test.cpp's tampered-CSR case guards
    // this). Verifying twice cost a fifth of the server's CPU per enrollment.
    CsrInfo info;
    info.public_key = req->raw_public_key();
    info.algorithm = *alg;
    try {
        info.challenge = req->challenge_password();
        for (const auto& oid : req->extensions().get_extension_oids()) info.extension_oids.push_back(oid.to_string());
        info.requests_ca = req->is_CA();
        info.common_name = req->subject_dn().get_first_attribute("X520.CommonName");
    } catch (const std::exception& e) {
        return make_error(Code::invalid_csr, std::string("CSR attributes do not parse: ") + e.what());
    }
    return info;
}

Result<CertInfo> parse_certificate(ByteView der) {
    try {
        Botan::X509_Certificate cert(der.data(), der.size());
        CertInfo info;
        info.serial = cert.serial_number();
        info.subject = cert.subject_dn().to_string();
        info.issuer = cert.issuer_dn().to_string();
        info.subject_name = cert.raw_subject_dn();
        info.issuer_name = cert.raw_issuer_dn();
        info.subject_cn = cert.subject_dn().get_first_attribute("X520.CommonName");
        info.subject_serial_number = cert.subject_dn().get_first_attribute("X520.SerialNumber");
        info.san_uris = cert.subject_alt_name().get_attribute("URI");
        info.san_dns = cert.subject_alt_name().get_attribute("DNS");
        info.public_key = cert.subject_public_key_info();
        info.subject_key_id = cert.subject_key_id();
        info.authority_key_id = cert.authority_key_id();
        info.not_before = to_unix(cert.not_before());
        info.not_after = to_unix(cert.not_after());
        info.is_ca = cert.is_CA_cert();
        info.key_usage_digital_signature = cert.constraints() != Botan::NO_CONSTRAINTS &&
                                           (cert.constraints() & Botan::DIGITAL_SIGNATURE);
        const auto eku = cert.extended_key_usage();
        for (const auto& oid : eku) {
            if (oid == Botan::OID::from_string("PKIX.ClientAuth")) info.eku_client_auth = true;
            if (oid == Botan::OID::from_string("PKIX.ServerAuth")) info.eku_server_auth = true;
        }
        using CDP = Botan::Cert_Extension::CRL_Distribution_Points;
        if (const auto* cdp = cert.v3_extensions().get_extension_object_as<CDP>())
            for (const auto& point : cdp->distribution_points())
                for (const auto& uri : point.point().get_attribute("URI")) info.crl_urls.push_back(uri);
        info.ocsp_url = cert.ocsp_responder();  // Botan 2 keeps the last if there are several
        using BC = Botan::Cert_Extension::Basic_Constraints;
        if (const auto* bc = cert.v3_extensions().get_extension_object_as<BC>())
            if (bc->get_is_ca() && bc->get_path_limit() != Botan::Cert_Extension::NO_CERT_PATH_LIMIT)
                info.path_len = bc->get_path_limit();
        for (const auto& subtree : cert.name_constraints().permitted()) {
            if (subtree.base().type() == "DNS") info.permitted_dns.push_back(subtree.base().name());
            if (subtree.base().type() == "URI") info.permitted_uri_hosts.push_back(subtree.base().name());
        }
        const Botan::OID rights_oid(kRightsExtensionOid);
        if (cert.v3_extensions().extension_set(rights_oid)) {
            auto rights = decode_rights(cert.v3_extensions().get_extension_bits(rights_oid));
            if (!rights)
                return make_error(Code::field_invalid, std::string("the certificate's rights extension (") +
                                                           kRightsExtensionOid + ") is malformed: " +
                                                           rights.error().message);
            info.rights = std::move(*rights);
        }
        return info;
    } catch (const std::exception& e) {
        return make_error(Code::field_invalid, std::string("certificate does not parse: ") + e.what());
    }
}

Result<Bytes> certificate_issuer_name(ByteView der) {
    try {
        return Botan::X509_Certificate(der.data(), der.size()).raw_issuer_dn();
    } catch (const std::exception& e) {
        return make_error(Code::field_invalid, std::string("certificate does not parse: ") + e.what());
    }
}

Result<Bytes> certificate_subject_name(ByteView der) {
    try {
        return Botan::X509_Certificate(der.data(), der.size()).raw_subject_dn();
    } catch (const std::exception& e) {
        return make_error(Code::field_invalid, std::string("certificate does not parse: ") + e.what());
    }
}

Result<bool> is_self_issued(ByteView der) {
    try {
        const Botan::X509_Certificate c(der.data(), der.size());
        return c.raw_subject_dn() == c.raw_issuer_dn();
    } catch (const std::exception& e) {
        return make_error(Code::field_invalid, std::string("certificate does not parse: ") + e.what());
    }
}

std::string to_pem(ByteView der, std::string_view label) {
    return Botan::PEM_Code::encode(der.data(), der.size(), std::string(label));
}

Result<std::vector<Bytes>> pem_blocks(std::string_view pem, std::string_view label) {
    std::vector<Bytes> out;
    try {
        Botan::DataSource_Memory src(reinterpret_cast<const uint8_t*>(pem.data()), pem.size());
        while (!src.end_of_data()) {
            std::string got;
            // Skip whitespace between blocks; stop at trailing garbage-free end.
            auto block = Botan::PEM_Code::decode(src, got);
            if (got == label) out.emplace_back(block.begin(), block.end());
            // Botan leaves the source after the END line; skip newlines.
            uint8_t b = 0;
            while (src.peek_byte(b) == 1 && (b == '\n' || b == '\r' || b == ' ' || b == '\t')) src.discard_next(1);
        }
    } catch (const std::exception& e) {
        return make_error(Code::file_error, std::string("PEM does not decode: ") + e.what());
    }
    return out;
}

Result<void> verify_chain(ByteView leaf, const std::vector<Bytes>& intermediates, const std::vector<Bytes>& roots,
                          std::int64_t at, Usage usage, std::vector<Bytes>* path) {
    try {
        std::vector<Botan::X509_Certificate> chain;
        chain.emplace_back(leaf.data(), leaf.size());
        for (const auto& c : intermediates) chain.emplace_back(c.data(), c.size());
        Botan::Certificate_Store_In_Memory store;
        for (const auto& r : roots) store.add_certificate(Botan::X509_Certificate(r.data(), r.size()));
        const Botan::Path_Validation_Restrictions restrictions(false, 110);
        Botan::Usage_Type u = Botan::Usage_Type::UNSPECIFIED;
        if (usage == Usage::tls_client) u = Botan::Usage_Type::TLS_CLIENT_AUTH;
        if (usage == Usage::tls_server) u = Botan::Usage_Type::TLS_SERVER_AUTH;
        const auto result = Botan::x509_path_validate(chain, restrictions, {&store}, "", u, to_tp(at));
        if (!result.successful_validation())
            return make_error(Code::unknown_certificate, "certificate chain does not validate: " + result.result_string());
        if (path) {
            path->clear();
            for (const auto& c : result.cert_path()) path->push_back(c->BER_encode());
        }
        return {};
    } catch (const std::exception& e) {
        return make_error(Code::field_invalid, std::string("certificate chain does not parse: ") + e.what());
    }
}

bool signed_by(ByteView cert, ByteView issuer_cert) {
    try {
        Botan::X509_Certificate c(cert.data(), cert.size());
        Botan::X509_Certificate issuer(issuer_cert.data(), issuer_cert.size());
        std::unique_ptr<Botan::Public_Key> key(issuer.subject_public_key());
        return c.check_signature(*key);
    } catch (const std::exception&) {
        return false;
    }
}

Bytes random_serial(Random& rng, unsigned bits) {
    if (bits < 64) bits = 64;
    if (bits > 159) bits = 159;
    Bytes serial = rng.bytes((bits + 7) / 8);
    // Positive (top bit clear) and with its top byte non-zero, so the DER
    // INTEGER needs no padding byte and keeps its full length.
    const unsigned top_bits = bits % 8 == 0 ? 8 : bits % 8;
    serial[0] &= static_cast<std::uint8_t>((1u << top_bits) - 1u);
    if (top_bits == 8) serial[0] &= 0x7f;
    if (serial[0] == 0) serial[0] = 1;
    return serial;
}

namespace {
// The issuing CA's name and key id, parsed once per CA certificate and
// thread rather than on every issuance.
struct IssuerNames {
    Bytes der;
    Botan::X509_DN subject;
    Bytes key_id;
};
const IssuerNames& issuer_names(ByteView issuer_cert) {
    thread_local IssuerNames cached;
    if (!std::equal(cached.der.begin(), cached.der.end(), issuer_cert.begin(), issuer_cert.end())) {
        Botan::X509_Certificate ic(issuer_cert.data(), issuer_cert.size());
        cached = IssuerNames{Bytes(issuer_cert.begin(), issuer_cert.end()), ic.subject_dn(), ic.subject_key_id()};
    }
    return cached;
}
}  // namespace

Result<Bytes> issue_certificate(const PrivateKey& issuer_key, ByteView issuer_cert, ByteView subject_public_key,
                                const IssueProfile& p, Random& rng) {
    try {
        BotanRng brng(rng);
        Botan::X509_DN subject;
        if (!p.organization.empty()) subject.add_attribute("X520.Organization", p.organization);
        subject.add_attribute("X520.CommonName", p.common_name);
        if (!p.serial_number.empty()) subject.add_attribute("X520.SerialNumber", p.serial_number);

        const Bytes subject_pub(subject_public_key.begin(), subject_public_key.end());
        Botan::X509_DN issuer_dn = subject;
        Bytes issuer_key_id;
        Botan::Extensions ext;
        if (!issuer_cert.empty()) {
            const auto& ic = issuer_names(issuer_cert);
            issuer_dn = ic.subject;
            issuer_key_id = ic.key_id;
        }
        // SKI per RFC 5280 4.2.1.2 method 1: SHA-1 of the subjectPublicKey
        // BIT STRING (Botan computes it over the key bits).
        std::unique_ptr<Botan::Public_Key> pub(Botan::X509::load_key(subject_pub));
        auto* ski = new Botan::Cert_Extension::Subject_Key_ID(pub->public_key_bits(), "SHA-160");
        if (issuer_cert.empty()) issuer_key_id = ski->get_key_id();
        ext.add(ski, false);
        ext.add(new Botan::Cert_Extension::Authority_Key_ID(issuer_key_id), false);
        if (p.ca) {
            ext.add(new Botan::Cert_Extension::Basic_Constraints(true, p.path_len.value_or(Botan::Cert_Extension::NO_CERT_PATH_LIMIT)), true);
            ext.add(new Botan::Cert_Extension::Key_Usage(Botan::Key_Constraints(Botan::KEY_CERT_SIGN | Botan::CRL_SIGN)), true);
        } else {
            ext.add(new Botan::Cert_Extension::Key_Usage(Botan::DIGITAL_SIGNATURE), true);
            std::vector<Botan::OID> eku;
            if (p.eku_client_auth) eku.push_back(Botan::OID::from_string("PKIX.ClientAuth"));
            if (p.eku_server_auth) eku.push_back(Botan::OID::from_string("PKIX.ServerAuth"));
            if (!eku.empty()) ext.add(new Botan::Cert_Extension::Extended_Key_Usage(eku), false);
        }
        if (!p.san_uris.empty() || !p.san_dns.empty() || !p.san_ips.empty()) {
            Botan::AlternativeName san;
            for (const auto& u : p.san_uris) san.add_attribute("URI", u);
            for (const auto& d : p.san_dns) san.add_attribute("DNS", d);
            for (const auto& ip : p.san_ips) san.add_attribute("IP", ip);
            ext.add(new Botan::Cert_Extension::Subject_Alternative_Name(san), false);
        }
        if (!ascii_uris(p.crl_urls) || !ascii_uris(p.ocsp_urls))
            return make_error(Code::bad_argument, "CRL and OCSP URIs must be non-empty printable ASCII");
        if (!p.crl_urls.empty()) ext.add(crl_distribution_points(p.crl_urls), false);
        if (!p.ocsp_urls.empty()) ext.add(ocsp_access(p.ocsp_urls), false);
        if (!p.permitted_dns.empty() || !p.permitted_uri_hosts.empty()) {
            if (!p.ca) return make_error(Code::bad_argument, "name constraints belong in CA certificates only");
            if (!ascii_uris(p.permitted_dns) || !ascii_uris(p.permitted_uri_hosts))
                return make_error(Code::bad_argument, "name constraints must be non-empty printable ASCII");
            ext.add(name_constraints(p.permitted_dns, p.permitted_uri_hosts), true);
        }
        if (!p.rights.empty()) {
            if (p.ca) return make_error(Code::bad_argument, "rights belong in end-entity certificates only");
            auto value = encode_rights(p.rights);
            if (!value) return value.error();
            ext.add(new RawExtension(kRightsExtensionOid, std::move(*value)), false);
        }

        auto lease = issuer_key.impl().signers.x509(*issuer_key.impl().key, x509_hash_for(issuer_key.algorithm()), brng);
        const Botan::AlgorithmIdentifier& sig_algo = lease.algorithm();
        // The TBSCertificate as Botan::X509_CA::make_cert writes it, signed
        // here so the new certificate is not decoded again (make_cert
        // returns a parsed X509_Certificate; the caller parses once).
        const Botan::BigInt serial(p.serial.data(), p.serial.size());
        std::vector<std::uint8_t> tbs;
        Botan::DER_Encoder(tbs)
            .start_cons(Botan::SEQUENCE)
            .start_explicit(0).encode(std::size_t{2}).end_explicit()  // v3
            .encode(serial)
            .encode(sig_algo)
            .encode(issuer_dn)
            .start_cons(Botan::SEQUENCE)
            .encode(Botan::X509_Time(to_tp(p.not_before)))
            .encode(Botan::X509_Time(to_tp(p.not_after)))
            .end_cons()
            .encode(subject)
            .raw_bytes(subject_pub)
            .start_explicit(3).start_cons(Botan::SEQUENCE).encode(ext).end_cons().end_explicit()
            .end_cons();
        return Botan::X509_Object::make_signed(&lease.signer(), brng, sig_algo,
                                               Botan::secure_vector<std::uint8_t>(tbs.begin(), tbs.end()));
    } catch (const std::exception& e) {
        return make_error(Code::issuance_failed, std::string("cannot issue certificate: ") + e.what());
    }
}

}  // namespace irp::crypto
