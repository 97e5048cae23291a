// [discovery] in server.toml: the mDNS advertisement switch and its instance
// name (server/config/config.cpp), rendered by `irp-server init`, and named
// for a restart by SIGHUP (server/reload.cpp). The advertisement itself is
// tested end to end (tests/e2e/mdns.sh). Run alone as the CTest test
// `mdns_config` (test cases named "... discovery ...").
#include <doctest/doctest.h>

#include <algorithm>
#include <string>

#include "config/config.hpp"
#include "reload.hpp"
#include "minimal_config.hpp"

namespace {

using irp::Code;
using irp::server::Config;
using irp::server::parse_config;
using irp::server::render_config;

const std::string kOrigin = "/etc/irp/server.toml";

const std::string kBase = irp_test::minimal_config("home.example");

// kBase, then a [discovery] table holding `body` (line 15 on).
std::string with_discovery(const std::string& body) { return kBase + "\n[discovery]\n" + body + "\n"; }

std::string error_of(const std::string& text) {
    auto r = parse_config(text, kOrigin);
    REQUIRE_FALSE(r.ok());
    CHECK(r.error().code == Code::config_invalid);
    return r.error().message;
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("config: discovery is off by default, and init writes it out") {
    auto r = parse_config(kBase, kOrigin);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    CHECK_FALSE(r->mdns);
    CHECK(r->mdns_instance.empty());
    const std::string text = render_config(*r);
    CHECK(contains(text, "\n[discovery]\nmdns = false\n"));
    CHECK_FALSE(contains(text, "instance ="));  // empty: the default name, not written
}

TEST_CASE("config: discovery mdns and instance parse, and survive a render") {
    auto r = parse_config(with_discovery("mdns = true\ninstance = \"Küche IRP\""), kOrigin);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    CHECK(r->mdns);
    CHECK(r->mdns_instance == "Küche IRP");
    CHECK_FALSE(r->allow_same_key_renewal);  // the flag went to its own member
    auto back = parse_config(render_config(*r), kOrigin);
    REQUIRE_MESSAGE(back.ok(), back.error().message);
    CHECK(back->mdns);
    CHECK(back->mdns_instance == "Küche IRP");
}

TEST_CASE("config: discovery flags and profile flags do not share a member") {
    auto r = parse_config(kBase + "\n[profile]\nallow_same_key_renewal = true\n", kOrigin);
    REQUIRE_MESSAGE(r.ok(), r.error().message);
    CHECK(r->allow_same_key_renewal);
    CHECK_FALSE(r->mdns);
    auto back = parse_config(render_config(*r), kOrigin);
    REQUIRE_MESSAGE(back.ok(), back.error().message);
    CHECK(back->allow_same_key_renewal);
    CHECK_FALSE(back->mdns);
}

TEST_CASE("config: discovery values that are refused, with the key and line") {
    CHECK(contains(error_of(with_discovery("mdns = \"yes\"")), "server.toml:16: 'discovery.mdns' must be true or false"));
    CHECK(contains(error_of(with_discovery("mdns = 1")), "'discovery.mdns' must be true or false"));
    CHECK(contains(error_of(with_discovery("advertise = true")), "server.toml:16: unknown key 'discovery.advertise'"));
    const std::string must = "'discovery.instance' must be 1-63 bytes of UTF-8";
    CHECK(contains(error_of(with_discovery("instance = \"\"")), must));
    CHECK(contains(error_of(with_discovery("instance = \"" + std::string(64, 'a') + "\"")), must));
    CHECK(contains(error_of(with_discovery("instance = \"tab\\there\"")), must));
    CHECK(contains(error_of(with_discovery("instance = \"bell\\u0007\"")), must));
    CHECK(contains(error_of(with_discovery("instance = \"c1 \\u0085 control\"")), must));
    CHECK(contains(error_of(with_discovery("instance = 42")), must));
    // 63 bytes are allowed, counted in bytes: 21 three-byte characters fit, 22 do not.
    std::string euro21, euro22;
    for (int i = 0; i < 21; ++i) euro21 += "\xe2\x82\xac";
    euro22 = euro21 + "\xe2\x82\xac";
    auto ok = parse_config(with_discovery("instance = \"" + euro21 + "\""), kOrigin);
    REQUIRE_MESSAGE(ok.ok(), ok.error().message);
    CHECK(ok->mdns_instance.size() == 63);
    CHECK(contains(error_of(with_discovery("instance = \"" + euro22 + "\"")), must));
}

TEST_CASE("config: discovery instance names must be well-formed UTF-8") {
    // toml++ refuses most of these itself; either way the file is refused.
    for (const std::string bad : {"\xff", "\xc0\xaf", "\xe0\x80\xaf", "\xed\xa0\x80", "a\xe2\x82", "\xf4\x90\x80\x80"}) {
        auto r = parse_config(with_discovery("instance = \"" + bad + "\""), kOrigin);
        CHECK_FALSE(r.ok());
    }
}

TEST_CASE("reload: discovery changes need a restart") {
    Config r;
    Config n = r;
    n.mdns = true;
    n.mdns_instance = "IRP at home";
    const auto p = irp::server::plan_reload(r, n);
    const auto has = [](const std::vector<std::string>& v, const char* k) { return std::find(v.begin(), v.end(), k) != v.end(); };
    CHECK(has(p.need_restart, "discovery.mdns"));
    CHECK(has(p.need_restart, "discovery.instance"));
    CHECK_FALSE(has(p.applied, "discovery.mdns"));
    CHECK_FALSE(irp::server::apply_live(r, n).mdns);
}
