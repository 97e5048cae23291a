// irp-server's configuration, read from TOML. Strict: an unknown key or a
// bad value is an error naming the key and its line.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "irp/base/error.hpp"

namespace irp::server {

// How a device of a class may prove it belongs (docs/PROTOCOL.md,
// "Bootstrap methods").
inline constexpr const char* kBootstrapMethods[] = {"token", "preregistered", "idevid", "approval"};

struct ClassConfig {
    std::string name;
    std::string secret_file;  // absolute after loading; required with "token"
    std::vector<std::string> bootstrap{"token"};  // of kBootstrapMethods, in file order
    std::vector<std::string> idevid_roots{};          // PEM paths (absolute); required with "idevid"
};

// A domain CA of an earlier generation ([[domain.retired]]): it signs CRLs
// and OCSP answers for the certificates it issued, never new certificates.
struct RetiredCa {
    std::string ca_certificate;  // PEM path, absolute after loading
    std::string ca_key;          // PEM path (absolute after loading) or PKCS#11 URI, as domain.ca_key
};

// A [[redirect]] rule (docs/PROTOCOL.md, "Redirects and discovery"): enrollments it
// matches are answered with a Redirect to another domain's server instead
// of being served here. A rule matches a device by its class, by a prefix
// of its id, or by its id being listed in devices_file (an account's
// devices, e.g. from sales records); any one selector matching is enough.
// Rules are tried in file order; the first match wins.
struct RedirectRule {
    std::string name;                          // for logs; default "redirect-<n>"
    std::string domain;                        // the domain the device belongs to (lower-case DNS name)
    std::string server;                        // host:port of that domain's IRP server
    std::vector<std::string> classes{};        // class ids
    std::vector<std::string> device_prefixes{};
    std::string devices_file{};                // absolute; one device id per line, '#' comments
    bool operator==(const RedirectRule&) const = default;
};

struct Config {
    std::string config_dir;  // directory of the config file; relative paths resolve against it

    // [server]
    std::string listen_host = "127.0.0.1";
    std::uint16_t listen_port = 4604;
    unsigned threads = 2;
    unsigned max_connections = 1024;
    std::string log_format = "text";  // "text": readable lines; "json": one JSON object per line

    // [domain]
    std::string domain;
    std::string root_certificate;  // PEM paths, absolute after loading
    std::string ca_certificate;
    // A key is a PEM file (PKCS#8, optionally encrypted) or a PKCS#11 URI
    // ("pkcs11:token=...;object=...", kept as written, not resolved).
    std::string ca_key;
    std::string tls_certificate;
    std::string tls_key;
    std::string key_passphrase_file;  // absolute; decrypts encrypted PEM keys (else IRP_KEY_PASSPHRASE)
    std::string pkcs11_module;        // absolute; the Cryptoki module for pkcs11: keys
    std::vector<RetiredCa> retired;   // [[domain.retired]], in file order

    // [storage]: exactly one of the two
    std::string database;     // SQLite file path, absolute after loading
    std::string storage_url;  // PostgreSQL conninfo / postgresql:// URL (replicas share it)

    // [limits]
    std::uint32_t max_frame_bytes = 64 * 1024;
    std::uint32_t handshake_timeout_ms = 10'000;
    std::uint32_t idle_timeout_ms = 30'000;
    std::uint32_t exchange_timeout_ms = 120'000;
    std::uint32_t challenge_ttl_s = 60;
    std::uint32_t drain_timeout_ms = 10'000;
    std::uint32_t per_source_rate = 0;   // new connections/s per source address; 0 = unlimited
    std::uint32_t per_source_burst = 0;  // 0 = twice the rate

    // [profile]
    std::uint32_t validity_days = 365;
    std::uint32_t backdate_s = 300;
    std::vector<std::string> key_algorithms = {"ecdsa-p256", "ed25519"};
    bool allow_same_key_renewal = false;

    // [admin] JSON admin API and /metrics; loopback by default
    std::string admin_listen = "127.0.0.1:4605";  // host:port
    std::string admin_token_file;                 // absolute; empty = admin API off

    // [http] CRL and OCSP for relying parties (plain HTTP, RFC 5280 / 6960)
    std::string http_listen = "127.0.0.1:4680";  // host:port
    std::string http_base_url;                   // written into certificates; empty = http://<listen host>:<bound port>
    std::uint32_t crl_validity_s = 86'400;       // nextUpdate - thisUpdate
    std::uint32_t crl_refresh_s = 3'600;         // re-signed at least this often
    std::uint32_t ocsp_validity_s = 3'600;       // nextUpdate of OCSP answers
    std::uint32_t http_max_per_source = 8;       // connections one source address may have open at once; 0 = no bound

    // [approval] held requests (docs/OPERATIONS.md, "Approvals")
    std::uint32_t approval_retry_after_s = 600;     // first retry hint; doubles on each ask
    std::uint32_t approval_retry_max_s = 14'400;    // cap of that backoff
    std::uint32_t approval_expire_s = 7 * 86'400;   // undecided / uncollected requests expire
    std::uint32_t approval_max_pending = 10'000;    // beyond: too_many_pending

    // [surge] more than max_new_devices new devices of one class within
    // window_s: further new devices of it are held for approval. 0 = off.
    std::uint32_t surge_max_new_devices = 0;
    std::uint32_t surge_window_s = 3600;

    // [lifecycle]
    std::uint32_t check_in_s = 86'400;       // advised check-in interval
    std::uint32_t release_after_days = 10;   // passive release of unseen devices; 0 = never

    // [webhook] new held requests are POSTed here, signed with HMAC-SHA256
    std::string webhook_url;           // http://...; empty = off
    std::string webhook_secret_file;   // absolute; required with url
    std::uint32_t webhook_timeout_ms = 3000;

    // [discovery] a DNS-SD advertisement of _irp._tcp.local on the IRP port,
    // its TXT record naming the domain (server/discovery/; needs a build
    // with Avahi and a running avahi-daemon)
    bool mdns = false;
    std::string mdns_instance{};  // DNS-SD instance name, 1-63 bytes of UTF-8; empty = "IRP <domain>"

    // [classes.<name>]
    std::map<std::string, ClassConfig> classes;

    // [[redirect]], in file order. A server with rules needs no class of its
    // own: it is then a directory that only sends devices on.
    std::vector<RedirectRule> redirects;
};

// Parses the TOML text; `origin` names it in errors and its directory is
// config_dir. Errors are Code::config_invalid with a message such as
// "server.toml:12: unknown key 'limits.max_frame'".
Result<Config> parse_config(std::string_view toml_text, const std::string& origin);
Result<Config> load_config(const std::string& path);

// Renders a config as TOML (used by `irp-server init`); parse_config of the
// result gives back an equal Config.
std::string render_config(const Config& cfg);

// Splits a validated "host:port".
std::pair<std::string, std::uint16_t> split_listen(const std::string& host_port);


}  // namespace irp::server
