// What the idwallet subcommands share: exit codes, error lines, the
// connection to the server and the enrollment options (enroll and run take
// the same ones). Implemented in cli.cpp; the daemon loop is in run.cpp.
#pragma once

#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdint>
#include <functional>
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
    kRedirect = 10,       // redirected somewhere the wallet will not go (bad_redirect)
    kReset = 11,          // released or revoked: key and certificate wiped (factory reset)
};

int exit_for(Code c);
// "idwallet: WHAT: message (code name)" on stderr; returns exit_for(code).
int say_error(const std::string& what, const Error& e);
// 2026-11-22 05:02:41Z; `one_word`: 2026-11-22T05:02:41Z (for key=value fields).
std::string utc(std::int64_t t, bool one_word = false);
wallet::Clock system_clock();

struct Connection {
    std::string server;       // host:port; empty with `discover`
    std::string server_name;  // the name the server certificate must carry (default: the host, or `discover`)
    std::vector<Bytes> roots;
    // A domain whose server is found by DNS SRV _irp._tcp.<domain> at each
    // connect (lib/net/srv.cpp), tried in RFC 2782 order.
    std::string discover{};
    // Where the enrollment started (where() of --server or --discover), when
    // a redirect took it elsewhere: `idwallet run` renews at the domain
    // server only while it is still given that same starting point.
    std::string via{};
    // --discover-local: browse _irp._tcp.local (mDNS/DNS-SD, lib/net/mdns*.cpp)
    // at each connect for a server of the domain `server_name`; before the
    // first enrollment without --domain, `server_name` is empty and the one
    // domain that answers is taken. The TLS server name is that domain.
    // `server`, once an enrollment has set it, is the address it used: tried
    // last, when no server of the domain answers.
    bool mdns{};
    std::chrono::milliseconds mdns_timeout{3000};  // how long one browse may take
};
// "host:port", "_irp._tcp.<domain>" for a server found by SRV, or
// "_irp._tcp.local" for one found by mDNS: for messages, and to recognise
// where an enrollment started.
std::string where(const Connection& c);
// Where connect() got to: "host:port", and the domain the server proved.
struct Reached {
    std::string server{};
    std::string domain{};
};
Result<std::unique_ptr<wallet::TlsTransport>> connect(const Connection& c, std::chrono::milliseconds timeout,
                                                      Reached* reached = nullptr);
Result<std::vector<Bytes>> read_roots(const std::string& path);
// The store remembers where the device enrolled (DIR/trust.pem, DIR/server),
// so `renew` and `check-in` need only --store. DIR/server has one field per
// line: server, server name, the domain to find by SRV, where a redirected
// enrollment started, the domain to find by mDNS; a file from an older
// idwallet has fewer lines, and an older idwallet reads the first ones.
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
    // Device keys in a PKCS#11 token (wallet::use_token_keys); all empty:
    // in software, or in the token the store already names.
    std::string pkcs11_module = {};
    std::string pkcs11_token = {};
    std::string pkcs11_pin_file = {};
    // --discover-local: the domain to enroll in (needed when several answer),
    // and how long to browse.
    std::string local_domain = {};
    double discover_timeout_s = 3.0;
};
// --server, --discover, --discover-local, --domain, --discover-timeout,
// --server-name, --trust, --device-id, --class, --token, --token-file,
// --store, --key-type, --bootstrap-key, --idevid-chain, --model,
// --pkcs11-module, --pkcs11-token, --pkcs11-pin-file.
void add_enroll_options(CLI::App& sub, Connection& conn, EnrollArgs& a, std::string& store);
// With --pkcs11-token: the store makes its keys in that token from now on
// (DIR/pkcs11.uri: module and PIN file paths, never the PIN), so renew,
// check-in and run find it there. Without: nothing changes.
Result<void> save_key_location(const EnrollArgs& a, const std::string& store);
// Reads the files named and checks the arguments; fills conn.roots.
Result<wallet::EnrollOptions> enroll_options(const EnrollArgs& a, Connection& conn, unsigned timeout_ms);

// Enrolls at `at`, following redirects (follow.cpp; docs/PROTOCOL.md,
// "Redirects"): at most wallet::kMaxRedirects hops, never back to a server
// visited, each over a new TLS connection with the redirect's domain as
// the server name. Afterwards `at` is the server that answered last (save
// it: renewals and check-ins go there), its `via` where the first redirect
// came from; an `at` that has a `via` already (asking again where a
// redirect led) keeps it and must still prove its domain. `note` hears of each hop. A
// redirect not followed is a bad_redirect error; a server that cannot be
// reached, its connection error.
Result<wallet::Outcome> enroll_following(Connection& at, wallet::Storage& storage, wallet::EnrollOptions o,
                                         crypto::Random& rng, const wallet::Clock& clock,
                                         std::chrono::milliseconds timeout,
                                         const std::function<void(const std::string&)>& note);

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
