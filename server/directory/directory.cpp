#include "directory/directory.hpp"

#include "irp/core/transcript.hpp"
#include "irp/platform/files.hpp"

namespace irp::server {

namespace {

// One device id per line; blank lines and '#' comments are skipped,
// surrounding spaces and a CR are trimmed.
Result<std::vector<std::string>> read_devices(const std::string& path) {
    auto text = platform::read_file(path, kMaxDevicesFileBytes);
    if (!text) return make_error(text.error().code, "devices_file: " + text.error().message);
    std::vector<std::string> out;
    std::size_t line_no = 0, pos = 0;
    while (pos < text->size()) {
        std::size_t end = text->find('\n', pos);
        if (end == std::string::npos) end = text->size();
        std::string_view line(text->data() + pos, end - pos);
        pos = end + 1;
        ++line_no;
        if (const auto hash = line.find('#'); hash != std::string_view::npos) line = line.substr(0, hash);
        while (!line.empty() && (line.back() == ' ' || line.back() == '\t' || line.back() == '\r')) line.remove_suffix(1);
        while (!line.empty() && (line.front() == ' ' || line.front() == '\t')) line.remove_prefix(1);
        if (line.empty()) continue;
        if (!is_valid_identifier(line))
            return make_error(Code::config_invalid, path + ":" + std::to_string(line_no) +
                                                        ": not a device id (1-64 characters from [A-Za-z0-9._-])");
        out.emplace_back(line);
    }
    return out;
}

}  // namespace

Result<std::shared_ptr<const Directory>> Directory::build(const std::vector<RedirectRule>& rules) {
    auto d = std::make_shared<Directory>();
    d->rules_ = rules;
    for (std::size_t i = 0; i < rules.size(); ++i) {
        if (rules[i].devices_file.empty()) continue;
        auto ids = read_devices(rules[i].devices_file);
        if (!ids) return ids.error();
        for (auto& id : *ids) d->listed_.try_emplace(std::move(id), i);
    }
    return std::shared_ptr<const Directory>(std::move(d));
}

std::optional<Route> Directory::route(std::string_view device_id, std::string_view class_id) const {
    const auto listed = listed_.find(std::string(device_id));
    for (std::size_t i = 0; i < rules_.size(); ++i) {
        const RedirectRule& r = rules_[i];
        const char* why = nullptr;
        for (const auto& c : r.classes)
            if (!class_id.empty() && c == class_id) why = "class";
        for (const auto& p : r.device_prefixes)
            if (!why && device_id.starts_with(p)) why = "device_prefix";
        if (!why && listed != listed_.end() && listed->second == i) why = "devices_file";
        if (why) return Route{r.name, r.domain, r.server, why};
    }
    return std::nullopt;
}

}  // namespace irp::server
