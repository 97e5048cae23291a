// The one shape of an HTTP error body, on every listener:
// {"error":{"code":<number>,"name":"<code_name>","message":"..."}} with the
// numbered codes of irp/base/error.hpp (docs/PROTOCOL.md, "Error codes").
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "irp/base/error.hpp"

namespace irp::server::admin {

inline nlohmann::json error_body(Code code, const std::string& message) {
    return nlohmann::json{{"error", {{"code", static_cast<int>(code)}, {"name", code_name(code)}, {"message", message}}}};
}

}  // namespace irp::server::admin
