// irp-video-server: a small TLS service that lets a device in only with a
// client certificate from an IRP domain, decided by the irp_rp library
// (gate.hpp). Each connection gets one line and is closed:
//   OK device=<id> domain=<domain> serial=<hex> revocation=<good|unknown> [account=<name>]
//   REFUSED <certificate|account>: <why>
// A client without a certificate, or with one that does not chain to --root,
// is refused in the TLS handshake itself.
//
//   irp-video-server --root root-ca.pem --cert server.pem --key server.key
//       [--listen 127.0.0.1:0] [--crl FILE]... [--require-crl]
//       [--account NAME --account-url http://HOST:PORT] [--action stream] [--target service:video]
//
// The first line on stdout is "listening on HOST:PORT"; then one line per
// connection: the client's address and the answer it got. Up to 16
// connections are served at once, each on its own thread.
#include <CLI/CLI.hpp>

#include <chrono>
#include <condition_variable>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "fetch.hpp"
#include "gate.hpp"
#include "irp/crypto/crypto.hpp"
#include "irp/crypto/tls.hpp"
#include "irp/platform/files.hpp"
#include "irp/rp/account.hpp"
#include "listener.hpp"
#include "tls_connection.hpp"

using namespace irp;

namespace {

constexpr int kIoTimeoutMs = 5000;
constexpr unsigned kMaxConnections = 16;

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch())
        .count();
}

Result<std::vector<Bytes>> read_certs(const std::string& path) {
    auto pem = platform::read_file(path);
    if (!pem) return pem.error();
    auto certs = crypto::pem_blocks(*pem, "CERTIFICATE");
    if (certs && certs->empty()) return make_error(Code::bad_argument, path + ": no certificate");
    return certs;
}

int usage_error(const std::string& what, const Error& e) {
    std::fprintf(stderr, "irp-video-server: %s: %s\n", what.c_str(), e.message.c_str());
    return 2;
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"irp-video-server: lets devices in by their IRP client certificate"};
    std::string root_file, cert_file, key_file, listen = "127.0.0.1:0", account_url;
    video::GateOptions gate_options;
    app.add_option("--root", root_file, "trusted root CA certificate(s), PEM")->required();
    app.add_option("--cert", cert_file, "this server's TLS certificate chain, PEM (ECDSA)")->required();
    app.add_option("--key", key_file, "this server's TLS key, PKCS#8 PEM")->required();
    app.add_option("--listen", listen, "HOST:PORT (port 0: any free port)");
    app.add_option("--crl", gate_options.crl_files, "a CRL file (DER or PEM), re-read when it changes");
    app.add_flag("--require-crl", gate_options.require_crl, "refuse devices whose CA's CRL is missing or stale");
    app.add_option("--account", gate_options.account, "the account a device must be in (needs --account-url)");
    app.add_option("--account-url", account_url, "the domain's HTTP base, for GET /account/<serial>");
    app.add_option("--action", gate_options.action, "what a device asks to do (checked against the account's policy)");
    app.add_option("--target", gate_options.target, "on what");
    CLI11_PARSE(app, argc, argv);
    if (!gate_options.account.empty() && account_url.empty())
        return usage_error("--account", make_error(Code::bad_argument, "needs --account-url"));

    auto roots = read_certs(root_file);
    if (!roots) return usage_error(root_file, roots.error());
    auto chain = read_certs(cert_file);
    if (!chain) return usage_error(cert_file, chain.error());
    auto key_pem = platform::read_file(key_file);
    if (!key_pem) return usage_error(key_file, key_pem.error());
    auto key = crypto::PrivateKey::from_pem(*key_pem);
    if (!key) return usage_error(key_file, key.error());

    gate_options.roots = *roots;
    auto statements = [account_url](const std::string& serial_hex) {
        return video::http_get(account_url, "/account/" + serial_hex, rp::kMaxAccountStatementBytes);
    };
    auto gate = video::Gate::create(std::move(gate_options), statements);
    if (!gate) return usage_error("trusted roots", gate.error());

    crypto::TlsServerConfig tls;
    tls.chain = std::move(*chain);
    tls.key = std::make_shared<const crypto::PrivateKey>(std::move(*key));
    tls.client_roots = std::move(*roots);
    const auto tls_context = crypto::make_tls_server_context(tls);

    auto listener = video::listen_on(listen);
    if (!listener) return usage_error("--listen", listener.error());
    std::printf("listening on %s:%u\n", listen.substr(0, listen.rfind(':')).c_str(),
                static_cast<unsigned>(listener->port));
    std::fflush(stdout);

    // A thread per connection, at most kMaxConnections at once: a slow or
    // silent client holds its own thread until the I/O deadline, never the
    // others. The gate decides one connection at a time (its CRL state is
    // not thread-safe); the TLS handshakes run in parallel.
    std::mutex mu;
    std::condition_variable slot_free;
    unsigned busy = 0;
    std::mutex gate_mu;
    for (;;) {
        {
            std::unique_lock lock(mu);
            slot_free.wait(lock, [&] { return busy < kMaxConnections; });
            ++busy;
        }
        auto accepted = video::accept_one(*listener, kIoTimeoutMs);
        if (!accepted) {
            std::fprintf(stderr, "%s\n", accepted.error().message.c_str());
            std::lock_guard lock(mu);
            --busy;
            continue;
        }
        std::thread([&, a = std::move(*accepted)] {
            video::TlsConnection conn(a.fd, tls_context);
            std::string line;
            if (auto hs = conn.handshake(); !hs) {
                line = std::string("REFUSED tls: ") + code_name(hs.error().code) + ": " + hs.error().message;
            } else {
                video::Verdict verdict;
                {
                    std::lock_guard lock(gate_mu);
                    verdict = gate->decide(conn.peer_certificates(), unix_now());
                }
                (void)conn.send(verdict.line + "\n");
                conn.close();
                line = verdict.line;
            }
            {
                std::lock_guard lock(gate_mu);  // one log line at a time
                std::printf("%s %s\n", a.peer.c_str(), line.c_str());
                std::fflush(stdout);
            }
            std::lock_guard lock(mu);
            --busy;
            slot_free.notify_one();
        }).detach();
    }
}
