// Device rights ("ACLs"): what a device may do toward which other devices or
// services, carried in its certificate as a non-critical X.509 extension.
// Encoded and decoded with Botan 2 in lib/crypto/botan/rights.cpp; nothing
// here throws.
//
//   IrpRights ::= SEQUENCE SIZE (1..64) OF IrpRight
//   IrpRight  ::= SEQUENCE {
//       action  UTF8String (SIZE (1..64)),   -- [a-z0-9._-]+, or "*"
//       target  UTF8String (SIZE (1..128))   -- printable ASCII, no spaces
//   }
//
// Both strings are restricted to printable ASCII (0x21..0x7e), so their
// UTF-8 encoding is their ASCII bytes. In `target`, '*' may appear only as
// the last character (a wildcard, see rights_allow).
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"

namespace irp::crypto {

// The extension's OID.
//
// Asked for: an OID under the UUID arc 2.25 (ITU-T X.667), which needs no
// registration. A random (version 4) UUID was generated once,
//   8833c24e-df4e-4a36-8e41-2bfdfb3dc2f9,
// and its 128-bit value read as an unsigned decimal integer, giving
// kRightsExtensionUuidOid below.
//
// That OID cannot be used with Botan: Botan 2 (and 3) keep OID arcs as
// 32-bit integers, so Botan::OID cannot be built from that string and any
// certificate carrying it fails to decode ("OID component overflow"): it
// could be neither issued nor parsed nor path-validated here, nor by any
// other Botan-based relying party. No UUID fits in 32 bits.
//
// PLACEHOLDER until the project has an IANA Private Enterprise Number:
// 1.3.6.1.4.1.32473 is the enterprise number RFC 5612 reserves for
// documentation. Replace it with 1.3.6.1.4.1.<our PEN>.1.1 (or similar)
// before certificates with rights are issued for real; nothing else in the
// code depends on the value.
inline constexpr const char* kRightsExtensionUuidOid = "2.25.181043755602903423326237719906123367161";
inline constexpr const char* kRightsExtensionOid = "1.3.6.1.4.1.32473.1.1";

inline constexpr std::size_t kMaxRights = 64;
inline constexpr std::size_t kMaxRightActionBytes = 64;
inline constexpr std::size_t kMaxRightTargetBytes = 128;

struct Right {
    std::string action;  // e.g. "read", "ota.push", or "*"
    std::string target;  // e.g. "device:cam-07", "service:mqtt", "device:cam-*", "*"

    friend bool operator==(const Right&, const Right&) = default;
};

// Empty when `r` is well-formed, else why not. action: 1..64 bytes of
// [a-z0-9._-], or exactly "*". target: 1..128 bytes of 0x21..0x7e, with '*'
// only as the last byte.
std::string right_problem(const Right& r);

// The DER extension value (the IrpRights SEQUENCE). Fails with bad_argument
// for no rights, more than kMaxRights, or a right that right_problem()
// refuses.
Result<Bytes> encode_rights(const std::vector<Right>& rights);

// Decodes an extension value. Bounded: more than kMaxRights entries, an
// empty list, over-long or ill-formed strings, another type than the ASN.1
// above, non-DER encoding or trailing data fail with malformed_message.
Result<std::vector<Right>> decode_rights(ByteView der);

// Does any of `rights` allow `action` on `target`? A right matches when
//   - its action equals `action`, or is "*" (any action), and
//   - its target equals `target`, or is "*" (any target), or ends in '*'
//     and `target` starts with the part before the '*' ("device:cam-*"
//     matches "device:cam-07" and "device:cam-", not "device:cam" nor
//     "device:door-1").
// Comparisons are byte for byte (case-sensitive). An empty `action` or
// `target` is never allowed. No rights allow nothing (default deny).
bool rights_allow(const std::vector<Right>& rights, std::string_view action, std::string_view target);

}  // namespace irp::crypto
