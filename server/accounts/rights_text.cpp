#include "accounts/rights_text.hpp"

#include <algorithm>

namespace irp::server {

std::string rights_text(const std::vector<crypto::Right>& rights) {
    std::string out;
    for (const auto& r : rights) {
        if (!out.empty()) out += '\n';
        out += r.action;
        out += ' ';
        out += r.target;
    }
    return out;
}

Result<std::vector<crypto::Right>> parse_rights_text(std::string_view text) {
    std::vector<crypto::Right> out;
    if (text.empty()) return out;
    std::size_t line = 0;
    while (true) {
        ++line;
        const auto nl = text.find('\n');
        const std::string_view l = text.substr(0, nl);
        const auto sp = l.find(' ');
        const std::string at = "rights line " + std::to_string(line) + ": ";
        if (sp == std::string_view::npos) return make_error(Code::bad_argument, at + "expected \"action target\"");
        crypto::Right r{std::string(l.substr(0, sp)), std::string(l.substr(sp + 1))};
        if (auto why = crypto::right_problem(r); !why.empty()) return make_error(Code::bad_argument, at + why);
        if (std::find(out.begin(), out.end(), r) != out.end())
            return make_error(Code::bad_argument, at + "repeats \"" + r.action + " " + r.target + "\"");
        if (out.size() == crypto::kMaxRights)
            return make_error(Code::bad_argument, "at most " + std::to_string(crypto::kMaxRights) + " rights");
        out.push_back(std::move(r));
        if (nl == std::string_view::npos) return out;
        text.remove_prefix(nl + 1);
    }
}

}  // namespace irp::server
