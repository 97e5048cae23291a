// `irp-ca`: the offline-root workflow (docs/OPERATIONS.md, "The offline-root
// ceremony"). The root key lives in ROOTDIR on an offline machine and signs
// only CA certificates and the root's CRL; each domain's issuing CA key is
// generated where it will be used (DOMAINDIR, on the server) and leaves it
// only as a PKCS#10 request. Nothing here is needed by a running server.
//
// Files (keys 0600, directories holding keys 0700, everything else 0644):
//   ROOTDIR/   root-ca.pem root-ca.key serials crlnumber issued/<serial>.pem
//              root.crl (DER) root.crl.pem
//   DOMAINDIR/ domain-ca.key domain-ca.csr domain-ca.pem server-tls.pem
//              server-tls.key root-ca.pem server.toml admin.token
//              classes/<class>.secret irp.db
//              generations/<N>/{domain-ca.key,csr,pem,server-tls.*} (N >= 2)
// Generation 1 is DOMAINDIR itself; `rotate` starts generation N+1.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "irp/base/error.hpp"
#include "irp/crypto/crypto.hpp"

namespace irp::ca_tool {

// ---- the root (offline machine) ---------------------------------------------

struct RootOptions {
    std::string dir;
    std::string name;          // subject CN, e.g. "Example IoT Root"
    std::string organization;  // subject O; "" = none
    int years = 20;
    crypto::KeyAlgorithm key_type = crypto::KeyAlgorithm::ecdsa_p384;
    std::int64_t now_unix = 0;
};

struct RootResult {
    std::string cert_path;
    std::string key_path;
    std::string fingerprint_sha256;  // hex of SHA-256 over the DER, for the ceremony record
};

// Creates ROOTDIR (0700) with a self-signed root (CA, no path length limit,
// keyCertSign + cRLSign), an empty `serials` registry and issued/. Refuses
// when any of root-ca.pem, root-ca.key or serials already exists.
Result<RootResult> create_root(const RootOptions& o, crypto::Random& rng);

struct SignDomainOptions {
    std::string root_dir;
    std::string csr_path;  // PEM or DER PKCS#10 from `domain-key` / `rotate`
    std::string domain;    // must equal the CSR's subject CN
    int years = 5;         // clamped to the root's notAfter
    std::vector<std::string> permit_dns;        // Name Constraints dNSName subtrees
    std::vector<std::string> permit_uri_hosts;  // refused: see sign_domain
    std::string crl_url;   // CRL distribution point of the root's CRL; "" = none
    std::string subject_cn;  // "" = "IRP Domain CA <domain>" (+ " G<n>" for the n-th CA of the domain)
    std::string out_path;    // "" = domain-ca.pem beside the CSR
    std::int64_t now_unix = 0;
};

struct SignDomainResult {
    std::string cert_path;
    std::string serial_hex;
    std::string subject_cn;
    std::int64_t not_after = 0;
    std::string fingerprint_sha256;
    std::vector<std::string> warnings;
};

// Verifies the CSR's self-signature (proof of possession), then issues the
// domain's issuing CA: pathLen 0, keyUsage keyCertSign + cRLSign (critical),
// SKI/AKI, optional critical Name Constraints. Records the serial in
// ROOTDIR/serials and keeps a copy in ROOTDIR/issued/ before writing the
// certificate (never over an existing file).
//
// URI name constraints are refused: device certificates carry
// urn:irp:<domain>:<id>, which has no host part, so OpenSSL fails every
// device under such a CA ("unsupported or invalid name syntax") and Botan 2
// (the wallet) does too. The crypto layer can encode them for a future
// profile (IssueProfile::permitted_uri_hosts).
Result<SignDomainResult> sign_domain(const SignDomainOptions& o, crypto::Random& rng);

struct RootCrlOptions {
    std::string root_dir;
    std::string revoke_serial;  // hex (colons, "0x", any case accepted); "" = just re-sign
    std::int32_t reason = 0;    // RFC 5280 CRLReason, with revoke_serial
    int days = 365;             // nextUpdate = now + days
    std::int64_t now_unix = 0;
};

struct RootCrlResult {
    std::string der_path;  // ROOTDIR/root.crl
    std::string pem_path;  // ROOTDIR/root.crl.pem
    std::int64_t number = 0;
    std::size_t entries = 0;
    std::int64_t next_update = 0;
};

// Signs the root's CRL: every revoked CA in the registry, a CRL number one
// above ROOTDIR/crlnumber (stored before the CRL is written, so a crash can
// leave a gap but never reuse a number). With revoke_serial, first marks
// that CA revoked; an unknown or already revoked serial is an error.
Result<RootCrlResult> root_crl(const RootCrlOptions& o, crypto::Random& rng);

// ---- the domain (where the domain CA key lives) -----------------------------

struct DomainKeyOptions {
    std::string dir;
    std::string domain;
    crypto::KeyAlgorithm key_type = crypto::KeyAlgorithm::ecdsa_p256;
};

struct DomainKeyResult {
    std::string key_path;
    std::string csr_path;
};

// DOMAINDIR (0700)/domain-ca.key (0600) and domain-ca.csr (PEM, CN = the
// domain). Refuses if the directory already holds a domain CA key, request
// or certificate (use `rotate` for a new generation).
Result<DomainKeyResult> create_domain_key(const DomainKeyOptions& o, crypto::Random& rng);

struct RotateResult {
    unsigned generation = 0;
    std::string dir;  // DOMAINDIR/generations/<N>
    DomainKeyResult key;
};

// Starts generation N+1: a fresh key and CSR in DOMAINDIR/generations/<N+1>/.
// Refuses while the newest generation is still unsigned.
Result<RotateResult> start_rotation(const DomainKeyOptions& o, crypto::Random& rng);

struct ServerTlsOptions {
    std::string dir;
    std::string domain;
    unsigned generation = 1;
    std::vector<std::string> dns;  // "" = the domain and localhost, minus names the CA's constraints forbid
    std::vector<std::string> ips;  // empty = 127.0.0.1
    int days = 730;                // clamped to the CA's notAfter
    bool force = false;            // replace an existing server-tls.pem/.key
    std::int64_t now_unix = 0;
};

struct ServerTlsResult {
    std::string cert_path;
    std::string key_path;
    std::vector<std::string> san_dns;
    std::vector<std::string> warnings;
};

// The server's TLS certificate (ECDSA P-256 key, serverAuth), signed by the
// generation's domain CA key.
Result<ServerTlsResult> server_tls(const ServerTlsOptions& o, crypto::Random& rng);

struct AssembleOptions {
    std::string dir;
    std::string root_cert;  // the root certificate (never its key)
    std::string domain;
    unsigned generation = 1;
    std::string class_name = "default";
    std::string listen = "127.0.0.1:4604";
    std::string admin_listen;  // "" = config default
    std::string http_listen;   // "" = config default
    bool force = false;        // re-point an existing server.toml (its other settings are kept)
    std::int64_t now_unix = 0;
};

struct AssembleResult {
    std::string config_path;
    std::vector<std::string> created;  // secrets and files written now
    std::vector<std::string> retired;  // CA certificates moved to [[domain.retired]] now
};

// Makes DOMAINDIR runnable by `irp-server run`: copies the root certificate,
// creates the class secret and admin token when absent (never replaces
// them), writes server.toml (server::render_config, the layout of `irp-server
// init`) and creates the SQLite database. Refuses when any file under
// DOMAINDIR holds the root's private key, and checks the result with
// server::load_domain before writing server.toml. With `force`, re-pointing
// an existing server.toml at another generation moves the outgoing CA to
// [[domain.retired]] (it keeps signing CRLs and OCSP answers for what it
// issued, and its devices can still renew); the incoming CA leaves that
// list if it was on it.
Result<AssembleResult> assemble(const AssembleOptions& o, crypto::Random& rng);

// ---- helpers (also for tests) ------------------------------------------------

std::string generation_dir(const std::string& domain_dir, unsigned generation);
// Lower-case DNS name: labels of a-z, 0-9, '-' (not at either end), 1-63
// characters, 253 in all; with `subtree`, one leading '.' is allowed.
bool valid_dns_name(std::string_view name, bool subtree = false);
// RFC 5280 4.2.1.10 dNSName matching: "example.com" permits itself and its
// subdomains, ".example.com" only its subdomains. No constraints = permitted.
bool dns_name_permitted(std::string_view name, const std::vector<std::string>& permitted);
// Minimal lower-case hex of a serial typed by a person ("0x", ':' and
// leading zeros removed); "" if it is not hex.
std::string normalize_serial(std::string_view text);

}  // namespace irp::ca_tool
