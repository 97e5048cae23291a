// next_hop: what the wallet checks before it follows a Redirect.
#include <doctest/doctest.h>

#include "redirect.hpp"

using namespace irp;
using irp::wallet::Hop;
using irp::wallet::kMaxRedirects;
using irp::wallet::next_hop;

TEST_CASE("next_hop follows a well-formed redirect") {
    const std::vector<Hop> visited{{"127.0.0.1:4604", "directory.example"}};
    auto h = next_hop(Redirect{"irp.video.example:4611", "video.example"}, visited);
    REQUIRE(h.ok());
    CHECK(h->server == "irp.video.example:4611");
    CHECK(h->domain == "video.example");
    CHECK(next_hop(Redirect{"10.1.2.3:1", "a.b"}, visited).ok());
    CHECK(next_hop(Redirect{"Mixed-Case.Example:65535", "x.example"}, visited).ok());  // host names are case-blind
}

TEST_CASE("next_hop refuses malformed redirects with bad_redirect") {
    const std::vector<Hop> visited{{"127.0.0.1:4604", ""}};
    const Redirect bad[] = {
        {"", "video.example"},
        {"video.example", "video.example"},          // no port
        {"video.example:0", "video.example"},        // port 0
        {"video.example:65536", "video.example"},    // port too large
        {"video.example:44x", "video.example"},
        {":4604", "video.example"},
        {"bad host:4604", "video.example"},
        {"-lead.example:4604", "video.example"},
        {"a..b:4604", "video.example"},
        {"[::1]:4604", "video.example"},             // IPv6 literals are not taken
        {"ok.example:4604", ""},                     // no domain
        {"ok.example:4604", "Video.Example"},        // domains are lower-case
        {"ok.example:4604", "video.example."},       // no trailing dot
        {"ok.example:4604", std::string(254, 'a')},  // too long
        {"ok.example:4604", std::string(64, 'a') + ".example"},  // label too long
        {"ok.example:4604", "10.0.0.5"},                          // an address, not a domain
    };
    for (const auto& r : bad) {
        CAPTURE(r.server);
        CAPTURE(r.domain);
        auto h = next_hop(r, visited);
        REQUIRE_FALSE(h.ok());
        CHECK(h.error().code == Code::bad_redirect);
    }
}

TEST_CASE("next_hop refuses loops and more than kMaxRedirects hops") {
    std::vector<Hop> visited{{"127.0.0.1:4604", ""}};
    auto back = next_hop(Redirect{"127.0.0.1:4604", "directory.example"}, visited);
    REQUIRE_FALSE(back.ok());
    CHECK(back.error().code == Code::bad_redirect);
    CHECK(back.error().message.find("visited already") != std::string::npos);

    for (std::size_t i = 0; i < kMaxRedirects; ++i) {
        const Redirect r{"127.0.0.1:" + std::to_string(5000 + i), "d" + std::to_string(i) + ".example"};
        auto h = next_hop(r, visited);
        REQUIRE_MESSAGE(h.ok(), "hop " << i);
        visited.push_back(*h);
    }
    auto one_more = next_hop(Redirect{"127.0.0.1:6000", "last.example"}, visited);
    REQUIRE_FALSE(one_more.ok());
    CHECK(one_more.error().code == Code::bad_redirect);
    CHECK(one_more.error().message.find("more than 4 redirects") != std::string::npos);
}
