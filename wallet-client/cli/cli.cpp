// Shared by the idwallet subcommands (cli.hpp).
#include "cli.hpp"

#include <algorithm>
#include <cstdio>
#include <ctime>
#include <random>

#include "irp/core/messages.hpp"
#include "irp/core/transcript.hpp"
#include "irp/net/client.hpp"
#include "irp/net/mdns.hpp"
#include "irp/net/srv.hpp"
#include "irp/platform/files.hpp"

namespace irp::cli {

int exit_for(Code c) {
    switch (category_of(c)) {
        case Category::protocol:
            if (c == Code::bad_redirect) return kRedirect;
            return (c == Code::tls_failure || c == Code::connection_closed || c == Code::deadline_exceeded) ? kNetwork : kProtocol;
        case Category::auth: return kAuthRejected;
        case Category::policy: return kPolicyRejected;
        // not_found: discovery found no server (no SRV record).
        case Category::usage: return c == Code::file_error ? kStorage : c == Code::not_found ? kNetwork : kUsage;
        case Category::unavailable: return kRetryLater;
        case Category::internal: return kInternal;
    }
    return kInternal;
}

int say_error(const std::string& what, const Error& e) {
    std::fprintf(stderr, "idwallet: %s: %s (%u %s)\n", what.c_str(), e.message.c_str(),
                 static_cast<unsigned>(e.code), code_name(e.code));
    return exit_for(e.code);
}

std::string utc(std::int64_t t, bool one_word) {
    const std::time_t tt = static_cast<std::time_t>(t);
    std::tm tm{};
    gmtime_r(&tt, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, one_word ? "%Y-%m-%dT%H:%M:%SZ" : "%Y-%m-%d %H:%M:%SZ", &tm);
    return buf;
}

wallet::Clock system_clock() {
    return wallet::Clock{
        [] { return std::chrono::duration_cast<Time>(std::chrono::steady_clock::now().time_since_epoch()); },
        [] {
            return static_cast<std::int64_t>(
                std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count());
        }};
}

std::string where(const Connection& c) {
    if (c.mdns)  // the domain, when named, is part of where the enrollment starts
        return std::string(net::kMdnsServiceType) + ".local" + (c.server_name.empty() ? "" : " (domain " + c.server_name + ")");
    return c.discover.empty() ? c.server : "_irp._tcp." + c.discover;
}

namespace {

// Each SRV target in turn (RFC 2782 order), until one connects; the server
// name stays the domain (include/irp/net/srv.hpp says why).
Result<std::unique_ptr<wallet::TlsTransport>> connect_discovered(const Connection& c, std::chrono::milliseconds timeout) {
    auto records = net::resolve_irp_srv(c.discover);
    if (!records) return records.error();
    std::random_device rd;
    std::uniform_real_distribution<double> uniform(0.0, 1.0);
    const auto ordered = net::order_srv(std::move(records.value()), [&] { return uniform(rd); });
    crypto::TlsClientConfig tls;
    tls.trusted_roots = c.roots;
    tls.server_name = c.server_name.empty() ? c.discover : c.server_name;
    Error last = make_error(Code::connection_closed, "no SRV target");
    std::string tried;
    for (const auto& t : ordered) {
        auto conn = net::TlsClientConnection::connect(t.host, t.port, tls, timeout);
        if (conn) return std::make_unique<wallet::TlsTransport>(std::move(conn.value()));
        last = conn.error();
        tried += (tried.empty() ? "" : ", ") + t.host + ":" + std::to_string(t.port);
    }
    return make_error(last.code, "no server of _irp._tcp." + c.discover + " answered (" + tried + "): " + last.message);
}

// mDNS/DNS-SD: browse _irp._tcp.local, keep the answers of one domain
// (c.server_name, or the only one that answered), and try them, then the
// address remembered from the enrollment. The TLS server name is that
// domain, from the TXT record or the store, never the answer's host name:
// the answer only says where to connect (include/irp/net/mdns.hpp).
constexpr std::size_t kMaxMdnsTries = 4;  // servers of the domain tried, plus the last address used

Result<std::unique_ptr<wallet::TlsTransport>> connect_local(const Connection& c, std::chrono::milliseconds timeout,
                                                            Reached* reached) {
    const std::string& want = c.server_name;
    // The whole browse, even with the domain known: the first answer may be
    // a replica that died without saying goodbye and lingers in the cache.
    auto answers = net::browse_irp_mdns(c.mdns_timeout);
    std::vector<std::string> servers;
    std::string domain = want;
    Error why = make_error(Code::deadline_exceeded, "");
    if (!answers) {
        why = answers.error();
    } else if (auto choice = net::choose_mdns_servers(*answers, want); !choice) {
        why = choice.error();
        if (why.code == Code::bad_argument) why.message += " with --domain";
    } else {
        servers = std::move(choice->servers);
        // Bounded: every attempt may take the whole connect timeout, and
        // anyone on the link can add answers.
        if (servers.size() > kMaxMdnsTries) servers.resize(kMaxMdnsTries);
        domain = choice->domain;
    }
    if (why.code == Code::deadline_exceeded && !why.message.empty())
        why.message += " (browsed up to " + std::to_string(c.mdns_timeout.count()) + " ms)";
    if (!c.server.empty() && !domain.empty() && std::find(servers.begin(), servers.end(), c.server) == servers.end())
        servers.push_back(c.server);  // the address the enrollment used
    if (servers.empty()) return why;
    crypto::TlsClientConfig tls;
    tls.trusted_roots = c.roots;
    tls.server_name = domain;
    Error last = make_error(Code::connection_closed, "no server");
    std::string tried;
    for (const auto& s : servers) {
        auto hp = net::split_host_port(s);
        if (!hp) continue;
        auto conn = net::TlsClientConnection::connect(hp->first, hp->second, tls, timeout);
        if (conn) {
            if (reached) *reached = {s, domain};
            return std::make_unique<wallet::TlsTransport>(std::move(conn.value()));
        }
        last = conn.error();
        tried += (tried.empty() ? "" : ", ") + s;
    }
    return make_error(last.code, "no server found by mDNS for domain " + domain + " connected and proved the domain (tried " +
                                     tried + "): " + last.message);
}

}  // namespace

Result<std::unique_ptr<wallet::TlsTransport>> connect(const Connection& c, std::chrono::milliseconds timeout,
                                                      Reached* reached) {
    if (c.mdns) return connect_local(c, timeout, reached);
    if (!c.discover.empty()) return connect_discovered(c, timeout);
    auto hp = net::split_host_port(c.server);
    if (!hp) return hp.error();
    crypto::TlsClientConfig tls;
    tls.trusted_roots = c.roots;
    tls.server_name = c.server_name.empty() ? hp->first : c.server_name;
    auto conn = net::TlsClientConnection::connect(hp->first, hp->second, tls, timeout);
    if (!conn) return conn.error();
    if (reached) *reached = {c.server, tls.server_name};
    return std::make_unique<wallet::TlsTransport>(std::move(conn.value()));
}

Result<std::vector<Bytes>> read_roots(const std::string& path) {
    auto text = platform::read_file(path);
    if (!text) return text.error();
    auto roots = crypto::pem_blocks(*text, "CERTIFICATE");
    if (!roots) return roots.error();
    if (roots->empty()) return make_error(Code::file_error, "'" + path + "' holds no certificate");
    return roots;
}

Result<void> save_connection(const std::string& dir, const Connection& c) {
    std::string pem;
    for (const auto& r : c.roots) pem += crypto::to_pem(r, "CERTIFICATE");
    if (auto r = platform::write_file_atomic(dir + "/trust.pem", pem, 0644); !r) return r;
    // server, server name, the domain to discover by SRV (empty when --server
    // was given), where a redirected enrollment started (empty: it was not),
    // and the domain to find by mDNS (empty: not found that way; then the
    // first line is the address the enrollment used, which an idwallet from
    // before mDNS reads as its server)
    return platform::write_file_atomic(dir + "/server",
                                       c.server + "\n" + c.server_name + "\n" + c.discover + "\n" + c.via + "\n" +
                                           (c.mdns ? c.server_name : std::string()) + "\n",
                                       0644);
}

Result<Connection> load_connection(const std::string& dir) {
    Connection c;
    auto roots = read_roots(dir + "/trust.pem");
    if (!roots) return roots.error();
    c.roots = std::move(roots.value());
    auto text = platform::read_file(dir + "/server");
    if (!text) return text.error();
    // One field per line; a file from before SRV discovery has two, from
    // before mDNS four.
    std::vector<std::string> lines;
    std::size_t pos = 0;
    while (pos < text->size() && lines.size() < 5) {
        std::size_t nl = text->find('\n', pos);
        if (nl == std::string::npos) nl = text->size();
        std::string line = text->substr(pos, nl - pos);
        if (!line.empty() && line.back() == '\r') line.pop_back();
        lines.push_back(std::move(line));
        pos = nl + 1;
    }
    lines.resize(5);
    c.server = lines[0];
    c.server_name = lines[1];
    c.discover = lines[2];
    c.via = lines[3];
    if (!lines[4].empty()) {
        if (!is_valid_dns_name(lines[4], true))
            return make_error(Code::file_error, "'" + dir + "/server' names no valid domain to find by mDNS");
        c.mdns = true;
        c.server_name = lines[4];  // the domain the certificate is of
    }
    if (c.server.empty() && c.discover.empty() && !c.mdns)
        return make_error(Code::file_error, "'" + dir + "/server' names no server");
    return c;
}

void add_enroll_options(CLI::App& sub, Connection& conn, EnrollArgs& a, std::string& store) {
    auto* server = sub.add_option("--server", conn.server, "HOST:PORT of the domain server (or of a directory)");
    auto* srv = sub.add_option("--discover", conn.discover, "find the domain's server by DNS SRV _irp._tcp.DOMAIN (instead of --server)")
        ->excludes(server);
    auto* local = sub.add_flag("--discover-local", conn.mdns,
                               "find the server on the local network by mDNS/DNS-SD (_irp._tcp.local; instead of "
                               "--server and --discover): the domain comes from its TXT record")
                      ->excludes(server)
                      ->excludes(srv);
    sub.add_option("--domain", a.local_domain, "with --discover-local: the domain to enroll in (needed when several answer)")
        ->needs(local);
    sub.add_option("--discover-timeout", a.discover_timeout_s, "with --discover-local: longest browse, in seconds")
        ->needs(local)
        ->check(CLI::Range(0.1, 60.0))
        ->capture_default_str();
    sub.add_option("--server-name", conn.server_name, "name the server certificate must carry (default: HOST)")
        ->excludes(local);
    sub.add_option("--trust", a.trust, "PEM file with the trusted root(s)")->required();
    sub.add_option("--device-id", a.device_id, "this device's id")->required();
    sub.add_option("--class", a.class_id, "device class")->capture_default_str();
    auto* tok = sub.add_option("--token", a.token_hex, "bootstrap token, hex");
    sub.add_option("--token-file", a.token_file, "file holding the bootstrap token, hex")->excludes(tok);
    sub.add_option("--store", store, "directory for device.key and device.crt")->required();
    sub.add_option("--key-type", a.key_type, "ecdsa-p256, ecdsa-p384 or ed25519")->capture_default_str();
    auto* bkey = sub.add_option("--bootstrap-key", a.bootstrap_key_file,
                                "PEM private key registered with the domain (or of the manufacturer certificate)")
                     ->excludes(tok);
    sub.add_option("--idevid-chain", a.idevid_chain_file, "PEM manufacturer certificate (then intermediates)")->needs(bkey);
    sub.add_option("--model", a.model, "model name shown to an approver");
    auto* p11 = sub.add_option("--pkcs11-token", a.pkcs11_token,
                               "make the device keys in this PKCS#11 token, e.g. pkcs11:token=wallet (the store "
                               "remembers it)");
    sub.add_option("--pkcs11-module", a.pkcs11_module, "the PKCS#11 module (default: module-path in the URI)")
        ->needs(p11);
    sub.add_option("--pkcs11-pin-file", a.pkcs11_pin_file,
                   "file holding the token's user PIN (default: pin-source in the URI, else IRP_PKCS11_PIN)")
        ->needs(p11);
}

Result<void> save_key_location(const EnrollArgs& a, const std::string& store) {
    if (a.pkcs11_token.empty()) return {};
    return wallet::use_token_keys(store, {a.pkcs11_module, a.pkcs11_token, a.pkcs11_pin_file});
}

Result<wallet::EnrollOptions> enroll_options(const EnrollArgs& a, Connection& conn, unsigned timeout_ms) {
    if (conn.server.empty() && conn.discover.empty() && !conn.mdns)
        return make_error(Code::bad_argument, "give --server HOST:PORT, --discover DOMAIN or --discover-local");
    if (conn.mdns) {
        if (!net::mdns_supported())
            return make_error(Code::bad_argument, "--discover-local: this build has no mDNS (Avahi) support");
        if (!a.local_domain.empty() && !is_valid_dns_name(a.local_domain, true))
            return make_error(Code::bad_argument, "--domain must be a lower-case DNS name");
        conn.server_name = a.local_domain;
        conn.mdns_timeout = std::chrono::milliseconds(static_cast<std::int64_t>(a.discover_timeout_s * 1000));
    }
    if (!a.token_hex.empty() && !a.token_file.empty())
        return make_error(Code::bad_argument, "give at most one of --token and --token-file");
    std::string token_hex = a.token_hex;
    if (!a.token_file.empty()) {
        auto t = platform::read_file(a.token_file, 4096);
        if (!t) return t.error();
        token_hex = *t;
        while (!token_hex.empty() && (token_hex.back() == '\n' || token_hex.back() == '\r')) token_hex.pop_back();
    }
    wallet::EnrollOptions o;
    if (!token_hex.empty() && (!from_hex(token_hex, o.token) || o.token.size() != 32))
        return make_error(Code::bad_argument, "the token must be 32 bytes written as 64 hex digits");
    if (!a.bootstrap_key_file.empty()) {
        auto pem = platform::read_file(a.bootstrap_key_file);
        if (!pem) return pem.error();
        auto k = crypto::PrivateKey::from_pem(*pem);
        if (!k) return make_error(Code::file_error, "'" + a.bootstrap_key_file + "': " + k.error().message);
        o.bootstrap_key = std::make_shared<const crypto::PrivateKey>(std::move(k.value()));
    }
    if (!a.idevid_chain_file.empty()) {
        auto chain = read_roots(a.idevid_chain_file);
        if (!chain) return chain.error();
        o.bootstrap_chain = std::move(chain.value());
    }
    if (a.model.size() > 64) return make_error(Code::bad_argument, "--model is at most 64 characters");
    o.model = a.model;
    if (!is_valid_identifier(a.device_id))
        return make_error(Code::bad_argument, "device id must be 1-64 characters from [A-Za-z0-9._-]");
    const auto alg = crypto::parse_key_algorithm(a.key_type);
    if (!alg) return make_error(Code::bad_argument, "unknown --key-type '" + a.key_type + "'");
    auto roots = read_roots(a.trust);
    if (!roots) return roots.error();
    conn.roots = std::move(roots.value());
    o.device_id = a.device_id;
    o.class_id = a.class_id;
    o.limits.exchange_timeout = Time{timeout_ms};
    o.key_algorithm = *alg;
    o.trusted_roots = conn.roots;
    return o;
}

}  // namespace irp::cli
