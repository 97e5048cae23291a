// `irp-server init`: a complete demo hierarchy in one directory.
#pragma once

#include <string>

#include "irp/base/error.hpp"
#include "irp/crypto/crypto.hpp"

namespace irp::server {

struct InitOptions {
    std::string dir;
    std::string domain;
    std::string class_name = "default";
    std::string listen = "127.0.0.1:4604";
    std::string admin_listen;  // "" = the config default (127.0.0.1:4605)
    std::string http_listen;   // "" = the config default (127.0.0.1:4680)
    std::int64_t now_unix = 0;
    bool force = false;  // overwrite an existing server.toml
};

struct InitResult {
    std::string config_path;
    std::string root_path;
};

// Creates DIR (0700) with: root-ca.pem/.key (self-signed root), domain-ca.pem
// /.key (pathLen 0), server-tls.pem/.key (serverAuth; SAN the domain,
// localhost and 127.0.0.1), classes/<class>.secret (32 random bytes, hex),
// admin.token (the admin API's bearer token),
// server.toml and the SQLite database. Keys and secrets are mode 0600.
Result<InitResult> init_domain(const InitOptions& opts, crypto::Random& rng);

}  // namespace irp::server
