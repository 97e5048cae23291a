// Tests for irp-server's TOML configuration: parsing, strictness, defaults,
// path resolution and the render -> parse round trip.
#include <doctest/doctest.h>

#include <filesystem>
#include <fstream>
#include <string>

#include "config/config.hpp"
#include "irp/base/error.hpp"
#include "minimal_config.hpp"

namespace {

using irp::Code;
using irp::server::Config;
using irp::server::load_config;
using irp::server::parse_config;
using irp::server::render_config;

// Lines are numbered in comments so the expected line numbers are visible.
const std::string kFull = R"(# test config
[server]
listen = "0.0.0.0:5000"
threads = 4
max_connections = 500

[domain]
name = "demo.example"
root_certificate = "root-ca.pem"
ca_certificate = "pki/domain-ca.pem"
ca_key = "/etc/irp/domain-ca.key"
tls_certificate = "server-tls.pem"
tls_key = "server-tls.key"

[storage]
database = "data/irp.db"

[limits]
max_frame_bytes = 2048
handshake_timeout_ms = 5000
idle_timeout_ms = 6000
exchange_timeout_ms = 7000
challenge_ttl_s = 30
drain_timeout_ms = 0

[profile]
validity_days = 90
backdate_s = 0
key_algorithms = ["ecdsa-p384", "ed25519"]
allow_same_key_renewal = true

[classes.default]
secret_file = "classes/default.secret"

[classes."sensor.v2"]
secret_file = "/srv/secrets/sensor.secret"
)";

// Only the required keys.
const std::string kMinimal = irp_test::minimal_config();

const std::string kOrigin = "/etc/irp/server.toml";

// Inserts `line_text` as (1-based) line `line` of kMinimal.
std::string minimal_with(int line, const std::string& line_text) {
    std::string s = kMinimal;
    std::size_t pos = 0;
    for (int i = 1; i < line; ++i) pos = s.find('\n', pos) + 1;
    return s.insert(pos, line_text + "\n");
}

std::string replace(std::string s, const std::string& from, const std::string& to) {
    const auto pos = s.find(from);
    REQUIRE(pos != std::string::npos);
    return s.replace(pos, from.size(), to);
}

std::string error_of(const std::string& text, const std::string& origin = kOrigin) {
    auto r = parse_config(text, origin);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::config_invalid);
    return r.error().message;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

void check_equal(const Config& a, const Config& b) {
    CHECK(a.config_dir == b.config_dir);
    CHECK(a.listen_host == b.listen_host);
    CHECK(a.listen_port == b.listen_port);
    CHECK(a.threads == b.threads);
    CHECK(a.max_connections == b.max_connections);
    CHECK(a.domain == b.domain);
    CHECK(a.root_certificate == b.root_certificate);
    CHECK(a.ca_certificate == b.ca_certificate);
    CHECK(a.ca_key == b.ca_key);
    CHECK(a.tls_certificate == b.tls_certificate);
    CHECK(a.tls_key == b.tls_key);
    CHECK(a.database == b.database);
    CHECK(a.max_frame_bytes == b.max_frame_bytes);
    CHECK(a.handshake_timeout_ms == b.handshake_timeout_ms);
    CHECK(a.idle_timeout_ms == b.idle_timeout_ms);
    CHECK(a.exchange_timeout_ms == b.exchange_timeout_ms);
    CHECK(a.challenge_ttl_s == b.challenge_ttl_s);
    CHECK(a.drain_timeout_ms == b.drain_timeout_ms);
    CHECK(a.validity_days == b.validity_days);
    CHECK(a.backdate_s == b.backdate_s);
    CHECK(a.key_algorithms == b.key_algorithms);
    CHECK(a.allow_same_key_renewal == b.allow_same_key_renewal);
    CHECK(a.storage_url == b.storage_url);
    CHECK(a.admin_listen == b.admin_listen);
    CHECK(a.admin_token_file == b.admin_token_file);
    CHECK(a.http_listen == b.http_listen);
    CHECK(a.http_base_url == b.http_base_url);
    CHECK(a.crl_validity_s == b.crl_validity_s);
    CHECK(a.crl_refresh_s == b.crl_refresh_s);
    CHECK(a.ocsp_validity_s == b.ocsp_validity_s);
    CHECK(a.http_max_per_source == b.http_max_per_source);
    REQUIRE(a.classes.size() == b.classes.size());
    for (auto ia = a.classes.begin(), ib = b.classes.begin(); ia != a.classes.end(); ++ia, ++ib) {
        CHECK(ia->first == ib->first);
        CHECK(ia->second.name == ib->second.name);
        CHECK(ia->second.secret_file == ib->second.secret_file);
    }
}

}  // namespace

TEST_CASE("config: full valid config") {
    auto r = parse_config(kFull, kOrigin);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    const Config& c = *r;
    CHECK(c.config_dir == "/etc/irp");
    CHECK(c.listen_host == "0.0.0.0");
    CHECK(c.listen_port == 5000);
    CHECK(c.threads == 4);
    CHECK(c.max_connections == 500);
    CHECK(c.domain == "demo.example");
    CHECK(c.root_certificate == "/etc/irp/root-ca.pem");
    CHECK(c.ca_certificate == "/etc/irp/pki/domain-ca.pem");
    CHECK(c.ca_key == "/etc/irp/domain-ca.key");
    CHECK(c.database == "/etc/irp/data/irp.db");
    CHECK(c.max_frame_bytes == 2048);
    CHECK(c.handshake_timeout_ms == 5000);
    CHECK(c.idle_timeout_ms == 6000);
    CHECK(c.exchange_timeout_ms == 7000);
    CHECK(c.challenge_ttl_s == 30);
    CHECK(c.drain_timeout_ms == 0);
    CHECK(c.validity_days == 90);
    CHECK(c.backdate_s == 0);
    CHECK(c.key_algorithms == std::vector<std::string>{"ecdsa-p384", "ed25519"});
    CHECK(c.allow_same_key_renewal);
    REQUIRE(c.classes.size() == 2);
    CHECK(c.classes.at("default").name == "default");
    CHECK(c.classes.at("default").secret_file == "/etc/irp/classes/default.secret");
    CHECK(c.classes.at("sensor.v2").secret_file == "/srv/secrets/sensor.secret");
}

TEST_CASE("config: defaults for a minimal config") {
    auto r = parse_config(kMinimal, kOrigin);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    const Config defaults;
    const Config& c = *r;
    CHECK(c.listen_host == "127.0.0.1");
    CHECK(c.listen_port == 4604);
    CHECK(c.threads == defaults.threads);
    CHECK(c.max_connections == defaults.max_connections);
    CHECK(c.max_frame_bytes == 65536);
    CHECK(c.handshake_timeout_ms == defaults.handshake_timeout_ms);
    CHECK(c.idle_timeout_ms == defaults.idle_timeout_ms);
    CHECK(c.exchange_timeout_ms == defaults.exchange_timeout_ms);
    CHECK(c.challenge_ttl_s == defaults.challenge_ttl_s);
    CHECK(c.drain_timeout_ms == defaults.drain_timeout_ms);
    CHECK(c.validity_days == 365);
    CHECK(c.backdate_s == 300);
    CHECK(c.key_algorithms == std::vector<std::string>{"ecdsa-p256", "ed25519"});
    CHECK_FALSE(c.allow_same_key_renewal);
}

TEST_CASE("config: listen with port 0 and a host name") {
    auto r = parse_config(minimal_with(1, "[server]\nlisten = \"localhost:0\""), kOrigin);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    CHECK(r->listen_host == "localhost");
    CHECK(r->listen_port == 0);
}

TEST_CASE("config: unknown key names the dotted key and its line") {
    const std::string text = replace(kFull, "challenge_ttl_s = 30\n", "challenge_ttl_s = 30\nmax_frame = 10\n");
    // "max_frame" is now line 24 of the file.
    CHECK(error_of(text) == "/etc/irp/server.toml:24: unknown key 'limits.max_frame'");
    CHECK(error_of(text, "server.toml") == "server.toml:24: unknown key 'limits.max_frame'");

    CHECK(error_of(minimal_with(13, "bogus = 1")) == "/etc/irp/server.toml:13: unknown key 'classes.default.bogus'");
    CHECK(error_of("top = 1\n" + kMinimal) == "/etc/irp/server.toml:1: unknown key 'top'");
}

TEST_CASE("config: unknown table") {
    CHECK(error_of(kMinimal + "\n[extras]\nx = 1\n") == "/etc/irp/server.toml:15: unknown table 'extras'");
    CHECK(contains(error_of(minimal_with(9, "[storage.more]")), "unknown table 'storage.more'"));
}

TEST_CASE("config: the first error in file order is reported") {
    std::string text = minimal_with(1, "[server]\nthreads = 0\nbogus = 1");
    text += "\n[limits]\nmax_frame_bytes = 1\n";
    CHECK(error_of(text) == "/etc/irp/server.toml:2: 'server.threads' must be an integer from 1 to 64");
}

TEST_CASE("config: out-of-range integers") {
    CHECK(error_of(minimal_with(1, "[server]\nthreads = 65")) ==
          "/etc/irp/server.toml:2: 'server.threads' must be an integer from 1 to 64");
    CHECK(error_of(minimal_with(1, "[limits]\nmax_frame_bytes = 1023")) ==
          "/etc/irp/server.toml:2: 'limits.max_frame_bytes' must be an integer from 1024 to 16777216");
    CHECK(contains(error_of(minimal_with(1, "[profile]\nvalidity_days = -1")), "'profile.validity_days'"));
    CHECK(contains(error_of(minimal_with(1, "[limits]\ndrain_timeout_ms = 600001")), "from 0 to 600000"));
}

TEST_CASE("config: wrong types") {
    CHECK(error_of(minimal_with(1, "[server]\nthreads = \"2\"")) ==
          "/etc/irp/server.toml:2: 'server.threads' must be an integer from 1 to 64");
    CHECK(contains(error_of(minimal_with(1, "[server]\nthreads = 2.0")), "'server.threads' must be an integer"));
    CHECK(contains(error_of(minimal_with(1, "[profile]\nallow_same_key_renewal = 1")),
                   ":2: 'profile.allow_same_key_renewal' must be true or false"));
    CHECK(contains(error_of(replace(kMinimal, "ca_key = \"domain-ca.key\"", "ca_key = 5")), ":5: 'domain.ca_key'"));
    CHECK(contains(error_of(replace(kMinimal, "ca_key = \"domain-ca.key\"", "ca_key = \"\"")), ":5: 'domain.ca_key'"));
    CHECK(contains(error_of("server = 1\n" + kMinimal), ":1: 'server' must be a table"));
}

TEST_CASE("config: bad domain names") {
    for (const char* bad : {"Demo.example", "-demo.example", "demo-.example", "demo..example", "demo.example.",
                            "demo_x.example", ""}) {
        CAPTURE(bad);
        const std::string msg = error_of(replace(kMinimal, "\"demo.example\"", std::string("\"") + bad + "\""));
        CHECK(contains(msg, "server.toml:2: 'domain.name'"));
    }
    CHECK(contains(error_of(replace(kMinimal, "\"demo.example\"", "\"" + std::string(64, 'a') + ".example\"")),
                   "'domain.name'"));
    CHECK(parse_config(replace(kMinimal, "\"demo.example\"", "\"" + std::string(63, 'a') + ".example\""), kOrigin).ok());
}

TEST_CASE("config: bad listen values") {
    for (const char* bad : {"127.0.0.1", "127.0.0.1:", "127.0.0.1:70000", ":4604", "127.0.0.1:x", "300.0.0.1:1",
                            "1.2.3:4", "bad_host:1"}) {
        CAPTURE(bad);
        const std::string msg = error_of(minimal_with(1, std::string("[server]\nlisten = \"") + bad + "\""));
        CHECK(contains(msg, "server.toml:2: 'server.listen'"));
    }
}

TEST_CASE("config: key algorithms") {
    CHECK(contains(error_of(minimal_with(1, "[profile]\nkey_algorithms = [\"ed25519\", \"rsa-2048\"]")),
                   ":2: 'profile.key_algorithms': unknown key algorithm 'rsa-2048'"));
    CHECK(contains(error_of(minimal_with(1, "[profile]\nkey_algorithms = [\"ed25519\", \"ed25519\"]")),
                   "'ed25519' is listed twice"));
    CHECK(contains(error_of(minimal_with(1, "[profile]\nkey_algorithms = []")), "'profile.key_algorithms'"));
    CHECK(contains(error_of(minimal_with(1, "[profile]\nkey_algorithms = \"ed25519\"")), "'profile.key_algorithms'"));
}

TEST_CASE("config: missing required keys") {
    CHECK(contains(error_of(replace(kMinimal, "tls_key = \"server-tls.key\"\n", "")),
                   "missing required key 'domain.tls_key'"));
    CHECK(contains(error_of(replace(kMinimal, "[storage]\ndatabase = \"irp.db\"\n", "")),
                   "missing required key 'storage.database'"));
    CHECK(contains(error_of(replace(kMinimal, "secret_file = \"default.secret\"\n", "")),
                   "missing required key 'classes.default.secret_file'"));
}

TEST_CASE("config: at least one class") {
    const std::string no_classes = replace(kMinimal, "[classes.default]\nsecret_file = \"default.secret\"\n", "");
    CHECK(contains(error_of(no_classes), "at least one [classes.<name>] table is required"));
    CHECK(contains(error_of(no_classes + "[classes]\n"), "at least one [classes.<name>] table is required"));
}

TEST_CASE("config: bad class names") {
    CHECK(error_of(replace(kMinimal, "[classes.default]", "[classes.\"bad name\"]")) ==
          "/etc/irp/server.toml:12: invalid class name 'bad name' (1-64 of A-Z a-z 0-9 . _ -)");
    CHECK(contains(error_of(replace(kMinimal, "[classes.default]", "[classes." + std::string(65, 'c') + "]")),
                   "invalid class name"));
    CHECK(contains(error_of(kMinimal + "[classes]\nloose = 1\n"), "'classes.loose' must be a table"));
}

TEST_CASE("config: TOML syntax error names the line") {
    const std::string msg = error_of(minimal_with(3, "this is not toml"), "server.toml");
    CHECK(msg.rfind("server.toml:3: ", 0) == 0);
    CHECK(msg.size() > std::string("server.toml:3: ").size());
    CHECK(contains(error_of(kMinimal + "[storage]\n"), "server.toml:14: "));  // redefined table
}

TEST_CASE("config: relative paths resolve against the config directory") {
    auto r = parse_config(kMinimal, "/srv/irp/conf/./server.toml");
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    CHECK(r->config_dir == "/srv/irp/conf");
    CHECK(r->ca_key == "/srv/irp/conf/domain-ca.key");
    CHECK(r->classes.at("default").secret_file == "/srv/irp/conf/default.secret");

    auto up = parse_config(replace(kMinimal, "\"irp.db\"", "\"../var/irp.db\""), "/srv/irp/conf/server.toml");
    REQUIRE(up.ok());
    CHECK(up->database == "/srv/irp/var/irp.db");

    // A relative origin resolves against the working directory.
    auto rel = parse_config(kMinimal, "server.toml");
    REQUIRE(rel.ok());
    const auto cwd = std::filesystem::current_path();
    CHECK(rel->config_dir == cwd.string());
    CHECK(rel->database == (cwd / "irp.db").string());
}

TEST_CASE("config: render -> parse round trip") {
    auto r = parse_config(kFull, kOrigin);
    REQUIRE(r.ok());
    const std::string text = render_config(*r);
    CHECK(contains(text, "[server]"));
    CHECK(contains(text, "ca_certificate = \"pki/domain-ca.pem\""));  // relative inside config_dir
    CHECK(contains(text, "secret_file = \"/srv/secrets/sensor.secret\""));  // absolute outside it
    CHECK(contains(text, "\n# "));
    auto back = parse_config(text, kOrigin);
    REQUIRE_MESSAGE(back.ok(), back.error().message);
    check_equal(*r, *back);

    auto m = parse_config(kMinimal, kOrigin);
    REQUIRE(m.ok());
    auto m_back = parse_config(render_config(*m), kOrigin);
    REQUIRE_MESSAGE(m_back.ok(), m_back.error().message);
    check_equal(*m, *m_back);

    // A path with characters that need escaping survives too.
    Config odd = *m;
    odd.database = "/tmp/we\"ird\\dir/irp.db";
    auto odd_back = parse_config(render_config(odd), kOrigin);
    REQUIRE_MESSAGE(odd_back.ok(), odd_back.error().message);
    check_equal(odd, *odd_back);
}

TEST_CASE("config: load_config reads a file and reports a missing one") {
    const auto dir = std::filesystem::temp_directory_path() / "irp_config_test";
    std::filesystem::create_directories(dir);
    const auto file = dir / "server.toml";
    std::ofstream(file) << kMinimal;
    auto r = load_config(file.string());
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    CHECK(r->config_dir == dir.lexically_normal().string());
    CHECK(r->database == (dir / "irp.db").lexically_normal().string());

    const std::string missing = (dir / "missing.toml").string();
    auto m = load_config(missing);
    REQUIRE_FALSE(m.ok());
    CHECK(m.error().code == Code::file_error);
    CHECK(m.error().message == "cannot read config file '" + missing + "': No such file or directory");

    auto d = load_config(dir.string());  // a directory is not readable as a file
    REQUIRE_FALSE(d.ok());
    CHECK(d.error().code == Code::file_error);
    std::filesystem::remove_all(dir);
}

TEST_CASE("config: storage is SQLite or PostgreSQL, never both, never neither") {
    const std::string pg = replace(kMinimal, "database = \"irp.db\"", "url = \"postgresql:///irp?host=/run/pg\"");
    auto r = parse_config(pg, kOrigin);
    REQUIRE(r.ok());
    CHECK(r->database.empty());
    CHECK(r->storage_url == "postgresql:///irp?host=/run/pg");
    // Round trip keeps the URL.
    auto again = parse_config(render_config(*r), kOrigin);
    REQUIRE(again.ok());
    CHECK(again->storage_url == r->storage_url);

    const std::string both = replace(kMinimal, "database = \"irp.db\"", "database = \"irp.db\"\nurl = \"dbname=irp\"");
    CHECK(contains(error_of(both), "give only one of 'storage.database'"));
    const std::string neither = replace(kMinimal, "database = \"irp.db\"", "");
    CHECK(contains(error_of(neither), "missing required key 'storage.database' (SQLite) or 'storage.url' (PostgreSQL)"));
    CHECK(contains(error_of(replace(kMinimal, "database = \"irp.db\"", "url = \"\"")), "storage.url"));
}

TEST_CASE("config: admin and http sections") {
    const std::string text = kMinimal + R"(
[admin]
listen = "127.0.0.1:9605"
token_file = "admin.token"

[http]
listen = "0.0.0.0:8080"
base_url = "http://pki.example.com/irp/"
crl_validity_s = 7200
crl_refresh_s = 600
ocsp_validity_s = 300
max_connections_per_source = 3
)";
    auto r = parse_config(text, kOrigin);
    REQUIRE(r.ok());
    CHECK(r->admin_listen == "127.0.0.1:9605");
    CHECK(r->admin_token_file == "/etc/irp/admin.token");
    CHECK(r->http_listen == "0.0.0.0:8080");
    CHECK(r->http_base_url == "http://pki.example.com/irp");  // trailing slash dropped
    CHECK(r->crl_validity_s == 7200);
    CHECK(r->crl_refresh_s == 600);
    CHECK(r->ocsp_validity_s == 300);
    CHECK(r->http_max_per_source == 3);
    CHECK(parse_config(kMinimal, kOrigin)->http_max_per_source == 8);
    CHECK(contains(error_of(replace(text, "source = 3", "source = 5000")), "'http.max_connections_per_source' must be an integer"));
    CHECK(contains(error_of(replace(text, "http://pki.example.com/irp/", "ftp://x")), "'http.base_url' must be an http:// URL"));
    CHECK(contains(error_of(replace(text, "127.0.0.1:9605", "nope")), "'admin.listen' must be"));
    CHECK(contains(error_of(replace(text, "crl_refresh_s = 600", "crl_refresh_s = 1")), "'http.crl_refresh_s' must be an integer"));
}
