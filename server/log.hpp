// Server log records: an event name and ordered key/value fields, rendered
// as one readable line (default) or one JSON object per line. Callers pass
// peer-supplied values through printable() first.
#pragma once

#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace irp::server {

enum class LogFormat { text, json };

using LogField = std::pair<std::string, std::string>;

// text: "2026-11-22T05:02:41Z enroll device=cam-001 ... reason=\"...\" 6.4ms"
//       (a field named "elapsed" is written bare at the end)
// json: {"ts":"2026-11-22T05:02:41Z","event":"enroll","device":"cam-001",...}
std::string render_log(LogFormat f, std::string_view event, const std::vector<LogField>& fields);

std::string utc_now();

// Device-supplied text in a log line: one line, bounded, no quotes.
std::string printable(std::string_view s, bool spaces = false, std::size_t max = 80);

}  // namespace irp::server
