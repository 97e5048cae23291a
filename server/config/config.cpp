// irp-server configuration: strict TOML parsing, validation and rendering.
// One table (kKeys) describes every key outside [classes], [[redirect]] and
// [[domain.retired]] (kRetiredKeys); parsing, the unknown-key check, the
// required-key check and rendering all walk them.
#include "config/config.hpp"

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <limits>
#include <sstream>
#include <string_view>
#include <type_traits>

#include <toml++/toml.h>

#include "irp/base/error.hpp"
#include "irp/core/transcript.hpp"
#include "irp/crypto/crypto.hpp"

namespace irp::server {
namespace {

namespace fs = std::filesystem;
static_assert(std::is_same_v<unsigned, std::uint32_t>, "integer keys share one member type");

enum class Kind { listen, domain, integer, path, algorithms, boolean, address, url, opt_path, opt_text, key, instance };

struct KeySpec {
    std::string_view section;
    std::string_view name;
    Kind kind;
    unsigned Config::*num;
    std::string Config::*str;
    std::int64_t min, max;
    bool Config::*flag = nullptr;  // Kind::boolean
};

constexpr KeySpec special(std::string_view s, std::string_view n, Kind k) {
    return {s, n, k, nullptr, nullptr, 0, 0};
}
constexpr KeySpec integer(std::string_view s, std::string_view n, unsigned Config::*m, std::int64_t lo,
                          std::int64_t hi) {
    return {s, n, Kind::integer, m, nullptr, lo, hi};
}
constexpr KeySpec path(std::string_view s, std::string_view n, std::string Config::*m) {
    return {s, n, Kind::path, nullptr, m, 0, 0};
}
constexpr KeySpec text(std::string_view s, std::string_view n, Kind k, std::string Config::*m) {
    return {s, n, k, nullptr, m, 0, 0};
}
constexpr KeySpec flag(std::string_view s, std::string_view n, bool Config::*m) {
    return {s, n, Kind::boolean, nullptr, nullptr, 0, 0, m};
}

// In rendering order.
constexpr KeySpec kKeys[] = {
    special("server", "listen", Kind::listen),
    integer("server", "threads", &Config::threads, 1, 64),
    integer("server", "max_connections", &Config::max_connections, 1, 1'000'000),
    text("server", "log_format", Kind::opt_text, &Config::log_format),
    special("domain", "name", Kind::domain),
    path("domain", "root_certificate", &Config::root_certificate),
    path("domain", "ca_certificate", &Config::ca_certificate),
    text("domain", "ca_key", Kind::key, &Config::ca_key),
    path("domain", "tls_certificate", &Config::tls_certificate),
    text("domain", "tls_key", Kind::key, &Config::tls_key),
    text("domain", "key_passphrase_file", Kind::opt_path, &Config::key_passphrase_file),
    text("domain", "pkcs11_module", Kind::opt_path, &Config::pkcs11_module),
    text("storage", "database", Kind::opt_path, &Config::database),
    text("storage", "url", Kind::opt_text, &Config::storage_url),
    integer("limits", "max_frame_bytes", &Config::max_frame_bytes, 1024, 16'777'216),
    integer("limits", "handshake_timeout_ms", &Config::handshake_timeout_ms, 100, 600'000),
    integer("limits", "idle_timeout_ms", &Config::idle_timeout_ms, 100, 3'600'000),
    integer("limits", "exchange_timeout_ms", &Config::exchange_timeout_ms, 100, 3'600'000),
    integer("limits", "challenge_ttl_s", &Config::challenge_ttl_s, 1, 3600),
    integer("limits", "drain_timeout_ms", &Config::drain_timeout_ms, 0, 600'000),
    integer("limits", "per_source_rate", &Config::per_source_rate, 0, 1'000'000),
    integer("limits", "per_source_burst", &Config::per_source_burst, 0, 1'000'000),
    integer("profile", "validity_days", &Config::validity_days, 1, 36'500),
    integer("profile", "backdate_s", &Config::backdate_s, 0, 86'400),
    special("profile", "key_algorithms", Kind::algorithms),
    flag("profile", "allow_same_key_renewal", &Config::allow_same_key_renewal),
    text("admin", "listen", Kind::address, &Config::admin_listen),
    text("admin", "token_file", Kind::opt_path, &Config::admin_token_file),
    text("http", "listen", Kind::address, &Config::http_listen),
    text("http", "base_url", Kind::url, &Config::http_base_url),
    integer("http", "crl_validity_s", &Config::crl_validity_s, 60, 31'536'000),
    integer("http", "crl_refresh_s", &Config::crl_refresh_s, 10, 31'536'000),
    integer("http", "ocsp_validity_s", &Config::ocsp_validity_s, 60, 31'536'000),
    integer("http", "max_connections_per_source", &Config::http_max_per_source, 0, 4'096),
    integer("approval", "retry_after_s", &Config::approval_retry_after_s, 1, 86'400),
    integer("approval", "retry_max_s", &Config::approval_retry_max_s, 1, 7 * 86'400),
    integer("approval", "expire_s", &Config::approval_expire_s, 60, 365 * 86'400),
    integer("approval", "max_pending", &Config::approval_max_pending, 1, 10'000'000),
    integer("surge", "max_new_devices", &Config::surge_max_new_devices, 0, 100'000'000),
    integer("surge", "window_s", &Config::surge_window_s, 1, 30 * 86'400),
    integer("lifecycle", "check_in_s", &Config::check_in_s, 10, 365 * 86'400),
    integer("lifecycle", "release_after_days", &Config::release_after_days, 0, 3650),
    text("webhook", "url", Kind::url, &Config::webhook_url),
    text("webhook", "secret_file", Kind::opt_path, &Config::webhook_secret_file),
    integer("webhook", "timeout_ms", &Config::webhook_timeout_ms, 100, 60'000),
    flag("discovery", "mdns", &Config::mdns),
    text("discovery", "instance", Kind::instance, &Config::mdns_instance),
};

// Each [[domain.retired]] table: every key is required.
struct RetiredKeySpec {
    std::string_view name;
    Kind kind;  // path or key
    std::string RetiredCa::*str;
};
constexpr RetiredKeySpec kRetiredKeys[] = {
    {"ca_certificate", Kind::path, &RetiredCa::ca_certificate},
    {"ca_key", Kind::key, &RetiredCa::ca_key},
};
constexpr std::string_view kRetiredComment =
    "Retired domain CAs (earlier generations): they sign CRLs and OCSP answers for what they issued, never new "
    "certificates";

struct Section {
    std::string_view name;
    std::string_view comment;
};
constexpr Section kSections[] = {
    {"server", "Listener: host:port, worker threads, connection cap"},
    {"domain", "Domain identity: DNS name and PEM files (relative paths are against this file's directory)"},
    {"storage", "Where certificates are recorded: database = SQLite file, or url = PostgreSQL (for replicas)"},
    {"limits", "Protocol limits and timeouts"},
    {"profile", "Issued certificates: lifetime, backdating, accepted device key algorithms"},
    {"admin", "Admin API (JSON, bearer token) and /metrics; keep it on loopback"},
    {"http", "CRL and OCSP over plain HTTP for relying parties; base_url is written into certificates"},
    {"approval", "Held requests: retry hint (doubling up to retry_max_s), expiry, queue bound"},
    {"surge", "Surge guard: more new devices of a class than this within the window are held (0 = off)"},
    {"lifecycle", "Check-in interval advised to devices; unseen devices are released after this many days (0 = never)"},
    {"webhook", "New held requests are POSTed as JSON, signed with HMAC-SHA256 (X-IRP-Signature)"},
    {"discovery", "mDNS/DNS-SD: advertise _irp._tcp.local on the IRP port, the domain in its TXT record (needs "
                  "avahi-daemon and a server.listen address other than loopback)"},
};
constexpr std::string_view kClassesComment = "Device classes: one table per class, with its enrollment secret file";
constexpr std::string_view kRedirectComment =
    "Redirects: enrollments matching a rule (class, device id prefix, or listed in devices_file) are sent to another "
    "domain's server; first match wins";
constexpr std::size_t kMaxRedirectRules = 1000;
constexpr std::string_view kAlgorithms[] = {"ecdsa-p256", "ecdsa-p384", "ed25519"};

constexpr auto npos = std::string_view::npos;
constexpr std::string_view kAlnum = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

std::vector<std::string_view> split(std::string_view s, char sep) {
    std::vector<std::string_view> out;
    for (std::size_t start = 0;; ) {
        const std::size_t at = s.find(sep, start);
        out.push_back(s.substr(start, at == npos ? npos : at - start));
        if (at == npos) return out;
        start = at + 1;
    }
}

// Parses 1..max_digits decimal digits; false on anything else or > max.
bool parse_uint(std::string_view s, std::size_t max_digits, unsigned max, unsigned& out) {
    if (s.empty() || s.size() > max_digits || s.find_first_not_of("0123456789") != npos) return false;
    out = 0;
    for (char ch : s) out = out * 10 + static_cast<unsigned>(ch - '0');
    return out <= max;
}

// An IPv4 literal or a host name; all digits and dots must be a dotted quad.
bool valid_host(std::string_view s) {
    if (s.find_first_not_of("0123456789.") != npos) return is_valid_dns_name(s, false);
    const auto octets = split(s, '.');
    unsigned v = 0;
    return octets.size() == 4 &&
           std::ranges::all_of(octets, [&](std::string_view o) { return parse_uint(o, 3, 255, v); });
}

bool parse_listen(std::string_view s, std::string& host, std::uint16_t& port) {
    const std::size_t colon = s.rfind(':');
    unsigned p = 0;
    if (colon == npos || !parse_uint(s.substr(colon + 1), 5, 65535, p) || !valid_host(s.substr(0, colon))) return false;
    host = std::string(s.substr(0, colon));
    port = static_cast<std::uint16_t>(p);
    return true;
}

// A DNS-SD instance name (RFC 6763, 4.1.1): 1-63 bytes of well-formed
// UTF-8 (no overlong forms, no surrogates), no control characters.
bool valid_instance_name(std::string_view s) {
    if (s.empty() || s.size() > 63) return false;
    for (std::size_t i = 0; i < s.size();) {
        const auto c = static_cast<unsigned char>(s[i]);
        if (c < 0x20 || c == 0x7f) return false;
        if (c < 0x80) {
            ++i;
            continue;
        }
        const std::size_t len = c >= 0xf0 ? 4 : c >= 0xe0 ? 3 : c >= 0xc2 ? 2 : 0;
        if (len == 0 || c > 0xf4 || i + len > s.size()) return false;
        std::uint32_t cp = c & (0x7f >> len);
        for (std::size_t j = 1; j < len; ++j) {
            const auto cc = static_cast<unsigned char>(s[i + j]);
            if ((cc & 0xc0) != 0x80) return false;
            cp = (cp << 6) | (cc & 0x3f);
        }
        const std::uint32_t min = len == 2 ? 0x80 : len == 3 ? 0x800 : 0x10000;
        if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff) || (cp >= 0x80 && cp < 0xa0)) return false;
        i += len;
    }
    return true;
}

bool valid_class_name(std::string_view s) {
    return !s.empty() && s.size() <= 64 && s.find_first_not_of(std::string(kAlnum) + "._-") == npos;
}

std::string resolve(const fs::path& dir, std::string_view p) {
    const fs::path path(p);
    return (path.is_absolute() ? path : dir / path).lexically_normal().string();
}

std::string relativize(const fs::path& dir, const std::string& p) {
    if (dir.empty()) return p;
    const fs::path rel = fs::path(p).lexically_relative(dir);
    if (rel.empty() || rel == "." || *rel.begin() == "..") return p;
    return rel.generic_string();
}

std::string quote(std::string_view s) {
    std::string out = "\"";
    for (unsigned char ch : s) {
        char buf[8] = {static_cast<char>(ch), 0};
        if (ch == '"' || ch == '\\') std::snprintf(buf, sizeof buf, "\\%c", ch);
        if (ch < 0x20 || ch == 0x7f) std::snprintf(buf, sizeof buf, "\\u%04X", unsigned{ch});
        out += buf;
    }
    return out + '"';
}

std::string bare_or_quoted(std::string_view key) {
    return !key.empty() && key.find_first_not_of(std::string(kAlnum) + "_-") == npos ? std::string(key) : quote(key);
}

struct Issue {
    toml::source_index line;  // 0: no line
    std::string message;
};

struct Parser {
    fs::path dir;
    Config& cfg;
    std::vector<Issue> issues;
    std::vector<toml::source_region> redirect_sources{};  // of cfg.redirects, for checks after the walk

    void fail(const toml::source_region& at, std::string msg) { issues.push_back({at.begin.line, std::move(msg)}); }

    void unknown(const toml::key& key, const toml::node& node, const std::string& full) {
        fail(key.source(), (node.is_table() ? "unknown table '" : "unknown key '") + full + "'");
    }

    void value(const KeySpec& k, const toml::node& n) {
        const std::string full = std::string(k.section) + "." + std::string(k.name);
        const std::string* str = n.is_string() ? &n.as_string()->get() : nullptr;
        switch (k.kind) {
            case Kind::integer:
                if (!n.is_integer() || n.as_integer()->get() < k.min || n.as_integer()->get() > k.max)
                    return fail(n.source(), "'" + full + "' must be an integer from " + std::to_string(k.min) +
                                                " to " + std::to_string(k.max));
                cfg.*k.num = static_cast<unsigned>(n.as_integer()->get());
                return;
            case Kind::path: path(full, n, cfg.*k.str); return;
            case Kind::boolean:
                if (!n.is_boolean()) return fail(n.source(), "'" + full + "' must be true or false");
                cfg.*k.flag = n.as_boolean()->get();
                return;
            case Kind::domain:
                if (!str || !is_valid_dns_name(*str, true))
                    return fail(n.source(), "'" + full + "' must be a lower-case DNS name (labels of a-z, 0-9, '-')");
                cfg.domain = *str;
                return;
            case Kind::listen:
                if (!str || !parse_listen(*str, cfg.listen_host, cfg.listen_port))
                    return fail(n.source(),
                                "'" + full + "' must be \"host:port\" (IPv4 address or host name, port 0-65535)");
                return;
            case Kind::algorithms: algorithms(full, n); return;
            case Kind::address: {
                std::string host;
                std::uint16_t port = 0;
                if (!str || !parse_listen(*str, host, port))
                    return fail(n.source(),
                                "'" + full + "' must be \"host:port\" (IPv4 address or host name, port 0-65535)");
                cfg.*k.str = *str;
                return;
            }
            case Kind::url:
                if (!str || (!str->starts_with("http://") && !str->empty()) ||
                    str->find_first_of(" \t\"<>\\") != std::string::npos || str->size() > 200)
                    return fail(n.source(), "'" + full + "' must be an http:// URL without spaces or quotes");
                cfg.*k.str = *str;
                while (!(cfg.*k.str).empty() && (cfg.*k.str).back() == '/') (cfg.*k.str).pop_back();
                return;
            case Kind::opt_path: path(full, n, cfg.*k.str); return;
            case Kind::key: key(full, n, cfg.*k.str); return;
            case Kind::opt_text:
                if (!str || str->empty() || str->size() > 1000 || str->find('\n') != std::string::npos)
                    return fail(n.source(), "'" + full + "' must be a non-empty string on one line");
                cfg.*k.str = *str;
                return;
            case Kind::instance:
                if (!str || !valid_instance_name(*str))
                    return fail(n.source(), "'" + full + "' must be 1-63 bytes of UTF-8 without control characters "
                                                         "(a DNS-SD instance name)");
                cfg.*k.str = *str;
                return;
        }
    }

    void path(const std::string& full, const toml::node& n, std::string& out) {
        if (!n.is_string() || n.as_string()->get().empty())
            return fail(n.source(), "'" + full + "' must be a non-empty file path string");
        out = resolve(dir, n.as_string()->get());
    }

    // A PEM file path or a PKCS#11 URI (kept as written).
    void key(const std::string& full, const toml::node& n, std::string& out) {
        const std::string* str = n.is_string() ? &n.as_string()->get() : nullptr;
        if (!str || !crypto::is_pkcs11_uri(*str)) return path(full, n, out);
        if (auto uri = crypto::parse_pkcs11_uri(*str); !uri)
            return fail(n.source(), "'" + full + "': " + uri.error().message);
        out = *str;
    }

    void algorithms(const std::string& full, const toml::node& n) {
        const toml::array* arr = n.as_array();
        if (!arr || arr->empty()) return fail(n.source(), "'" + full + "' must be a non-empty array of strings");
        std::vector<std::string> out;
        for (const toml::node& e : *arr) {
            const auto* s = e.as_string();
            if (!s) return fail(e.source(), "'" + full + "' must be a non-empty array of strings");
            if (std::find(std::begin(kAlgorithms), std::end(kAlgorithms), s->get()) == std::end(kAlgorithms))
                return fail(e.source(), "'" + full + "': unknown key algorithm '" + s->get() +
                                            "' (allowed: ecdsa-p256, ecdsa-p384, ed25519)");
            if (std::find(out.begin(), out.end(), s->get()) != out.end())
                return fail(e.source(), "'" + full + "': key algorithm '" + s->get() + "' is listed twice");
            out.push_back(s->get());
        }
        cfg.key_algorithms = std::move(out);
    }

    void classes(const toml::key& key, const toml::node& node) {
        const toml::table* tbl = node.as_table();
        if (!tbl) return fail(key.source(), "'classes' must be a table");
        for (auto&& [name_key, cls] : *tbl) {
            const std::string name(name_key.str());
            const std::string full = "classes." + name;
            const toml::table* ct = cls.as_table();
            if (!ct || !valid_class_name(name)) {
                fail(name_key.source(), !ct ? "'" + full + "' must be a table"
                                            : "invalid class name '" + name + "' (1-64 of A-Z a-z 0-9 . _ -)");
                continue;
            }
            ClassConfig cc;
            cc.name = name;
            for (auto&& [k, v] : *ct) {
                if (k.str() == "secret_file")
                    path(full + ".secret_file", v, cc.secret_file);
                else if (k.str() == "bootstrap")
                    bootstrap(full + ".bootstrap", v, cc.bootstrap);
                else if (k.str() == "idevid_roots")
                    paths(full + ".idevid_roots", v, cc.idevid_roots);
                else
                    unknown(k, v, full + "." + std::string(k.str()));
            }
            const auto uses = [&](std::string_view m) {
                return std::find(cc.bootstrap.begin(), cc.bootstrap.end(), m) != cc.bootstrap.end();
            };
            if (uses("token") && !ct->contains("secret_file"))
                fail(ct->source(), "missing required key '" + full + ".secret_file' (the class accepts \"token\")");
            if (uses("idevid") && cc.idevid_roots.empty())
                fail(ct->source(), "missing required key '" + full + ".idevid_roots' (the class accepts \"idevid\")");
            cfg.classes[name] = std::move(cc);
        }
    }

    void bootstrap(const std::string& full, const toml::node& n, std::vector<std::string>& out) {
        const toml::array* arr = n.as_array();
        if (!arr || arr->empty()) return fail(n.source(), "'" + full + "' must be a non-empty array of strings");
        out.clear();
        for (const toml::node& e : *arr) {
            const auto* s = e.as_string();
            const bool known = s && std::ranges::any_of(kBootstrapMethods, [&](const char* m) { return s->get() == m; });
            if (!known)
                return fail(e.source(), "'" + full + "': unknown bootstrap method (allowed: token, preregistered, "
                                                     "idevid, approval)");
            if (std::find(out.begin(), out.end(), s->get()) != out.end())
                return fail(e.source(), "'" + full + "': '" + s->get() + "' is listed twice");
            out.push_back(s->get());
        }
    }

    void paths(const std::string& full, const toml::node& n, std::vector<std::string>& out) {
        const toml::array* arr = n.as_array();
        if (!arr || arr->empty()) return fail(n.source(), "'" + full + "' must be a non-empty array of file paths");
        for (const toml::node& e : *arr) {
            std::string p;
            path(full, e, p);
            if (!p.empty()) out.push_back(std::move(p));
        }
    }

    // [[redirect]]: an array of tables (RedirectRule).
    void redirects(const toml::key& key, const toml::node& node) {
        const toml::array* arr = node.as_array();
        if (!arr || (!arr->empty() && !arr->is_array_of_tables()))
            return fail(key.source(), "'redirect' must be an array of tables ([[redirect]])");
        if (arr->size() > kMaxRedirectRules)
            return fail(key.source(), "at most " + std::to_string(kMaxRedirectRules) + " [[redirect]] rules");
        for (const toml::node& entry : *arr) {
            const toml::table& t = *entry.as_table();
            RedirectRule r;
            r.name = "redirect-" + std::to_string(cfg.redirects.size() + 1);
            for (auto&& [k, v] : t) {
                const std::string full = "redirect." + std::string(k.str());
                const std::string* str = v.is_string() ? &v.as_string()->get() : nullptr;
                if (k.str() == "name") {
                    if (!str || !valid_class_name(*str))
                        fail(v.source(), "'" + full + "' must be 1-64 of A-Z a-z 0-9 . _ -");
                    else
                        r.name = *str;
                } else if (k.str() == "domain") {
                    if (!str || !is_valid_dns_name(*str, true))
                        fail(v.source(), "'" + full + "' must be a lower-case DNS name (labels of a-z, 0-9, '-')");
                    else
                        r.domain = *str;
                } else if (k.str() == "server") {
                    std::string host;
                    std::uint16_t port = 0;
                    if (!str || !parse_listen(*str, host, port) || port == 0)
                        fail(v.source(), "'" + full + "' must be \"host:port\" (IPv4 address or host name, port 1-65535)");
                    else
                        r.server = *str;
                } else if (k.str() == "classes" || k.str() == "device_prefixes") {
                    auto& out = k.str() == "classes" ? r.classes : r.device_prefixes;
                    const toml::array* items = v.as_array();
                    bool ok = items && !items->empty();
                    for (std::size_t i = 0; ok && i < items->size(); ++i) {
                        const auto* s = items->get(i)->as_string();
                        ok = s && valid_class_name(s->get());
                        if (ok) out.push_back(s->get());
                    }
                    if (!ok) fail(v.source(), "'" + full + "' must be a non-empty array of 1-64 of A-Z a-z 0-9 . _ -");
                } else if (k.str() == "devices_file") {
                    path(full, v, r.devices_file);
                } else {
                    unknown(k, v, full);
                }
            }
            if (r.domain.empty() && !t.contains("domain")) fail(t.source(), "missing required key 'redirect.domain'");
            if (r.server.empty() && !t.contains("server")) fail(t.source(), "missing required key 'redirect.server'");
            if (!t.contains("classes") && !t.contains("device_prefixes") && !t.contains("devices_file"))
                fail(t.source(), "[[redirect]] '" + r.name +
                                     "' needs at least one of 'classes', 'device_prefixes' and 'devices_file'");
            redirect_sources.push_back(t.source());
            cfg.redirects.push_back(std::move(r));
        }
    }

    // [[domain.retired]]: an array of tables, each with every key of kRetiredKeys.
    void retired(const toml::key& key, const toml::node& node) {
        const toml::array* arr = node.as_array();
        // An empty array (`retired = []`) is no retired CA; toml++ does not
        // count it as an array of tables.
        if (!arr || (!arr->empty() && !arr->is_array_of_tables()))
            return fail(key.source(), "'domain.retired' must be an array of tables ([[domain.retired]])");
        for (const toml::node& entry : *arr) {
            const toml::table& t = *entry.as_table();
            RetiredCa ca;
            for (auto&& [k, v] : t) {
                const std::string full = "domain.retired." + std::string(k.str());
                const auto* spec =
                    std::ranges::find_if(kRetiredKeys, [&](const RetiredKeySpec& r) { return r.name == k.str(); });
                if (spec == std::end(kRetiredKeys))
                    unknown(k, v, full);
                else if (spec->kind == Kind::key)
                    this->key(full, v, ca.*spec->str);
                else
                    path(full, v, ca.*spec->str);
            }
            for (const RetiredKeySpec& r : kRetiredKeys)
                if (!t.contains(r.name))
                    fail(t.source(), "missing required key 'domain.retired." + std::string(r.name) + "'");
            cfg.retired.push_back(std::move(ca));
        }
    }

    void run(const toml::table& root) {
        for (auto&& [key, node] : root) {
            const std::string sec(key.str());
            if (sec == "classes") {
                classes(key, node);
                continue;
            }
            if (sec == "redirect") {
                redirects(key, node);
                continue;
            }
            if (std::ranges::none_of(kSections, [&](const Section& s) { return s.name == sec; })) {
                unknown(key, node, sec);
                continue;
            }
            const toml::table* tbl = node.as_table();
            if (!tbl) {
                fail(key.source(), "'" + sec + "' must be a table");
                continue;
            }
            for (auto&& [name, node_value] : *tbl) {
                if (sec == "domain" && name.str() == "retired") {
                    retired(name, node_value);
                    continue;
                }
                const auto* spec = std::ranges::find_if(
                    kKeys, [&](const KeySpec& k) { return k.section == sec && k.name == name.str(); });
                if (spec == std::end(kKeys))
                    unknown(name, node_value, sec + "." + std::string(name.str()));
                else
                    this->value(*spec, node_value);
            }
        }
        for (const KeySpec& k : kKeys) {
            const toml::node* sec = root.get(k.section);
            const toml::table* tbl = sec ? sec->as_table() : nullptr;
            const bool required = k.kind == Kind::domain || k.kind == Kind::path || k.kind == Kind::key;
            if (required && (!tbl || !tbl->contains(k.name)))
                fail(sec ? sec->source() : toml::source_region{},
                     "missing required key '" + std::string(k.section) + "." + std::string(k.name) + "'");
        }
        if (cfg.crl_refresh_s >= cfg.crl_validity_s) {
            const toml::node* h = root.get("http");
            fail(h ? h->source() : toml::source_region{},
                 "'http.crl_refresh_s' must be less than 'http.crl_validity_s', or a cached CRL would outlive its nextUpdate");
        }
        if (cfg.log_format != "text" && cfg.log_format != "json") {
            const toml::node* srv = root.get("server");
            const toml::node* lf = srv && srv->is_table() ? srv->as_table()->get("log_format") : nullptr;
            fail(lf ? lf->source() : toml::source_region{}, "'server.log_format' must be \"text\" or \"json\"");
        }
        {
            const toml::node* st = root.get("storage");
            const bool db = !cfg.database.empty(), url = !cfg.storage_url.empty();
            if (db == url)
                fail(st ? st->source() : toml::source_region{},
                     db ? "give only one of 'storage.database' (SQLite) and 'storage.url' (PostgreSQL)"
                        : "missing required key 'storage.database' (SQLite) or 'storage.url' (PostgreSQL)");
        }
        if (!cfg.webhook_url.empty() && cfg.webhook_secret_file.empty()) {
            const toml::node* w = root.get("webhook");
            fail(w ? w->source() : toml::source_region{},
                 "'webhook.secret_file' is required with 'webhook.url' (receivers must be able to check the signature)");
        }
        if (cfg.approval_retry_max_s < cfg.approval_retry_after_s) {
            const toml::node* a = root.get("approval");
            fail(a ? a->source() : toml::source_region{},
                 "'approval.retry_max_s' must not be less than 'approval.retry_after_s'");
        }
        for (std::size_t i = 0; i < cfg.redirects.size(); ++i)
            if (cfg.redirects[i].domain == cfg.domain)
                fail(redirect_sources[i], "[[redirect]] '" + cfg.redirects[i].name + "' sends devices to this server's own domain");
        const toml::node* cls = root.get("classes");
        if ((!cls || (cls->is_table() && cls->as_table()->empty())) && cfg.redirects.empty())
            fail(cls ? cls->source() : toml::source_region{},
                 "at least one [classes.<name>] table is required (or, for a directory, a [[redirect]] rule)");
    }
};

Error config_error(const std::string& origin, toml::source_index line, std::string_view message) {
    std::string where = origin + (line ? ":" + std::to_string(line) : std::string()) + ": ";
    return make_error(Code::config_invalid, where + std::string(message));
}

}  // namespace

Result<Config> parse_config(std::string_view toml_text, const std::string& origin) {
    Config cfg;
    std::error_code ec;
    fs::path dir = fs::absolute(fs::path(origin), ec).parent_path().lexically_normal();
    if (ec) return make_error(Code::file_error, "cannot resolve directory of '" + origin + "': " + ec.message());
    if (!dir.has_filename() && dir.has_relative_path()) dir = dir.parent_path();  // drop a trailing '/'
    cfg.config_dir = dir.string();

    toml::table root;
    try {
        root = toml::parse(toml_text, origin);
    } catch (const toml::parse_error& e) {
        return config_error(origin, e.source().begin.line, e.description());
    } catch (const std::exception& e) {
        return make_error(Code::internal, "cannot parse '" + origin + "': " + e.what());
    }

    Parser p{dir, cfg, {}};
    p.run(root);
    if (p.issues.empty()) return cfg;
    const auto order = [](const Issue& i) { return i.line ? i.line : std::numeric_limits<toml::source_index>::max(); };
    const Issue& first = *std::min_element(p.issues.begin(), p.issues.end(),
                                           [&](const Issue& a, const Issue& b) { return order(a) < order(b); });
    return config_error(origin, first.line, first.message);
}

Result<Config> load_config(const std::string& path) {
    std::FILE* f = std::fopen(path.c_str(), "rb");
    const auto fail = [&](int err) {
        return make_error(Code::file_error, "cannot read config file '" + path + "': " + std::strerror(err));
    };
    if (!f) return fail(errno);
    std::string text;
    char buf[8192];
    std::size_t n = 0;
    while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
    const int err = std::ferror(f) ? errno : 0;
    std::fclose(f);
    if (err) return fail(err);
    return parse_config(text, path);
}

namespace {

std::string render_key(const fs::path& dir, const std::string& ref) {
    return quote(crypto::is_pkcs11_uri(ref) ? ref : relativize(dir, ref));
}

// [[domain.retired]] tables; they must follow [domain]'s own keys.
void render_retired(std::ostringstream& out, const fs::path& dir, const std::vector<RetiredCa>& retired) {
    if (retired.empty()) return;
    out << "\n# " << kRetiredComment << "\n";
    for (const RetiredCa& ca : retired) {
        out << "[[domain.retired]]\n";
        for (const RetiredKeySpec& k : kRetiredKeys)
            out << k.name << " = "
                << (k.kind == Kind::key ? render_key(dir, ca.*k.str) : quote(relativize(dir, ca.*k.str))) << "\n";
    }
}

}  // namespace

std::string render_config(const Config& cfg) {
    const fs::path dir(cfg.config_dir);
    std::ostringstream out;
    out << "# irp-server configuration\n";
    std::string_view current;
    for (const KeySpec& k : kKeys) {
        if (k.section != current) {
            if (current == "domain") render_retired(out, dir, cfg.retired);
            current = k.section;
            const auto* s = std::find_if(std::begin(kSections), std::end(kSections),
                                         [&](const Section& sec) { return sec.name == current; });
            out << "\n# " << s->comment << "\n[" << current << "]\n";
        }
        if ((k.kind == Kind::url || k.kind == Kind::opt_path || k.kind == Kind::opt_text || k.kind == Kind::instance) &&
            (cfg.*k.str).empty())
            continue;
        out << k.name << " = ";
        switch (k.kind) {
            case Kind::listen: out << quote(cfg.listen_host + ":" + std::to_string(cfg.listen_port)); break;
            case Kind::domain: out << quote(cfg.domain); break;
            case Kind::integer: out << cfg.*k.num; break;
            case Kind::path: out << quote(relativize(dir, cfg.*k.str)); break;
            case Kind::boolean: out << (cfg.*k.flag ? "true" : "false"); break;
            case Kind::address: out << quote(cfg.*k.str); break;
            case Kind::url: out << quote(cfg.*k.str); break;
            case Kind::opt_path: out << quote(relativize(dir, cfg.*k.str)); break;
            case Kind::opt_text:
            case Kind::instance: out << quote(cfg.*k.str); break;
            case Kind::key: out << render_key(dir, cfg.*k.str); break;
            case Kind::algorithms:
                out << "[";
                for (std::size_t i = 0; i < cfg.key_algorithms.size(); ++i)
                    out << (i ? ", " : "") << quote(cfg.key_algorithms[i]);
                out << "]";
                break;
        }
        out << "\n";
    }
    out << "\n# " << kClassesComment << "\n";
    for (const auto& [name, cls] : cfg.classes) {
        out << "[classes." << bare_or_quoted(name) << "]\n";
        if (!cls.secret_file.empty()) out << "secret_file = " << quote(relativize(dir, cls.secret_file)) << "\n";
        if (cls.bootstrap != std::vector<std::string>{"token"}) {
            out << "bootstrap = [";
            for (std::size_t i = 0; i < cls.bootstrap.size(); ++i) out << (i ? ", " : "") << quote(cls.bootstrap[i]);
            out << "]\n";
        }
        if (!cls.idevid_roots.empty()) {
            out << "idevid_roots = [";
            for (std::size_t i = 0; i < cls.idevid_roots.size(); ++i)
                out << (i ? ", " : "") << quote(relativize(dir, cls.idevid_roots[i]));
            out << "]\n";
        }
    }
    if (!cfg.redirects.empty()) out << "\n# " << kRedirectComment << "\n";
    const auto list = [&out](std::string_view key, const std::vector<std::string>& v) {
        if (v.empty()) return;
        out << key << " = [";
        for (std::size_t i = 0; i < v.size(); ++i) out << (i ? ", " : "") << quote(v[i]);
        out << "]\n";
    };
    for (const RedirectRule& r : cfg.redirects) {
        out << "[[redirect]]\nname = " << quote(r.name) << "\ndomain = " << quote(r.domain)
            << "\nserver = " << quote(r.server) << "\n";
        list("classes", r.classes);
        list("device_prefixes", r.device_prefixes);
        if (!r.devices_file.empty()) out << "devices_file = " << quote(relativize(dir, r.devices_file)) << "\n";
    }
    return out.str();
}

std::pair<std::string, std::uint16_t> split_listen(const std::string& host_port) {
    std::string host;
    std::uint16_t port = 0;
    parse_listen(host_port, host, port);
    return {host, port};
}

}  // namespace irp::server
