// Device classes: which bootstrap secrets a device of a class may prove.
//
// Two sources, with disjoint names:
//   config: [classes.<name>] in server.toml, secret in a file; changed by
//           editing the file and sending SIGHUP (docs/OPERATIONS.md).
//   admin:  created, rotated, disabled and enabled through the admin API
//           (irpctl class ...), kept in the database so that every replica
//           sharing it agrees at once.
// A rotation keeps the previous secret valid for a grace period: devices
// already manufactured with tokens derived from it can still enroll.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "irp/crypto/crypto.hpp"
#include "store/store.hpp"

namespace irp::server {

// How devices of a class may prove they belong (docs/PROTOCOL.md,
// "Bootstrap methods"), as a bit set.
enum BootstrapMethod : unsigned {
    kBootstrapToken = 1,
    kBootstrapPreregistered = 2,
    kBootstrapIdevid = 4,
    kBootstrapApproval = 8,
};
inline constexpr unsigned kBootstrapAll = kBootstrapToken | kBootstrapPreregistered | kBootstrapIdevid | kBootstrapApproval;
// "token" -> kBootstrapToken, ...; 0 for an unknown name.
unsigned bootstrap_method(std::string_view name);
std::string bootstrap_methods_text(unsigned methods);  // "token,approval"

struct ClassPolicy {
    unsigned methods = kBootstrapToken;
    std::vector<Bytes> idevid_roots;  // DER: manufacturer CAs trusted for "idevid"
    friend bool operator==(const ClassPolicy&, const ClassPolicy&) = default;
};

struct ClassView {
    std::string name;
    std::string source;  // "config" or "admin"
    bool enabled = true;
    unsigned methods = kBootstrapToken;
    std::int64_t previous_until = 0;  // admin classes: previous secret accepted until then (0: none)
    std::int64_t created_at = 0;
    std::int64_t updated_at = 0;
};

// Who asked, for the audit log.
struct Actor {
    std::string name;  // "admin"
    std::string peer;  // source address
};

class ClassRegistry {
public:
    static constexpr std::size_t kSecretBytes = 32;
    static constexpr std::size_t kMinImportedSecretBytes = 16;
    static constexpr std::int64_t kDefaultGraceS = 30LL * 24 * 3600;

    ClassRegistry(Store& store, crypto::Random& rng, std::map<std::string, Bytes> config_classes,
                  std::function<std::int64_t()> clock);

    // SIGHUP: the config's classes, for requests decided afterwards. A class
    // that does not accept "token" has an empty secret.
    void set_config_classes(std::map<std::string, Bytes> secrets);
    // The config's bootstrap policies (a config class without one accepts
    // "token" only). Admin classes accept "token".
    void set_config_policies(std::map<std::string, ClassPolicy> policies);

    // unknown_class, class_disabled, or the class's policy.
    Result<ClassPolicy> policy_for(const std::string& name) const;

    // The secrets a device of `name` may prove now: the current one, then a
    // previous one still in its grace period. unknown_class if there is no
    // such class, class_disabled if an administrator disabled it.
    Result<std::vector<Bytes>> secrets_for(const std::string& name) const;

    Result<std::vector<ClassView>> list() const;

    // A new admin class; its secret is generated (or imported: at least 16
    // bytes) and returned once. already_exists if either source has the name.
    // `methods`: BootstrapMethod bits; `roots_pem`: the manufacturer CAs,
    // required exactly when methods include idevid (bad_argument otherwise).
    Result<Bytes> create(const std::string& name, std::optional<Bytes> imported, const Actor& who,
                         unsigned methods = kBootstrapToken, const std::string& roots_pem = {});
    // Changes how devices may join an admin class (same rules as create).
    Result<void> set_bootstrap(const std::string& name, unsigned methods, const std::string& roots_pem, const Actor& who);
    // A new secret for an admin class, returned once; the old one stays
    // valid for `grace_s` seconds (0: refused at once, e.g. after a leak).
    Result<Bytes> rotate(const std::string& name, std::int64_t grace_s, const Actor& who);
    Result<void> set_enabled(const std::string& name, bool enabled, const Actor& who);
    // The bootstrap token of one device under the class's current secret
    // (what a manufacturer writes into the device).
    Result<Bytes> device_token(const std::string& name, const std::string& device_id) const;

private:
    std::shared_ptr<const std::map<std::string, Bytes>> config() const;
    Result<ClassRecord> admin_class(const std::string& name, const char* action) const;
    AuditEvent audit(const Actor& who, const std::string& action, const std::string& detail) const;
    // Read the admin class, apply `change` (which returns the audit event),
    // write it back at the version read; when another change got in between
    // (update_class: conflict), read again and redo. Every conflict means
    // another change went through, so this ends; the bound only keeps a
    // pathological storm from holding an admin request for ever.
    static constexpr int kModifyAttempts = 64;
    Result<void> modify(const std::string& name, const char* action,
                        const std::function<AuditEvent(ClassRecord&)>& change);
    // The manufacturer roots of an admin class, parsed once per PEM text
    // rather than on every enrollment.
    Result<std::vector<Bytes>> idevid_roots_of(const std::string& name, const std::string& pem) const;

    Store& store_;
    crypto::Random& rng_;
    std::function<std::int64_t()> clock_;
    mutable std::mutex mu_;  // guards config_ and policies_
    std::shared_ptr<const std::map<std::string, Bytes>> config_;
    std::shared_ptr<const std::map<std::string, ClassPolicy>> policies_;
    struct ParsedRoots {
        std::string pem;
        std::vector<Bytes> ders;
    };
    mutable std::map<std::string, ParsedRoots> parsed_roots_;  // by class name; guarded by mu_
};

// Manufacturer CA certificates from PEM: at least one, each a CA
// (config_invalid naming `where` otherwise).
Result<std::vector<Bytes>> parse_idevid_roots(std::string_view pem, const std::string& where);

struct Config;
// The [classes.*] bootstrap policies of a config, idevid_roots read from
// their PEM files.
Result<std::map<std::string, ClassPolicy>> load_class_policies(const Config& cfg);

}  // namespace irp::server
