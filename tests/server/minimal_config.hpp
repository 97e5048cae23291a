// The smallest server.toml parse_config accepts: only the required keys.
// Shared by the config, retired-CA and mDNS config tests.
#pragma once

#include <string>

namespace irp_test {

// `ca_dir`, when given, ends with '/' and prefixes the CA certificate and key.
inline std::string minimal_config(const std::string& domain = "demo.example", const std::string& ca_dir = "") {
    return "[domain]\n"
           "name = \"" + domain + "\"\n"
           "root_certificate = \"root-ca.pem\"\n"
           "ca_certificate = \"" + ca_dir + "domain-ca.pem\"\n"
           "ca_key = \"" + ca_dir + "domain-ca.key\"\n"
           "tls_certificate = \"server-tls.pem\"\n"
           "tls_key = \"server-tls.key\"\n"
           "\n"
           "[storage]\n"
           "database = \"irp.db\"\n"
           "\n"
           "[classes.default]\n"
           "secret_file = \"default.secret\"\n";
}

}  // namespace irp_test
