#include "log.hpp"

#include <cstdio>
#include <ctime>

namespace irp::server {

std::string utc_now() {
    const std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
}

std::string printable(std::string_view s, bool spaces, std::size_t max) {
    std::string out;
    for (char c : s.substr(0, max)) {
        const bool ok = (c > 0x20 && c <= 0x7e && c != '"') || (spaces && c == ' ');
        out.push_back(ok ? c : '?');
    }
    if (s.size() > max) out += "...";
    return out;
}

namespace {
std::string json_string(std::string_view s) {
    std::string out = "\"";
    for (char c : s) {
        switch (c) {
            case '"': out += "\\\""; break;
            case '\\': out += "\\\\"; break;
            case '\n': out += "\\n"; break;
            case '\r': out += "\\r"; break;
            case '\t': out += "\\t"; break;
            default:
                if (static_cast<unsigned char>(c) < 0x20) {
                    char buf[8];
                    std::snprintf(buf, sizeof buf, "\\u%04x", c);
                    out += buf;
                } else {
                    out.push_back(c);
                }
        }
    }
    return out + "\"";
}
}  // namespace

std::string render_log(LogFormat f, std::string_view event, const std::vector<LogField>& fields) {
    std::string out;
    if (f == LogFormat::json) {
        out = "{\"ts\":" + json_string(utc_now()) + ",\"event\":" + json_string(event);
        for (const auto& [k, v] : fields) out += "," + json_string(k) + ":" + json_string(v);
        return out + "}";
    }
    out = utc_now() + " " + std::string(event);
    std::string elapsed;
    for (const auto& [k, v] : fields) {
        if (k == "elapsed") {
            elapsed = v;
            continue;
        }
        const bool quote = v.find_first_of(" \"") != std::string::npos || v.empty();
        out += " " + k + "=" + (quote ? "\"" + v + "\"" : v);
    }
    if (!elapsed.empty()) out += " " + elapsed;
    return out;
}

}  // namespace irp::server
