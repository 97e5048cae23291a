#include "classes/class_registry.hpp"

#include "config/config.hpp"
#include "irp/core/transcript.hpp"
#include "irp/platform/files.hpp"

namespace irp::server {

unsigned bootstrap_method(std::string_view name) {
    if (name == "token") return kBootstrapToken;
    if (name == "preregistered") return kBootstrapPreregistered;
    if (name == "idevid") return kBootstrapIdevid;
    if (name == "approval") return kBootstrapApproval;
    return 0;
}

std::string bootstrap_methods_text(unsigned methods) {
    std::string out;
    for (const char* name : kBootstrapMethods)
        if (methods & bootstrap_method(name)) out += (out.empty() ? "" : ",") + std::string(name);
    return out;
}

Result<std::vector<Bytes>> parse_idevid_roots(std::string_view pem, const std::string& where) {
    auto ders = crypto::pem_blocks(pem, "CERTIFICATE");
    if (!ders || ders->empty()) return make_error(Code::config_invalid, where + " holds no PEM CERTIFICATE");
    for (const auto& d : *ders) {
        auto info = crypto::parse_certificate(d);
        if (!info) return make_error(Code::config_invalid, where + " holds a certificate that does not parse: " + info.error().message);
        if (!info->is_ca) return make_error(Code::config_invalid, where + " holds a certificate that is not a CA");
    }
    return std::move(*ders);
}

Result<std::map<std::string, ClassPolicy>> load_class_policies(const Config& cfg) {
    std::map<std::string, ClassPolicy> out;
    for (const auto& [name, cls] : cfg.classes) {
        ClassPolicy p;
        p.methods = 0;
        for (const auto& m : cls.bootstrap) p.methods |= bootstrap_method(m);
        for (const auto& path : cls.idevid_roots) {
            auto text = platform::read_file(path);
            if (!text) return text.error();
            auto ders = parse_idevid_roots(*text, "classes." + name + ".idevid_roots: '" + path + "'");
            if (!ders) return ders.error();
            for (auto& d : *ders) p.idevid_roots.push_back(std::move(d));
        }
        out[name] = std::move(p);
    }
    return out;
}

ClassRegistry::ClassRegistry(Store& store, crypto::Random& rng, std::map<std::string, Bytes> config_classes,
                             std::function<std::int64_t()> clock)
    : store_(store),
      rng_(rng),
      clock_(std::move(clock)),
      config_(std::make_shared<const std::map<std::string, Bytes>>(std::move(config_classes))),
      policies_(std::make_shared<const std::map<std::string, ClassPolicy>>()) {}

void ClassRegistry::set_config_policies(std::map<std::string, ClassPolicy> policies) {
    auto next = std::make_shared<const std::map<std::string, ClassPolicy>>(std::move(policies));
    std::lock_guard lock(mu_);
    policies_ = std::move(next);
}

Result<ClassPolicy> ClassRegistry::policy_for(const std::string& name) const {
    std::shared_ptr<const std::map<std::string, ClassPolicy>> policies;
    {
        std::lock_guard lock(mu_);
        policies = policies_;
    }
    if (config()->count(name)) {
        if (auto it = policies->find(name); it != policies->end()) return it->second;
        return ClassPolicy{};
    }
    auto rec = store_.find_class(name);
    if (!rec) return rec.error();
    if (!*rec) return make_error(Code::unknown_class, "device class '" + name + "' is not known here");
    if (!(*rec)->enabled) return make_error(Code::class_disabled, "device class '" + name + "' is disabled by the domain");
    ClassPolicy p;
    p.methods = (*rec)->methods;
    if (!(*rec)->idevid_roots.empty()) {
        auto roots = idevid_roots_of(name, (*rec)->idevid_roots);
        if (!roots) return roots.error();
        p.idevid_roots = std::move(*roots);
    }
    return p;
}

Result<std::vector<Bytes>> ClassRegistry::idevid_roots_of(const std::string& name, const std::string& pem) const {
    {
        std::lock_guard lock(mu_);
        if (auto it = parsed_roots_.find(name); it != parsed_roots_.end() && it->second.pem == pem)
            return it->second.ders;
    }
    auto roots = parse_idevid_roots(pem, "class " + name + ": idevid_roots");
    if (!roots) return make_error(Code::internal, roots.error().message);
    std::lock_guard lock(mu_);
    parsed_roots_[name] = ParsedRoots{pem, *roots};
    return std::move(*roots);
}

void ClassRegistry::set_config_classes(std::map<std::string, Bytes> secrets) {
    auto next = std::make_shared<const std::map<std::string, Bytes>>(std::move(secrets));
    std::lock_guard lock(mu_);
    config_ = std::move(next);
}

std::shared_ptr<const std::map<std::string, Bytes>> ClassRegistry::config() const {
    std::lock_guard lock(mu_);
    return config_;
}

Result<std::vector<Bytes>> ClassRegistry::secrets_for(const std::string& name) const {
    const auto cfg = config();
    if (auto it = cfg->find(name); it != cfg->end()) {
        if (it->second.empty())
            return make_error(Code::bootstrap_not_allowed, "device class '" + name + "' does not enroll with a token");
        return std::vector<Bytes>{it->second};
    }
    auto rec = store_.find_class(name);
    if (!rec) return rec.error();
    if (!*rec) return make_error(Code::unknown_class, "device class '" + name + "' is not known here");
    const ClassRecord& c = **rec;
    if (!c.enabled) return make_error(Code::class_disabled, "device class '" + name + "' is disabled by the domain");
    std::vector<Bytes> out{c.secret};
    if (!c.previous_secret.empty() && clock_() < c.previous_until) out.push_back(c.previous_secret);
    return out;
}

Result<std::vector<ClassView>> ClassRegistry::list() const {
    std::vector<ClassView> out;
    std::shared_ptr<const std::map<std::string, ClassPolicy>> policies;
    {
        std::lock_guard lock(mu_);
        policies = policies_;
    }
    for (const auto& [name, secret] : *config()) {
        const auto it = policies->find(name);
        out.push_back(ClassView{name, "config", true, it == policies->end() ? kBootstrapToken : it->second.methods, 0, 0, 0});
    }
    auto stored = store_.list_classes();
    if (!stored) return stored.error();
    for (const auto& c : *stored)
        out.push_back(ClassView{c.name, "admin", c.enabled, c.methods, c.previous_secret.empty() ? 0 : c.previous_until,
                                c.created_at, c.updated_at});
    return out;
}

AuditEvent ClassRegistry::audit(const Actor& who, const std::string& action, const std::string& detail) const {
    // The secret never enters the audit log; its SHA-256 prefix identifies it.
    return AuditEvent{clock_(), who.name, action, "", "", who.peer, detail};
}

namespace {
std::string fingerprint(const Bytes& secret) {
    return to_hex(crypto::sha256(secret)).substr(0, 16);
}
}  // namespace

Result<ClassRecord> ClassRegistry::admin_class(const std::string& name, const char* action) const {
    if (config()->count(name))
        return make_error(Code::already_exists, "class '" + name + "' is defined in server.toml; " + action +
                                                    " it there (edit its secret file or entry and send SIGHUP)");
    auto rec = store_.find_class(name);
    if (!rec) return rec.error();
    if (!*rec) return make_error(Code::not_found, "no class '" + name + "'");
    return std::move(**rec);
}

namespace {
// Methods and roots as an admin class may have them: at least one method,
// manufacturer roots exactly when "idevid" is among them.
Result<void> check_bootstrap(unsigned methods, const std::string& roots_pem) {
    if (methods == 0 || (methods & ~kBootstrapAll) != 0)
        return make_error(Code::bad_argument, "bootstrap: one or more of token, preregistered, idevid, approval");
    if ((methods & kBootstrapIdevid) && roots_pem.empty())
        return make_error(Code::bad_argument, "bootstrap idevid needs idevid_roots (PEM manufacturer CA certificates)");
    if (!(methods & kBootstrapIdevid) && !roots_pem.empty())
        return make_error(Code::bad_argument, "idevid_roots are only for a class whose bootstrap includes idevid");
    if (!roots_pem.empty()) {
        if (roots_pem.size() > 256 * 1024) return make_error(Code::bad_argument, "idevid_roots exceed 256 KiB");
        auto roots = parse_idevid_roots(roots_pem, "idevid_roots");
        if (!roots) return make_error(Code::bad_argument, roots.error().message);
    }
    return {};
}
}  // namespace

Result<Bytes> ClassRegistry::create(const std::string& name, std::optional<Bytes> imported, const Actor& who,
                                    unsigned methods, const std::string& roots_pem) {
    if (!is_valid_identifier(name))
        return make_error(Code::bad_argument, "a class name is 1-64 characters from [A-Za-z0-9._-]");
    if (imported && imported->size() < kMinImportedSecretBytes)
        return make_error(Code::bad_argument, "an imported class secret must be at least 16 bytes");
    if (auto r = check_bootstrap(methods, roots_pem); !r) return r.error();
    if (config()->count(name))
        return make_error(Code::already_exists, "class '" + name + "' is defined in server.toml");
    const std::int64_t now = clock_();
    ClassRecord c{name, imported ? *imported : rng_.bytes(kSecretBytes), {}, 0, true, now, now, methods, roots_pem};
    auto ev = audit(who, "class-create",
                    "class=" + name + " secret=" + fingerprint(c.secret) + (imported ? " imported" : "") +
                        " bootstrap=" + bootstrap_methods_text(methods));
    if (auto r = store_.create_class(c, ev); !r) return r.error();
    return c.secret;
}

Result<void> ClassRegistry::modify(const std::string& name, const char* action,
                                  const std::function<AuditEvent(ClassRecord&)>& change) {
    for (int attempt = 1;; ++attempt) {
        auto c = admin_class(name, action);
        if (!c) return c.error();
        const AuditEvent ev = change(*c);
        auto r = store_.update_class(*c, ev);
        if (r || r.error().code != Code::conflict || attempt == kModifyAttempts) return r;
    }
}

Result<Bytes> ClassRegistry::rotate(const std::string& name, std::int64_t grace_s, const Actor& who) {
    if (grace_s < 0 || grace_s > 3650LL * 24 * 3600)
        return make_error(Code::bad_argument, "the grace period must be 0 to 3650 days");
    Bytes secret;
    auto r = modify(name, "rotate", [&](ClassRecord& c) {
        const std::int64_t now = clock_();
        c.previous_secret = grace_s > 0 ? c.secret : Bytes{};
        c.previous_until = grace_s > 0 ? now + grace_s : 0;
        c.secret = secret = rng_.bytes(kSecretBytes);
        c.updated_at = now;
        return audit(who, "class-rotate",
                     "class=" + name + " secret=" + fingerprint(c.secret) +
                         " previous_valid_s=" + std::to_string(grace_s));
    });
    if (!r) return r.error();
    return secret;
}

Result<void> ClassRegistry::set_bootstrap(const std::string& name, unsigned methods, const std::string& roots_pem,
                                          const Actor& who) {
    if (auto r = check_bootstrap(methods, roots_pem); !r) return r;
    return modify(name, "change the bootstrap of", [&](ClassRecord& c) {
        c.methods = methods;
        c.idevid_roots = roots_pem;
        c.updated_at = clock_();
        return audit(who, "class-bootstrap",
                     "class=" + name + " bootstrap=" + bootstrap_methods_text(methods) +
                         (roots_pem.empty() ? "" : " idevid_roots=" + fingerprint(to_bytes(roots_pem))));
    });
}

Result<void> ClassRegistry::set_enabled(const std::string& name, bool enabled, const Actor& who) {
    return modify(name, enabled ? "enable" : "disable", [&](ClassRecord& c) {
        c.enabled = enabled;
        c.updated_at = clock_();
        return audit(who, enabled ? "class-enable" : "class-disable", "class=" + name);
    });
}

Result<Bytes> ClassRegistry::device_token(const std::string& name, const std::string& device_id) const {
    if (!is_valid_identifier(device_id))
        return make_error(Code::bad_argument, "a device id is 1-64 characters from [A-Za-z0-9._-]");
    auto secrets = secrets_for(name);
    if (!secrets) return secrets.error();
    const auto token = derive_device_token(secrets->front(), name, device_id);
    return Bytes(token.begin(), token.end());
}

}  // namespace irp::server
