// Tests for validate_issued: each install error of the table, produced by a
// certificate that fails exactly that check (and passes the ones before it),
// and the happy path.
#include <doctest/doctest.h>

#include <optional>
#include <string>

#include "idwallet.hpp"
#include "test_pki.hpp"

using namespace irp;
using irp::wallet::Expectation;
using irp::wallet::InstallFailure;
using irp::wallet::validate_issued;
using irp_test::device_profile;
using irp_test::Hierarchy;
using irp_test::kPkiDay;
using irp_test::kPkiNow;
using irp_test::make_key;

namespace {

const std::string kDomain = "example.test";
const std::string kDevice = "sensor-0001";

struct Fixture {
    std::unique_ptr<crypto::Random> rng = crypto::deterministic_random(11);
    Hierarchy pki{*rng};
    std::shared_ptr<const crypto::PrivateKey> key = make_key(*rng);
    Bytes leaf = pki.device(*key, device_profile(kDomain, kDevice), *rng);

    Expectation expect() const { return Expectation{kDevice, kDomain, key->public_key_der(), {pki.root}, kPkiNow}; }
    Issued issued(Bytes cert) const { return Issued{std::move(cert), {pki.ca, pki.root}}; }
};

std::string describe(const std::optional<InstallFailure>& f) {
    if (!f) return "accepted";
    return std::string(install_status_name(f->status)) + ": " + f->message;
}

void check_status(const std::optional<InstallFailure>& got, InstallStatus expected) {
    REQUIRE_MESSAGE(got.has_value(), "accepted, expected " << std::string(install_status_name(expected)));
    CHECK_MESSAGE(got->status == expected, "got " << describe(got) << ", expected " << std::string(install_status_name(expected)));
    CHECK_FALSE(got->message.empty());
}

}  // namespace

TEST_CASE("validate_issued accepts a certificate to the profile") {
    Fixture f;
    const auto r = validate_issued(f.issued(f.leaf), f.expect());
    CHECK_MESSAGE(!r.has_value(), describe(r));

    SUBCASE("without the root sent along") {
        const auto r2 = validate_issued(Issued{f.leaf, {f.pki.ca}}, f.expect());
        CHECK_MESSAGE(!r2.has_value(), describe(r2));
    }
    SUBCASE("at the first and the last second of its validity") {
        auto e = f.expect();
        e.now = kPkiNow - 300;
        CHECK_MESSAGE(!validate_issued(f.issued(f.leaf), e).has_value(), describe(validate_issued(f.issued(f.leaf), e)));
        e.now = kPkiNow + 365 * kPkiDay;
        CHECK_MESSAGE(!validate_issued(f.issued(f.leaf), e).has_value(), describe(validate_issued(f.issued(f.leaf), e)));
    }
}

TEST_CASE("no_certificate: the answer holds no certificate") {
    Fixture f;
    check_status(validate_issued(f.issued({}), f.expect()), InstallStatus::no_certificate);
}

TEST_CASE("malformed_certificate: the certificate does not parse") {
    Fixture f;
    SUBCASE("garbage") {
        check_status(validate_issued(f.issued(to_bytes("this is not a certificate")), f.expect()),
                     InstallStatus::malformed_certificate);
    }
    SUBCASE("truncated DER") {
        Bytes cut(f.leaf.begin(), f.leaf.begin() + static_cast<long>(f.leaf.size() / 2));
        check_status(validate_issued(f.issued(cut), f.expect()), InstallStatus::malformed_certificate);
    }
}

TEST_CASE("public_key_mismatch: the certificate is for another key") {
    Fixture f;
    auto e = f.expect();
    e.public_key = make_key(*f.rng)->public_key_der();
    check_status(validate_issued(f.issued(f.leaf), e), InstallStatus::public_key_mismatch);
}

TEST_CASE("identity_mismatch: the certificate names another device or domain") {
    Fixture f;
    SUBCASE("another device id expected") {
        auto e = f.expect();
        e.device_id = "sensor-0002";
        check_status(validate_issued(f.issued(f.leaf), e), InstallStatus::identity_mismatch);
    }
    SUBCASE("SAN URI in another domain") {
        auto p = device_profile("other.test", kDevice);
        const Bytes cert = f.pki.device(*f.key, p, *f.rng);
        check_status(validate_issued(f.issued(cert), f.expect()), InstallStatus::identity_mismatch);
    }
    SUBCASE("no SAN URI") {
        auto p = device_profile(kDomain, kDevice);
        p.san_uris.clear();
        const Bytes cert = f.pki.device(*f.key, p, *f.rng);
        check_status(validate_issued(f.issued(cert), f.expect()), InstallStatus::identity_mismatch);
    }
    SUBCASE("subject serialNumber names another device") {
        auto p = device_profile(kDomain, kDevice);
        p.serial_number = "sensor-0002";
        const Bytes cert = f.pki.device(*f.key, p, *f.rng);
        check_status(validate_issued(f.issued(cert), f.expect()), InstallStatus::identity_mismatch);
    }
    SUBCASE("subject CN names another device") {
        auto p = device_profile(kDomain, kDevice);
        p.common_name = "sensor-0002";
        const Bytes cert = f.pki.device(*f.key, p, *f.rng);
        check_status(validate_issued(f.issued(cert), f.expect()), InstallStatus::identity_mismatch);
    }
}

TEST_CASE("issuer_mismatch: the CA sent along is not the certificate's issuer") {
    Fixture f;
    SUBCASE("chain[0] is another CA") {
        Hierarchy other(*f.rng, "other.test");
        check_status(validate_issued(Issued{f.leaf, {other.ca, f.pki.root}}, f.expect()), InstallStatus::issuer_mismatch);
    }
    SUBCASE("chain[0] is the root") {
        check_status(validate_issued(Issued{f.leaf, {f.pki.root, f.pki.ca}}, f.expect()), InstallStatus::issuer_mismatch);
    }
    SUBCASE("no chain at all") {
        check_status(validate_issued(Issued{f.leaf, {}}, f.expect()), InstallStatus::issuer_mismatch);
    }
}

TEST_CASE("bad_signature: the issuer's name matches but its key did not sign") {
    Fixture f;
    // A second CA with exactly the same subject name, under the same root,
    // with its own key: names cannot tell the two apart, signatures can.
    auto twin_key = make_key(*f.rng);
    auto p = irp_test::ca_profile("IRP Domain CA example.test");
    p.path_len = 0;
    const Bytes twin = irp_test::issue(*f.pki.root_key, f.pki.root, *twin_key, p, *f.rng);
    auto twin_subject = crypto::certificate_subject_name(twin);
    auto ca_subject = crypto::certificate_subject_name(f.pki.ca);
    REQUIRE(twin_subject.ok());
    REQUIRE(ca_subject.ok());
    REQUIRE(*twin_subject == *ca_subject);

    SUBCASE("the leaf was signed by the twin, the real CA is sent") {
        const Bytes forged = irp_test::issue(*twin_key, twin, *f.key, device_profile(kDomain, kDevice), *f.rng);
        check_status(validate_issued(f.issued(forged), f.expect()), InstallStatus::bad_signature);
    }
    SUBCASE("the leaf was signed by the real CA, the twin is sent") {
        check_status(validate_issued(Issued{f.leaf, {twin, f.pki.root}}, f.expect()), InstallStatus::bad_signature);
    }
}

TEST_CASE("validity_error: the certificate is not valid now") {
    Fixture f;
    SUBCASE("before notBefore") {
        auto e = f.expect();
        e.now = kPkiNow - 301;
        check_status(validate_issued(f.issued(f.leaf), e), InstallStatus::validity_error);
    }
    SUBCASE("after notAfter") {
        auto e = f.expect();
        e.now = kPkiNow + 365 * kPkiDay + 1;
        check_status(validate_issued(f.issued(f.leaf), e), InstallStatus::validity_error);
    }
    SUBCASE("a certificate issued already expired") {
        auto p = device_profile(kDomain, kDevice);
        p.not_before = kPkiNow - 2 * kPkiDay;
        p.not_after = kPkiNow - kPkiDay;
        const Bytes cert = f.pki.device(*f.key, p, *f.rng);
        check_status(validate_issued(f.issued(cert), f.expect()), InstallStatus::validity_error);
    }
}

TEST_CASE("validity_error: a certificate that outlives its issuing CA") {
    // messages.hpp: validity_error is "not yet valid, expired, or outlives
    // the CA". Authority::issue_device clamps notAfter to the CA's; a
    // certificate that does not is refused even while both are valid now.
    Fixture f;
    auto ca_info = crypto::parse_certificate(f.pki.ca);
    REQUIRE(ca_info.ok());
    auto p = device_profile(kDomain, kDevice);
    p.not_after = ca_info->not_after + kPkiDay;
    const Bytes cert = f.pki.device(*f.key, p, *f.rng);
    check_status(validate_issued(f.issued(cert), f.expect()), InstallStatus::validity_error);
}

TEST_CASE("profile_mismatch: the certificate is not a device client certificate") {
    Fixture f;
    SUBCASE("no clientAuth EKU") {
        auto p = device_profile(kDomain, kDevice);
        p.eku_client_auth = false;
        const Bytes cert = f.pki.device(*f.key, p, *f.rng);
        check_status(validate_issued(f.issued(cert), f.expect()), InstallStatus::profile_mismatch);
    }
    SUBCASE("serverAuth instead of clientAuth") {
        auto p = device_profile(kDomain, kDevice);
        p.eku_client_auth = false;
        p.eku_server_auth = true;
        const Bytes cert = f.pki.device(*f.key, p, *f.rng);
        check_status(validate_issued(f.issued(cert), f.expect()), InstallStatus::profile_mismatch);
    }
    SUBCASE("a CA certificate") {
        auto p = device_profile(kDomain, kDevice);
        p.ca = true;
        const Bytes cert = f.pki.device(*f.key, p, *f.rng);
        check_status(validate_issued(f.issued(cert), f.expect()), InstallStatus::profile_mismatch);
    }
}

TEST_CASE("untrusted_chain: the chain does not lead to a trusted root") {
    Fixture f;
    SUBCASE("the trusted root is unrelated") {
        Hierarchy unrelated(*f.rng, "unrelated.test");
        auto e = f.expect();
        e.trusted_roots = {unrelated.root};
        check_status(validate_issued(f.issued(f.leaf), e), InstallStatus::untrusted_chain);
    }
    SUBCASE("no trusted root at all") {
        auto e = f.expect();
        e.trusted_roots.clear();
        check_status(validate_issued(f.issued(f.leaf), e), InstallStatus::untrusted_chain);
    }
    SUBCASE("a complete foreign hierarchy whose root is sent along is not trusted for it") {
        // Same domain name, same device, the right key: everything but trust.
        Hierarchy foreign(*f.rng);
        const Bytes cert = foreign.device(*f.key, device_profile(kDomain, kDevice), *f.rng);
        check_status(validate_issued(Issued{cert, {foreign.ca, foreign.root}}, f.expect()),
                     InstallStatus::untrusted_chain);
    }
}
