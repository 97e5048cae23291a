// What a SIGHUP takes live and what it leaves for a restart.
#include <doctest/doctest.h>

#include <algorithm>

#include "reload.hpp"

using namespace irp::server;

namespace {
bool has(const std::vector<std::string>& v, const std::string& k) { return std::find(v.begin(), v.end(), k) != v.end(); }
}  // namespace

TEST_CASE("reload: an unchanged config changes nothing") {
    Config c;
    c.domain = "d.example";
    const auto p = plan_reload(c, c);
    CHECK(p.applied.empty());
    CHECK(p.need_restart.empty());
}

TEST_CASE("reload: live keys are applied, the rest is named for a restart") {
    Config r;
    r.classes["a"] = ClassConfig{"a", "/s/a"};
    Config n = r;
    n.validity_days = 30;
    n.per_source_rate = 10;
    n.http_max_per_source = 0;
    n.classes["b"] = ClassConfig{"b", "/s/b"};
    n.listen_port = 9999;
    n.database = "/elsewhere.db";
    n.log_format = "json";
    n.retired.push_back(RetiredCa{"/g1/domain-ca.pem", "/g1/domain-ca.key"});
    const auto p = plan_reload(r, n);
    CHECK(has(p.need_restart, "domain.retired"));
    CHECK(has(p.applied, "profile.validity_days"));
    CHECK(has(p.applied, "limits.per_source_rate"));
    CHECK(has(p.applied, "http.max_connections_per_source"));
    CHECK(has(p.applied, "classes"));
    CHECK(has(p.need_restart, "server.listen"));
    CHECK(has(p.need_restart, "storage.database"));
    CHECK(has(p.need_restart, "server.log_format"));
    CHECK_FALSE(has(p.applied, "server.listen"));

    const Config after = apply_live(r, n);
    CHECK(after.validity_days == 30);
    CHECK(after.per_source_rate == 10);
    CHECK(after.http_max_per_source == 0);
    CHECK(after.classes.size() == 2);
    // Restart-only keys keep their running values.
    CHECK(after.listen_port == r.listen_port);
    CHECK(after.database == r.database);
    CHECK(after.log_format == r.log_format);
}

TEST_CASE("reload: a changed class secret file counts as a class change") {
    Config r;
    r.classes["a"] = ClassConfig{"a", "/s/a"};
    Config n = r;
    n.classes["a"].secret_file = "/s/a-rotated";
    CHECK(has(plan_reload(r, n).applied, "classes"));
}
