// irpctl's shared pieces: the admin API client, tables and time formats.
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

namespace irp::ctl {

using json = nlohmann::json;

// "2024-05-01 12:00:00Z", or "-" for anything but an integer.
std::string when(const json& v);
// A member as text ("" when absent; yes/no for booleans).
std::string str(const json& j, const char* key);
// Prints rows as aligned columns.
void table(const std::vector<std::string>& head, const std::vector<std::vector<std::string>>& rows);
// "?k=v&..." with empty values left out, or "".
std::string query(std::initializer_list<std::pair<std::string, std::string>> kv);

struct Api {
    std::string url;
    std::string token;
    bool as_json = false;

    // GET, DELETE, PUT or POST; returns the JSON body, or prints a clear
    // message on stderr and returns nullopt.
    std::optional<json> call(const std::string& method, const std::string& path, const json* body = nullptr);

    // Prints `j` as JSON with --json, else through `human`; 0, or 1 when the call failed.
    int emit(const std::optional<json>& j, const std::function<void(const json&)>& human) const;
};

}  // namespace irp::ctl
