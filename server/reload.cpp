#include "reload.hpp"

namespace irp::server {

namespace {

template <typename T>
void compare(std::vector<std::string>& out, const char* key, const T& a, const T& b) {
    if (!(a == b)) out.emplace_back(key);
}

bool same_classes(const Config& a, const Config& b) {
    if (a.classes.size() != b.classes.size()) return false;
    for (auto ia = a.classes.begin(), ib = b.classes.begin(); ia != a.classes.end(); ++ia, ++ib)
        if (ia->first != ib->first || ia->second.secret_file != ib->second.secret_file ||
            ia->second.bootstrap != ib->second.bootstrap || ia->second.idevid_roots != ib->second.idevid_roots)
            return false;
    return true;
}

}  // namespace

ReloadPlan plan_reload(const Config& r, const Config& n) {
    ReloadPlan p;
    auto& live = p.applied;
    compare(live, "server.max_connections", r.max_connections, n.max_connections);
    compare(live, "limits.max_frame_bytes", r.max_frame_bytes, n.max_frame_bytes);
    compare(live, "limits.handshake_timeout_ms", r.handshake_timeout_ms, n.handshake_timeout_ms);
    compare(live, "limits.idle_timeout_ms", r.idle_timeout_ms, n.idle_timeout_ms);
    compare(live, "limits.exchange_timeout_ms", r.exchange_timeout_ms, n.exchange_timeout_ms);
    compare(live, "limits.challenge_ttl_s", r.challenge_ttl_s, n.challenge_ttl_s);
    compare(live, "limits.per_source_rate", r.per_source_rate, n.per_source_rate);
    compare(live, "limits.per_source_burst", r.per_source_burst, n.per_source_burst);
    compare(live, "http.max_connections_per_source", r.http_max_per_source, n.http_max_per_source);
    compare(live, "profile.validity_days", r.validity_days, n.validity_days);
    compare(live, "profile.backdate_s", r.backdate_s, n.backdate_s);
    compare(live, "profile.key_algorithms", r.key_algorithms, n.key_algorithms);
    compare(live, "profile.allow_same_key_renewal", r.allow_same_key_renewal, n.allow_same_key_renewal);
    compare(live, "approval.retry_after_s", r.approval_retry_after_s, n.approval_retry_after_s);
    compare(live, "approval.retry_max_s", r.approval_retry_max_s, n.approval_retry_max_s);
    compare(live, "approval.expire_s", r.approval_expire_s, n.approval_expire_s);
    compare(live, "approval.max_pending", r.approval_max_pending, n.approval_max_pending);
    compare(live, "surge.max_new_devices", r.surge_max_new_devices, n.surge_max_new_devices);
    compare(live, "surge.window_s", r.surge_window_s, n.surge_window_s);
    compare(live, "lifecycle.check_in_s", r.check_in_s, n.check_in_s);
    compare(live, "lifecycle.release_after_days", r.release_after_days, n.release_after_days);
    if (!same_classes(r, n)) live.emplace_back("classes");
    compare(live, "redirect", r.redirects, n.redirects);

    auto& later = p.need_restart;
    compare(later, "server.listen", r.listen_host + ":" + std::to_string(r.listen_port),
            n.listen_host + ":" + std::to_string(n.listen_port));
    compare(later, "server.threads", r.threads, n.threads);
    compare(later, "server.log_format", r.log_format, n.log_format);
    compare(later, "limits.drain_timeout_ms", r.drain_timeout_ms, n.drain_timeout_ms);
    compare(later, "domain.name", r.domain, n.domain);
    compare(later, "domain.root_certificate", r.root_certificate, n.root_certificate);
    compare(later, "domain.ca_certificate", r.ca_certificate, n.ca_certificate);
    compare(later, "domain.ca_key", r.ca_key, n.ca_key);
    compare(later, "domain.tls_certificate", r.tls_certificate, n.tls_certificate);
    compare(later, "domain.tls_key", r.tls_key, n.tls_key);
    compare(later, "domain.key_passphrase_file", r.key_passphrase_file, n.key_passphrase_file);
    compare(later, "domain.pkcs11_module", r.pkcs11_module, n.pkcs11_module);
    auto retired_paths = [](const Config& c) {
        std::vector<std::string> out;
        for (const auto& rc : c.retired) out.push_back(rc.ca_certificate + "\n" + rc.ca_key);
        return out;
    };
    compare(later, "domain.retired", retired_paths(r), retired_paths(n));
    compare(later, "storage.database", r.database, n.database);
    compare(later, "storage.url", r.storage_url, n.storage_url);
    compare(later, "admin.listen", r.admin_listen, n.admin_listen);
    compare(later, "admin.token_file", r.admin_token_file, n.admin_token_file);
    compare(later, "http.listen", r.http_listen, n.http_listen);
    compare(later, "http.base_url", r.http_base_url, n.http_base_url);
    compare(later, "http.crl_validity_s", r.crl_validity_s, n.crl_validity_s);
    compare(later, "http.crl_refresh_s", r.crl_refresh_s, n.crl_refresh_s);
    compare(later, "http.ocsp_validity_s", r.ocsp_validity_s, n.ocsp_validity_s);
    compare(later, "webhook.url", r.webhook_url, n.webhook_url);
    compare(later, "webhook.secret_file", r.webhook_secret_file, n.webhook_secret_file);
    compare(later, "webhook.timeout_ms", r.webhook_timeout_ms, n.webhook_timeout_ms);
    compare(later, "discovery.mdns", r.mdns, n.mdns);
    compare(later, "discovery.instance", r.mdns_instance, n.mdns_instance);
    return p;
}

Config apply_live(const Config& running, const Config& n) {
    Config c = running;
    c.max_connections = n.max_connections;
    c.max_frame_bytes = n.max_frame_bytes;
    c.handshake_timeout_ms = n.handshake_timeout_ms;
    c.idle_timeout_ms = n.idle_timeout_ms;
    c.exchange_timeout_ms = n.exchange_timeout_ms;
    c.challenge_ttl_s = n.challenge_ttl_s;
    c.per_source_rate = n.per_source_rate;
    c.per_source_burst = n.per_source_burst;
    c.http_max_per_source = n.http_max_per_source;
    c.validity_days = n.validity_days;
    c.backdate_s = n.backdate_s;
    c.key_algorithms = n.key_algorithms;
    c.allow_same_key_renewal = n.allow_same_key_renewal;
    c.classes = n.classes;
    c.approval_retry_after_s = n.approval_retry_after_s;
    c.approval_retry_max_s = n.approval_retry_max_s;
    c.approval_expire_s = n.approval_expire_s;
    c.approval_max_pending = n.approval_max_pending;
    c.surge_max_new_devices = n.surge_max_new_devices;
    c.surge_window_s = n.surge_window_s;
    c.check_in_s = n.check_in_s;
    c.release_after_days = n.release_after_days;
    c.redirects = n.redirects;
    return c;
}

}  // namespace irp::server
