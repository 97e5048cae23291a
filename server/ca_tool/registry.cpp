#include "ca_tool/registry.hpp"

#include <charconv>
#include <sstream>

#include "irp/platform/files.hpp"

namespace irp::ca_tool {

namespace {

constexpr const char* kHeader =
    "# irp-ca: CA certificates issued by this root. One per line, tab-separated:\n"
    "# serial\tdomain\tissued_at\tnot_after\trevoked_at\treason\tsubject_cn\n"
    "# (times are Unix seconds; revoked_at '-' = not revoked; reason is RFC 5280 CRLReason)\n";

std::vector<std::string> split_tabs(const std::string& line) {
    std::vector<std::string> out;
    std::size_t start = 0;
    for (;;) {
        const auto tab = line.find('\t', start);
        out.push_back(line.substr(start, tab == std::string::npos ? std::string::npos : tab - start));
        if (tab == std::string::npos) return out;
        start = tab + 1;
    }
}

template <typename T>
bool parse_int(const std::string& s, T& out) {
    if (s.empty()) return false;
    const auto [p, ec] = std::from_chars(s.data(), s.data() + s.size(), out);
    return ec == std::errc{} && p == s.data() + s.size();
}

bool is_hex(const std::string& s) {
    return !s.empty() && s.find_first_not_of("0123456789abcdef") == std::string::npos;
}

}  // namespace

Result<std::vector<IssuedCa>> read_registry(const std::string& root_dir) {
    const std::string path = root_dir + "/" + kSerialsFile;
    if (!platform::file_exists(path))
        return make_error(Code::bad_argument, "'" + root_dir + "' is not a root directory (no " + kSerialsFile +
                                                  "; create one with `irp-ca root create`)");
    auto text = platform::read_file(path, 16 << 20);
    if (!text) return text.error();
    std::vector<IssuedCa> out;
    std::istringstream in(*text);
    std::string line;
    for (int n = 1; std::getline(in, line); ++n) {
        if (line.empty() || line[0] == '#') continue;
        const auto f = split_tabs(line);
        IssuedCa ca;
        bool ok = f.size() == 7 && is_hex(f[0]) && !f[1].empty() && parse_int(f[2], ca.issued_at) &&
                  parse_int(f[3], ca.not_after) && parse_int(f[5], ca.reason);
        if (ok && f[4] != "-") {
            std::int64_t at = 0;
            ok = parse_int(f[4], at);
            ca.revoked_at = at;
        }
        if (!ok) return make_error(Code::file_error, path + ":" + std::to_string(n) + ": malformed line");
        ca.serial_hex = f[0];
        ca.domain = f[1];
        ca.subject_cn = f[6];
        out.push_back(std::move(ca));
    }
    return out;
}

std::string render_registry(const std::vector<IssuedCa>& cas) {
    std::string out = kHeader;
    for (const auto& c : cas)
        out += c.serial_hex + "\t" + c.domain + "\t" + std::to_string(c.issued_at) + "\t" + std::to_string(c.not_after) +
               "\t" + (c.revoked_at ? std::to_string(*c.revoked_at) : "-") + "\t" + std::to_string(c.reason) + "\t" +
               c.subject_cn + "\n";
    return out;
}

Result<void> write_registry(const std::string& root_dir, const std::vector<IssuedCa>& cas) {
    return platform::write_file_atomic(root_dir + "/" + kSerialsFile, render_registry(cas), 0644);
}

Result<std::int64_t> last_crl_number(const std::string& root_dir) {
    const std::string path = root_dir + "/" + kCrlNumberFile;
    if (!platform::file_exists(path)) return std::int64_t{0};
    auto text = platform::read_file(path, 64);
    if (!text) return text.error();
    std::string s = *text;
    while (!s.empty() && (s.back() == '\n' || s.back() == '\r' || s.back() == ' ')) s.pop_back();
    std::int64_t n = 0;
    if (!parse_int(s, n) || n < 0) return make_error(Code::file_error, "'" + path + "' must hold one non-negative number");
    return n;
}

Result<void> write_crl_number(const std::string& root_dir, std::int64_t number) {
    return platform::write_file_atomic(root_dir + "/" + kCrlNumberFile, std::to_string(number) + "\n", 0644);
}

}  // namespace irp::ca_tool
