// Tests for EnrollService: the server's authorisation, issuance, renewal and
// install-report bookkeeping, against a real domain (init_domain +
// load_domain), a real SQLite store and a fixed clock. Requests are built the
// way ServerSession builds them after its own checks (transcript, CSR bound
// to it, proof of possession verified).
#include <doctest/doctest.h>

#include "enroll_fixture.hpp"
#include "revocation/revocation.hpp"

using namespace irp;
using namespace irp::server;
using irp_test::kDay;
using irp_test::kNow;

TEST_CASE("a valid enrollment issues a certificate to the profile and records it once") {
    Fixture f;
    auto key = new_key(*f.rng);
    const auto req = enroll_request("sensor-0001", "default", f.token("sensor-0001"), key, *f.rng, "req-1");
    const Answer a = f.svc.on_request(req, kPeer);
    const Issued& issued = issued_of(a);
    const auto& m = f.d.material();

    // The chain sent along: issuing CA, then root.
    REQUIRE(issued.chain.size() == 2);
    CHECK(issued.chain[0] == m.ca_der);
    CHECK(issued.chain[1] == m.root_der);

    // It chains to the root as a TLS client certificate, now.
    const auto chain = crypto::verify_chain(issued.certificate, {m.ca_der}, {m.root_der}, kNow, crypto::Usage::tls_client);
    CHECK_MESSAGE(chain.ok(), (chain.ok() ? "" : chain.error().message));
    CHECK(crypto::signed_by(issued.certificate, m.ca_der));

    auto info = crypto::parse_certificate(issued.certificate);
    REQUIRE(info.ok());
    CHECK(info->public_key == key.public_key_der());
    CHECK(info->subject_cn == "sensor-0001");
    CHECK(info->subject_serial_number == "sensor-0001");
    CHECK(info->san_uris == std::vector<std::string>{"urn:irp:example.test:sensor-0001"});
    CHECK(info->san_dns.empty());
    CHECK(info->not_before == kNow - 300);
    CHECK(info->not_after == kNow + 365 * kDay);
    CHECK_FALSE(info->is_ca);
    CHECK(info->key_usage_digital_signature);
    CHECK(info->eku_client_auth);
    CHECK_FALSE(info->eku_server_auth);
    CHECK(info->authority_key_id == m.ca_info.subject_key_id);
    CHECK_FALSE(info->serial.empty());

    // Exactly one certificate, one device, one audit event.
    auto& store = f.d.store();
    CHECK(value(store.count_certificates()) == 1);
    CHECK(value(store.count_devices()) == 1);
    auto audit = store.audit_log(100);
    REQUIRE(audit.ok());
    REQUIRE(audit->size() == 1);
    const auto& ev = audit->front();
    CHECK(ev.at == kNow);
    CHECK(ev.action == "enroll");
    CHECK(ev.device_id == "sensor-0001");
    CHECK(ev.serial_hex == to_hex(info->serial));
    CHECK(ev.peer == kPeer.address);

    const auto rec = record_of(store, to_hex(info->serial));
    CHECK(rec.device_id == "sensor-0001");
    CHECK(rec.class_id == "default");
    CHECK(rec.der == issued.certificate);
    CHECK(rec.status == CertStatus::issued);
    CHECK(rec.issuer == m.issuer_id);
    CHECK(rec.issued_at == kNow);
    CHECK(rec.not_before == info->not_before);
    CHECK(rec.not_after == info->not_after);
    CHECK(rec.replaces.empty());
    CHECK(rec.public_key_sha256_hex == to_hex(crypto::sha256(key.public_key_der())));
}

TEST_CASE("a certificate never outlives the domain CA") {
    Fixture f;
    // Ten years less a day after init, the CA has a day left.
    f.now = kNow + 10 * 365 * kDay - kDay;
    const auto dev = f.enroll("late-device");
    auto info = crypto::parse_certificate(dev.cert);
    REQUIRE(info.ok());
    CHECK(info->not_after == f.d.material().ca_info.not_after);
    CHECK(info->not_before == f.now - 300);
}

TEST_CASE("enrollment rejections carry their code and leave the store unchanged") {
    Fixture f;
    // Something in the store already, so "unchanged" is not just "empty".
    f.enroll("existing-device", "req-0");
    const Snapshot before = snapshot(f.d.store());
    auto key = new_key(*f.rng);

    SUBCASE("a wrong token") {
        const Bytes wrong(32, 0xab);
        const Answer a = f.svc.on_request(enroll_request("sensor-0002", "default", wrong, key, *f.rng), kPeer);
        check_rejected(a, Code::bad_token_proof);
    }
    SUBCASE("the token of another device id") {
        const Answer a = f.svc.on_request(
            enroll_request("sensor-0002", "default", f.token("sensor-0003"), key, *f.rng), kPeer);
        check_rejected(a, Code::bad_token_proof);
    }
    SUBCASE("a token derived under another class name") {
        const Answer a = f.svc.on_request(
            enroll_request("sensor-0002", "default", token_of(f.d.secret(), "other", "sensor-0002"), key, *f.rng), kPeer);
        check_rejected(a, Code::bad_token_proof);
    }
    SUBCASE("a proof over another CSR") {
        auto req = enroll_request("sensor-0002", "default", f.token("sensor-0002"), key, *f.rng);
        auto other = new_key(*f.rng);
        attach_csr(req, other, *f.rng);  // the proof still covers the first CSR
        check_rejected(f.svc.on_request(req, kPeer), Code::bad_token_proof);
    }
    SUBCASE("no proof at all, in a class that does not accept approval") {
        auto req = enroll_request("sensor-0002", "default", f.token("sensor-0002"), key, *f.rng);
        req.token_proof.clear();
        check_rejected(f.svc.on_request(req, kPeer), Code::bootstrap_not_allowed);
    }
    SUBCASE("an unknown class") {
        const Answer a = f.svc.on_request(
            enroll_request("sensor-0002", "no-such-class", token_of(f.d.secret(), "no-such-class", "sensor-0002"), key,
                           *f.rng),
            kPeer);
        check_rejected(a, Code::unknown_class);
    }
    SUBCASE("a CSR asking for a CA certificate") {
        auto req = enroll_request("sensor-0002", "default", f.token("sensor-0002"), key, *f.rng);
        req.csr.requests_ca = true;
        check_rejected(f.svc.on_request(req, kPeer), Code::extension_not_allowed);
    }
    SUBCASE("a CSR requesting an extension the profile does not tolerate") {
        auto req = enroll_request("sensor-0002", "default", f.token("sensor-0002"), key, *f.rng);
        req.csr.extension_oids = {"2.5.29.17", "1.2.3.4"};
        const Answer a = f.svc.on_request(req, kPeer);
        check_rejected(a, Code::extension_not_allowed);
        REQUIRE(std::holds_alternative<Rejected>(a.result));
        CHECK(std::get<Rejected>(a.result).message.find("1.2.3.4") != std::string::npos);
    }
    check_unchanged(before, f.d.store());
    CHECK(value(f.d.store().count_certificates()) == 1);
    auto devs = f.d.store().certificates_of("sensor-0002");
    REQUIRE(devs.ok());
    CHECK(devs->empty());
}

TEST_CASE("the tolerated CSR extensions do not block an enrollment") {
    Fixture f;
    auto key = new_key(*f.rng);
    auto req = enroll_request("sensor-0004", "default", f.token("sensor-0004"), key, *f.rng);
    req.csr.extension_oids = {"2.5.29.14", "2.5.29.15", "2.5.29.17", "2.5.29.19", "2.5.29.37"};
    const Answer a = f.svc.on_request(req, kPeer);
    const Issued& i = issued_of(a);
    auto info = crypto::parse_certificate(i.certificate);
    REQUIRE(info.ok());
    // The profile decides the extensions, whatever was asked for.
    CHECK_FALSE(info->is_ca);
    CHECK(info->san_uris == std::vector<std::string>{"urn:irp:example.test:sensor-0004"});
    CHECK(value(f.d.store().count_certificates()) == 1);
}

TEST_CASE("a renewal with the current key's signature replaces the certificate") {
    Fixture f;
    const auto dev = f.enroll("meter-7", "req-1");
    auto next = new_key(*f.rng);
    f.now = kNow + 100 * kDay;
    const Answer a = f.svc.on_request(renew_request("meter-7", dev.cert, dev.key, next, *f.rng, "req-2"), kPeer);
    const Issued& issued = issued_of(a);
    const auto& m = f.d.material();

    auto info = crypto::parse_certificate(issued.certificate);
    REQUIRE(info.ok());
    CHECK(info->public_key == next.public_key_der());
    CHECK(info->public_key != dev.key.public_key_der());
    CHECK(info->subject_cn == "meter-7");
    CHECK(info->not_before == f.now - 300);
    CHECK(info->not_after == f.now + 365 * kDay);
    const std::string new_serial = to_hex(info->serial);
    CHECK(new_serial != dev.serial);
    const auto chain = crypto::verify_chain(issued.certificate, {m.ca_der}, {m.root_der}, f.now, crypto::Usage::tls_client);
    CHECK_MESSAGE(chain.ok(), (chain.ok() ? "" : chain.error().message));

    auto& store = f.d.store();
    const auto old_rec = record_of(store, dev.serial);
    CHECK(old_rec.status == CertStatus::superseded);
    CHECK(old_rec.replaced_by == new_serial);
    const auto new_rec = record_of(store, new_serial);
    CHECK(new_rec.status == CertStatus::issued);
    CHECK(new_rec.replaces == dev.serial);
    CHECK(new_rec.device_id == "meter-7");
    CHECK(new_rec.class_id == "default");  // carried over: a renewal names no class
    CHECK(new_rec.issued_at == f.now);
    CHECK(value(store.count_certificates()) == 2);
    CHECK(value(store.count_devices()) == 1);
    auto audit = store.audit_log(100);
    REQUIRE(audit.ok());
    REQUIRE(audit->size() == 2);
    CHECK(audit->front().action == "renew");  // newest first
    CHECK(audit->front().serial_hex == new_serial);
}

TEST_CASE("renewal rejections carry their code and leave the store unchanged") {
    Fixture f;
    auto dev = f.enroll("meter-8", "req-1");
    auto next = new_key(*f.rng);
    f.now = kNow + 10 * kDay;
    auto& store = f.d.store();

    SUBCASE("a signature by another key") {
        auto stranger = new_key(*f.rng);
        const Snapshot before = snapshot(store);
        check_rejected(f.svc.on_request(renew_request("meter-8", dev.cert, stranger, next, *f.rng), kPeer),
                       Code::bad_renewal_signature);
        check_unchanged(before, store);
        CHECK(record_of(store, dev.serial).status == CertStatus::issued);
    }
    SUBCASE("a signature over another CSR") {
        auto req = renew_request("meter-8", dev.cert, dev.key, next, *f.rng);
        auto other = new_key(*f.rng);
        attach_csr(req, other, *f.rng);  // the signature still covers the first CSR
        const Snapshot before = snapshot(store);
        check_rejected(f.svc.on_request(req, kPeer), Code::bad_renewal_signature);
        check_unchanged(before, store);
    }
    SUBCASE("renewing the superseded certificate again, once its successor is installed") {
        const Answer first = f.svc.on_request(renew_request("meter-8", dev.cert, dev.key, next, *f.rng, "req-2"), kPeer);
        const std::string new_serial = serial_hex_of(issued_of(first).certificate);
        Bytes new_serial_bytes;
        REQUIRE(from_hex(new_serial, new_serial_bytes));
        REQUIRE(f.svc.on_install_report(InstallReported{"req-2", 0, new_serial_bytes}, kPeer));
        const Snapshot before = snapshot(store);
        auto third = new_key(*f.rng);
        check_rejected(f.svc.on_request(renew_request("meter-8", dev.cert, dev.key, third, *f.rng, "req-3"), kPeer),
                       Code::certificate_not_active);
        check_unchanged(before, store);
        CHECK(record_of(store, new_serial).status == CertStatus::installed);
        CHECK(record_of(store, dev.serial).replaced_by == new_serial);
    }
    SUBCASE("a renewal whose answer never reached the device does not lock it out") {
        // The successor stays `issued` (no install report): the device still
        // holds the old certificate and may renew it; the lost successor is
        // abandoned.
        const Answer first = f.svc.on_request(renew_request("meter-8", dev.cert, dev.key, next, *f.rng, "req-2"), kPeer);
        const std::string lost = serial_hex_of(issued_of(first).certificate);
        auto third = new_key(*f.rng);
        const Answer again = f.svc.on_request(renew_request("meter-8", dev.cert, dev.key, third, *f.rng, "req-3"), kPeer);
        const std::string fresh = serial_hex_of(issued_of(again).certificate);
        CHECK(record_of(store, lost).status == CertStatus::superseded);
        CHECK(record_of(store, dev.serial).status == CertStatus::superseded);
        CHECK(record_of(store, dev.serial).replaced_by == fresh);
        CHECK(record_of(store, fresh).status == CertStatus::issued);
    }
    SUBCASE("a certificate from another CA of the same domain name") {
        TestDomain other(kDomain, 2);
        auto other_rng = crypto::deterministic_random(7);
        Authority other_ca(other.material(), ProfileSettings{}, *other_rng);
        REQUIRE(other.material().ca_der != f.d.material().ca_der);
        auto foreign = other_ca.issue_device("meter-8", dev.key.public_key_der(), kNow);
        REQUIRE(foreign.ok());
        const Snapshot before = snapshot(store);
        check_rejected(f.svc.on_request(renew_request("meter-8", foreign->der, dev.key, next, *f.rng), kPeer),
                       Code::unknown_certificate);
        check_unchanged(before, store);
    }
    SUBCASE("a certificate of this CA that was never recorded") {
        auto unrecorded = f.ca.issue_device("meter-8", dev.key.public_key_der(), kNow);
        REQUIRE(unrecorded.ok());
        const Snapshot before = snapshot(store);
        check_rejected(f.svc.on_request(renew_request("meter-8", unrecorded->der, dev.key, next, *f.rng), kPeer),
                       Code::unknown_certificate);
        check_unchanged(before, store);
    }
    SUBCASE("device A's certificate presented as device B") {
        f.enroll("meter-9", "req-b");
        const Snapshot before = snapshot(store);
        check_rejected(f.svc.on_request(renew_request("meter-9", dev.cert, dev.key, next, *f.rng), kPeer),
                       Code::identity_mismatch);
        check_unchanged(before, store);
        CHECK(record_of(store, dev.serial).status == CertStatus::issued);
    }
    SUBCASE("the same key when the policy does not allow it") {
        const Snapshot before = snapshot(store);
        check_rejected(f.svc.on_request(renew_request("meter-8", dev.cert, dev.key, dev.key, *f.rng), kPeer),
                       Code::same_key_not_allowed);
        check_unchanged(before, store);
        CHECK(record_of(store, dev.serial).status == CertStatus::issued);
    }
    SUBCASE("the same key when the policy allows it") {
        EnrollService lenient(f.ca, store, f.classes, f.holds, ServicePolicy{true}, [](const std::string&) {}, [&f] { return f.now; });
        const Answer a = lenient.on_request(renew_request("meter-8", dev.cert, dev.key, dev.key, *f.rng, "req-2"), kPeer);
        const Issued& i = issued_of(a);
        auto info = crypto::parse_certificate(i.certificate);
        REQUIRE(info.ok());
        CHECK(info->public_key == dev.key.public_key_der());
        CHECK(record_of(store, dev.serial).status == CertStatus::superseded);
        CHECK(value(store.count_certificates()) == 2);
    }
    SUBCASE("an expired current certificate") {
        auto info = crypto::parse_certificate(dev.cert);
        REQUIRE(info.ok());
        f.now = info->not_after + 1;
        const Snapshot before = snapshot(store);
        check_rejected(f.svc.on_request(renew_request("meter-8", dev.cert, dev.key, next, *f.rng), kPeer),
                       Code::certificate_not_active);
        check_unchanged(before, store);
        CHECK(record_of(store, dev.serial).status == CertStatus::issued);

        // Up to the last second of its validity it still renews.
        f.now = info->not_after;
        issued_of(f.svc.on_request(renew_request("meter-8", dev.cert, dev.key, next, *f.rng, "req-2"), kPeer));
        CHECK(record_of(store, dev.serial).status == CertStatus::superseded);
    }
}

TEST_CASE("an install report records the install of the certificate its exchange received") {
    Fixture f;
    const auto dev = f.enroll("cam-1", "req-1");
    auto& store = f.d.store();
    auto info = crypto::parse_certificate(dev.cert);
    REQUIRE(info.ok());
    const Snapshot before = snapshot(store);
    f.log.clear();

    SUBCASE("installed") {
        f.svc.on_install_report(InstallReported{"req-1", 0, info->serial}, kPeer);
        const auto rec = record_of(store, dev.serial);
        CHECK(rec.status == CertStatus::installed);
        REQUIRE(rec.install_status.has_value());
        CHECK(*rec.install_status == 0u);
        auto audit = store.audit_log(100);
        REQUIRE(audit.ok());
        REQUIRE(audit->size() == before.audit + 1);
        CHECK(audit->front().action == "install");
        CHECK(audit->front().serial_hex == dev.serial);
        REQUIRE(f.log.size() == 1);
        CHECK(f.log[0].find("status=installed") != std::string::npos);
    }
    SUBCASE("a validation failure") {
        f.svc.on_install_report(
            InstallReported{"req-1", static_cast<std::uint32_t>(InstallStatus::untrusted_chain), info->serial}, kPeer);
        const auto rec = record_of(store, dev.serial);
        CHECK(rec.status == CertStatus::install_failed);
        REQUIRE(rec.install_status.has_value());
        CHECK(*rec.install_status == static_cast<std::uint32_t>(InstallStatus::untrusted_chain));
    }
    SUBCASE("a report naming another serial is ignored") {
        Bytes other = info->serial;
        other.back() ^= 0x01;
        f.svc.on_install_report(InstallReported{"req-1", 0, other}, kPeer);
        CHECK(record_of(store, dev.serial).status == CertStatus::issued);
        CHECK_FALSE(record_of(store, dev.serial).install_status.has_value());
        check_unchanged(before, store);
        REQUIRE(f.log.size() == 1);
        CHECK(f.log[0].find("ignored") != std::string::npos);
        CHECK(f.log[0].find("request=req-1") != std::string::npos);
    }
    SUBCASE("a failure report naming another serial still marks the issued certificate as not installed") {
        // What a device sends when it could not parse what it received.
        f.svc.on_install_report(
            InstallReported{"req-1", static_cast<std::uint32_t>(InstallStatus::malformed_certificate), Bytes{0}}, kPeer);
        const auto rec = record_of(store, dev.serial);
        CHECK(rec.status == CertStatus::install_failed);
        REQUIRE(rec.install_status.has_value());
        CHECK(*rec.install_status == static_cast<std::uint32_t>(InstallStatus::malformed_certificate));
        CHECK(value(store.count_certificates()) == before.certificates);
    }
    SUBCASE("a report for a request that issued nothing is dropped") {
        f.svc.on_install_report(InstallReported{"req-unknown", 0, info->serial}, kPeer);
        CHECK(record_of(store, dev.serial).status == CertStatus::issued);
        check_unchanged(before, store);
    }
    SUBCASE("a report can speak for its own exchange only once") {
        f.svc.on_install_report(InstallReported{"req-1", 0, info->serial}, kPeer);
        REQUIRE(record_of(store, dev.serial).status == CertStatus::installed);
        f.svc.on_install_report(
            InstallReported{"req-1", static_cast<std::uint32_t>(InstallStatus::bad_signature), info->serial}, kPeer);
        CHECK(record_of(store, dev.serial).status == CertStatus::installed);
    }
}

TEST_CASE("on_request logs exactly one line per request") {
    Fixture f;
    auto key = new_key(*f.rng);

    SUBCASE("issued") {
        f.svc.on_request(enroll_request("log-dev", "default", f.token("log-dev"), key, *f.rng, "req-log"), kPeer);
        REQUIRE(f.log.size() == 1);
        const auto& line = f.log[0];
        CHECK(line.find("outcome=issued") != std::string::npos);
        CHECK(line.find("device=log-dev") != std::string::npos);
        CHECK(line.find("request=req-log") != std::string::npos);
        CHECK(line.find("peer=" + kPeer.address) != std::string::npos);
        CHECK(line.find('\n') == std::string::npos);
    }
    SUBCASE("rejected") {
        f.svc.on_request(enroll_request("log-dev", "default", Bytes(32, 0), key, *f.rng, "req-log"), kPeer);
        REQUIRE(f.log.size() == 1);
        const auto& line = f.log[0];
        CHECK(line.find("outcome=rejected") != std::string::npos);
        CHECK(line.find("bad_token_proof") != std::string::npos);
        CHECK(line.find("outcome=issued") == std::string::npos);
    }
    SUBCASE("device-supplied text cannot break or forge a line") {
        auto req = enroll_request("log-dev", "default", f.token("log-dev"), key, *f.rng, "req-log");
        req.device_id = "evil\n2023-11-14T22:13:20Z enroll device=victim outcome=issued\r";
        f.svc.on_request(req, kPeer);
        REQUIRE(f.log.size() == 1);
        const auto& line = f.log[0];
        CHECK(line.find('\n') == std::string::npos);
        CHECK(line.find('\r') == std::string::npos);
        CHECK(line.find("outcome=rejected") != std::string::npos);
    }
    SUBCASE("a class name echoed in the reason is sanitized too") {
        f.svc.on_request(enroll_request("log-dev", "x\ny\"z", Bytes(32, 0), key, *f.rng, "req-log"), kPeer);
        REQUIRE(f.log.size() == 1);
        const auto& line = f.log[0];
        CHECK(line.find('\n') == std::string::npos);
        CHECK(line.find("unknown_class") != std::string::npos);
        // The reason is quoted: a '"' from the device must not close it early.
        CHECK(std::count(line.begin(), line.end(), '"') == 2);
    }
}

TEST_CASE("a rejection quoting a long device-supplied OID still reaches the device as a rejection") {
    // The core sessions on both sides, the service deciding in between.
    Fixture f;
    const auto& m = f.d.material();
    const Bytes binding(32, 0x44);
    ServerSessionConfig sc;
    sc.domain = kDomain;
    sc.ca_chain = {m.ca_der, m.root_der};
    sc.key_algorithms = {KeyAlgorithm::ecdsa_p256};
    ServerSession server(sc, *f.rng, binding, Time{0});
    ClientSessionConfig cc;
    cc.operation = Operation::enroll;
    cc.device_id = "oid-dev";
    cc.class_id = "default";
    auto device_rng = crypto::deterministic_random(5);
    ClientSession client(cc, *device_rng, binding, Time{0});

    server.receive(client.take_output(), Time{0});
    client.receive(server.take_output(), Time{0});
    auto challenge = client.poll_event();
    REQUIRE(challenge.has_value());
    REQUIRE(std::holds_alternative<ChallengeReceived>(*challenge));
    const auto transcript = std::get<ChallengeReceived>(*challenge).transcript;
    auto key = new_key(*device_rng);
    auto csr = crypto::create_csr(key, "oid-dev", csr_challenge(transcript), *device_rng);
    REQUIRE(csr.ok());
    const auto proof = token_proof(f.token("oid-dev"), transcript, *csr);
    REQUIRE(client.send_enroll(*csr, bytes_of(proof), Time{0}).ok());
    server.receive(client.take_output(), Time{0});
    auto ev = server.poll_event();
    REQUIRE(ev.has_value());
    REQUIRE(std::holds_alternative<RequestReceived>(*ev));
    RequestReceived req = std::get<RequestReceived>(*ev);
    // What parse_and_verify_csr reports for a CSR (well under the 8 KiB
    // bound) requesting an extension with a 3000-character OID.
    std::string oid = "1.3.6.1.4.1";
    while (oid.size() < 3000) oid += ".1";
    req.csr.extension_oids.push_back(oid);

    REQUIRE(server.answer(f.svc.on_request(req, kPeer), Time{0}).ok());
    client.receive(server.take_output(), Time{0});
    auto answer = client.poll_event();
    REQUIRE(answer.has_value());
    const auto* failed = std::get_if<ClientFailed>(&*answer);
    REQUIRE_MESSAGE(std::holds_alternative<AnswerReceived>(*answer),
                    "the device could not read the answer: " << (failed ? failed->error.message : std::string("?")));
    const auto& a = std::get<AnswerReceived>(*answer).answer;
    REQUIRE(std::holds_alternative<Rejected>(a.result));
    CHECK(std::get<Rejected>(a.result).code == Code::extension_not_allowed);
    CHECK(std::get<Rejected>(a.result).message.size() <= bounds::kMaxText);
}

TEST_CASE("check-in returns the issuing CA's CRL only when it is newer than the device's and fits") {
    Fixture f;
    RevocationService rev(f.d.material(), f.d.store(), *f.rng, RevocationSettings{}, [&f] { return f.now; });
    f.svc.set_revocation(&rev);
    const auto a = f.enroll("cam-a", "req-a");
    const auto b = f.enroll("cam-b", "req-b");
    const Bytes& ca = f.d.material().ca_der;

    auto check_in = [&](std::uint64_t have, std::uint32_t max_bytes) {
        f.log.clear();
        const Answer ans = f.svc.on_request(check_in_request("cam-a", a.cert, a.key, *f.rng, have, max_bytes), kPeer);
        REQUIRE_MESSAGE(std::holds_alternative<CheckedIn>(ans.result),
                        "expected CheckedIn, got " << (std::holds_alternative<Rejected>(ans.result)
                                                           ? std::get<Rejected>(ans.result).message
                                                           : std::string("another answer")));
        REQUIRE(f.log.size() == 1);
        return std::get<CheckedIn>(ans.result);
    };
    auto logged = [&](const std::string& s) { return f.log.at(0).find(s) != std::string::npos; };

    // The device holds none: it gets CRL number 1, empty, signed by the domain CA.
    f.now += 60;
    const CheckedIn first = check_in(0, 65'280);
    REQUIRE_FALSE(first.crl.empty());
    auto crl1 = crypto::parse_and_verify_crl(first.crl, ca);
    REQUIRE(crl1.ok());
    CHECK(crl1->crl_number == 1);
    CHECK(crl1->entries.empty());
    CHECK(crl1->this_update == f.now);
    CHECK(crl1->next_update == f.now + 86'400);
    CHECK(logged("crl=sent:1"));
    // The same CRL the HTTP listener serves: one cache, not re-signed.
    auto served = rev.crl();
    REQUIRE(served.ok());
    CHECK(*served == first.crl);

    // Up to date: nothing comes back, and nothing is re-signed.
    f.now += 60;
    const CheckedIn again = check_in(1, 65'280);
    CHECK(again.crl.empty());
    CHECK(again.next_check_in_seconds == 86'400u);
    CHECK(logged("crl=current:1"));
    auto st = rev.crl_status();
    REQUIRE(st.ok());
    CHECK(st->number == 1);
    // A device claiming a number from the future gets nothing either.
    CHECK(check_in(7, 65'280).crl.empty());
    CHECK(logged("crl=current:1"));

    // B is revoked: A's next check-in brings CRL number 2 listing B.
    REQUIRE(f.d.store().revoke(b.serial, 1, f.now, AuditEvent{f.now, "admin", "revoke", "cam-b", b.serial, "", ""}).ok());
    f.now += 60;
    const CheckedIn after = check_in(1, 65'280);
    REQUIRE_FALSE(after.crl.empty());
    auto crl2 = crypto::parse_and_verify_crl(after.crl, ca);
    REQUIRE(crl2.ok());
    CHECK(crl2->crl_number == 2);
    REQUIRE(crl2->entries.size() == 1);
    CHECK(to_hex(crl2->entries[0].serial) == b.serial);
    CHECK(crl2->entries[0].reason == 1);
    CHECK(logged("crl=sent:2"));

    // No room announced (a device from before the field): no CRL, no log field.
    const CheckedIn none = check_in(0, 0);
    CHECK(none.crl.empty());
    CHECK_FALSE(logged("crl="));
    // Room for less than the CRL: not sent, logged as too large.
    const CheckedIn small = check_in(0, static_cast<std::uint32_t>(after.crl.size() - 1));
    CHECK(small.crl.empty());
    CHECK(logged("crl=too_large:2"));
    // Exactly the CRL's size fits.
    CHECK(check_in(0, static_cast<std::uint32_t>(after.crl.size())).crl == after.crl);
    // The number did not move through all of that: one signature per change.
    st = rev.crl_status();
    REQUIRE(st.ok());
    CHECK(st->number == 2);
}

TEST_CASE("check-in carries no CRL when the service has no revocation source") {
    Fixture f;
    const auto a = f.enroll("cam-a");
    const Answer ans = f.svc.on_request(check_in_request("cam-a", a.cert, a.key, *f.rng, 0, 65'280), kPeer);
    REQUIRE(std::holds_alternative<CheckedIn>(ans.result));
    CHECK(std::get<CheckedIn>(ans.result).crl.empty());
    REQUIRE_FALSE(f.log.empty());
    CHECK(f.log.back().find("crl=") == std::string::npos);
}
