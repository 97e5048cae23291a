// The directory role (docs/PROTOCOL.md, "Redirects and discovery"): which domain serves
// which device. Built from the [[redirect]] rules of the config; an
// enrollment that matches a rule is answered with a Redirect to that
// domain's server instead of being served here.
//
// Immutable once built: a SIGHUP builds a new Directory and swaps it in, so
// lookups take no lock.
#pragma once

#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "config/config.hpp"
#include "irp/base/error.hpp"

namespace irp::server {

// The largest devices_file read (10 MiB: about 400,000 device ids). A list
// beyond that belongs in a domain of its own, matched by class or prefix.
inline constexpr std::size_t kMaxDevicesFileBytes = 10u << 20;

struct Route {
    std::string rule;    // the rule's name, for the log
    std::string domain;  // where the device belongs
    std::string server;  // host:port of that domain's server
    std::string why;     // "class", "device_prefix" or "devices_file"
};

class Directory {
public:
    // Reads every devices_file. Errors (config_invalid / file_error) name
    // the file and line: an id that is not a valid device id, a file that
    // is too large or unreadable.
    static Result<std::shared_ptr<const Directory>> build(const std::vector<RedirectRule>& rules);

    // The first rule matching the device, in file order; nullopt: serve it here.
    std::optional<Route> route(std::string_view device_id, std::string_view class_id) const;

    std::size_t rules() const { return rules_.size(); }
    std::size_t listed_devices() const { return listed_.size(); }
    // Same rules and same listed devices (a SIGHUP reports a change).
    bool operator==(const Directory& o) const { return rules_ == o.rules_ && listed_ == o.listed_; }

private:
    std::vector<RedirectRule> rules_;
    // device id -> index of the first rule whose devices_file lists it
    std::unordered_map<std::string, std::size_t> listed_;
};

}  // namespace irp::server
