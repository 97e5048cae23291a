// Tests for retired domain CAs ([[domain.retired]], docs/OPERATIONS.md "Key
// rotation"): the config keys, the checks load_domain makes, one CRL per CA
// signed by that CA, and OCSP answered and signed by the CA a request names.
// CRLs and OCSP responses are taken apart with a small DER reader here and
// their signatures checked with the CA's public key.
#include <doctest/doctest.h>

#include "support/der.hpp"

#include <algorithm>
#include <initializer_list>
#include <string>
#include <vector>

#include <sqlite3.h>

#include "admin/metrics.hpp"
#include "ca/authority.hpp"
#include "config/config.hpp"
#include "irp/crypto/crypto.hpp"
#include "revocation/revocation.hpp"
#include "test_domain.hpp"
#include "minimal_config.hpp"

using namespace irp;
using irp_test::kDay;
using irp_test::kNow;
using irp_test::slurp;
using irp_test::spit;

namespace {

template <typename T>
T ok(Result<T> r) {
    REQUIRE_MESSAGE(r.ok(), (r.ok() ? "" : r.error().message));
    return std::move(r.value());
}

template <typename T>
std::string error_of(const Result<T>& r) {
    REQUIRE_FALSE(r.ok());
    return r.error().message;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

bool contains(const Bytes& hay, const Bytes& needle) {
    return std::search(hay.begin(), hay.end(), needle.begin(), needle.end()) != hay.end();
}

// ---- a minimal DER reader and writer: enough for CRLs and OCSP -------------

struct Tlv {
    std::uint8_t tag = 0;
    ByteView value;  // the contents
    ByteView whole;  // tag, length and contents
};

// The TLV at the front of `in`; `in` moves past it.
Tlv read_tlv(ByteView& in) {
    REQUIRE(in.size() >= 2);
    Tlv t;
    t.tag = in[0];
    std::size_t len = in[1], header = 2;
    if (len & 0x80) {
        const std::size_t n = len & 0x7f;
        REQUIRE((n >= 1 && n <= 3 && in.size() >= 2 + n));
        len = 0;
        for (std::size_t i = 0; i < n; ++i) len = (len << 8) | in[2 + i];
        header += n;
    }
    REQUIRE(in.size() - header >= len);
    t.value = in.subspan(header, len);
    t.whole = in.subspan(0, header + len);
    in = in.subspan(header + len);
    return t;
}

std::vector<Tlv> children(ByteView v) {
    std::vector<Tlv> out;
    while (!v.empty()) out.push_back(read_tlv(v));
    return out;
}

using irp_test::cat;

Bytes der(std::uint8_t tag, const Bytes& content) { return irp_test::tlv(tag, content); }

Bytes bytes_of(const crypto::Digest& d) { return Bytes(d.begin(), d.end()); }

// Does SEQUENCE { tbs, signatureAlgorithm, signature BIT STRING, ... } (a
// CRL, or a BasicOCSPResponse) verify under the key of `ca_der`?
bool signature_verifies(ByteView signed_der, const Bytes& ca_der) {
    ByteView in = signed_der;
    const auto parts = children(read_tlv(in).value);
    REQUIRE(parts.size() >= 3);
    REQUIRE(parts[2].tag == 0x03);
    const auto info = ok(crypto::parse_certificate(ca_der));
    return crypto::verify_signature(info.public_key, parts[0].whole, parts[2].value.subspan(1));
}

// A SHA-256 CertID (RFC 6960 4.1.1) for `serial` of the CA `ca_der`.
Bytes cert_id(const Bytes& ca_der, const Bytes& serial) {
    const Bytes name = ok(crypto::certificate_subject_name(ca_der));
    const auto info = ok(crypto::parse_certificate(ca_der));
    ByteView spki = info.public_key;
    const auto key_parts = children(read_tlv(spki).value);
    const ByteView key_bits = key_parts.at(1).value.subspan(1);  // past the unused-bits octet
    const Bytes sha256_oid{0x06, 0x09, 0x60, 0x86, 0x48, 0x01, 0x65, 0x03, 0x04, 0x02, 0x01};
    Bytes integer = serial;
    if (integer.front() & 0x80) integer.insert(integer.begin(), 0);
    return der(0x30, cat({der(0x30, cat({sha256_oid, Bytes{0x05, 0x00}})), der(0x04, bytes_of(crypto::sha256(name))),
                          der(0x04, bytes_of(crypto::sha256(key_bits))), der(0x02, integer)}));
}

// OCSPRequest { TBSRequest { requestList: Request { reqCert } ... } }
Bytes ocsp_request(const std::vector<Bytes>& ids) {
    Bytes list;
    for (const auto& id : ids) {
        const Bytes one = der(0x30, id);
        list.insert(list.end(), one.begin(), one.end());
    }
    return der(0x30, der(0x30, der(0x30, list)));
}

struct OcspAnswer {
    Bytes basic;                        // the BasicOCSPResponse, DER
    std::vector<std::string> statuses;  // "good", "revoked", "unknown", in request order
};

OcspAnswer parse_ocsp_response(const Bytes& resp) {
    ByteView in = resp;
    const auto top = children(read_tlv(in).value);
    REQUIRE(top.size() == 2);
    REQUIRE(top[0].value.size() == 1);
    REQUIRE(top[0].value[0] == 0);  // successful
    ByteView rb = top[1].value;      // [0] EXPLICIT ResponseBytes
    const auto response_bytes = children(read_tlv(rb).value);
    REQUIRE(response_bytes.size() == 2);
    OcspAnswer out;
    out.basic.assign(response_bytes[1].value.begin(), response_bytes[1].value.end());
    ByteView basic = out.basic;
    const auto basic_parts = children(read_tlv(basic).value);
    for (const auto& part : children(basic_parts.at(0).value)) {
        if (part.tag != 0x30) continue;  // responses; the rest are version, responderID, producedAt, extensions
        for (const auto& single : children(part.value)) {
            const auto fields = children(single.value);
            const std::uint8_t t = fields.at(1).tag;
            out.statuses.push_back(t == 0x80 ? "good" : t == 0xa1 ? "revoked" : t == 0x82 ? "unknown" : "?");
        }
    }
    return out;
}

// ---- a domain with a retired CA --------------------------------------------

// A TestDomain whose root also signed an earlier domain CA, configured as
// [[domain.retired]] and loaded as `irp-server run` loads it.
struct RetiredDomain {
    irp_test::TestDomain d;
    std::unique_ptr<crypto::Random> rng = crypto::deterministic_random(11);
    crypto::PrivateKey root_key = ok(crypto::PrivateKey::from_pem(slurp(d.dir() + "/root-ca.key")));
    crypto::PrivateKey old_key = ok(crypto::PrivateKey::generate(crypto::KeyAlgorithm::ecdsa_p256, *rng));
    Bytes old_ca;
    std::string old_cert_path = d.dir() + "/old-ca.pem";
    std::string old_key_path = d.dir() + "/old-ca.key";
    server::Config cfg = d.config();

    RetiredDomain() {
        old_ca = make_ca(root_key, d.material().root_der, old_key, "IRP Domain CA example.test G0");
        spit(old_cert_path, crypto::to_pem(old_ca, "CERTIFICATE"));
        spit(old_key_path, old_key.to_pem());
        cfg.retired = {server::RetiredCa{old_cert_path, old_key_path}};
    }

    Bytes make_ca(const crypto::PrivateKey& issuer_key, const Bytes& issuer, const crypto::PrivateKey& key,
                  const std::string& cn) {
        crypto::IssueProfile p;
        p.serial = crypto::random_serial(*rng);
        p.common_name = cn;
        p.not_before = kNow - 400 * kDay;
        p.not_after = kNow + 400 * kDay;
        p.ca = true;
        p.path_len = 0;
        return ok(crypto::issue_certificate(issuer_key, issuer, key.public_key_der(), p, *rng));
    }

    // A device certificate from `ca`, recorded in the store as issued by `issuer_id`.
    Bytes issue_device(const crypto::PrivateKey& ca_key, const Bytes& ca, const std::string& issuer_id,
                       const std::string& device) {
        auto key = ok(crypto::PrivateKey::generate(crypto::KeyAlgorithm::ecdsa_p256, *rng));
        crypto::IssueProfile p;
        p.serial = crypto::random_serial(*rng);
        p.common_name = device;
        p.not_before = kNow - 300;
        p.not_after = kNow + 30 * kDay;
        p.eku_client_auth = true;
        Bytes cert = ok(crypto::issue_certificate(ca_key, ca, key.public_key_der(), p, *rng));
        server::IssuanceRecord rec;
        auto& c = rec.certificate;
        c.serial_hex = to_hex(p.serial);
        c.issuer = issuer_id;
        c.device_id = device;
        c.class_id = "default";
        c.der = cert;
        c.not_before = p.not_before;
        c.not_after = p.not_after;
        c.issued_at = kNow;
        c.public_key_sha256_hex = to_hex(bytes_of(crypto::sha256(key.public_key_der())));
        rec.audit = server::AuditEvent{kNow, "device:" + device, "enroll", device, c.serial_hex, "", ""};
        REQUIRE(d.store().record_issuance(rec).ok());
        return cert;
    }

    void revoke(const Bytes& cert) {
        const auto info = ok(crypto::parse_certificate(cert));
        const std::string serial = to_hex(info.serial);
        REQUIRE(d.store().revoke(serial, 1, kNow, server::AuditEvent{kNow, "admin", "revoke", "", serial, "", ""}).ok());
    }
};

Bytes serial_of(const Bytes& cert) { return ok(crypto::parse_certificate(cert)).serial; }

const std::string kMinimal = irp_test::minimal_config("demo.example", "generations/2/");
const std::string kOrigin = "/etc/irp/server.toml";

// kMinimal with `tables` appended (its line 15 onwards).
std::string with_retired(const std::string& tables) { return kMinimal + "\n" + tables; }

}  // namespace

TEST_SUITE("retired_ca") {

TEST_CASE("config: [[domain.retired]] parses, renders and parses back") {
    const std::string text = with_retired(R"([[domain.retired]]
ca_certificate = "domain-ca.pem"
ca_key = "domain-ca.key"

[[domain.retired]]
ca_certificate = "/srv/old/g0.pem"
ca_key = "pkcs11:token=irp;object=g0?pin-source=file:/etc/irp/pin"
)");
    const auto cfg = ok(server::parse_config(text, kOrigin));
    REQUIRE(cfg.retired.size() == 2);
    CHECK(cfg.retired[0].ca_certificate == "/etc/irp/domain-ca.pem");
    CHECK(cfg.retired[0].ca_key == "/etc/irp/domain-ca.key");
    CHECK(cfg.retired[1].ca_certificate == "/srv/old/g0.pem");
    CHECK(cfg.retired[1].ca_key == "pkcs11:token=irp;object=g0?pin-source=file:/etc/irp/pin");

    const std::string rendered = server::render_config(cfg);
    CHECK(contains(rendered, "[[domain.retired]]\nca_certificate = \"domain-ca.pem\"\nca_key = \"domain-ca.key\"\n"));
    CHECK(contains(rendered, "ca_key = \"pkcs11:token=irp;object=g0?pin-source=file:/etc/irp/pin\""));
    const auto back = ok(server::parse_config(rendered, kOrigin));
    REQUIRE(back.retired.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
        CHECK(back.retired[i].ca_certificate == cfg.retired[i].ca_certificate);
        CHECK(back.retired[i].ca_key == cfg.retired[i].ca_key);
    }
    CHECK(back.ca_certificate == cfg.ca_certificate);
    CHECK(back.database == cfg.database);
    CHECK(back.classes.size() == 1);

    // None: nothing rendered; an empty array is none too.
    const auto none = ok(server::parse_config(kMinimal, kOrigin));
    CHECK(none.retired.empty());
    CHECK_FALSE(contains(server::render_config(none), "retired"));
    const std::string empty = kMinimal.substr(0, kMinimal.find("\n[storage]")) + "\nretired = []\n" +
                              kMinimal.substr(kMinimal.find("\n[storage]"));
    CHECK(ok(server::parse_config(empty, kOrigin)).retired.empty());
}

TEST_CASE("config: [[domain.retired]] is strict") {
    const auto err = [](const std::string& text) { return error_of(server::parse_config(text, kOrigin)); };
    CHECK(err(with_retired("[[domain.retired]]\nca_certificate = \"a.pem\"\nca_key = \"a.key\"\nbogus = 1\n")) ==
          "/etc/irp/server.toml:18: unknown key 'domain.retired.bogus'");
    CHECK(err(with_retired("[[domain.retired]]\nca_certificate = \"a.pem\"\n")) ==
          "/etc/irp/server.toml:15: missing required key 'domain.retired.ca_key'");
    CHECK(contains(err(with_retired("[[domain.retired]]\nca_key = \"a.key\"\n")),
                   "missing required key 'domain.retired.ca_certificate'"));
    CHECK(contains(err(with_retired("[domain.retired]\nca_certificate = \"a.pem\"\nca_key = \"a.key\"\n")),
                   "'domain.retired' must be an array of tables ([[domain.retired]])"));
    CHECK(contains(err(with_retired("[[domain.retired]]\nca_certificate = \"\"\nca_key = \"a.key\"\n")),
                   ":16: 'domain.retired.ca_certificate' must be a non-empty file path string"));
    CHECK(contains(err(with_retired("[[domain.retired]]\nca_certificate = \"a.pem\"\nca_key = \"pkcs11:\"\n")),
                   ":17: 'domain.retired.ca_key': "));
}

TEST_CASE("load_domain: a retired CA passes the checks of the current one") {
    RetiredDomain f;
    const auto m = ok(server::load_domain(f.cfg));
    REQUIRE(m.retired.size() == 1);
    const auto& r = m.retired[0];
    CHECK(r.ca_der == f.old_ca);
    CHECK(r.issuer_id == to_hex(ok(crypto::parse_certificate(f.old_ca)).subject_key_id));
    CHECK(r.issuer_id != m.issuer_id);
    CHECK(r.ca_info.subject_cn == "IRP Domain CA example.test G0");
    CHECK(r.ca_key->public_key_der() == f.old_key.public_key_der());
    CHECK(m.issuer_id == f.d.material().issuer_id);  // the current CA is unchanged

    SUBCASE("not signed by the root") {
        auto other_root_key = ok(crypto::PrivateKey::generate(crypto::KeyAlgorithm::ecdsa_p256, *f.rng));
        crypto::IssueProfile p;
        p.serial = crypto::random_serial(*f.rng);
        p.common_name = "Another Root";
        p.not_before = kNow - kDay;
        p.not_after = kNow + 400 * kDay;
        p.ca = true;
        const Bytes other_root = ok(crypto::issue_certificate(other_root_key, {}, other_root_key.public_key_der(), p, *f.rng));
        const Bytes stray = f.make_ca(other_root_key, other_root, f.old_key, "IRP Domain CA example.test G0");
        spit(f.old_cert_path, crypto::to_pem(stray, "CERTIFICATE"));
        CHECK(error_of(server::load_domain(f.cfg)) ==
              "the retired CA '" + f.old_cert_path + "' is not signed by the root in '" + f.cfg.root_certificate + "'");
    }
    SUBCASE("a key that does not match") {
        f.cfg.retired[0].ca_key = f.cfg.ca_key;  // the current CA's key
        CHECK(error_of(server::load_domain(f.cfg)) == "key '" + f.cfg.ca_key + "' does not match its certificate");
    }
    SUBCASE("not a CA") {
        f.cfg.retired[0] = server::RetiredCa{f.cfg.tls_certificate, f.cfg.tls_key};
        CHECK(error_of(server::load_domain(f.cfg)) == "'" + f.cfg.tls_certificate + "' is not a CA certificate");
    }
    SUBCASE("the current CA again") {
        f.cfg.retired.push_back(server::RetiredCa{f.cfg.ca_certificate, f.cfg.ca_key});
        const std::string msg = error_of(server::load_domain(f.cfg));
        CHECK(contains(msg, "is the current domain CA (key identifier " + m.issuer_id + ")"));
    }
    SUBCASE("the same retired CA twice") {
        f.cfg.retired.push_back(f.cfg.retired[0]);
        CHECK(contains(error_of(server::load_domain(f.cfg)), "is listed twice"));
    }
    SUBCASE("a missing file") {
        f.cfg.retired[0].ca_certificate = f.d.dir() + "/nope.pem";
        CHECK(contains(error_of(server::load_domain(f.cfg)), "nope.pem"));
    }
}

TEST_CASE("revocation: one CRL per issuer, signed by that issuer's key") {
    RetiredDomain f;
    const auto m = ok(server::load_domain(f.cfg));
    const std::string cur = m.issuer_id, old = m.retired[0].issuer_id;
    server::Metrics metrics;
    server::RevocationService svc(m, f.d.store(), *f.rng, server::RevocationSettings{}, [] { return kNow; });
    svc.set_metrics(&metrics);
    CHECK(svc.issuer_ids() == std::vector<std::string>{cur, old});
    CHECK(svc.serves(cur));
    CHECK(svc.serves(old));
    CHECK_FALSE(svc.serves("00ff"));
    CHECK_FALSE(svc.crl("00ff").ok());
    CHECK(contains(metrics.render(kNow), "irp_crl_age_seconds{issuer=\"" + old + "\"} -1\n"));

    const Bytes old_dev = f.issue_device(f.old_key, f.old_ca, old, "cam-old");
    const Bytes cur_dev = f.issue_device(*m.ca_key, m.ca_der, cur, "cam-new");
    f.revoke(old_dev);

    const Bytes old_crl = ok(svc.crl(old));
    CHECK(signature_verifies(old_crl, f.old_ca));
    CHECK_FALSE(signature_verifies(old_crl, m.ca_der));
    CHECK(contains(old_crl, serial_of(old_dev)));
    CHECK(contains(old_crl, ok(crypto::certificate_subject_name(f.old_ca))));  // issuer = the retired CA
    CHECK(contains(metrics.render(kNow), "irp_crl_age_seconds{issuer=\"" + old + "\"} 0\n"));
    CHECK(contains(metrics.render(kNow), "irp_crl_age_seconds{issuer=\"" + cur + "\"} -1\n"));

    const Bytes cur_crl = ok(svc.crl(cur));
    CHECK(signature_verifies(cur_crl, m.ca_der));
    CHECK_FALSE(signature_verifies(cur_crl, f.old_ca));
    CHECK_FALSE(contains(cur_crl, serial_of(old_dev)));
    CHECK(ok(svc.crl()) == cur_crl);  // crl() is the current CA's

    // A revocation under the current CA changes its CRL only.
    f.revoke(cur_dev);
    CHECK(contains(ok(svc.crl(cur)), serial_of(cur_dev)));
    CHECK(ok(svc.crl(old)) == old_crl);  // cached: same set, still fresh

    const auto all = ok(svc.crl_statuses());
    REQUIRE(all.size() == 2);
    CHECK(all[0].issuer_id == cur);
    CHECK_FALSE(all[0].retired);
    CHECK(all[0].entries == 1);
    CHECK(all[0].number == 2);  // re-signed after the second revocation
    CHECK(all[1].issuer_id == old);
    CHECK(all[1].retired);
    CHECK(all[1].entries == 1);
    CHECK(all[1].number == 1);  // numbered per issuer
    CHECK(all[1].subject == m.retired[0].ca_info.subject);
}

TEST_CASE("revocation: the revoked set is read again only when the store's revocation epoch moves") {
    RetiredDomain f;
    const auto m = ok(server::load_domain(f.cfg));
    const std::string cur = m.issuer_id;
    server::RevocationService svc(m, f.d.store(), *f.rng, server::RevocationSettings{}, [] { return kNow; });
    const Bytes first = f.issue_device(*m.ca_key, m.ca_der, cur, "cam-1");
    const Bytes second = f.issue_device(*m.ca_key, m.ca_der, cur, "cam-2");
    f.revoke(first);
    const Bytes crl1 = ok(svc.crl(cur));
    CHECK(contains(crl1, serial_of(first)));

    // A row written behind the trigger's back (an INSERT, which no path of
    // ours does) stands for "the set changed but nobody said so": the cache
    // does not see it, which shows that serving the CRL did not read the set.
    const Bytes hidden{0x5a, 0x11, 0x22, 0x33, 0x44, 0x55, 0x66, 0x77};
    {
        sqlite3* db = nullptr;
        REQUIRE(sqlite3_open(f.d.config().database.c_str(), &db) == SQLITE_OK);
        const std::string sql =
            "INSERT INTO certificates(issuer, serial, device_id, class_id, der, not_before, not_after, issued_at,"
            " status, public_key_sha256, revoked_at, revocation_reason) VALUES('" + cur + "', '" + to_hex(hidden) +
            "', 'ghost', 'default', x'00', 0, " + std::to_string(kNow + kDay) + ", 0, 1, '', " +
            std::to_string(kNow) + ", 1)";
        CHECK(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK);
        sqlite3_close(db);
    }
    CHECK(ok(svc.crl(cur)) == crl1);
    auto offer = ok(svc.crl_if_newer(cur, 0, 1 << 20));
    CHECK(offer.der == crl1);

    // A revocation through the store moves the epoch: the next request reads
    // the whole set (the hidden row included) and signs a new CRL.
    f.revoke(second);
    const Bytes crl2 = ok(svc.crl(cur));
    CHECK(crl2 != crl1);
    CHECK(contains(crl2, serial_of(second)));
    CHECK(contains(crl2, hidden));
    CHECK(ok(svc.crl_status(cur)).number == 2);
    CHECK(ok(svc.crl_if_newer(cur, 1, 1 << 20)).der == crl2);
}

TEST_CASE("ocsp: a retired CA answers for what it issued, signed with its own key") {
    RetiredDomain f;
    const auto m = ok(server::load_domain(f.cfg));
    const std::string cur = m.issuer_id, old = m.retired[0].issuer_id;
    server::RevocationService svc(m, f.d.store(), *f.rng, server::RevocationSettings{}, [] { return kNow; });
    const Bytes old_dev = f.issue_device(f.old_key, f.old_ca, old, "cam-old");
    const Bytes cur_dev = f.issue_device(*m.ca_key, m.ca_der, cur, "cam-new");
    const Bytes old_id = cert_id(f.old_ca, serial_of(old_dev));
    const Bytes cur_id = cert_id(m.ca_der, serial_of(cur_dev));
    const auto ask = [&](const std::vector<Bytes>& ids) { return parse_ocsp_response(svc.ocsp(ocsp_request(ids))); };

    auto a = ask({old_id});
    CHECK(a.statuses == std::vector<std::string>{"good"});
    CHECK(signature_verifies(a.basic, f.old_ca));
    CHECK_FALSE(signature_verifies(a.basic, m.ca_der));

    f.revoke(old_dev);
    a = ask({old_id});
    CHECK(a.statuses == std::vector<std::string>{"revoked"});
    CHECK(signature_verifies(a.basic, f.old_ca));

    a = ask({cur_id});
    CHECK(a.statuses == std::vector<std::string>{"good"});
    CHECK(signature_verifies(a.basic, m.ca_der));

    // The retired CA does not vouch for a serial it did not issue.
    a = ask({cert_id(f.old_ca, serial_of(cur_dev))});
    CHECK(a.statuses == std::vector<std::string>{"unknown"});
    CHECK(signature_verifies(a.basic, f.old_ca));

    // Mixed issuers: the first CertID's CA answers and signs; the others are unknown.
    a = ask({old_id, cur_id});
    CHECK(a.statuses == std::vector<std::string>{"revoked", "unknown"});
    CHECK(signature_verifies(a.basic, f.old_ca));
    a = ask({cur_id, old_id});
    CHECK(a.statuses == std::vector<std::string>{"good", "unknown"});
    CHECK(signature_verifies(a.basic, m.ca_der));
    // ... the first that names one of ours: a stranger's CertID does not choose.
    auto stranger_key = ok(crypto::PrivateKey::generate(crypto::KeyAlgorithm::ecdsa_p256, *f.rng));
    const Bytes stranger = f.make_ca(stranger_key, {}, stranger_key, "Stranger CA");
    a = ask({cert_id(stranger, serial_of(old_dev)), old_id});
    CHECK(a.statuses == std::vector<std::string>{"unknown", "revoked"});
    CHECK(signature_verifies(a.basic, f.old_ca));
    a = ask({cert_id(stranger, serial_of(old_dev))});
    CHECK(a.statuses == std::vector<std::string>{"unknown"});
    CHECK(signature_verifies(a.basic, m.ca_der));  // nobody's: the current CA signs
}

TEST_CASE("ocsp: answers without a nonce are reused until the status changes or they age") {
    RetiredDomain f;
    const auto m = ok(server::load_domain(f.cfg));
    std::int64_t now = kNow;
    server::RevocationSettings rs;
    rs.ocsp_validity_s = 3600;
    server::RevocationService svc(m, f.d.store(), *f.rng, rs, [&now] { return now; });
    const Bytes dev = f.issue_device(*m.ca_key, m.ca_der, m.issuer_id, "cam-1");
    const Bytes req = ocsp_request({cert_id(m.ca_der, serial_of(dev))});

    const Bytes first = svc.ocsp(req);
    CHECK(parse_ocsp_response(first).statuses == std::vector<std::string>{"good"});
    now += 60;
    CHECK(svc.ocsp(req) == first);  // the same signed answer: no new signature
    now += 1800;                     // older than half of the validity: signed afresh
    const Bytes fresh = svc.ocsp(req);
    CHECK(fresh != first);
    CHECK(parse_ocsp_response(fresh).statuses == std::vector<std::string>{"good"});
    CHECK(svc.ocsp(req) == fresh);
    f.revoke(dev);  // a revocation shows at once, cache or not
    const Bytes revoked = svc.ocsp(req);
    CHECK(parse_ocsp_response(revoked).statuses == std::vector<std::string>{"revoked"});
    CHECK(signature_verifies(parse_ocsp_response(revoked).basic, m.ca_der));
}

}  // TEST_SUITE
