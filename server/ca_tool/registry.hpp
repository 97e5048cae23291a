// What the offline root remembers between ceremonies, in ROOTDIR:
//   serials    one line per CA certificate the root issued (and whether it
//              was revoked), so `irp-ca root-crl` can list the revoked ones;
//   crlnumber  the last CRL number used (RFC 5280 5.2.3: strictly increasing).
// Plain text so an operator can read them on the offline machine without
// tools; written atomically (platform::write_file_atomic).
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "irp/base/error.hpp"

namespace irp::ca_tool {

struct IssuedCa {
    std::string serial_hex;  // lower-case, minimal (as CertInfo::serial)
    std::string domain;
    std::string subject_cn;
    std::int64_t issued_at = 0;  // Unix seconds
    std::int64_t not_after = 0;
    std::optional<std::int64_t> revoked_at;
    std::int32_t reason = 0;  // RFC 5280 CRLReason (0 = unspecified)
};

inline constexpr const char* kSerialsFile = "serials";
inline constexpr const char* kCrlNumberFile = "crlnumber";

// Reads ROOTDIR/serials. A missing file is an error (not a root directory);
// a malformed line is an error naming the line.
Result<std::vector<IssuedCa>> read_registry(const std::string& root_dir);
Result<void> write_registry(const std::string& root_dir, const std::vector<IssuedCa>& cas);
std::string render_registry(const std::vector<IssuedCa>& cas);

// The last CRL number written (0 when no CRL has been signed yet).
Result<std::int64_t> last_crl_number(const std::string& root_dir);
Result<void> write_crl_number(const std::string& root_dir, std::int64_t number);

}  // namespace irp::ca_tool
