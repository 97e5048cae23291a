#include "irpctl/cli.hpp"

#include <httplib.h>

#include <cstdio>
#include <ctime>
#include <iostream>

namespace irp::ctl {

std::string when(const json& v) {
    if (!v.is_number_integer()) return "-";
    const std::time_t t = v.get<std::int64_t>();
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%d %H:%M:%SZ", &tm);
    return buf;
}

std::string str(const json& j, const char* key) {
    if (!j.contains(key)) return "";
    const auto& v = j.at(key);
    if (v.is_string()) return v.get<std::string>();
    if (v.is_boolean()) return v.get<bool>() ? "yes" : "no";
    return v.dump();
}

// Prints rows as aligned columns.
void table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows) {
    std::vector<std::size_t> w(head.size());
    for (std::size_t i = 0; i < head.size(); ++i) w[i] = head[i].size();
    for (const auto& r : rows)
        for (std::size_t i = 0; i < r.size(); ++i) w[i] = std::max(w[i], r[i].size());
    auto line = [&](const std::vector<std::string>& r) {
        for (std::size_t i = 0; i < r.size(); ++i)
            std::printf("%-*s%s", static_cast<int>(w[i]), r[i].c_str(), i + 1 < r.size() ? "  " : "\n");
    };
    line(head);
    for (const auto& r : rows) line(r);
    if (rows.empty()) std::printf("(none)\n");
}

std::optional<json> Api::call(const std::string& method, const std::string& path, const json* body) {
    httplib::Client cli(url);
    cli.set_connection_timeout(5, 0);
    cli.set_read_timeout(30, 0);
    const httplib::Headers headers{{"Authorization", "Bearer " + token}};
    const std::string payload = body ? body->dump() : "{}";
    auto res = method == "GET"      ? cli.Get(path, headers)
               : method == "DELETE" ? cli.Delete(path, headers)
               : method == "PUT"    ? cli.Put(path, headers, payload, "application/json")
                                    : cli.Post(path, headers, payload, "application/json");
    if (!res) {
        std::fprintf(stderr, "irpctl: cannot reach the admin API at %s: %s\n", url.c_str(),
                     httplib::to_string(res.error()).c_str());
        return std::nullopt;
    }
    json j = json::parse(res->body, nullptr, false);
    if (res->status < 200 || res->status > 299) {
        const std::string msg = !j.is_discarded() && j.contains("error") ? str(j["error"], "message") : res->body;
        std::fprintf(stderr, "irpctl: %s %s: HTTP %d: %s\n", method.c_str(), path.c_str(), res->status, msg.c_str());
        return std::nullopt;
    }
    if (j.is_discarded()) {
        std::fprintf(stderr, "irpctl: the admin API sent something that is not JSON\n");
        return std::nullopt;
    }
    return j;
}

int Api::emit(const std::optional<json>& j, const std::function<void(const json&)>& human) const {
    if (!j) return 1;
    if (as_json)
        std::cout << j->dump(2) << "\n";
    else
        human(*j);
    return 0;
}

std::string query(std::initializer_list<std::pair<std::string, std::string>> kv) {
    std::string q;
    for (const auto& [k, v] : kv)
        if (!v.empty()) q += (q.empty() ? "?" : "&") + k + "=" + httplib::detail::encode_query_param(v);
    return q;
}

}  // namespace irp::ctl
