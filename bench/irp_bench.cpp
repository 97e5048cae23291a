// irp-bench: drives N simulated devices with concurrency C against a running
// irp-server over the real client path (wallet::enroll / wallet::renew over
// net::TlsClientConnection, one new TLS connection per exchange), and reports
// throughput, latency, errors and the server's CPU time per operation (from
// /proc/PID/stat). It then measures, in the same process, the crypto floor:
// the cost of the public-key primitives one enrollment needs on the server,
// and prints the ratio of the server's CPU per enrollment to that floor.
// What is and is not in the floor: bench/README.md and the output itself.
#include <CLI/CLI.hpp>

#include <botan/auto_rng.h>
#include <botan/cipher_mode.h>
#include <botan/curve25519.h>
#include <botan/pubkey.h>
#include <botan/version.h>
#include <botan/x509cert.h>

#include <sys/resource.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <mutex>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "idwallet.hpp"
#include "tls_transport.hpp"
#include "irp/core/messages.hpp"
#include "irp/core/transcript.hpp"
#include "irp/crypto/tls.hpp"
#include "irp/net/client.hpp"

using namespace irp;
using Clock = std::chrono::steady_clock;

namespace {

// ---------------------------------------------------------------------------
// options

struct Options {
    std::string server = "127.0.0.1:4604";
    std::string server_name;
    std::string trust;
    std::string class_secret_file;
    std::string class_name = "default";
    std::size_t devices = 1000;
    unsigned concurrency = 2;
    bool renew = false;
    long server_pid = 0;
    long db_pid = 0;  // a database server's main process (PostgreSQL postmaster)
    double rate = 0;  // ops/s across all threads; 0 = closed loop (as fast as possible)
    std::string id_prefix;
    bool json = false;
    unsigned timeout_ms = 30'000;
    unsigned floor_iterations = 2000;
    bool no_floor = false;
    std::string key_type = "ecdsa-p256";
};

// ---------------------------------------------------------------------------
// small helpers

double thread_cpu_s() {
    timespec ts{};
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double self_cpu_s() {
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    auto tv = [](const timeval& t) { return static_cast<double>(t.tv_sec) + static_cast<double>(t.tv_usec) * 1e-6; };
    return tv(ru.ru_utime) + tv(ru.ru_stime);
}

std::string read_text(const std::string& path) {
    std::ifstream f(path);
    std::stringstream ss;
    ss << f.rdbuf();
    return ss.str();
}

// utime + stime of a process (all its threads), context switches and I/O
// syscalls, from /proc. Fields of /proc/PID/stat counted after the ")" that
// ends the command name, which may itself hold spaces and parentheses.
struct ProcSample {
    bool ok = false;
    double user_s = 0, sys_s = 0;
    long long voluntary_cs = 0, involuntary_cs = 0;
    long long syscr = 0, syscw = 0;
};

ProcSample read_proc(long pid) {
    ProcSample s;
    if (pid <= 0) return s;
    const std::string stat = read_text("/proc/" + std::to_string(pid) + "/stat");
    const auto close = stat.rfind(')');
    if (close == std::string::npos) return s;
    std::istringstream in(stat.substr(close + 1));
    std::vector<std::string> f;
    for (std::string tok; in >> tok;) f.push_back(tok);
    // f[0] is field 3 (state); utime is field 14, stime field 15.
    if (f.size() < 13) return s;
    const double tck = static_cast<double>(sysconf(_SC_CLK_TCK));
    s.user_s = static_cast<double>(std::stoll(f[11])) / tck;
    s.sys_s = static_cast<double>(std::stoll(f[12])) / tck;
    s.ok = true;
    // Context switches are counted per thread (/proc/PID/status has the
    // main thread's only): sum the live threads.
    std::error_code ec;
    for (const auto& t : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/task", ec)) {
        std::istringstream status(read_text(t.path().string() + "/status"));
        for (std::string line; std::getline(status, line);) {
            if (line.rfind("voluntary_ctxt_switches:", 0) == 0) s.voluntary_cs += std::stoll(line.substr(24));
            if (line.rfind("nonvoluntary_ctxt_switches:", 0) == 0) s.involuntary_cs += std::stoll(line.substr(27));
        }
    }
    std::istringstream io(read_text("/proc/" + std::to_string(pid) + "/io"));
    for (std::string line; std::getline(io, line);) {
        if (line.rfind("syscr:", 0) == 0) s.syscr = std::stoll(line.substr(6));
        if (line.rfind("syscw:", 0) == 0) s.syscw = std::stoll(line.substr(6));
    }
    return s;
}

// CPU seconds of a process tree: the process (utime + stime, plus cutime +
// cstime of children it has reaped) and its live children. PostgreSQL runs a
// process per connection under the postmaster; a backend that exits between
// two samples moves from "live child" to the postmaster's cutime.
double tree_cpu_s(long pid) {
    if (pid <= 0) return -1;
    const double tck = static_cast<double>(sysconf(_SC_CLK_TCK));
    auto fields = [](const std::string& stat) {
        std::vector<std::string> f;
        const auto close = stat.rfind(')');
        if (close == std::string::npos) return f;
        std::istringstream in(stat.substr(close + 1));
        for (std::string tok; in >> tok;) f.push_back(tok);
        return f;  // f[0] = field 3 (state), f[1] = ppid, f[11..14] = utime stime cutime cstime
    };
    auto cpu = [&](const std::vector<std::string>& f) {
        return static_cast<double>(std::stoll(f[11]) + std::stoll(f[12]) + std::stoll(f[13]) + std::stoll(f[14])) / tck;
    };
    const auto root = fields(read_text("/proc/" + std::to_string(pid) + "/stat"));
    if (root.size() < 15) return -1;
    double total = cpu(root);
    std::error_code ec;  // processes come and go while we look
    for (auto it = std::filesystem::directory_iterator("/proc", ec); !ec && it != std::filesystem::directory_iterator();
         it.increment(ec)) {
        const std::string name = it->path().filename().string();
        if (name.find_first_not_of("0123456789") != std::string::npos) continue;
        const auto f = fields(read_text(it->path().string() + "/stat"));
        if (f.size() >= 15 && std::stol(f[1]) == pid) total += cpu(f);
    }
    return total;
}

// The whole machine, from the first line of /proc/stat: busy and total
// CPU seconds over all CPUs (so "other processes" can be told apart from
// the server, the database and the bench).
struct MachineSample {
    double busy_s = -1, total_s = -1;
};

MachineSample read_machine() {
    MachineSample m;
    std::istringstream in(read_text("/proc/stat"));
    std::string cpu;
    long long user = 0, nice = 0, system = 0, idle = 0, iowait = 0, irq = 0, softirq = 0, steal = 0;
    if (!(in >> cpu >> user >> nice >> system >> idle >> iowait >> irq >> softirq >> steal) || cpu != "cpu") return m;
    const double tck = static_cast<double>(sysconf(_SC_CLK_TCK));
    m.busy_s = static_cast<double>(user + nice + system + irq + softirq + steal) / tck;
    m.total_s = m.busy_s + static_cast<double>(idle + iowait) / tck;
    return m;
}

double percentile(const std::vector<double>& sorted, double p) {
    if (sorted.empty()) return 0;
    const auto rank = static_cast<std::size_t>(std::ceil(p * static_cast<double>(sorted.size())));
    return sorted[std::min(sorted.size() - 1, rank == 0 ? 0 : rank - 1)];
}

std::string json_escape(const std::string& s) {
    std::string out;
    for (char c : s) {
        if (c == '"' || c == '\\') out += '\\';
        if (static_cast<unsigned char>(c) < 0x20) { out += ' '; continue; }
        out += c;
    }
    return out;
}

// ---------------------------------------------------------------------------
// the device side: in-memory storage, a TLS transport, the devices

// No disk I/O on the bench side: wallet::open_memory_storage().

struct Device {
    std::string id;
    Bytes token;
    std::unique_ptr<wallet::Storage> storage = wallet::open_memory_storage();
    bool enrolled = false;
};

wallet::Clock wallet_clock() {
    return wallet::Clock{
        [] { return std::chrono::duration_cast<Time>(Clock::now().time_since_epoch()); },
        [] {
            return static_cast<std::int64_t>(
                std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
        }};
}

// ---------------------------------------------------------------------------
// one load phase

struct Phase {
    std::string name;  // "enroll" or "renew"
    std::size_t attempted = 0;
    std::size_t ok = 0;
    std::size_t unconfirmed = 0;  // installed, but the install ack said "not recorded"
    std::map<std::string, std::size_t> errors;
    std::map<std::string, std::string> first_error_text;
    std::vector<double> latency_ms;  // from the intended start (== actual start in closed loop)
    std::vector<double> service_ms;  // from the actual start
    double wall_s = 0;
    double bench_cpu_s = 0;
    ProcSample before, after;
    double db_before = -1, db_after = -1;  // --db-pid tree CPU seconds
    MachineSample machine_before, machine_after;
    double late_starts = 0;  // open loop: ops that started > 1 ms after their slot
};

struct Target {
    std::string host;
    std::uint16_t port = 0;
    crypto::TlsClientConfig tls;
    std::vector<Bytes> roots;
};

Phase run_phase(const std::string& name, std::vector<Device*>& devs, const Options& o, const Target& target,
                const std::string& class_name) {
    Phase ph;
    ph.name = name;
    ph.attempted = devs.size();
    std::mutex mu;
    std::atomic<std::size_t> next{0};
    const auto clock = wallet_clock();
    const std::chrono::milliseconds timeout(o.timeout_ms);
    const bool paced = o.rate > 0;
    const auto interval = std::chrono::duration<double>(paced ? 1.0 / o.rate : 0.0);

    ph.before = read_proc(o.server_pid);
    ph.db_before = tree_cpu_s(o.db_pid);
    ph.machine_before = read_machine();
    const double cpu0 = self_cpu_s();
    const auto t0 = Clock::now();

    auto worker = [&] {
        auto rng = crypto::system_random();
        std::vector<double> lat, svc;
        std::map<std::string, std::size_t> errs;
        std::map<std::string, std::string> first;
        std::size_t ok = 0, unconfirmed = 0, late = 0;
        auto fail = [&](const std::string& key, const std::string& text) {
            if (errs[key]++ == 0) first[key] = text;
        };
        for (;;) {
            const std::size_t k = next.fetch_add(1);
            if (k >= devs.size()) break;
            Device& d = *devs[k];
            auto intended = Clock::now();
            if (paced) {
                intended = t0 + std::chrono::duration_cast<Clock::duration>(interval * static_cast<double>(k));
                std::this_thread::sleep_until(intended);
            }
            const auto start = Clock::now();
            if (paced && start - intended > std::chrono::milliseconds(1)) ++late;

            Result<wallet::Outcome> r = make_error(Code::internal, "not run");
            {
                auto conn = net::TlsClientConnection::connect(target.host, target.port, target.tls, timeout);
                if (!conn) {
                    r = conn.error();
                } else {
                    wallet::TlsTransport t(std::move(conn.value()));
                    if (name == "enroll") {
                        wallet::EnrollOptions eo;
                        eo.device_id = d.id;
                        eo.class_id = class_name;
                        eo.token = d.token;
                        eo.key_algorithm = *crypto::parse_key_algorithm(o.key_type);
                        eo.trusted_roots = target.roots;
                        eo.limits.exchange_timeout = Time{o.timeout_ms};
                        r = wallet::enroll(t, *d.storage, eo, *rng, clock);
                    } else {
                        wallet::RenewOptions ro;
                        ro.trusted_roots = target.roots;
                        ro.limits.exchange_timeout = Time{o.timeout_ms};
                        r = wallet::renew(t, *d.storage, ro, *rng, clock);
                    }
                }
            }  // the connection is closed (close_notify) before the clock stops
            const auto end = Clock::now();
            lat.push_back(std::chrono::duration<double, std::milli>(end - intended).count());
            svc.push_back(std::chrono::duration<double, std::milli>(end - start).count());
            if (!r) {
                fail(code_name(r.error().code), r.error().message);
                continue;
            }
            switch (r->kind) {
                case wallet::Outcome::Kind::installed:
                    ++ok;
                    if (!r->install_confirmed) ++unconfirmed;
                    d.enrolled = true;
                    break;
                case wallet::Outcome::Kind::rejected:
                    fail(code_name(r->rejection.code), r->rejection.message);
                    break;
                case wallet::Outcome::Kind::invalid:
                    fail(std::string("install_") + install_status_name(r->invalid->status), r->invalid->message);
                    break;
                case wallet::Outcome::Kind::pending: fail("pending", "the server answered Pending"); break;
                case wallet::Outcome::Kind::checked_in: fail("checked_in", "a CheckedIn answer to an enrollment"); break;
                case wallet::Outcome::Kind::redirect: fail("redirect", "the server answered Redirect"); break;
            }
        }
        std::lock_guard lock(mu);
        ph.latency_ms.insert(ph.latency_ms.end(), lat.begin(), lat.end());
        ph.service_ms.insert(ph.service_ms.end(), svc.begin(), svc.end());
        for (const auto& [k, v] : errs) ph.errors[k] += v;
        for (const auto& [k, v] : first) ph.first_error_text.emplace(k, v);
        ph.ok += ok;
        ph.unconfirmed += unconfirmed;
        ph.late_starts += static_cast<double>(late);
    };

    std::vector<std::thread> threads;
    for (unsigned i = 0; i < o.concurrency; ++i) threads.emplace_back(worker);
    for (auto& t : threads) t.join();

    ph.wall_s = std::chrono::duration<double>(Clock::now() - t0).count();
    ph.bench_cpu_s = self_cpu_s() - cpu0;
    ph.after = read_proc(o.server_pid);
    ph.db_after = tree_cpu_s(o.db_pid);
    ph.machine_after = read_machine();
    std::sort(ph.latency_ms.begin(), ph.latency_ms.end());
    std::sort(ph.service_ms.begin(), ph.service_ms.end());
    return ph;
}

// ---------------------------------------------------------------------------
// the crypto floor, and an informational decomposition

struct Timing {
    double cpu_ms = 0;   // per iteration, this thread's CPU time
    double wall_ms = 0;  // per iteration
};

template <typename F>
Timing time_it(unsigned iterations, F&& f) {
    for (unsigned i = 0; i < std::max(1u, iterations / 20); ++i) f();  // warm caches, lazy tables
    const double c0 = thread_cpu_s();
    const auto w0 = Clock::now();
    for (unsigned i = 0; i < iterations; ++i) f();
    const double c1 = thread_cpu_s();
    const auto w1 = Clock::now();
    return Timing{(c1 - c0) * 1e3 / iterations, std::chrono::duration<double, std::milli>(w1 - w0).count() / iterations};
}

struct Floor {
    bool measured = false;
    unsigned iterations = 0;
    Timing x25519, tls_sign, csr_verify, cert_sign;
    double total_ms() const { return x25519.cpu_ms + tls_sign.cpu_ms + csr_verify.cpu_ms + cert_sign.cpu_ms; }
    // Renewal: the same, plus the renewal signature and the presented
    // certificate's signature (signed_by), both ECDSA P-256 verifications.
    double renew_total_ms() const { return total_ms() + 2 * csr_verify.cpu_ms; }

    // Informational: the crypto layer as the server actually calls it.
    // irp-server makes its TLS context (which parses its chain) once, at
    // start, and a TlsEndpoint from it per connection; it parses a
    // certificate only for renewals (the presented one).
    Timing tls_endpoint_new, tls_handshake, csr_parse_verify, issue, parse_cert, proofs, aead_4k, tls_context_new;
};

// Keeps results alive so the optimiser cannot drop the work being timed.
std::atomic<std::uint8_t> g_sink{0};
void sink(std::uint8_t v) { g_sink.fetch_xor(v, std::memory_order_relaxed); }

Floor measure_floor(unsigned iterations) {
    Floor fl;
    fl.measured = true;
    fl.iterations = iterations;
    auto rng = crypto::system_random();
    Botan::AutoSeeded_RNG brng;

    // 1. ECDHE over X25519 (Botan directly: our interface has no key
    //    agreement). The server generates an ephemeral key and derives the
    //    shared secret from the client's public value.
    Botan::Curve25519_PrivateKey peer(brng);
    const auto peer_pub = peer.public_value();
    fl.x25519 = time_it(iterations, [&] {
        Botan::Curve25519_PrivateKey k(brng);
        Botan::PK_Key_Agreement ka(k, brng, "Raw");
        const auto secret = ka.derive_key(0, peer_pub);
        sink(static_cast<std::uint8_t>(secret.bits_of()[0]));
    });

    // 2. and 4. ECDSA P-256 signatures through our interface (SHA-256, DER):
    //    the ServerKeyExchange signs ~100 bytes (randoms + ECDH params), the
    //    certificate signature covers a ~550-byte TBSCertificate.
    auto key = crypto::PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *rng);
    const Bytes ske_msg = rng->bytes(32 + 32 + 4 + 32);
    const Bytes tbs_msg = rng->bytes(550);
    fl.tls_sign = time_it(iterations, [&] { sink(static_cast<std::uint8_t>(key->sign(ske_msg, *rng).at(0))); });
    fl.cert_sign = time_it(iterations, [&] { sink(static_cast<std::uint8_t>(key->sign(tbs_msg, *rng).at(0))); });

    // 3. ECDSA P-256 verification (the CSR's self-signature) through our
    //    interface: includes decoding the SubjectPublicKeyInfo.
    auto device_key = crypto::PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *rng);
    const Bytes spki = device_key->public_key_der();
    const Bytes csr_tbs = rng->bytes(300);
    const Bytes sig = device_key->sign(csr_tbs, *rng);
    fl.csr_verify = time_it(iterations, [&] { sink(static_cast<std::uint8_t>(crypto::verify_signature(spki, csr_tbs, sig))); });

    // ---- decomposition: the crypto layer as the server uses it ----
    // The TLS chain irp-server serves (TLS leaf, domain CA; the root is the
    // client's trust anchor and is not sent), all ECDSA P-256.
    const std::int64_t now =
        std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
    auto root_key = crypto::PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *rng);
    auto ca_key = std::make_shared<crypto::PrivateKey>(std::move(crypto::PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *rng).value()));
    auto tls_key = std::make_shared<crypto::PrivateKey>(std::move(crypto::PrivateKey::generate(KeyAlgorithm::ecdsa_p256, *rng).value()));
    crypto::IssueProfile rp;
    rp.serial = crypto::random_serial(*rng);
    rp.common_name = "bench root";
    rp.not_before = now - 3600;
    rp.not_after = now + 86400;
    rp.ca = true;
    const Bytes root = *crypto::issue_certificate(*root_key, {}, root_key->public_key_der(), rp, *rng);
    crypto::IssueProfile cp = rp;
    cp.serial = crypto::random_serial(*rng);
    cp.common_name = "bench domain CA";
    cp.path_len = 0;
    const Bytes ca = *crypto::issue_certificate(*root_key, root, ca_key->public_key_der(), cp, *rng);
    crypto::IssueProfile tp;
    tp.serial = crypto::random_serial(*rng);
    tp.common_name = "bench.invalid";
    tp.san_dns = {"bench.invalid"};
    tp.not_before = now - 3600;
    tp.not_after = now + 86400;
    tp.eku_server_auth = true;
    const Bytes tls_cert = *crypto::issue_certificate(*ca_key, ca, tls_key->public_key_der(), tp, *rng);

    crypto::TlsServerConfig scfg{{tls_cert, ca}, tls_key};
    crypto::TlsClientConfig ccfg{{root}, "bench.invalid"};
    const unsigned hs_iter = std::max(50u, iterations / 8);  // the client side (untimed) verifies a chain each time
    fl.tls_context_new = time_it(iterations, [&] { sink(static_cast<std::uint8_t>(crypto::make_tls_server_context(scfg) != nullptr)); });
    const auto sctx = crypto::make_tls_server_context(scfg);  // as irp-server: once
    fl.tls_endpoint_new = time_it(iterations, [&] { sink(static_cast<std::uint8_t>(crypto::TlsEndpoint::server(sctx) != nullptr)); });
    {
        double server_cpu = 0;
        auto one = [&](bool count) {
            double c0 = thread_cpu_s();
            auto s = crypto::TlsEndpoint::server(sctx);
            double spent = thread_cpu_s() - c0;
            auto c = crypto::TlsEndpoint::client(ccfg);
            for (int round = 0; round < 10 && !(s->handshake_complete() && c->handshake_complete()); ++round) {
                const Bytes to_s = c->take_ciphertext();
                c0 = thread_cpu_s();
                if (!to_s.empty()) (void)s->receive_ciphertext(to_s);
                const Bytes to_c = s->take_ciphertext();
                spent += thread_cpu_s() - c0;
                if (!to_c.empty()) (void)c->receive_ciphertext(to_c);
            }
            // The session asks for the exporter once per connection.
            c0 = thread_cpu_s();
            sink(static_cast<std::uint8_t>(s->channel_binding().at(0)));
            spent += thread_cpu_s() - c0;
            if (count) server_cpu += spent;
        };
        for (unsigned i = 0; i < 5; ++i) one(false);
        const auto w0 = Clock::now();
        for (unsigned i = 0; i < hs_iter; ++i) one(true);
        fl.tls_handshake = Timing{server_cpu * 1e3 / hs_iter,
                                  std::chrono::duration<double, std::milli>(Clock::now() - w0).count() / hs_iter};
    }

    // The CSR a device sends and the certificate the server issues for it,
    // with Authority::issue_device's profile.
    const Bytes csr = *crypto::create_csr(*device_key, "bench-device-000001", std::string(64, 'a'), *rng);
    fl.csr_parse_verify = time_it(iterations, [&] { sink(static_cast<std::uint8_t>(crypto::parse_and_verify_csr(csr).ok())); });
    crypto::IssueProfile dp;
    dp.common_name = "bench-device-000001";
    dp.serial_number = "bench-device-000001";
    dp.san_uris = {"urn:irp:bench.invalid:bench-device-000001"};
    dp.not_before = now - 300;
    dp.not_after = now + 365 * 86400;
    dp.eku_client_auth = true;
    dp.crl_urls = {"http://127.0.0.1:4680/crl/0123456789abcdef0123456789abcdef01234567.crl"};
    dp.ocsp_urls = {"http://127.0.0.1:4680/ocsp"};
    Bytes issued;
    fl.issue = time_it(iterations, [&] {
        dp.serial = crypto::random_serial(*rng, 127);
        issued = *crypto::issue_certificate(*ca_key, ca, spki, dp, *rng);
    });
    fl.parse_cert = time_it(iterations, [&] { sink(static_cast<std::uint8_t>(crypto::parse_certificate(issued).ok())); });
    const Bytes secret = rng->bytes(32);
    const Bytes binding = rng->bytes(32), cn = rng->bytes(32), sn = rng->bytes(32);
    fl.proofs = time_it(iterations, [&] {
        TranscriptInput in;
        in.client_nonce = cn;
        in.server_nonce = sn;
        in.channel_binding = binding;
        in.domain = "bench.invalid";
        in.device_id = "bench-device-000001";
        in.class_id = "default";
        const auto th = transcript_hash(in);
        const auto token = derive_device_token(secret, "default", "bench-device-000001");
        const auto proof = token_proof(token, th, csr);
        sink(static_cast<std::uint8_t>(proof[0] ^ crypto::sha256(issued)[0]));  // + the public-key hash the store records
    });
    {
        auto enc = Botan::Cipher_Mode::create_or_throw("ChaCha20Poly1305", Botan::ENCRYPTION);
        const auto k = brng.random_vec(32);
        enc->set_key(k);
        const auto nonce = brng.random_vec(12);
        Botan::secure_vector<std::uint8_t> buf(4096);
        fl.aead_4k = time_it(iterations, [&] {
            buf.resize(4096);
            enc->start(nonce);
            enc->finish(buf);
            sink(static_cast<std::uint8_t>(buf[0]));
        });
    }
    return fl;
}

// ---------------------------------------------------------------------------
// output

struct PhaseNumbers {
    double ops_per_s = 0, p50 = 0, p90 = 0, p99 = 0, max = 0, svc_p50 = 0, svc_p99 = 0;
    std::size_t errors = 0;
    bool cpu = false;
    double server_cpu_ms = 0, server_user_ms = 0, server_sys_ms = 0, bench_cpu_ms = 0;
    double cs_per_op = 0, syscalls_per_op = 0;
    bool db = false;
    double db_cpu_ms = 0;
    // The machine during the phase, in cores (CPU seconds / wall seconds).
    double machine_busy_cores = -1, machine_cores = 0, other_cores = 0;
};

PhaseNumbers numbers(const Phase& p) {
    PhaseNumbers n;
    for (const auto& [k, v] : p.errors) n.errors += v;
    n.ops_per_s = p.wall_s > 0 ? static_cast<double>(p.ok) / p.wall_s : 0;
    n.p50 = percentile(p.latency_ms, 0.50);
    n.p90 = percentile(p.latency_ms, 0.90);
    n.p99 = percentile(p.latency_ms, 0.99);
    n.max = p.latency_ms.empty() ? 0 : p.latency_ms.back();
    n.svc_p50 = percentile(p.service_ms, 0.50);
    n.svc_p99 = percentile(p.service_ms, 0.99);
    const double ops = static_cast<double>(std::max<std::size_t>(1, p.attempted));
    n.bench_cpu_ms = p.bench_cpu_s * 1e3 / ops;
    if (p.before.ok && p.after.ok) {
        n.cpu = true;
        n.server_user_ms = (p.after.user_s - p.before.user_s) * 1e3 / ops;
        n.server_sys_ms = (p.after.sys_s - p.before.sys_s) * 1e3 / ops;
        n.server_cpu_ms = n.server_user_ms + n.server_sys_ms;
        n.cs_per_op = static_cast<double>((p.after.voluntary_cs - p.before.voluntary_cs) +
                                          (p.after.involuntary_cs - p.before.involuntary_cs)) / ops;
        n.syscalls_per_op = static_cast<double>((p.after.syscr - p.before.syscr) + (p.after.syscw - p.before.syscw)) / ops;
    }
    if (p.db_before >= 0 && p.db_after >= 0) {
        n.db = true;
        n.db_cpu_ms = (p.db_after - p.db_before) * 1e3 / ops;
    }
    if (p.machine_before.busy_s >= 0 && p.machine_after.busy_s >= 0 && p.wall_s > 0) {
        const double busy = p.machine_after.busy_s - p.machine_before.busy_s;
        n.machine_busy_cores = busy / p.wall_s;
        n.machine_cores = (p.machine_after.total_s - p.machine_before.total_s) / p.wall_s;
        const double ours = (n.server_cpu_ms + n.db_cpu_ms + n.bench_cpu_ms) * ops / 1e3;
        n.other_cores = (busy - ours) / p.wall_s;
    }
    return n;
}

void print_text(const Options& o, const std::vector<Phase>& phases, const Floor& fl) {
    std::printf("irp-bench: server %s, %zu devices, concurrency %u, %s\n", o.server.c_str(), o.devices, o.concurrency,
                o.rate > 0 ? ("open loop at " + std::to_string(o.rate) + " ops/s").c_str() : "closed loop (max throughput)");
    for (const auto& p : phases) {
        const auto n = numbers(p);
        std::printf("\n[%s]\n", p.name.c_str());
        std::printf("  ops          %zu attempted, %zu ok, %zu errors", p.attempted, p.ok, n.errors);
        if (p.unconfirmed) std::printf(" (%zu installed without a recorded-install ack)", p.unconfirmed);
        std::printf("\n");
        for (const auto& [k, v] : p.errors)
            std::printf("    %-28s %zu  e.g. \"%s\"\n", k.c_str(), v, p.first_error_text.at(k).c_str());
        std::printf("  throughput   %.1f ops/s (%.2f s wall)\n", n.ops_per_s, p.wall_s);
        std::printf("  latency ms   p50 %.2f  p90 %.2f  p99 %.2f  max %.2f%s\n", n.p50, n.p90, n.p99, n.max,
                    o.rate > 0 ? "  (from each op's scheduled start)" : "");
        if (o.rate > 0)
            std::printf("  service ms   p50 %.2f  p99 %.2f (from the actual start); %.0f ops started > 1 ms late\n", n.svc_p50,
                        n.svc_p99, p.late_starts);
        if (n.cpu)
            std::printf("  server CPU   %.3f ms/op (user %.3f + sys %.3f); %.1f context switches/op, %.1f read+write syscalls/op\n",
                        n.server_cpu_ms, n.server_user_ms, n.server_sys_ms, n.cs_per_op, n.syscalls_per_op);
        else
            std::printf("  server CPU   not measured (no --server-pid, or /proc unreadable)\n");
        if (n.db)
            std::printf("  database CPU %.3f ms/op (--db-pid process tree); server + database %.3f ms/op\n", n.db_cpu_ms,
                        n.server_cpu_ms + n.db_cpu_ms);
        std::printf("  bench CPU    %.3f ms/op (the simulated devices, same machine)\n", n.bench_cpu_ms);
        if (n.machine_busy_cores >= 0)
            std::printf("  machine      %.2f of %.0f cores busy; everything else (other processes, kernel threads) %.2f cores%s\n",
                        n.machine_busy_cores, n.machine_cores, n.other_cores,
                        n.cpu ? "" : " (server not measured: counted as other)");
    }
    if (!fl.measured) return;
    std::printf("\n[crypto floor] server-side public-key operations per enrollment; Botan %s, this process,\n"
                "  %u iterations each, thread CPU time (wall in brackets)\n",
                Botan::short_version_string().c_str(), fl.iterations);
    auto line = [](const char* what, const Timing& t) { std::printf("  %-52s %7.3f ms  [%.3f]\n", what, t.cpu_ms, t.wall_ms); };
    line("X25519 keygen + agree (TLS ECDHE)", fl.x25519);
    line("ECDSA P-256 sign (TLS ServerKeyExchange)", fl.tls_sign);
    line("ECDSA P-256 verify (CSR self-signature, incl. SPKI decode)", fl.csr_verify);
    line("ECDSA P-256 sign (the certificate)", fl.cert_sign);
    std::printf("  %-52s %7.3f ms\n", "FLOOR (sum)", fl.total_ms());
    std::printf("  not in the floor: TLS PRF / extended master secret and key expansion, handshake hashing (SHA-256),\n"
                "  record AEAD (ChaCha20-Poly1305), HMAC token proof, ASN.1 / X.509 encoding and parsing, RNG seeding,\n"
                "  protobuf, sockets, SQLite; all measured below for reference.\n");
    for (const auto& p : phases) {
        const auto n = numbers(p);
        if (!n.cpu) continue;
        const double floor_ms = p.name == "enroll" ? fl.total_ms() : fl.renew_total_ms();
        const double ratio = n.server_cpu_ms / floor_ms;
        if (p.name == "enroll") {
            std::printf("  server CPU per enrollment / floor = %.3f / %.3f = %.2fx  (target <= 1.25x: %s)\n", n.server_cpu_ms,
                        floor_ms, ratio, ratio <= 1.25 ? "met" : "MISSED");
            if (n.db)
                std::printf("  (server + database CPU) per enrollment / floor = %.3f / %.3f = %.2fx\n",
                            n.server_cpu_ms + n.db_cpu_ms, floor_ms, (n.server_cpu_ms + n.db_cpu_ms) / floor_ms);
        }
        else
            std::printf("  server CPU per renewal / renewal floor (floor + 2 verifications: renewal signature,\n"
                        "  certificate signature) = %.3f / %.3f = %.2fx\n",
                        n.server_cpu_ms, floor_ms, ratio);
    }
    std::printf("\n[decomposition] the crypto layer as the server calls it (informational; thread CPU ms)\n");
    line("TLS server handshake, in memory (2-cert chain, exporter)", fl.tls_handshake);
    line("  of which: TlsEndpoint::server(context), per connection", fl.tls_endpoint_new);
    line("parse_and_verify_csr", fl.csr_parse_verify);
    line("issue_certificate (device profile, random serial)", fl.issue);
    line("transcript hash, token derivation + proof, key hash", fl.proofs);
    line("ChaCha20-Poly1305 over 4 KiB (records, both ways)", fl.aead_4k);
    const double layer =
        fl.tls_handshake.cpu_ms + fl.csr_parse_verify.cpu_ms + fl.issue.cpu_ms + fl.proofs.cpu_ms + fl.aead_4k.cpu_ms;
    std::printf("  %-52s %7.3f ms  (%.2fx the floor)\n", "crypto layer per enrollment (sum)", layer, layer / fl.total_ms());
    for (const auto& p : phases) {
        const auto n = numbers(p);
        if (p.name != "enroll" || !n.cpu) continue;
        std::printf("  %-52s %7.3f ms  (%.2fx the floor)\n", "server CPU per enrollment minus that", n.server_cpu_ms - layer,
                    (n.server_cpu_ms - layer) / fl.total_ms());
        std::printf("    %-50s %7.3f ms  (sockets, epoll, futex wake-ups, fsync)\n", "of which in the kernel (sys)",
                    n.server_sys_ms);
        std::printf("    %-50s %7.3f ms  (Asio, SQLite, malloc, protobuf, logging; cache misses)\n", "of which in user space",
                    n.server_cpu_ms - layer - n.server_sys_ms);
    }
    std::printf("  not per enrollment: make_tls_server_context (parses the chain; once, at start) %.3f ms;\n"
                "  parse_certificate (renewals only: the presented certificate) %.3f ms\n",
                fl.tls_context_new.cpu_ms, fl.parse_cert.cpu_ms);
}

void print_json(const Options& o, const std::vector<Phase>& phases, const Floor& fl) {
    std::printf("{\n");
    std::printf("  \"server\": \"%s\",\n  \"devices\": %zu,\n  \"concurrency\": %u,\n  \"rate\": %.3f,\n",
                json_escape(o.server).c_str(), o.devices, o.concurrency, o.rate);
    for (const auto& p : phases) {
        const auto n = numbers(p);
        std::printf("  \"%s\": {\n", p.name.c_str());
        std::printf("    \"attempted\": %zu,\n    \"ok\": %zu,\n    \"errors\": %zu,\n    \"unconfirmed\": %zu,\n", p.attempted,
                    p.ok, n.errors, p.unconfirmed);
        std::printf("    \"errors_by_code\": {");
        bool first = true;
        for (const auto& [k, v] : p.errors) {
            std::printf("%s\"%s\": %zu", first ? "" : ", ", json_escape(k).c_str(), v);
            first = false;
        }
        std::printf("},\n");
        std::printf("    \"wall_s\": %.4f,\n    \"ops_per_s\": %.3f,\n", p.wall_s, n.ops_per_s);
        std::printf("    \"p50_ms\": %.3f,\n    \"p90_ms\": %.3f,\n    \"p99_ms\": %.3f,\n    \"max_ms\": %.3f,\n", n.p50, n.p90,
                    n.p99, n.max);
        std::printf("    \"service_p50_ms\": %.3f,\n    \"service_p99_ms\": %.3f,\n    \"late_starts\": %.0f,\n", n.svc_p50,
                    n.svc_p99, p.late_starts);
        if (n.cpu)
            std::printf("    \"server_cpu_ms_per_op\": %.4f,\n    \"server_user_ms_per_op\": %.4f,\n"
                        "    \"server_sys_ms_per_op\": %.4f,\n    \"server_cs_per_op\": %.2f,\n"
                        "    \"server_syscalls_per_op\": %.2f,\n",
                        n.server_cpu_ms, n.server_user_ms, n.server_sys_ms, n.cs_per_op, n.syscalls_per_op);
        else
            std::printf("    \"server_cpu_ms_per_op\": null,\n");
        if (n.db)
            std::printf("    \"db_cpu_ms_per_op\": %.4f,\n", n.db_cpu_ms);
        if (fl.measured && n.cpu) {
            const double f = p.name == "enroll" ? fl.total_ms() : fl.renew_total_ms();
            std::printf("    \"floor_ms\": %.4f,\n    \"ratio_to_floor\": %.4f,\n", f, n.server_cpu_ms / f);
            if (n.db) std::printf("    \"ratio_with_db_to_floor\": %.4f,\n", (n.server_cpu_ms + n.db_cpu_ms) / f);
        }
        std::printf("    \"machine_busy_cores\": %.3f,\n    \"machine_cores\": %.2f,\n    \"other_cores\": %.3f,\n",
                    n.machine_busy_cores, n.machine_cores, n.other_cores);
        std::printf("    \"bench_cpu_ms_per_op\": %.4f\n  },\n", n.bench_cpu_ms);
    }
    std::printf("  \"floor\": {\n");
    if (fl.measured) {
        std::printf("    \"botan\": \"%s\",\n    \"iterations\": %u,\n", Botan::short_version_string().c_str(), fl.iterations);
        std::printf("    \"x25519_ms\": %.4f,\n    \"tls_sign_ms\": %.4f,\n    \"csr_verify_ms\": %.4f,\n"
                    "    \"cert_sign_ms\": %.4f,\n    \"total_ms\": %.4f,\n    \"renew_total_ms\": %.4f,\n",
                    fl.x25519.cpu_ms, fl.tls_sign.cpu_ms, fl.csr_verify.cpu_ms, fl.cert_sign.cpu_ms, fl.total_ms(),
                    fl.renew_total_ms());
        std::printf("    \"tls_handshake_ms\": %.4f,\n    \"tls_endpoint_new_ms\": %.4f,\n    \"tls_context_new_ms\": %.4f,\n"
                    "    \"csr_parse_verify_ms\": %.4f,\n    \"issue_ms\": %.4f,\n    \"parse_cert_ms\": %.4f,\n"
                    "    \"proofs_ms\": %.4f,\n    \"aead_4k_ms\": %.4f,\n",
                    fl.tls_handshake.cpu_ms, fl.tls_endpoint_new.cpu_ms, fl.tls_context_new.cpu_ms, fl.csr_parse_verify.cpu_ms,
                    fl.issue.cpu_ms, fl.parse_cert.cpu_ms, fl.proofs.cpu_ms, fl.aead_4k.cpu_ms);
        std::printf("    \"measured\": true\n");
    } else {
        std::printf("    \"measured\": false\n");
    }
    std::printf("  }\n}\n");
}

}  // namespace

int main(int argc, char** argv) {
    silence_decoder_logging();
    Options o;
    CLI::App app{"irp-bench: N simulated devices against a running irp-server, and the crypto floor"};
    app.add_option("--server", o.server, "HOST:PORT of the irp-server")->capture_default_str();
    app.add_option("--server-name", o.server_name, "name the server certificate must carry (default: HOST)");
    app.add_option("--trust", o.trust, "PEM file with the domain's root certificate");
    app.add_option("--class-secret-file", o.class_secret_file, "the class secret (hex) to derive device tokens from");
    app.add_option("--class", o.class_name, "device class")->capture_default_str();
    app.add_option("--devices", o.devices, "number of simulated devices")->capture_default_str()->check(CLI::Range(1, 100'000'000));
    app.add_option("--concurrency", o.concurrency, "threads, each driving devices one after another")
        ->capture_default_str()->check(CLI::Range(1, 1024));
    app.add_flag("--renew", o.renew, "after enrolling, renew every enrolled device once (reported separately)");
    app.add_option("--server-pid", o.server_pid, "the server's pid: its CPU time is read from /proc/PID/stat");
    app.add_option("--db-pid", o.db_pid, "a database server's main pid (PostgreSQL postmaster): its process tree's CPU is reported");
    app.add_option("--rate", o.rate, "open loop: start operations at this rate (ops/s, all threads together)")
        ->check(CLI::NonNegativeNumber);
    app.add_option("--id-prefix", o.id_prefix, "device ids are PREFIX-000001...; default: random");
    app.add_flag("--json", o.json, "machine-readable output");
    app.add_option("--timeout-ms", o.timeout_ms, "per exchange")->capture_default_str();
    app.add_option("--floor-iterations", o.floor_iterations, "iterations per crypto-floor primitive")->capture_default_str()
        ->check(CLI::Range(10u, 1'000'000u));
    app.add_flag("--no-floor", o.no_floor, "skip the crypto floor");
    app.add_flag("--floor-only", [&](std::int64_t) { o.devices = 0; }, "only measure the crypto floor");
    app.add_option("--key-type", o.key_type, "device key algorithm")->capture_default_str();
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    auto die = [](const std::string& msg) {
        std::fprintf(stderr, "irp-bench: %s\n", msg.c_str());
        return 2;
    };
    if (!crypto::parse_key_algorithm(o.key_type)) return die("unknown --key-type " + o.key_type);

    std::vector<Phase> phases;
    if (o.devices > 0) {
        if (o.trust.empty() || o.class_secret_file.empty()) return die("--trust and --class-secret-file are required");
        Target target;
        auto hp = net::split_host_port(o.server);
        if (!hp) return die(hp.error().message);
        target.host = hp->first;
        target.port = hp->second;
        const std::string trust_pem = read_text(o.trust);
        auto roots = crypto::pem_blocks(trust_pem, "CERTIFICATE");
        if (!roots || roots->empty()) return die("'" + o.trust + "' holds no certificate");
        target.roots = *roots;
        target.tls.trusted_roots = *roots;
        target.tls.server_name = o.server_name.empty() ? target.host : o.server_name;

        std::string hex = read_text(o.class_secret_file);
        hex.erase(std::remove_if(hex.begin(), hex.end(), [](char c) { return c == '\n' || c == '\r' || c == ' '; }), hex.end());
        Bytes secret;
        if (!from_hex(hex, secret) || secret.size() < 16) return die("'" + o.class_secret_file + "' holds no hex class secret");

        if (o.id_prefix.empty()) {
            auto rng = crypto::system_random();
            o.id_prefix = "b" + to_hex(rng->bytes(4));
        }
        // Tokens are derived up front (the manufacturer's job), not timed.
        std::vector<std::unique_ptr<Device>> devices;
        devices.reserve(o.devices);
        for (std::size_t i = 0; i < o.devices; ++i) {
            auto d = std::make_unique<Device>();
            char num[24];
            std::snprintf(num, sizeof num, "-%07zu", i + 1);
            d->id = o.id_prefix + num;
            if (!is_valid_identifier(d->id)) return die("device id '" + d->id + "' is not valid (shorten --id-prefix)");
            const auto t = derive_device_token(secret, o.class_name, d->id);
            d->token.assign(t.begin(), t.end());
            devices.push_back(std::move(d));
        }
        std::vector<Device*> all;
        for (auto& d : devices) all.push_back(d.get());
        phases.push_back(run_phase("enroll", all, o, target, o.class_name));
        if (o.renew) {
            std::vector<Device*> enrolled;
            for (auto* d : all)
                if (d->enrolled) enrolled.push_back(d);
            phases.push_back(run_phase("renew", enrolled, o, target, o.class_name));
        }
    }
    Floor fl;
    if (!o.no_floor) fl = measure_floor(o.floor_iterations);
    if (o.json)
        print_json(o, phases, fl);
    else
        print_text(o, phases, fl);
    std::size_t errors = 0;
    for (const auto& p : phases)
        for (const auto& [k, v] : p.errors) errors += v;
    return errors == 0 ? 0 : 1;
}
