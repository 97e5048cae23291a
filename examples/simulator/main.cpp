// Embedding the IRP core: N devices enroll with one CA on virtual time, no
// sockets, no threads, no clock. The core is driven exactly as the network
// adapters drive it — bytes and "now" in; bytes, events and deadlines out —
// which is what makes simulation, fuzzing and unit tests of whole exchanges
// possible. A lossy "network" delays every delivery by a random latency.
//
// Usage: irp-simulator [devices=100] [seed=1]
#include <cstdio>
#include <cstdlib>
#include <map>
#include <queue>

#include <irp/core/client_session.hpp>
#include <irp/core/server_session.hpp>
#include <irp/core/transcript.hpp>

using namespace irp;

namespace {

struct Delivery {
    Time at;
    int device;
    bool to_server;
    Bytes bytes;
    bool operator>(const Delivery& o) const { return at > o.at; }
};

}  // namespace

int main(int argc, char** argv) {
    const int devices = argc > 1 ? std::atoi(argv[1]) : 100;
    const std::uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 1;
    auto rng = crypto::deterministic_random(seed);

    // The CA: a self-signed root that issues device certificates directly.
    auto ca_key = crypto::PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *rng);
    crypto::IssueProfile root;
    root.serial = crypto::random_serial(*rng);
    root.common_name = "Simulated CA";
    root.not_before = 0;
    root.not_after = 4'000'000'000;
    root.ca = true;
    auto ca_cert = crypto::issue_certificate(*ca_key, {}, ca_key->public_key_der(), root, *rng);
    if (!ca_key || !ca_cert) return 1;
    const Bytes class_secret = rng->bytes(32);

    ServerSessionConfig scfg{"sim.example", {*ca_cert}, {KeyAlgorithm::ecdsa_p256}, Limits{}};
    std::map<int, ServerSession> servers;
    std::map<int, ClientSession> clients;
    std::map<int, crypto::PrivateKey> keys;
    std::priority_queue<Delivery, std::vector<Delivery>, std::greater<>> network;
    auto latency = [&] { return Time{1 + rng->bytes(1)[0] % 50}; };  // 1..50 ms

    Time now{0};
    for (int d = 0; d < devices; ++d) {
        const Bytes binding = rng->bytes(32);  // stands in for the TLS exporter
        const std::string id = "sim-" + std::to_string(d);
        servers.emplace(d, ServerSession(scfg, *rng, binding, now));
        clients.emplace(d, ClientSession({Operation::enroll, id, "default", {}, Limits{}}, *rng, binding, now));
        network.push({now + latency(), d, true, clients.at(d).take_output()});
    }

    int issued = 0, installed = 0;
    while (!network.empty()) {
        Delivery m = network.top();
        network.pop();
        now = m.at;
        auto& server = servers.at(m.device);
        auto& client = clients.at(m.device);
        if (m.to_server) {
            server.receive(m.bytes, now);
            while (auto ev = server.poll_event()) {
                if (auto* req = std::get_if<RequestReceived>(&*ev)) {
                    const auto token = derive_device_token(class_secret, req->class_id, req->device_id);
                    const auto expected = token_proof(token, req->transcript, req->csr_der);
                    Answer a;
                    if (!crypto::constant_time_equal(expected, req->token_proof)) {
                        a.result = Rejected{Code::bad_token_proof, "bad token"};
                    } else {
                        crypto::IssueProfile p;
                        p.serial = crypto::random_serial(*rng);
                        p.common_name = req->device_id;
                        p.not_before = 0;
                        p.not_after = 4'000'000'000;
                        p.eku_client_auth = true;
                        auto cert = crypto::issue_certificate(*ca_key, *ca_cert, req->csr.public_key, p, *rng);
                        a.result = Issued{*cert, {*ca_cert}};
                        ++issued;
                    }
                    (void)server.answer(std::move(a), now);
                } else if (auto* rep = std::get_if<InstallReported>(&*ev)) {
                    const bool ok = rep->status == static_cast<std::uint32_t>(InstallStatus::installed);
                    installed += ok ? 1 : 0;
                    (void)server.acknowledge_install(ok, now);
                }
            }
            if (Bytes out = server.take_output(); !out.empty())
                network.push({now + latency(), m.device, false, std::move(out)});
        } else {
            client.receive(m.bytes, now);
            while (auto ev = client.poll_event()) {
                if (auto* ch = std::get_if<ChallengeReceived>(&*ev)) {
                    auto key = crypto::PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *rng);
                    auto csr = crypto::create_csr(*key, "sim", csr_challenge(ch->transcript), *rng);
                    const auto id = "sim-" + std::to_string(m.device);
                    const auto token = derive_device_token(class_secret, "default", id);
                    const auto proof = token_proof(token, ch->transcript, *csr);
                    (void)client.send_enroll(*csr, Bytes(proof.begin(), proof.end()), now);
                    keys.emplace(m.device, std::move(*key));
                } else if (auto* an = std::get_if<AnswerReceived>(&*ev)) {
                    if (auto* is = std::get_if<Issued>(&an->answer.result)) {
                        auto info = crypto::parse_certificate(is->certificate);
                        const bool mine = info && info->public_key == keys.at(m.device).public_key_der() &&
                                          crypto::signed_by(is->certificate, *ca_cert);
                        (void)client.send_install_report(mine ? InstallStatus::installed : InstallStatus::public_key_mismatch,
                                                         info->serial, now);
                    } else {
                        client.finish();
                    }
                }
            }
            if (Bytes out = client.take_output(); !out.empty())
                network.push({now + latency(), m.device, true, std::move(out)});
        }
    }
    std::printf("%d devices, %d certificates issued, %d installs confirmed, virtual time %lld ms\n", devices, issued,
                installed, static_cast<long long>(now.count()));
    return issued == devices && installed == devices ? 0 : 1;
}
