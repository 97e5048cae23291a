// TlsServerConfig::client_roots (irp/crypto/tls.hpp): a server with client
// roots asks for a client certificate and refuses a client that sends none;
// without them nothing is asked and peer_certificates() stays empty. A
// client certificate that is accepted is covered end to end by
// tests/e2e/video_server.sh (openssl s_client against irp-video-server).
#include <doctest/doctest.h>

#include <algorithm>
#include <chrono>
#include <vector>
#include <memory>
#include <string>

#include "irp/base/bytes.hpp"
#include "irp/crypto/crypto.hpp"
#include "irp/crypto/tls.hpp"

namespace {

using irp::Bytes;
using irp::Code;
using namespace irp::crypto;

std::int64_t now_s() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

struct ServerPki {
    std::unique_ptr<Random> rng = deterministic_random(4711);
    PrivateKey root_key = PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *rng).value();
    std::shared_ptr<const PrivateKey> key =
        std::make_shared<const PrivateKey>(PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *rng).value());
    Bytes root;
    Bytes cert;

    ServerPki() {
        IssueProfile rp;
        rp.serial = random_serial(*rng);
        rp.common_name = "Client Auth Test Root";
        rp.not_before = now_s() - 3600;
        rp.not_after = now_s() + 86400;
        rp.ca = true;
        root = issue_certificate(root_key, {}, root_key.public_key_der(), rp, *rng).value();
        IssueProfile sp;
        sp.serial = random_serial(*rng);
        sp.common_name = "video.test";
        sp.san_dns = {"video.test"};
        sp.not_before = now_s() - 3600;
        sp.not_after = now_s() + 86400;
        sp.eku_server_auth = true;
        cert = issue_certificate(root_key, root, key->public_key_der(), sp, *rng).value();
    }
};

// Runs the handshake in memory; returns the server's first error, if any.
irp::Result<void> handshake(TlsEndpoint& client, TlsEndpoint& server) {
    for (int i = 0; i < 10 && !(client.handshake_complete() && server.handshake_complete()); ++i) {
        const Bytes to_server = client.take_ciphertext();
        if (!to_server.empty())
            if (auto r = server.receive_ciphertext(to_server); !r) return r;
        const Bytes to_client = server.take_ciphertext();
        if (!to_client.empty()) (void)client.receive_ciphertext(to_client);
    }
    return {};
}

// The handshake message types in the server's first flight (TLS 1.2:
// plaintext handshake records, content type 22). 13 is CertificateRequest.
std::vector<int> first_flight_types(TlsEndpoint& client, TlsEndpoint& server) {
    (void)server.receive_ciphertext(client.take_ciphertext());  // ClientHello
    const Bytes flight = server.take_ciphertext();
    Bytes hs;
    for (std::size_t i = 0; i + 5 <= flight.size();) {
        const std::size_t len = (std::size_t{flight[i + 3]} << 8) | flight[i + 4];
        if (flight[i] == 22 && i + 5 + len <= flight.size()) hs.insert(hs.end(), flight.begin() + i + 5, flight.begin() + i + 5 + len);
        i += 5 + len;
    }
    std::vector<int> types;
    for (std::size_t i = 0; i + 4 <= hs.size();) {
        types.push_back(hs[i]);
        i += 4 + ((std::size_t{hs[i + 1]} << 16) | (std::size_t{hs[i + 2]} << 8) | hs[i + 3]);
    }
    return types;
}

}  // namespace

TEST_CASE("tls: the server's first flight has a CertificateRequest only with client roots") {
    ServerPki pki;
    auto plain = TlsEndpoint::server(TlsServerConfig{{pki.cert, pki.root}, pki.key});
    auto c1 = TlsEndpoint::client(TlsClientConfig{{pki.root}, "video.test"});
    const auto without = first_flight_types(*c1, *plain);
    CHECK(std::find(without.begin(), without.end(), 2) != without.end());  // ServerHello: the flight was parsed
    CHECK(std::find(without.begin(), without.end(), 13) == without.end());  // the IRP port asks for no certificate
    TlsServerConfig cfg{{pki.cert, pki.root}, pki.key};
    cfg.client_roots = {pki.root};
    auto asking = TlsEndpoint::server(cfg);
    auto c2 = TlsEndpoint::client(TlsClientConfig{{pki.root}, "video.test"});
    const auto with = first_flight_types(*c2, *asking);
    CHECK(std::find(with.begin(), with.end(), 13) != with.end());
}

TEST_CASE("tls: a server without client roots asks for no certificate") {
    ServerPki pki;
    auto server = TlsEndpoint::server(TlsServerConfig{{pki.cert, pki.root}, pki.key});
    auto client = TlsEndpoint::client(TlsClientConfig{{pki.root}, "video.test"});
    REQUIRE(handshake(*client, *server).ok());
    CHECK(server->handshake_complete());
    CHECK(client->handshake_complete());
    CHECK(server->peer_certificates().empty());
    CHECK(client->peer_certificates().empty());
}

TEST_CASE("tls: a server with client roots refuses a client that sends no certificate") {
    ServerPki pki;
    TlsServerConfig cfg{{pki.cert, pki.root}, pki.key};
    cfg.client_roots = {pki.root};
    auto server = TlsEndpoint::server(cfg);
    auto client = TlsEndpoint::client(TlsClientConfig{{pki.root}, "video.test"});
    const auto r = handshake(*client, *server);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::tls_failure);
    CHECK(r.error().message.find("certificate") != std::string::npos);
    CHECK_FALSE(server->handshake_complete());
    CHECK(server->peer_certificates().empty());
    // The alert that ends it reaches the client.
    (void)client->receive_ciphertext(server->take_ciphertext());
    CHECK(client->peer_closed());
    CHECK_FALSE(client->handshake_complete());
}
