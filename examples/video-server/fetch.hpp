// HTTP GET for the account statements a domain publishes (GET
// <http-base>/account/<serial-hex>, docs/PROTOCOL.md "Accounts and
// certificate transfer"). The statement is signed by the CA, so plain HTTP
// is enough: the transport adds nothing to its authenticity.
#pragma once

#include <cstddef>
#include <string>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"

namespace video {

// `base` is "http://host:port"; 404 is not_found, other failures
// unavailable-style errors (storage_unavailable), a body over `max_bytes`
// malformed_message.
irp::Result<irp::Bytes> http_get(const std::string& base, const std::string& path, std::size_t max_bytes);

}  // namespace video
