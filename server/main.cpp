// irp-server: init | run | token. Usage and configuration: README.md.
#include <CLI/CLI.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <mutex>
#include <thread>

#include <nlohmann/json.hpp>

#include "admin/api_util.hpp"
#include "admin/http_frontends.hpp"
#include "admin/metrics.hpp"
#include "ca/authority.hpp"
#include "ca/init.hpp"
#include "config/config.hpp"
#include "discovery/mdns_advertiser.hpp"
#include "enroll_service.hpp"
#include "lifecycle/maintenance.hpp"
#include "lifecycle/webhook.hpp"
#include "reload.hpp"
#include "revocation/revocation.hpp"
#include "irp/core/messages.hpp"
#include "irp/core/transcript.hpp"
#include "irp/net/server.hpp"
#include "irp/platform/files.hpp"
#include "store/store.hpp"

using namespace irp;

namespace {

std::int64_t unix_now() {
    return std::chrono::duration_cast<std::chrono::seconds>(std::chrono::system_clock::now().time_since_epoch()).count();
}

int fail(const Error& e) {
    std::fprintf(stderr, "irp-server: %s\n", e.message.c_str());
    return e.category() == Category::usage ? 2 : 1;
}

std::vector<KeyAlgorithm> algorithms(const std::vector<std::string>& names) {
    std::vector<KeyAlgorithm> out;
    for (const auto& n : names)
        if (auto a = crypto::parse_key_algorithm(n)) out.push_back(*a);
    return out;
}

int cmd_init(const server::InitOptions& opts) {
    auto rng = crypto::system_random();
    server::InitOptions o = opts;
    o.now_unix = unix_now();
    auto r = server::init_domain(o, *rng);
    if (!r) return fail(r.error());
    std::printf("created domain '%s' in %s\n  config: %s\n  root:   %s\n", o.domain.c_str(), o.dir.c_str(),
                r->config_path.c_str(), r->root_path.c_str());
    return 0;
}

int cmd_token(const std::string& config_path, const std::string& cls, const std::string& device_id) {
    auto cfg = server::load_config(config_path);
    if (!cfg) return fail(cfg.error());
    const auto it = cfg->classes.find(cls);
    if (it == cfg->classes.end()) return fail(make_error(Code::bad_argument, "no class '" + cls + "' in " + config_path));
    if (!is_valid_identifier(device_id))
        return fail(make_error(Code::bad_argument, "device id must be 1-64 characters from [A-Za-z0-9._-]"));
    auto material = server::load_domain(*cfg);
    if (!material) return fail(material.error());
    if (material->class_secrets.at(cls).empty())
        return fail(make_error(Code::bad_argument, "class '" + cls + "' does not accept \"token\" (no secret_file)"));
    const auto token = derive_device_token(material->class_secrets.at(cls), cls, device_id);
    std::printf("%s\n", to_hex(token).c_str());
    return 0;
}

int cmd_run(const std::string& config_path) {
    auto cfg = server::load_config(config_path);
    if (!cfg) return fail(cfg.error());
    // Asked for, but not in this build: say so now (exit 2), not once running.
    if (cfg->mdns && !server::MdnsAdvertiser::supported())
        return fail(server::MdnsAdvertiser({}, {}).start().error());
    auto material = server::load_domain(*cfg);
    if (!material) return fail(material.error());
    auto store = cfg->storage_url.empty() ? server::open_sqlite_store(cfg->database)
                                          : server::open_postgres_store(cfg->storage_url);
    if (!store) return fail(store.error());
    auto rng = crypto::system_random();

    std::string admin_token;
    if (!cfg->admin_token_file.empty()) {
        auto t = platform::read_file(cfg->admin_token_file, 4096);
        if (!t) return fail(t.error());
        admin_token = *t;
        while (!admin_token.empty() && (admin_token.back() == '\n' || admin_token.back() == '\r')) admin_token.pop_back();
        if (admin_token.size() < 32)
            return fail(make_error(Code::config_invalid, "the admin token in '" + cfg->admin_token_file + "' is shorter than 32 characters"));
    }

    std::mutex log_mu;
    auto log = [&log_mu](const std::string& line) {
        std::lock_guard lock(log_mu);
        std::fprintf(stderr, "%s\n", line.c_str());
    };
    server::Metrics metrics;
    server::ClassRegistry classes(**store, *rng, material->class_secrets, unix_now);
    auto policies = server::load_class_policies(*cfg);
    if (!policies) return fail(policies.error());
    // What the class files held when last read: a SIGHUP re-reads them and
    // reports "classes" when their contents changed, even in place.
    auto class_secrets_read = material->class_secrets;
    auto class_policies_read = *policies;
    classes.set_config_policies(std::move(*policies));
    auto approval_of = [](const server::Config& c) {
        return server::ApprovalPolicy{c.approval_retry_after_s, c.approval_retry_max_s, c.approval_expire_s,
                                      c.approval_max_pending, c.surge_max_new_devices, c.surge_window_s};
    };
    server::HoldDesk holds(**store, unix_now, approval_of(*cfg));
    std::unique_ptr<server::Webhook> webhook;
    if (!cfg->webhook_url.empty()) {
        auto secret = server::load_webhook_secret(cfg->webhook_secret_file);
        if (!secret) return fail(secret.error());
        webhook = std::make_unique<server::Webhook>(
            server::WebhookSettings{cfg->webhook_url, *secret, cfg->webhook_timeout_ms, 3}, log, unix_now);
        holds.on_new_hold([&webhook, domain = cfg->domain](const server::HeldRequest& h) {
            const nlohmann::json body{{"event", "held"}, {"domain", domain}, {"request", server::admin::held_json(h)}};
            webhook->post("held", body.dump());
        });
    }
    server::RevocationService revocation(*material, **store, *rng,
                                         server::RevocationSettings{cfg->crl_validity_s, cfg->crl_refresh_s, cfg->ocsp_validity_s},
                                         unix_now);
    revocation.set_metrics(&metrics);
    // Account statements are as fresh as OCSP answers.
    server::AccountStatements statements(*material, **store, *rng, cfg->ocsp_validity_s, unix_now);
    auto notify = [&webhook](const std::string& event, const std::string& body) {
        if (webhook) webhook->post(event, body);
    };
    const auto log_format = cfg->log_format == "json" ? server::LogFormat::json : server::LogFormat::text;
    server::HttpFrontends http(
        server::HttpDeps{**store, revocation, classes, metrics, admin_token, cfg->domain, unix_now, log, log_format, &holds,
                         &statements, notify},
        cfg->admin_listen, cfg->http_listen);
    http.set_http_max_per_source(cfg->http_max_per_source);
    if (auto r = http.start(); !r) return fail(r.error());
    // Without an explicit base_url, certificates point at the port actually
    // bound (which differs from the config when it says port 0).
    const std::string base_url = cfg->http_base_url.empty()
                                     ? "http://" + server::split_listen(cfg->http_listen).first + ":" + std::to_string(http.http_port())
                                     : cfg->http_base_url;

    auto profile_of = [&](const server::Config& c) {
        server::ProfileSettings p;
        p.validity_s = std::int64_t{c.validity_days} * 24 * 3600;
        p.backdate_s = c.backdate_s;
        p.crl_url = server::crl_url(base_url, material->issuer_id);
        p.ocsp_url = server::ocsp_url(base_url);
        return p;
    };
    server::Authority ca(*material, profile_of(*cfg), *rng);
    auto service_policy_of = [](const server::Config& c) {
        return server::ServicePolicy{c.allow_same_key_renewal, c.check_in_s};
    };
    server::EnrollService service(ca, **store, classes, holds, service_policy_of(*cfg), log, unix_now);
    auto maintenance_of = [](const server::Config& c) {
        return server::MaintenanceSettings{c.approval_expire_s, c.release_after_days};
    };
    server::Maintenance maintenance(**store, unix_now, log);
    maintenance.set(maintenance_of(*cfg));
    maintenance.start(60);
    service.set_metrics(&metrics);
    service.set_revocation(&revocation);  // check-in answers carry the CRL
    service.set_log_format(log_format);
    // [[redirect]]: the directory role (devices files are read now, and again on SIGHUP).
    auto directory = server::Directory::build(cfg->redirects);
    if (!directory) return fail(directory.error());
    std::shared_ptr<const server::Directory> directory_read = *directory;
    if (directory_read->rules() > 0) service.set_directory(directory_read);

    auto live_of = [&](const server::Config& c) {
        net::Server::LiveSettings l;
        l.max_connections = c.max_connections;
        l.per_source_rate = c.per_source_rate;
        l.per_source_burst = c.per_source_burst;
        l.session.domain = c.domain;
        l.session.ca_chain = {material->ca_der, material->root_der};
        l.session.key_algorithms = algorithms(c.key_algorithms);
        l.session.limits.max_frame_bytes = c.max_frame_bytes;
        l.session.limits.hello_timeout = Time{c.handshake_timeout_ms};
        l.session.limits.idle_timeout = Time{c.idle_timeout_ms};
        l.session.limits.exchange_timeout = Time{c.exchange_timeout_ms};
        l.session.limits.challenge_ttl = Time{std::int64_t{c.challenge_ttl_s} * 1000};
        return l;
    };
    const auto live = live_of(*cfg);
    // [discovery] mdns: advertised once the port is bound. Withdrawn as soon
    // as the server stops accepting, on a thread of its own (a hung daemon
    // must not hold up the drain), and at the latest when run() returns.
    std::unique_ptr<server::MdnsAdvertiser> mdns;
    std::thread withdraw;
    net::ServerOptions opts;
    opts.on_stop = [&] {
        if (mdns) withdraw = std::thread([&] { mdns->stop(); });
    };
    opts.host = cfg->listen_host;
    opts.port = cfg->listen_port;
    opts.threads = cfg->threads;
    opts.max_connections = live.max_connections;
    opts.per_source_rate = live.per_source_rate;
    opts.per_source_burst = live.per_source_burst;
    opts.drain_timeout = Time{cfg->drain_timeout_ms};
    opts.session = live.session;
    opts.tls.chain = material->tls_chain;
    opts.tls.key = material->tls_key;

    // SIGHUP: re-read the config; take what can change live, name what
    // needs a restart, and keep running unchanged if the file is broken.
    net::Server* running_server = nullptr;
    server::Config running = *cfg;
    opts.on_reload = [&] {
        auto next = server::load_config(config_path);
        if (!next) {
            log(server::render_log(log_format, "reload", {{"outcome", "refused"}, {"reason", next.error().message}}));
            return;
        }
        auto plan = server::plan_reload(running, *next);
        // The class files are always re-read: a secret file or a PEM of
        // manufacturer roots may have been replaced in place.
        auto secrets = server::load_class_secrets(*next);
        auto next_policies =
            secrets ? server::load_class_policies(*next) : Result<std::map<std::string, server::ClassPolicy>>(secrets.error());
        if (!secrets || !next_policies) {
            const std::string why = !secrets ? secrets.error().message : next_policies.error().message;
            log(server::render_log(log_format, "reload", {{"outcome", "refused"}, {"reason", why}}));
            return;
        }
        auto next_directory = server::Directory::build(next->redirects);
        if (!next_directory) {
            log(server::render_log(log_format, "reload", {{"outcome", "refused"}, {"reason", next_directory.error().message}}));
            return;
        }
        const bool directory_changed = !(**next_directory == *directory_read);
        if (directory_changed && std::find(plan.applied.begin(), plan.applied.end(), "redirect") == plan.applied.end())
            plan.applied.emplace_back("redirect");
        const bool classes_changed = *secrets != class_secrets_read || *next_policies != class_policies_read;
        if (classes_changed && std::find(plan.applied.begin(), plan.applied.end(), "classes") == plan.applied.end())
            plan.applied.emplace_back("classes");
        running = server::apply_live(running, *next);
        if (classes_changed) {
            class_secrets_read = *secrets;
            class_policies_read = *next_policies;
            classes.set_config_classes(std::move(*secrets));
            classes.set_config_policies(std::move(*next_policies));
        }
        service.set_policy(service_policy_of(running));
        if (directory_changed) {
            directory_read = *next_directory;
            service.set_directory(directory_read->rules() > 0 ? directory_read : nullptr);
        }
        holds.set_policy(approval_of(running));
        maintenance.set(maintenance_of(running));
        ca.set_profile(profile_of(running));
        if (running_server) running_server->update(live_of(running));
        http.set_http_max_per_source(running.http_max_per_source);
        auto join = [](const std::vector<std::string>& v) {
            std::string out;
            for (const auto& k : v) out += (out.empty() ? "" : ",") + k;
            return out.empty() ? std::string("none") : out;
        };
        log(server::render_log(log_format, "reload",
                               {{"outcome", "done"}, {"applied", join(plan.applied)}, {"needs_restart", join(plan.need_restart)}}));
    };

    net::Server server(opts, service, *rng);
    running_server = &server;
    if (auto r = server.listen(); !r) return fail(r.error());
    const std::string irp_at = cfg->listen_host + ":" + std::to_string(server.port());
    const std::string admin_at = "http://" + server::split_listen(cfg->admin_listen).first + ":" + std::to_string(http.admin_port());
    const std::string http_at = "http://" + server::split_listen(cfg->http_listen).first + ":" + std::to_string(http.http_port());
    const std::string storage = cfg->storage_url.empty() ? "SQLite " + cfg->database : std::string("PostgreSQL");
    if (log_format == server::LogFormat::json) {
        log(server::render_log(log_format, "start", {{"domain", cfg->domain}, {"irp", irp_at}, {"admin", admin_at},
                                                    {"http", http_at}, {"base_url", base_url}, {"storage", storage},
                                                    {"admin_api", admin_token.empty() ? "disabled" : "enabled"}}));
    } else {
        log("irp-server: domain " + cfg->domain + " listening on " + irp_at + " (" + storage + ")");
        if (directory_read->rules() > 0)
            log("irp-server: directory: " + std::to_string(directory_read->rules()) + " redirect rule(s), " +
                std::to_string(directory_read->listed_devices()) + " listed device(s)");
        log("irp-server: admin API on " + admin_at + (admin_token.empty() ? " (disabled: no admin.token_file)" : "") +
            "; CRL and OCSP on " + http_at + " (certificates point to " + base_url + ")");
    }
    // When each retired CA may leave [[domain.retired]]. Finding its last
    // certificate would scan the store, so this is an upper bound: a CA's
    // certificates end by its own notAfter (issue_device clamps them), and
    // its last CRL is relied on for one http.crl_validity_s after that.
    auto utc = [](std::int64_t t) {
        const std::time_t tt = static_cast<std::time_t>(t);
        std::tm tm{};
        gmtime_r(&tt, &tm);
        char buf[32];
        std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
        return std::string(buf);
    };
    for (const auto& r : material->retired) {
        const std::int64_t removable = r.ca_info.not_after + std::int64_t{cfg->crl_validity_s};
        std::string subject = r.ca_info.subject;  // O="...",CN="...": the quotes add nothing to a log line
        std::erase(subject, '"');
        log(server::render_log(log_format, "retired_ca",
                               {{"issuer", r.issuer_id}, {"subject", server::printable(subject, true, 200)},
                                {"not_after", utc(r.ca_info.not_after)}, {"removable_after", utc(removable)},
                                {"removable_now", removable <= unix_now() ? "yes" : "no"}}));
    }
    if (cfg->mdns) {
        mdns = std::make_unique<server::MdnsAdvertiser>(
            server::MdnsAdvertisement{cfg->mdns_instance, cfg->domain, cfg->listen_host, server.port()},
            [&log, log_format](const std::vector<server::LogField>& fields) { log(server::render_log(log_format, "mdns", fields)); });
        if (auto r = mdns->start(); !r) return fail(r.error());
    }
    server.run();
    if (withdraw.joinable()) withdraw.join();
    if (mdns) mdns->stop();  // idempotent
    http.stop();
    log(log_format == server::LogFormat::json ? server::render_log(log_format, "stop", {}) : "irp-server: stopped");
    return 0;
}

}  // namespace

int main(int argc, char** argv) {
    silence_decoder_logging();
    CLI::App app{"irp-server: a domain CA server for the Identity Registration Protocol"};
    app.require_subcommand(1);

    server::InitOptions init;
    auto* init_cmd = app.add_subcommand("init", "create a root CA, a domain CA, a TLS certificate, a device class and a config");
    init_cmd->add_option("--dir", init.dir, "directory to create the domain in")->required();
    init_cmd->add_option("--domain", init.domain, "the domain's DNS name, e.g. demo.example")->required();
    init_cmd->add_option("--class", init.class_name, "first device class")->capture_default_str();
    init_cmd->add_option("--listen", init.listen, "address the server will listen on")->capture_default_str();
    init_cmd->add_option("--admin-listen", init.admin_listen, "address of the admin API (default 127.0.0.1:4605)");
    init_cmd->add_option("--http-listen", init.http_listen, "address of the CRL/OCSP endpoint (default 127.0.0.1:4680)");
    init_cmd->add_flag("--force", init.force, "replace an existing domain in --dir");

    std::string config_path;
    auto* run_cmd = app.add_subcommand("run", "serve IRP in the foreground until SIGINT/SIGTERM");
    run_cmd->add_option("--config", config_path, "path to server.toml")->required();

    std::string token_class, token_device;
    auto* token_cmd = app.add_subcommand("token", "print a device's bootstrap token (manufacturer side)");
    token_cmd->add_option("--config", config_path, "path to server.toml")->required();
    token_cmd->add_option("--class", token_class, "device class")->required();
    token_cmd->add_option("--device-id", token_device, "device id")->required();

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }
    if (*init_cmd) return cmd_init(init);
    if (*run_cmd) return cmd_run(config_path);
    if (*token_cmd) return cmd_token(config_path, token_class, token_device);
    return 2;
}
