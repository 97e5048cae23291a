// What the idwallet subcommands share: exit codes, error lines, the
// connection to the server and the enrollment options (enroll and run take
// the same ones). Implemented in cli.cpp; the daemon loop is in run.cpp.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "idwallet.hpp"
#include "schedule.hpp"
#include "tls_transport.hpp"

namespace irp::cli {

// README.md, "idwallet exit codes".
enum Exit : int {
    kOk = 0,
    kInternal = 1,
    kUsage = 2,
    kNetwork = 3,         // cannot connect, TLS failure, timeout
    kAuthRejected = 4,    // server said 2xx
    kPolicyRejected = 5,  // server said 3xx
    kInvalid = 6,         // what the server sent failed validation
    kStorage = 7,         // cannot read or write the store
    kProtocol = 8,        // protocol error (1xx)
    kRetryLater = 9,      // pending, or the server is temporarily unavailable
    kRedirect = 10,       // the server sent us elsewhere
    kReset = 11,          // released or revoked: key and certificate wiped (factory reset)
};

int exit_for(Code c);
// "idwallet: WHAT: message (code name)" on stderr; returns exit_for(code).
int say_error(const std::string& what, const Error& e);
std::string utc(std::int64_t t);  // 2026-11-22 05:02:41Z
wallet::Clock system_clock();

struct Connection {
    std::string server;
    std::string server_name;
    std::vector<Bytes> roots;
};
Result<std::unique_ptr<wallet::TlsTransport>> connect(const Connection& c, std::chrono::milliseconds timeout);
Result<std::vector<Bytes>> read_roots(const std::string& path);
// The store remembers where the device enrolled (DIR/trust.pem, DIR/server),
// so `renew` and `check-in` need only --store.
Result<void> save_connection(const std::string& dir, const Connection& c);
Result<Connection> load_connection(const std::string& dir);

// The command line of an enrollment, as given.
struct EnrollArgs {
    std::string trust;
    std::string device_id;
    std::string class_id = "default";
    std::string token_hex;
    std::string token_file;
    std::string bootstrap_key_file;
    std::string idevid_chain_file;
    std::string model;
    std::string key_type = "ecdsa-p256";
};
// --server, --server-name, --trust, --device-id, --class, --token,
// --token-file, --store, --key-type, --bootstrap-key, --idevid-chain, --model.
void add_enroll_options(CLI::App& sub, Connection& conn, EnrollArgs& a, std::string& store);
// Reads the files named and checks the arguments; fills conn.roots.
Result<wallet::EnrollOptions> enroll_options(const EnrollArgs& a, Connection& conn, unsigned timeout_ms);

// `idwallet run`: the daemon (run.cpp).
struct RunArgs {
    Connection conn;
    wallet::EnrollOptions enroll;
    std::string store;
    wallet::ScheduleOptions schedule;
    bool once{};
    std::int64_t max_runtime_s{};  // 0: no limit
    unsigned timeout_ms{30'000};
};
int run_daemon(const RunArgs& a);

}  // namespace irp::cli
