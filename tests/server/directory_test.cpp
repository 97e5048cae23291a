// The directory role: [[redirect]] rules in the config, the Directory built
// from them (devices files included), and EnrollService answering matching
// enrollments with a Redirect while serving the rest.
#include <doctest/doctest.h>

#include "config/config.hpp"
#include "directory/directory.hpp"
#include "enroll_fixture.hpp"
#include "support/temp_dir.hpp"

using namespace irp;
using namespace irp::server;
using namespace enroll_fixture;
using irp_test::TempDir;

namespace {

const std::string kHead = R"([domain]
name = "directory.example"
root_certificate = "root.pem"
ca_certificate = "ca.pem"
ca_key = "ca.key"
tls_certificate = "tls.pem"
tls_key = "tls.key"
[storage]
database = "irp.db"
)";

// The rules come first: TOML puts keys after a [table] header into that table.
Result<Config> parse_with(const std::string& tail, const std::string& origin = "/etc/irp/server.toml") {
    return parse_config(tail + kHead, origin);
}

std::string error_of(const Result<Config>& r) { return r ? std::string("(parsed)") : r.error().message; }

RedirectRule rule(std::string name, std::string domain, std::string server) {
    RedirectRule r;
    r.name = std::move(name);
    r.domain = std::move(domain);
    r.server = std::move(server);
    return r;
}

}  // namespace

TEST_CASE("[[redirect]] rules parse, render and round-trip; a directory needs no class") {
    const auto cfg = parse_with(R"(
[[redirect]]
name = "cameras"
domain = "video.example"
server = "10.0.0.5:4604"
classes = ["camera", "doorbell"]

[[redirect]]
domain = "acme.example"
server = "irp.acme.example:4604"
device_prefixes = ["acme-"]
devices_file = "lists/acme.devices"
)");
    REQUIRE_MESSAGE(cfg.ok(), error_of(cfg));
    REQUIRE(cfg->redirects.size() == 2);
    CHECK(cfg->classes.empty());
    CHECK(cfg->redirects[0].name == "cameras");
    CHECK(cfg->redirects[0].classes == std::vector<std::string>{"camera", "doorbell"});
    CHECK(cfg->redirects[1].name == "redirect-2");  // a default name, by position
    CHECK(cfg->redirects[1].devices_file == "/etc/irp/lists/acme.devices");
    auto again = parse_config(render_config(*cfg), "/etc/irp/server.toml");
    REQUIRE_MESSAGE(again.ok(), error_of(again));
    CHECK(again->redirects == cfg->redirects);
}

TEST_CASE("bad [[redirect]] rules are refused with the key and line") {
    CHECK(error_of(parse_with("")).find("at least one [classes.<name>] table is required (or, for a directory, a [[redirect]] rule)") !=
          std::string::npos);
    struct Bad {
        std::string toml;
        const char* says;
    } cases[] = {
        {"[[redirect]]\nserver = \"a:1\"\nclasses = [\"c\"]\n", "missing required key 'redirect.domain'"},
        {"[[redirect]]\ndomain = \"d.example\"\nclasses = [\"c\"]\n", "missing required key 'redirect.server'"},
        {"[[redirect]]\ndomain = \"d.example\"\nserver = \"a:1\"\n", "needs at least one of 'classes'"},
        {"[[redirect]]\ndomain = \"D.Example\"\nserver = \"a:1\"\nclasses = [\"c\"]\n", "'redirect.domain' must be a lower-case"},
        {"[[redirect]]\ndomain = \"d.example\"\nserver = \"a\"\nclasses = [\"c\"]\n", "'redirect.server' must be \"host:port\""},
        {"[[redirect]]\ndomain = \"d.example\"\nserver = \"a:0\"\nclasses = [\"c\"]\n", "'redirect.server' must be \"host:port\""},
        {"[[redirect]]\ndomain = \"d.example\"\nserver = \"a:1\"\nclasses = []\n", "'redirect.classes' must be a non-empty"},
        {"[[redirect]]\ndomain = \"d.example\"\nserver = \"a:1\"\ndevice_prefixes = [\"a b\"]\n", "'redirect.device_prefixes'"},
        {"[[redirect]]\ndomain = \"d.example\"\nserver = \"a:1\"\nclasses = [\"c\"]\nweight = 3\n", "unknown key 'redirect.weight'"},
        {"[[redirect]]\ndomain = \"directory.example\"\nserver = \"a:1\"\nclasses = [\"c\"]\n", "sends devices to this server's own domain"},
        {"redirect = 5\n", "'redirect' must be an array of tables"},
    };
    for (const auto& c : cases) {
        const auto r = parse_with(c.toml);
        CAPTURE(c.toml);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == Code::config_invalid);
        CHECK_MESSAGE(r.error().message.find(c.says) != std::string::npos, r.error().message);
        CHECK(r.error().message.find("server.toml:") != std::string::npos);  // with a line number
    }
}

TEST_CASE("Directory::route: first matching rule wins; class, prefix and listed devices") {
    TempDir tmp;
    irp_test::write_file(tmp / "acme.devices", "# sold to ACME\nacme-cam-1\n  thermo-77  # trailing comment\r\n\nshared-1\n");
    irp_test::write_file(tmp / "other.devices", "shared-1\nother-9\n");
    auto cams = rule("cameras", "video.example", "127.0.0.1:4611");
    cams.classes = {"camera"};
    auto acme = rule("acme", "acme.example", "127.0.0.1:4612");
    acme.device_prefixes = {"acme-"};
    acme.devices_file = tmp / "acme.devices";
    auto other = rule("other", "other.example", "127.0.0.1:4613");
    other.devices_file = tmp / "other.devices";
    auto dir = Directory::build({cams, acme, other});
    REQUIRE_MESSAGE(dir.ok(), (dir.ok() ? "" : dir.error().message));
    const Directory& d = **dir;
    CHECK(d.rules() == 3);
    CHECK(d.listed_devices() == 4);  // shared-1 counted once: acme's (the first rule) wins

    auto r = d.route("cam-1", "camera");
    REQUIRE(r);
    CHECK(r->rule == "cameras");
    CHECK(r->why == "class");
    CHECK(r->server == "127.0.0.1:4611");
    // A class rule comes first, even for an acme- device.
    CHECK(d.route("acme-cam-1", "camera")->rule == "cameras");
    r = d.route("acme-lock-3", "lock");
    REQUIRE(r);
    CHECK(r->rule == "acme");
    CHECK(r->why == "device_prefix");
    r = d.route("thermo-77", "thermostat");
    REQUIRE(r);
    CHECK(r->rule == "acme");
    CHECK(r->why == "devices_file");
    CHECK(d.route("shared-1", "")->rule == "acme");
    CHECK(d.route("other-9", "")->domain == "other.example");
    CHECK_FALSE(d.route("thermo-78", "thermostat"));  // not listed: served here
    CHECK_FALSE(d.route("Acme-1", "lock"));           // prefixes are case-sensitive, like device ids
}

TEST_CASE("Directory::build refuses a devices file with a bad line, naming file and line") {
    TempDir tmp;
    irp_test::write_file(tmp / "bad.devices", "ok-1\nnot valid\n");
    auto r = rule("x", "x.example", "127.0.0.1:1");
    r.devices_file = tmp / "bad.devices";
    auto dir = Directory::build({r});
    REQUIRE_FALSE(dir.ok());
    CHECK(dir.error().code == Code::config_invalid);
    CHECK(dir.error().message.find("bad.devices:2:") != std::string::npos);
    r.devices_file = tmp / "missing.devices";
    dir = Directory::build({r});
    REQUIRE_FALSE(dir.ok());
    CHECK(dir.error().code == Code::file_error);
}

TEST_CASE("EnrollService redirects matching enrollments, serves the rest, and never redirects a renewal") {
    Fixture f;
    auto r = rule("cams", "video.example", "127.0.0.1:4611");
    r.device_prefixes = {"cam-"};
    auto dir = Directory::build({r});
    REQUIRE(dir.ok());
    const auto kept = f.enroll("cam-kept");  // enrolled here before the rule existed
    f.svc.set_directory(*dir);

    const auto before = snapshot(f.d.store());
    auto key = new_key(*f.rng);
    // No valid token needed: where a device belongs is not a secret worth a proof.
    const Answer a = f.svc.on_request(enroll_request("cam-7", "default", {}, key, *f.rng, "req-r"), kPeer);
    const auto* red = std::get_if<Redirect>(&a.result);
    REQUIRE(red);
    CHECK(red->server == "127.0.0.1:4611");
    CHECK(red->domain == "video.example");
    check_unchanged(before, f.d.store());  // nothing recorded here
    REQUIRE_FALSE(f.log.empty());
    CHECK(f.log.back().find("outcome=redirected") != std::string::npos);
    CHECK(f.log.back().find("rule=cams") != std::string::npos);
    CHECK(f.log.back().find("match=device_prefix") != std::string::npos);

    // Another device is served here.
    f.enroll("sensor-1");

    // A device of this domain keeps renewing here, whatever the rules say.
    auto next = new_key(*f.rng);
    const Answer renewed = f.svc.on_request(renew_request("cam-kept", kept.cert, kept.key, next, *f.rng), kPeer);
    CHECK(std::holds_alternative<Issued>(renewed.result));

    // Rules off again (SIGHUP with none): served here.
    f.svc.set_directory(nullptr);
    const Answer served = f.svc.on_request(enroll_request("cam-8", "default", f.token("cam-8"), key, *f.rng, "req-s"), kPeer);
    CHECK(std::holds_alternative<Issued>(served.result));
}
