// Log records render as readable lines or as one JSON object per line, and
// peer-supplied text cannot break either.
#include <doctest/doctest.h>

#include <nlohmann/json.hpp>

#include "log.hpp"

using namespace irp::server;

TEST_CASE("log: text lines quote values with spaces and put elapsed last") {
    const auto line = render_log(LogFormat::text, "enroll",
                                 {{"device", "cam-1"}, {"reason", "bad token"}, {"elapsed", "1.5ms"}, {"code", "200/x"}});
    CHECK(line.find(" enroll device=cam-1 reason=\"bad token\" code=200/x 1.5ms") != std::string::npos);
    CHECK(line.back() == 's');
}

TEST_CASE("log: json lines are valid JSON objects with every field, even hostile ones") {
    const std::string hostile = "a\"b\\c\nd\x01";
    const auto line = render_log(LogFormat::json, "session", {{"peer", "127.0.0.1:1"}, {"reason", hostile}});
    CHECK(line.find('\n') == std::string::npos);
    const auto j = nlohmann::json::parse(line);
    CHECK(j["event"] == "session");
    CHECK(j["peer"] == "127.0.0.1:1");
    CHECK(j["reason"] == hostile);
    CHECK(j["ts"].get<std::string>().size() == 20);
}

TEST_CASE("log: printable keeps one line, bounded, without quotes") {
    CHECK(printable("dev\n1\"x") == "dev?1?x");
    CHECK(printable("a b") == "a?b");
    CHECK(printable("a b", true) == "a b");
    CHECK(printable(std::string(100, 'x')).size() == 83);  // 80 + "..."
}
