// DNS SRV discovery: the RFC 2782 order (lib/net/srv.cpp). The lookup
// itself is tested end to end against a real DNS server (tests/e2e/domains.sh).
#include <doctest/doctest.h>

#include <map>

#include "irp/net/srv.hpp"

using irp::net::order_srv;
using irp::net::SrvTarget;

namespace {
SrvTarget t(const char* host, std::uint16_t prio, std::uint16_t weight) { return SrvTarget{host, 4604, prio, weight}; }
std::vector<std::string> hosts(const std::vector<SrvTarget>& v) {
    std::vector<std::string> out;
    for (const auto& r : v) out.push_back(r.host);
    return out;
}
}  // namespace

TEST_CASE("order_srv: lower priority first, every record once") {
    double next = 0.0;
    const auto uniform = [&] { return next; };
    const auto out = order_srv({t("c", 20, 1), t("a", 10, 0), t("b", 10, 0), t("d", 30, 5)}, uniform);
    CHECK(hosts(out) == std::vector<std::string>{"a", "b", "c", "d"});  // weight 0: in the order given
}

TEST_CASE("order_srv: within a priority, chances follow the weights") {
    // The draw picks by cumulative weight: [0, 0.25) -> a (weight 1), [0.25, 1) -> b (weight 3).
    double draw = 0.1;
    auto out = order_srv({t("a", 1, 1), t("b", 1, 3)}, [&] { return draw; });
    CHECK(hosts(out) == std::vector<std::string>{"a", "b"});
    draw = 0.5;
    out = order_srv({t("a", 1, 1), t("b", 1, 3)}, [&] { return draw; });
    CHECK(hosts(out) == std::vector<std::string>{"b", "a"});
    // Weight-0 records come after every weighted one of their priority.
    draw = 0.99;
    out = order_srv({t("z", 1, 0), t("a", 1, 1), t("b", 1, 3)}, [&] { return draw; });
    CHECK(out.back().host == "z");

    // Over many draws, b comes first about three times as often as a.
    std::map<std::string, int> first;
    unsigned state = 12345;
    const auto lcg = [&] {
        state = state * 1103515245u + 12345u;
        return static_cast<double>((state >> 8) & 0xffff) / 65536.0;
    };
    for (int i = 0; i < 4000; ++i) ++first[order_srv({t("a", 1, 1), t("b", 1, 3)}, lcg).front().host];
    CHECK(first["b"] > 2700);
    CHECK(first["b"] < 3300);
}

TEST_CASE("resolve_irp_srv refuses what is not a DNS name before asking") {
    for (const char* bad : {"", "a..b", ".lead", "with space.example", "x/y", "trailing.dot.", "-lead.example"}) {
        CAPTURE(bad);
        auto r = irp::net::resolve_irp_srv(bad);
        REQUIRE_FALSE(r.ok());
        CHECK(r.error().code == irp::Code::bad_argument);
    }
}
