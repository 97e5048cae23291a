// POSIX file helpers shared by the server and the wallet. Not part of the
// protocol core: the core never touches a file.
#pragma once

#include <string>
#include <sys/types.h>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"

namespace irp::platform {

Result<std::string> read_file(const std::string& path, std::size_t max_bytes = 1 << 20);

// Writes `data` to `path` atomically and durably: a temporary file in the
// same directory created with `mode`, written, fsync'ed, renamed over
// `path`, then the directory fsync'ed. Readers see the old or the new file,
// never a mix; a crash leaves at most a stray temporary file.
Result<void> write_file_atomic(const std::string& path, std::string_view data, mode_t mode);

// A secret kept as hex in a file (class secrets, the webhook secret):
// whitespace and line ends are ignored. Not hex, or fewer than `min_bytes`
// bytes: config_invalid, naming `what` and the file.
Result<Bytes> read_hex_secret(const std::string& path, std::size_t min_bytes, const std::string& what);

// Creates `path` (and parents) with `mode` if it does not exist.
Result<void> make_dirs(const std::string& path, mode_t mode);

bool file_exists(const std::string& path);

}  // namespace irp::platform
