// Rights as the store keeps them: one "action target" pair per line, in
// the order given. Used for the rights an administrator sets per device or
// class (copied into certificates) and for the policy a customer attaches to
// an accepted transfer. The text is canonical, so a customer's signature over
// a policy covers exactly what the server stores.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "irp/base/error.hpp"
#include "irp/crypto/rights.hpp"

namespace irp::server {

// "" for no rights. Each right must pass crypto::right_problem (the caller
// validates first, e.g. with parse_rights_text of user input).
std::string rights_text(const std::vector<crypto::Right>& rights);

// Parses rights text: lines of "action target" separated by '\n' (no
// trailing newline), at most crypto::kMaxRights, each valid, no duplicate.
// "" is no rights. bad_argument says which line and why.
Result<std::vector<crypto::Right>> parse_rights_text(std::string_view text);

}  // namespace irp::server
