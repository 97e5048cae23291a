// irpctl: the operator's CLI over irp-server's admin API. Finds the API and
// its token from the server's config (--config) or from --url/--token-file.
// Human-readable tables by default, the API's JSON with --json.
#include <CLI/CLI.hpp>
#include <httplib.h>
#include <nlohmann/json.hpp>

#include <cstdio>
#include <ctime>
#include <iostream>

#include "config/config.hpp"
#include "irpctl/accounts.hpp"
#include "irpctl/cli.hpp"
#include "irp/crypto/crypto.hpp"
#include "irp/platform/files.hpp"

using namespace irp;
using irp::ctl::Api;
using irp::ctl::json;
using irp::ctl::query;
using irp::ctl::str;
using irp::ctl::table;
using irp::ctl::when;

namespace {

std::vector<std::string> cert_row(const json& c) {
    return {str(c, "serial"), str(c, "device_id"), str(c, "status"),
            c.value("revoked", false) ? "revoked (" + str(c, "revocation_reason") + ")" : "-", when(c["not_after"])};
}

std::vector<std::string> held_row(const json& h) {
    return {str(h, "id"), str(h, "device_id"), str(h, "class"), str(h, "model"), str(h, "peer"),
            str(h, "key_sha256").substr(0, 16), str(h, "reason"), str(h, "state"), when(h["first_seen"]), str(h, "asks")};
}
const std::vector<std::string> kHeldHead = {"REQUEST", "DEVICE", "CLASS", "MODEL", "FROM", "KEY", "REASON", "STATE",
                                            "FIRST SEEN", "ASKS"};

// Registrations from a file: JSON ({"registrations": [...]} or a bare array
// of {"device_id", "class", "public_key", "note"?}) or CSV lines
// "device_id,class,public_key[,note]" (public key as base64 DER, or the path
// of a PEM file); '#' starts a comment line.
std::optional<json> read_registrations(const std::string& path) {
    auto text = platform::read_file(path);
    if (!text) {
        std::fprintf(stderr, "irpctl: %s\n", text.error().message.c_str());
        return std::nullopt;
    }
    json j = json::parse(*text, nullptr, false);
    if (!j.is_discarded()) {
        if (j.is_array()) return json{{"registrations", j}};
        if (j.is_object() && j.contains("registrations")) return j;
        std::fprintf(stderr, "irpctl: %s: expected {\"registrations\": [...]} or an array\n", path.c_str());
        return std::nullopt;
    }
    json regs = json::array();
    std::size_t line_no = 0, start = 0;
    while (start <= text->size()) {
        const auto nl = text->find('\n', start);
        std::string line = text->substr(start, nl == std::string::npos ? std::string::npos : nl - start);
        start = nl == std::string::npos ? text->size() + 1 : nl + 1;
        ++line_no;
        while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
        if (line.empty() || line[0] == '#') continue;
        std::vector<std::string> f;
        for (std::size_t p = 0;;) {
            const auto c = line.find(',', p);
            f.push_back(line.substr(p, c == std::string::npos ? std::string::npos : c - p));
            if (c == std::string::npos || f.size() == 4) {
                if (c != std::string::npos) f.back() = line.substr(p);  // the note keeps its commas
                break;
            }
            p = c + 1;
        }
        if (f.size() < 3) {
            std::fprintf(stderr, "irpctl: %s:%zu: expected device_id,class,public_key[,note]\n", path.c_str(), line_no);
            return std::nullopt;
        }
        std::string key = f[2];
        if (platform::file_exists(key)) {
            auto pem = platform::read_file(key);
            if (!pem) {
                std::fprintf(stderr, "irpctl: %s:%zu: %s\n", path.c_str(), line_no, pem.error().message.c_str());
                return std::nullopt;
            }
            key = *pem;
        }
        json e{{"device_id", f[0]}, {"class", f[1]}, {"public_key", key}};
        if (f.size() == 4) e["note"] = f[3];
        regs.push_back(std::move(e));
    }
    return json{{"registrations", regs}};
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"irpctl: administer an irp-server domain through its admin API"};
    app.require_subcommand(1);
    std::string config_path, url, token_file;
    bool as_json = false;
    app.add_option("--config", config_path, "the server's server.toml (gives the admin URL and token)");
    app.add_option("--url", url, "admin API base URL, e.g. http://127.0.0.1:4605");
    app.add_option("--token-file", token_file, "file holding the admin bearer token");
    app.add_flag("--json", as_json, "print the API's JSON");

    std::string after, device, status, serial, reason = "unspecified";
    std::size_t limit = 100;
    bool revoked_only = false;
    auto* devices = app.add_subcommand("devices", "list devices");
    devices->add_option("--after", after, "page: device ids after this one");
    devices->add_option("--limit", limit, "page size (1-1000)");
    auto* dev = app.add_subcommand("device", "show one device and its certificates");
    dev->add_option("id", device, "device id")->required();
    auto* certs = app.add_subcommand("certs", "list certificates");
    certs->add_option("--device", device, "only this device's");
    certs->add_option("--status", status, "issued, installed, superseded or install_failed");
    certs->add_flag("--revoked", revoked_only, "only revoked certificates");
    certs->add_option("--after", after, "page: serials after this one");
    certs->add_option("--limit", limit, "page size (1-1000)");
    auto* cert = app.add_subcommand("cert", "show one certificate (with its PEM)");
    cert->add_option("serial", serial, "serial, hex")->required();
    auto* revoke = app.add_subcommand("revoke", "revoke a certificate, or every certificate of a device");
    auto* by_serial = revoke->add_option("--serial", serial, "serial, hex");
    revoke->add_option("--device", device, "device id")->excludes(by_serial);
    revoke->add_option("--reason", reason,
                       "unspecified, keyCompromise, cACompromise, affiliationChanged, superseded, "
                       "cessationOfOperation, privilegeWithdrawn")
        ->capture_default_str();
    auto* audit = app.add_subcommand("audit", "show the audit log, newest first");
    audit->add_option("--limit", limit, "how many events");
    std::string cls, secret_hex;
    std::int64_t grace_days = 30;
    auto* classes = app.add_subcommand("classes", "list device classes (from server.toml and from the admin API)");
    auto* klass = app.add_subcommand("class", "manage a device class kept by the server (not one in server.toml)");
    klass->require_subcommand(1);
    auto* class_create = klass->add_subcommand("create", "create a class; prints its new secret once");
    class_create->add_option("name", cls, "class name")->required();
    class_create->add_option("--secret-hex", secret_hex, "import this secret (hex, at least 16 bytes) instead");
    std::vector<std::string> bootstrap;
    std::string roots_file;
    class_create->add_option("--bootstrap", bootstrap, "how devices may join: token, preregistered, idevid, approval "
                                                       "(repeat; default token)");
    class_create->add_option("--idevid-roots", roots_file, "PEM file of manufacturer CA certificates (with idevid)");
    auto* class_bootstrap = klass->add_subcommand("bootstrap", "change how devices may join a class");
    class_bootstrap->add_option("name", cls, "class name")->required();
    class_bootstrap->add_option("--bootstrap", bootstrap, "token, preregistered, idevid, approval (repeat)")->required();
    class_bootstrap->add_option("--idevid-roots", roots_file, "PEM file of manufacturer CA certificates (with idevid)");
    auto* class_rotate = klass->add_subcommand("rotate", "give a class a new secret; prints it once");
    class_rotate->add_option("name", cls, "class name")->required();
    class_rotate->add_option("--grace-days", grace_days, "days the old secret stays valid (0: refuse it now)")
        ->capture_default_str();
    auto* class_disable = klass->add_subcommand("disable", "refuse new enrollments of a class");
    class_disable->add_option("name", cls, "class name")->required();
    auto* class_enable = klass->add_subcommand("enable", "accept new enrollments of a class again");
    class_enable->add_option("name", cls, "class name")->required();
    auto* class_token = klass->add_subcommand("token", "print one device's bootstrap token (manufacturer side)");
    class_token->add_option("name", cls, "class name")->required();
    class_token->add_option("--device-id", device, "device id")->required();
    auto* crl = app.add_subcommand("crl", "show each domain CA's CRL (current and retired): number, dates, size");

    std::string held_state = "pending", request_id, note, key_file, import_file;
    std::int64_t hours = 1;
    auto* held = app.add_subcommand("held", "list enrollments held for approval");
    held->add_option("--state", held_state, "pending, approved, rejected, issued, expired or all")->capture_default_str();
    held->add_option("--limit", limit, "how many");
    auto* approve = app.add_subcommand("approve", "approve a held enrollment: the device's next ask is issued");
    approve->add_option("request", request_id, "request id (irpctl held)")->required();
    approve->add_option("--note", note, "a note for the audit log");
    auto* reject = app.add_subcommand("reject", "reject a held enrollment; the device is told the note");
    reject->add_option("request", request_id, "request id (irpctl held)")->required();
    reject->add_option("--note", note, "why (sent to the device)");
    auto* reg = app.add_subcommand("register", "pre-register a device's public key (it then enrolls with no human step)");
    reg->add_option("device", device, "device id")->required();
    reg->add_option("--class", cls, "device class")->required();
    reg->add_option("--public-key", key_file, "PEM file with the device's public (or private) key")->required();
    reg->add_option("--note", note, "free text, e.g. the batch");
    auto* import = app.add_subcommand("import", "pre-register many devices at once, all or nothing (JSON or CSV)");
    import->add_option("file", import_file, "registrations file")->required();
    auto* registrations = app.add_subcommand("registrations", "list pre-registered devices");
    registrations->add_option("--after", after, "page: device ids after this one");
    registrations->add_option("--limit", limit, "page size (1-1000)");
    auto* unregister = app.add_subcommand("unregister", "remove a device's pre-registration");
    unregister->add_option("device", device, "device id")->required();
    auto* release = app.add_subcommand("release", "release a device: revoke its certificates (cessationOfOperation); "
                                                  "at its next contact it resets itself");
    release->add_option("device", device, "device id")->required();
    auto* surge = app.add_subcommand("surge", "show the surge guard per class");
    auto* surge_lift = app.add_subcommand("surge-lift", "lift a class's surge guard and approve what it holds");
    surge_lift->add_option("class", cls, "device class")->required();
    surge_lift->add_option("--hours", hours, "how long (1-720)")->capture_default_str();

    irp::ctl::AccountCommands account_cmds;
    irp::ctl::add_account_commands(app, account_cmds);

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e) == 0 ? 0 : 2;
    }

    if (auto rc = irp::ctl::run_offline_account_commands(account_cmds)) return *rc;
    Api api;
    api.as_json = as_json;
    if (!config_path.empty()) {
        auto cfg = server::load_config(config_path);
        if (!cfg) {
            std::fprintf(stderr, "irpctl: %s\n", cfg.error().message.c_str());
            return 2;
        }
        if (url.empty()) url = "http://" + cfg->admin_listen;
        if (account_cmds.domain.empty()) account_cmds.domain = cfg->domain;
        if (token_file.empty()) token_file = cfg->admin_token_file;
    }
    if (url.empty() || token_file.empty()) {
        std::fprintf(stderr, "irpctl: give --config, or both --url and --token-file\n");
        return 2;
    }
    auto token = platform::read_file(token_file, 4096);
    if (!token) {
        std::fprintf(stderr, "irpctl: %s\n", token.error().message.c_str());
        return 2;
    }
    api.url = url;
    api.token = *token;
    while (!api.token.empty() && (api.token.back() == '\n' || api.token.back() == '\r')) api.token.pop_back();

    auto emit = [&api](const std::optional<json>& j, const std::function<void(const json&)>& human) {
        return api.emit(j, human);
    };
    const std::string lim = std::to_string(limit);
    if (auto rc = irp::ctl::run_account_commands(account_cmds, api)) return *rc;

    if (*devices)
        return emit(api.call("GET", "/v1/devices" + query({{"after", after}, {"limit", lim}})), [](const json& j) {
            std::vector<std::vector<std::string>> rows;
            for (const auto& d : j["devices"])
                rows.push_back({str(d, "device_id"), str(d, "class"), when(d["first_seen"]), when(d["last_seen"]),
                                d.contains("released_at") ? "released " + when(d["released_at"]) : "-"});
            table({"DEVICE", "CLASS", "FIRST SEEN", "LAST SEEN", "RELEASED"}, rows);
        });
    if (*dev)
        return emit(api.call("GET", "/v1/devices/" + device), [](const json& j) {
            const auto& d = j["device"];
            std::printf("device:     %s\nclass:      %s\nfirst seen: %s\nlast seen:  %s\n\n", str(d, "device_id").c_str(),
                        str(d, "class").c_str(), when(d["first_seen"]).c_str(), when(d["last_seen"]).c_str());
            std::vector<std::vector<std::string>> rows;
            for (const auto& c : j["certificates"]) rows.push_back(cert_row(c));
            table({"SERIAL", "DEVICE", "STATUS", "REVOKED", "NOT AFTER"}, rows);
        });
    if (*certs)
        return emit(api.call("GET", "/v1/certificates" + query({{"device", device}, {"status", status},
                                                                {"revoked", revoked_only ? "true" : ""},
                                                                {"after", after}, {"limit", lim}})),
                    [](const json& j) {
                        std::vector<std::vector<std::string>> rows;
                        for (const auto& c : j["certificates"]) rows.push_back(cert_row(c));
                        table({"SERIAL", "DEVICE", "STATUS", "REVOKED", "NOT AFTER"}, rows);
                    });
    if (*cert)
        return emit(api.call("GET", "/v1/certificates/" + serial), [](const json& c) {
            std::printf("serial:     %s\ndevice:     %s\nclass:      %s\nstatus:     %s\nvalid:      %s .. %s\n"
                        "revoked:    %s\nreplaces:   %s\nreplaced by: %s\n%s",
                        str(c, "serial").c_str(), str(c, "device_id").c_str(), str(c, "class").c_str(),
                        str(c, "status").c_str(), when(c["not_before"]).c_str(), when(c["not_after"]).c_str(),
                        c.value("revoked", false) ? (when(c["revoked_at"]) + " (" + str(c, "revocation_reason") + ")").c_str() : "no",
                        str(c, "replaces").c_str(), str(c, "replaced_by").c_str(), str(c, "pem").c_str());
        });
    if (*revoke) {
        if (serial.empty() == device.empty()) {
            std::fprintf(stderr, "irpctl: revoke needs --serial or --device\n");
            return 2;
        }
        const json body{{"reason", reason}};
        const std::string path = serial.empty() ? "/v1/devices/" + device + "/revoke" : "/v1/certificates/" + serial + "/revoke";
        return emit(api.call("POST", path, &body), [](const json& j) {
            if (j.contains("revoked") && j["revoked"].is_array()) {
                std::printf("revoked %zu certificate(s) of %s (%s)\n", j["revoked"].size(), str(j, "device_id").c_str(),
                            str(j, "reason").c_str());
                for (const auto& s : j["revoked"]) std::printf("  %s\n", s.get<std::string>().c_str());
            } else {
                std::printf("revoked %s of %s (%s)\n", str(j, "revoked").c_str(), str(j, "device_id").c_str(),
                            str(j, "reason").c_str());
            }
        });
    }
    if (*classes)
        return emit(api.call("GET", "/v1/classes"), [](const json& j) {
            std::vector<std::vector<std::string>> rows;
            for (const auto& c : j["classes"]) {
                std::string how;
                for (const auto& m : c.value("bootstrap", json::array())) how += (how.empty() ? "" : ",") + m.get<std::string>();
                rows.push_back({str(c, "name"), str(c, "source"), c.value("enabled", true) ? "enabled" : "disabled",
                                how.empty() ? "-" : how,
                                c.contains("previous_secret_until") ? when(c["previous_secret_until"]) : "-",
                                c.contains("updated_at") ? when(c["updated_at"]) : "-"});
            }
            table({"CLASS", "SOURCE", "STATE", "BOOTSTRAP", "OLD SECRET UNTIL", "CHANGED"}, rows);
        });
    if (*klass) {
        auto print_secret = [](const json& j) {
            std::printf("class %s\nsecret %s\n(shown once: give it to the manufacturer; the server keeps it)\n",
                        str(j, "name").c_str(), str(j, "secret").c_str());
        };
        const std::string base = "/v1/classes/" + cls;
        json how = json::object();
        if (!bootstrap.empty()) how["bootstrap"] = bootstrap;
        if (!roots_file.empty()) {
            auto pem = platform::read_file(roots_file);
            if (!pem) {
                std::fprintf(stderr, "irpctl: %s\n", pem.error().message.c_str());
                return 2;
            }
            how["idevid_roots"] = *pem;
        }
        if (*class_create) {
            json body = how;
            body["name"] = cls;
            if (!secret_hex.empty()) body["secret"] = secret_hex;
            return emit(api.call("POST", "/v1/classes", &body), print_secret);
        }
        if (*class_bootstrap)
            return emit(api.call("POST", base + "/bootstrap", &how), [](const json& j) {
                std::printf("class %s: bootstrap %s\n", str(j, "name").c_str(), str(j, "bootstrap").c_str());
            });
        if (*class_rotate) {
            const json body{{"grace_days", grace_days}};
            return emit(api.call("POST", base + "/rotate", &body), [&](const json& j) {
                print_secret(j);
                if (grace_days > 0) std::printf("the previous secret is accepted until %s\n", when(j["previous_secret_until"]).c_str());
                else std::printf("the previous secret is no longer accepted\n");
            });
        }
        if (*class_disable || *class_enable)
            return emit(api.call("POST", base + (*class_enable ? "/enable" : "/disable")), [](const json& j) {
                std::printf("class %s %s\n", str(j, "name").c_str(), j.value("enabled", false) ? "enabled" : "disabled");
            });
        if (*class_token) {
            const json body{{"device_id", device}};
            return emit(api.call("POST", base + "/token", &body),
                        [](const json& j) { std::printf("%s\n", str(j, "token").c_str()); });
        }
    }
    if (*audit)
        return emit(api.call("GET", "/v1/audit" + query({{"limit", lim}})), [](const json& j) {
            std::vector<std::vector<std::string>> rows;
            for (const auto& e : j["events"])
                rows.push_back({when(e["at"]), str(e, "actor"), str(e, "action"), str(e, "device_id"),
                                str(e, "serial").substr(0, 16), str(e, "peer"), str(e, "detail")});
            table({"AT", "ACTOR", "ACTION", "DEVICE", "SERIAL", "FROM", "DETAIL"}, rows);
        });
    if (*held)
        return emit(api.call("GET", "/v1/held" + query({{"state", held_state}, {"limit", lim}})), [](const json& j) {
            std::vector<std::vector<std::string>> rows;
            for (const auto& h : j["requests"]) rows.push_back(held_row(h));
            table(kHeldHead, rows);
        });
    if (*approve || *reject) {
        const json body{{"note", note}};
        return emit(api.call("POST", "/v1/held/" + request_id + (*approve ? "/approve" : "/reject"), &body),
                    [](const json& h) {
                        std::printf("request %s of %s: %s\n", str(h, "id").c_str(), str(h, "device_id").c_str(),
                                    str(h, "state").c_str());
                    });
    }
    if (*reg || *import) {
        std::optional<json> body;
        if (*reg) {
            auto pem = platform::read_file(key_file);
            if (!pem) {
                std::fprintf(stderr, "irpctl: %s\n", pem.error().message.c_str());
                return 2;
            }
            // A private key file is accepted for convenience: only its public half leaves.
            std::string key = *pem;
            if (key.find("PRIVATE KEY") != std::string::npos) {
                auto k = crypto::PrivateKey::from_pem(key);
                if (!k) {
                    std::fprintf(stderr, "irpctl: %s: %s\n", key_file.c_str(), k.error().message.c_str());
                    return 2;
                }
                key = crypto::to_pem(k->public_key_der(), "PUBLIC KEY");
            }
            json e{{"device_id", device}, {"class", cls}, {"public_key", key}};
            if (!note.empty()) e["note"] = note;
            body = json{{"registrations", json::array({e})}};
        } else {
            body = read_registrations(import_file);
            if (!body) return 2;
        }
        return emit(api.call("POST", "/v1/registrations", &*body),
                    [](const json& j) { std::printf("registered %s device(s)\n", str(j, "added").c_str()); });
    }
    if (*registrations)
        return emit(api.call("GET", "/v1/registrations" + query({{"after", after}, {"limit", lim}})), [](const json& j) {
            std::vector<std::vector<std::string>> rows;
            for (const auto& g : j["registrations"])
                rows.push_back({str(g, "device_id"), str(g, "class"), str(g, "key_sha256").substr(0, 16),
                                when(g["created_at"]), str(g, "note")});
            table({"DEVICE", "CLASS", "KEY", "REGISTERED", "NOTE"}, rows);
        });
    if (*unregister)
        return emit(api.call("DELETE", "/v1/registrations/" + device),
                    [](const json& j) { std::printf("unregistered %s\n", str(j, "removed").c_str()); });
    if (*release)
        return emit(api.call("POST", "/v1/devices/" + device + "/release"), [](const json& j) {
            std::printf("released %s; revoked %zu certificate(s)\n", str(j, "device_id").c_str(), j["revoked"].size());
        });
    if (*surge)
        return emit(api.call("GET", "/v1/surge"), [](const json& j) {
            std::printf("threshold: %s new devices per %s s (0 = off)\n", str(j, "max_new_devices").c_str(),
                        str(j, "window_s").c_str());
            std::vector<std::vector<std::string>> rows;
            for (const auto& c : j["classes"])
                rows.push_back({str(c, "class"), c.value("active", false) ? "HOLDING" : "open",
                                str(c, "new_devices_in_window"),
                                c.value("lifted_until", 0) ? when(c["lifted_until"]) : "-"});
            table({"CLASS", "GUARD", "NEW IN WINDOW", "LIFTED UNTIL"}, rows);
        });
    if (*surge_lift) {
        const json body{{"hours", hours}};
        return emit(api.call("POST", "/v1/surge/" + cls + "/lift", &body), [](const json& j) {
            std::printf("surge guard of %s lifted until %s; %s held request(s) approved\n", str(j, "class").c_str(),
                        when(j["lifted_until"]).c_str(), str(j, "approved").c_str());
        });
    }
    if (*crl)
        return emit(api.call("GET", "/v1/crl"), [](const json& j) {
            // A server without retired CAs support answers only the top-level fields.
            const json issuers = j.contains("issuers") ? j["issuers"] : json::array({j});
            for (const auto& c : issuers) {
                const std::string id = str(c, "issuer_id");
                std::printf("%s CA %s%s%s\n  CRL number %s, %s entries, this update %s, next update %s\n",
                            c.value("retired", false) ? "retired" : "current", id.empty() ? "-" : id.c_str(),
                            c.contains("subject") ? ", " : "", str(c, "subject").c_str(), str(c, "number").c_str(),
                            str(c, "entries").c_str(), when(c["this_update"]).c_str(), when(c["next_update"]).c_str());
            }
        });
    return 2;
}
