// mDNS discovery without a daemon (lib/net/mdns.cpp): the TXT record an
// advertisement carries, how strictly the wallet reads it, and which
// answers it tries. The browse and the advertisement are tested end to end
// against a real avahi-daemon (tests/e2e/mdns.sh).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include "irp/net/mdns.hpp"

using irp::Code;
using irp::net::choose_mdns_servers;
using irp::net::MdnsAnswer;
using irp::net::parse_irp_txt;

namespace {

using Txt = std::vector<std::string>;

Code txt_error(const Txt& txt) {
    auto r = parse_irp_txt(txt);
    REQUIRE_FALSE(r.ok());
    return r.error().code;
}

MdnsAnswer answer(const std::string& instance, const std::string& address, std::uint16_t port, Txt txt) {
    return MdnsAnswer{instance, "host.local", address, port, std::move(txt)};
}
MdnsAnswer of(const std::string& domain, const std::string& address, std::uint16_t port = 4604) {
    return answer("IRP " + domain, address, port, irp::net::irp_txt_record(domain));
}

bool contains(const std::string& hay, const std::string& needle) { return hay.find(needle) != std::string::npos; }

}  // namespace

TEST_CASE("mdns txt: what a server advertises reads back as its domain") {
    const auto txt = irp::net::irp_txt_record("home.example");
    CHECK(txt == Txt{"txtvers=1", "domain=home.example"});
    auto d = parse_irp_txt(txt);
    REQUIRE(d.ok());
    CHECK(*d == "home.example");
}

TEST_CASE("mdns txt: keys without regard to case, unknown keys ignored, any order") {
    auto d = parse_irp_txt({"note=hello", "Domain=cams.home.example", "flag", "TXTVERS=1", "x="});
    REQUIRE(d.ok());
    CHECK(*d == "cams.home.example");
}

TEST_CASE("mdns txt: the version must be there and be 1") {
    CHECK(txt_error({"domain=home.example"}) == Code::field_invalid);
    CHECK(txt_error({"txtvers=2", "domain=home.example"}) == Code::field_invalid);
    CHECK(txt_error({"txtvers=", "domain=home.example"}) == Code::field_invalid);
    CHECK(txt_error({"txtvers=01", "domain=home.example"}) == Code::field_invalid);
    CHECK(txt_error({"txtvers", "domain=home.example"}) == Code::field_invalid);
}

TEST_CASE("mdns txt: the domain must be a lower-case DNS name") {
    for (const std::string& bad : std::vector<std::string>{"", "Home.Example", "home.example.", ".home.example", "home..example", "-home.example",
                                  "home-.example", "home_1.example", "home example", "10.0.0.1", "192.168.1.20",
                                  std::string("home\0.example", 13), "h\xc3\xa9.example"}) {
        CAPTURE(bad);
        CHECK(txt_error({"txtvers=1", "domain=" + bad}) == Code::field_invalid);
    }
    CHECK(txt_error({"txtvers=1", "domain"}) == Code::field_invalid);  // a key with no value
    CHECK(txt_error({"txtvers=1"}) == Code::field_invalid);
    CHECK(txt_error({"txtvers=1", "domain=" + std::string(64, 'a') + ".example"}) == Code::field_invalid);  // a 64-byte label
    std::string long_name;
    while (long_name.size() < 250) long_name += "abcdefghi.";
    long_name += "example";  // 257 characters
    CHECK(txt_error({"txtvers=1", "domain=" + long_name}) == Code::field_invalid);
    CHECK(parse_irp_txt({"txtvers=1", "domain=" + std::string(63, 'a') + ".example"}).ok());
}

TEST_CASE("mdns txt: a key given twice is refused, even with the same value") {
    CHECK(txt_error({"txtvers=1", "domain=home.example", "domain=evil.example"}) == Code::field_invalid);
    CHECK(txt_error({"txtvers=1", "domain=home.example", "DOMAIN=home.example"}) == Code::field_invalid);
    CHECK(txt_error({"txtvers=1", "txtvers=1", "domain=home.example"}) == Code::field_invalid);
}

TEST_CASE("mdns txt: bounded: strings over 255 bytes, and only the first 64 strings") {
    CHECK(txt_error({"txtvers=1", "domain=home.example", "note=" + std::string(251, 'x')}) == Code::field_invalid);
    CHECK(parse_irp_txt({"txtvers=1", "domain=home.example", "note=" + std::string(250, 'x')}).ok());
    Txt many(64, "pad=1");
    many.push_back("txtvers=1");
    many.push_back("domain=home.example");
    CHECK(txt_error(many) == Code::field_invalid);  // past the 64th: not looked at
}

TEST_CASE("mdns choice: one domain; its servers each once, in the order answered") {
    // The same instance reported twice (two interfaces) and a replica.
    auto c = choose_mdns_servers({of("home.example", "10.0.0.7"), of("home.example", "10.0.0.7"),
                                  of("home.example", "10.0.0.8", 4700)},
                                 "");
    REQUIRE(c.ok());
    CHECK(c->domain == "home.example");
    CHECK(c->servers == std::vector<std::string>{"10.0.0.7:4604", "10.0.0.8:4700"});
    CHECK(c->skipped.empty());
}

TEST_CASE("mdns choice: several domains and none named: refused, listing them") {
    auto c = choose_mdns_servers({of("home.example", "10.0.0.7"), of("neighbour.example", "10.0.0.9")}, "");
    REQUIRE_FALSE(c.ok());
    CHECK(c.error().code == Code::bad_argument);
    CHECK(contains(c.error().message, "home.example"));
    CHECK(contains(c.error().message, "neighbour.example"));
    CHECK(contains(c.error().message, "10.0.0.9:4604"));
}

TEST_CASE("mdns choice: the domain named picks its servers only") {
    const std::vector<MdnsAnswer> answers{of("home.example", "10.0.0.7"), of("neighbour.example", "10.0.0.9"),
                                          of("home.example", "10.0.0.66")};
    auto c = choose_mdns_servers(answers, "neighbour.example");
    REQUIRE(c.ok());
    CHECK(c->domain == "neighbour.example");
    CHECK(c->servers == std::vector<std::string>{"10.0.0.9:4604"});
    // A forged answer for the same domain is tried too: only TLS can tell
    // them apart, and it does (the certificate must name the domain).
    auto h = choose_mdns_servers(answers, "home.example");
    REQUIRE(h.ok());
    CHECK(h->servers == std::vector<std::string>{"10.0.0.7:4604", "10.0.0.66:4604"});
}

TEST_CASE("mdns choice: nothing usable is deadline_exceeded, saying what answered") {
    auto none = choose_mdns_servers({}, "");
    REQUIRE_FALSE(none.ok());
    CHECK(none.error().code == Code::deadline_exceeded);
    auto other = choose_mdns_servers({of("neighbour.example", "10.0.0.9")}, "home.example");
    REQUIRE_FALSE(other.ok());
    CHECK(other.error().code == Code::deadline_exceeded);
    CHECK(contains(other.error().message, "no server of domain home.example"));
    CHECK(contains(other.error().message, "neighbour.example"));
    auto bad = choose_mdns_servers({answer("odd", "10.0.0.5", 4604, {"domain=home.example"})}, "");
    REQUIRE_FALSE(bad.ok());
    CHECK(bad.error().code == Code::deadline_exceeded);
    CHECK(contains(bad.error().message, "no txtvers"));
}

TEST_CASE("mdns choice: invalid answers are skipped, and do not count as another domain") {
    auto c = choose_mdns_servers({answer("garbage", "10.0.0.5", 4604, {"txtvers=1", "domain=EVIL"}),
                                  of("home.example", "10.0.0.7"), of("home.example", "10.0.0.8", 0),
                                  of("home.example", "", 4604)},
                                 "");
    REQUIRE(c.ok());
    CHECK(c->domain == "home.example");
    CHECK(c->servers == std::vector<std::string>{"10.0.0.7:4604"});
    CHECK(c->skipped.size() == 3);
}

TEST_CASE("mdns describe: network text is made printable") {
    const auto d = irp::net::describe(answer("IRP \x1b[31mred\n'q'", "10.0.0.5", 4604, {}));
    CHECK(d == "'IRP ?[31mred??q?' at 10.0.0.5:4604");
}
