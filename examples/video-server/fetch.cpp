#include "fetch.hpp"

#include <httplib.h>

#include <chrono>

namespace video {

using irp::Code;
using irp::make_error;

irp::Result<irp::Bytes> http_get(const std::string& base, const std::string& path, std::size_t max_bytes) {
    httplib::Client cli(base);
    cli.set_connection_timeout(3, 0);
    cli.set_read_timeout(3, 0);
    // Bounded twice: by the declared length before anything is read, and
    // while reading, with one deadline for the whole body (a per-read
    // timeout alone lets a slow drip hold the server forever).
    const auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(5);
    std::string body;
    bool too_big = false, too_slow = false;
    const auto res = cli.Get(
        path,
        [&](const httplib::Response& r) {
            const auto len = r.get_header_value("Content-Length");
            if (!len.empty() && (len.size() > 18 || std::stoull(len) > max_bytes)) too_big = true;
            return !too_big;
        },
        [&](const char* data, std::size_t n) {
            if (n > max_bytes - body.size()) too_big = true;
            if (std::chrono::steady_clock::now() > deadline) too_slow = true;
            if (too_big || too_slow) return false;
            body.append(data, n);
            return true;
        });
    if (too_big)
        return make_error(Code::malformed_message, "GET " + base + path + ": more than " + std::to_string(max_bytes) +
                                                       " bytes");
    if (too_slow) return make_error(Code::deadline_exceeded, "GET " + base + path + ": the body took more than 5 s");
    if (!res) return make_error(Code::storage_unavailable, "GET " + base + path + ": " + httplib::to_string(res.error()));
    if (res->status == 404) return make_error(Code::not_found, "GET " + base + path + ": 404");
    if (res->status != 200)
        return make_error(Code::storage_unavailable, "GET " + base + path + ": HTTP " + std::to_string(res->status));
    return irp::to_bytes(body);
}

}  // namespace video
