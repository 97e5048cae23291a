// Admin API: rights per device or class, accounts and certificate transfer
// (docs/OPERATIONS.md, "Accounts and transfers"; docs/PROTOCOL.md has the
// signed messages). The bearer token admits a call; moving certificates into
// a customer's account is authorised by the customer's own signature.
//   GET  /v1/rights                             every device and class with rights
//   PUT  /v1/rights/device|class/<name>         {"rights": [{"action", "target"}, ...]}
//   DELETE /v1/rights/device|class/<name>
//   GET  /v1/accounts                           POST /v1/accounts {"name", "public_key", "note"?}
//   GET  /v1/accounts/<name>
//   GET  /v1/transfers?account=&state=          newest first
//   GET  /v1/transfers/<id>                     with "digest", what the accounts sign
//   POST /v1/transfers                          {"to", "devices"?: [], "serials"?: [], "from"?, "id"?,
//                                                "note"?, "signature"?: base64 (from a customer account)}
//   POST /v1/transfers/<id>/accept              {"policy": [{"action", "target"}], "signature": base64}
//   POST /v1/transfers/<id>/reject              {"signature": base64}
//   POST /v1/transfers/<id>/cancel              the provider withdraws an offer
//   GET  /v1/devices/<id>/owners                ownership history
//   GET  /v1/certificates/<serial>/account      the account statement, as JSON
// Public HTTP listener (no token, like the CRL and OCSP):
//   GET  /account/<serial>                      SignedAccountStatement (application/x-irp-account-statement)
#include <algorithm>
#include <atomic>

#include "accounts/rights_text.hpp"
#include "accounts/transfer.hpp"
#include "admin/api_util.hpp"
#include "admin/routes.hpp"
#include "irp/core/transcript.hpp"
#include "log.hpp"

namespace irp::server::admin {

namespace {

constexpr const char* kName = "([A-Za-z0-9][A-Za-z0-9._-]{0,63})";
constexpr std::size_t kMaxTransferDevices = 10'000;

std::string re(const std::string& prefix, const std::string& suffix = "") { return prefix + kName + suffix; }

json rights_json(const std::vector<crypto::Right>& rights) {
    json out = json::array();
    for (const auto& r : rights) out.push_back(json{{"action", r.action}, {"target", r.target}});
    return out;
}

json rights_text_json(const std::string& text) {
    auto r = parse_rights_text(text);
    return r ? rights_json(*r) : json::array();
}

// {"action", "target"} objects, validated; sends 400 and returns nullopt otherwise.
std::optional<std::vector<crypto::Right>> rights_field(const json& body, const char* key, httplib::Response& res) {
    if (!body.contains(key) || !body[key].is_array()) {
        send_error(res, 400, Code::bad_argument, std::string("'") + key + "' must be an array of {\"action\", \"target\"}");
        return std::nullopt;
    }
    std::vector<crypto::Right> out;
    for (const auto& e : body[key]) {
        if (!e.is_object() || !e.contains("action") || !e.contains("target") || !e["action"].is_string() ||
            !e["target"].is_string()) {
            send_error(res, 400, Code::bad_argument, std::string("each '") + key + "' entry is {\"action\", \"target\"}");
            return std::nullopt;
        }
        out.push_back(crypto::Right{e["action"].get<std::string>(), e["target"].get<std::string>()});
    }
    // The checks stored text gets: valid (right_problem allows no space or
    // newline, so the text form is unambiguous), bounded, no repeats.
    auto checked = parse_rights_text(rights_text(out));
    if (!checked) {
        send_error(res, 400, Code::bad_argument, std::string("'") + key + "': " + checked.error().message);
        return std::nullopt;
    }
    return out;
}

std::optional<Bytes> signature_field(const json& body, httplib::Response& res) {
    const auto text = string_field(body, "signature", true, res);
    if (!text) return std::nullopt;
    auto sig = crypto::base64_decode(*text);
    if (!sig || sig->empty() || sig->size() > 512) {
        send_error(res, 400, Code::bad_argument, "'signature' must be base64, 1 to 512 bytes");
        return std::nullopt;
    }
    return sig;
}

json account_json(const Account& a) {
    json j{{"name", a.name}, {"note", a.note}, {"created_at", a.created_at}};
    if (!a.public_key.empty()) {
        j["public_key"] = crypto::to_pem(a.public_key, "PUBLIC KEY");
        j["public_key_sha256"] = a.public_key_sha256_hex;
    }
    return j;
}

json transfer_json(const std::string& domain, const Transfer& t) {
    json j{{"id", t.id},
           {"domain", domain},
           {"from", t.from_account},
           {"to", t.to_account},
           {"state", transfer_state_name(t.state)},
           {"devices", t.devices},
           {"created_at", t.created_at},
           {"created_by", t.created_by},
           {"note", t.note},
           {"digest", to_hex(transfer_digest(domain, t))}};
    if (t.decided_at) {
        j["decided_at"] = t.decided_at;
        j["decided_by"] = t.decided_by;
    }
    if (t.state == TransferState::accepted) j["policy"] = rights_text_json(t.policy);
    return j;
}

json status_json(const rp::AccountStatus& s) {
    return json{{"serial", s.serial_hex},       {"domain", s.domain},           {"device_id", s.device_id},
                {"account", s.account},         {"active", s.active},           {"policy", rights_json(s.policy)},
                {"produced_at", s.produced_at}, {"next_update", s.next_update}};
}

AuditEvent audit_of(HttpDeps& d, const httplib::Request& req, std::string action, std::string device,
                    std::string detail) {
    return AuditEvent{d.clock(), "admin", std::move(action), std::move(device), "", req.remote_addr, std::move(detail)};
}

void notify(HttpDeps& d, const Transfer& t) {
    if (!d.notify) return;
    const std::string event = std::string("transfer.") + transfer_state_name(t.state);
    d.notify(event, json{{"event", event}, {"domain", d.domain}, {"transfer", transfer_json(d.domain, t)}}.dump());
}

// The devices a transfer moves: "devices" as given, plus the device of each
// certificate in "serials"; sorted, without repeats.
std::optional<std::vector<std::string>> transfer_devices(HttpDeps& d, const json& body, httplib::Response& res) {
    std::vector<std::string> devices;
    for (const char* key : {"devices", "serials"}) {
        if (!body.contains(key)) continue;
        if (!body[key].is_array() || body[key].size() > kMaxTransferDevices) {
            send_error(res, 400, Code::bad_argument,
                       std::string("'") + key + "' must be an array of at most " + std::to_string(kMaxTransferDevices) + " strings");
            return std::nullopt;
        }
        for (const auto& e : body[key]) {
            if (!e.is_string()) {
                send_error(res, 400, Code::bad_argument, std::string("'") + key + "' holds strings only");
                return std::nullopt;
            }
            const auto v = e.get<std::string>();
            if (std::string(key) == "devices") {
                if (!is_valid_identifier(v)) {
                    send_error(res, 400, Code::bad_argument, "device id '" + printable(v) + "' is not valid");
                    return std::nullopt;
                }
                devices.push_back(v);
                continue;
            }
            auto cert = d.store.find_certificate(v);
            if (!cert) {
                send_error(res, cert.error());
                return std::nullopt;
            }
            if (!*cert) {
                send_error(res, 404, Code::unknown_certificate, "no certificate with serial " + printable(v));
                return std::nullopt;
            }
            devices.push_back((*cert)->device_id);
        }
    }
    std::sort(devices.begin(), devices.end());
    devices.erase(std::unique(devices.begin(), devices.end()), devices.end());
    if (devices.empty() || devices.size() > kMaxTransferDevices) {
        send_error(res, 400, Code::bad_argument,
                   "a transfer moves 1 to " + std::to_string(kMaxTransferDevices) + " devices ('devices' or 'serials')");
        return std::nullopt;
    }
    return devices;
}

// The account, or 404 sent.
std::optional<Account> account_or_404(HttpDeps& d, const std::string& name, httplib::Response& res) {
    auto a = d.store.find_account(name);
    if (!a) {
        send_error(res, a.error());
        return std::nullopt;
    }
    if (!*a) {
        send_error(res, 404, Code::not_found, "no account '" + printable(name) + "'");
        return std::nullopt;
    }
    return std::move(**a);
}

std::optional<Transfer> transfer_or_404(HttpDeps& d, const std::string& id, httplib::Response& res) {
    auto t = d.store.find_transfer(id);
    if (!t) {
        send_error(res, t.error());
        return std::nullopt;
    }
    if (!*t) {
        send_error(res, 404, Code::not_found, "no transfer '" + printable(id) + "'");
        return std::nullopt;
    }
    return std::move(**t);
}

void add_rights_routes(Routes& r) {
    r.admin.Get("/v1/rights", r.guarded([&d = r.d](const httplib::Request&, httplib::Response& res) {
        auto list = d.store.list_rights();
        if (!list) return send_error(res, list.error());
        json out = json::array();
        for (const auto& e : *list)
            out.push_back(json{{"scope", e.scope}, {"name", e.name}, {"rights", rights_text_json(e.rights)},
                               {"updated_at", e.updated_at}});
        send_json(res, 200, json{{"rights", out}});
    }));
    const std::string path = re("/v1/rights/(device|class)/");
    r.admin.Put(path, r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
        const auto body = object_body(req, res);
        if (!body) return;
        const auto rights = rights_field(*body, "rights", res);
        if (!rights) return;
        if (rights->empty())
            return send_error(res, 400, Code::bad_argument, "'rights' is empty; DELETE removes rights");
        const std::string scope = req.matches[1], name = req.matches[2];
        if (scope == "class") {
            // A disabled class still renews its devices, so its rights still matter.
            auto cls = d.classes.policy_for(name);
            if (!cls && cls.error().code == Code::unknown_class)
                return send_error(res, 404, Code::not_found, "no class '" + name + "'");
            if (!cls && cls.error().code != Code::class_disabled) return send_error(res, cls.error());
        }
        const std::string text = rights_text(*rights);
        auto set = d.store.set_rights(RightsRecord{scope, name, text, d.clock()},
                                      audit_of(d, req, "rights.set", scope == "device" ? name : "",
                                               scope + "=" + name + " rights=" + std::to_string(rights->size())));
        if (!set) return send_error(res, set.error());
        send_json(res, 200, json{{"scope", scope}, {"name", name}, {"rights", rights_json(*rights)}});
    }));
    r.admin.Delete(path, r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
        const std::string scope = req.matches[1], name = req.matches[2];
        auto del = d.store.set_rights(RightsRecord{scope, name, "", d.clock()},
                                      audit_of(d, req, "rights.clear", scope == "device" ? name : "", scope + "=" + name));
        if (!del) return send_error(res, del.error());
        send_json(res, 200, json{{"scope", scope}, {"name", name}, {"rights", json::array()}});
    }));
}

void add_account_crud(Routes& r) {
    r.admin.Get("/v1/accounts", r.guarded([&d = r.d](const httplib::Request&, httplib::Response& res) {
        auto list = d.store.list_accounts();
        if (!list) return send_error(res, list.error());
        json out = json::array();
        for (const auto& a : *list) out.push_back(account_json(a));
        send_json(res, 200, json{{"accounts", out}});
    }));
    r.admin.Get(re("/v1/accounts/"), r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
        if (auto a = account_or_404(d, req.matches[1], res)) send_json(res, 200, account_json(*a));
    }));
    r.admin.Post("/v1/accounts", r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
        const auto body = object_body(req, res);
        if (!body) return;
        const auto name = string_field(*body, "name", true, res);
        if (!name) return;
        const auto key = string_field(*body, "public_key", true, res);
        if (!key) return;
        const auto note = string_field(*body, "note", false, res);
        if (!note) return;
        if (!is_valid_identifier(*name))
            return send_error(res, 400, Code::bad_argument, "'name' must be 1-64 characters from [A-Za-z0-9._-]");
        if (note->size() > 200) return send_error(res, 400, Code::bad_argument, "'note' exceeds 200 characters");
        auto der = parse_public_key(*key);
        if (!der)
            return send_error(res, 400, Code::bad_argument,
                              "'public_key' must be a PEM PUBLIC KEY or base64 DER SubjectPublicKeyInfo (P-256, P-384, Ed25519)");
        Account a{*name, *der, to_hex(crypto::sha256(*der)), *note, d.clock()};
        auto made = d.store.create_account(a, audit_of(d, req, "account.create", "", "account=" + *name));
        if (!made) return send_error(res, made.error());
        send_json(res, 201, account_json(a));
    }));
}

void add_transfer_routes(Routes& r) {
    r.admin.Get("/v1/transfers", r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
        std::optional<TransferState> state;
        if (req.has_param("state") && req.get_param_value("state") != "all") {
            state = parse_transfer_state(req.get_param_value("state"));
            if (!state)
                return send_error(res, 400, Code::bad_argument, "state must be offered, accepted, rejected, cancelled or all");
        }
        auto list = d.store.list_transfers(req.get_param_value("account"), state, limit_param(req));
        if (!list) return send_error(res, list.error());
        json out = json::array();
        for (const auto& t : *list) out.push_back(transfer_json(d.domain, t));
        send_json(res, 200, json{{"transfers", out}});
    }));
    r.admin.Get(re("/v1/transfers/"), r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
        if (auto t = transfer_or_404(d, req.matches[1], res)) send_json(res, 200, transfer_json(d.domain, *t));
    }));

    r.admin.Post("/v1/transfers", r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
        const auto body = object_body(req, res);
        if (!body) return;
        const auto to = string_field(*body, "to", true, res);
        if (!to) return;
        auto from = string_field(*body, "from", false, res);
        if (!from) return;
        if (from->empty()) *from = kProviderAccount;
        auto id = string_field(*body, "id", false, res);
        if (!id) return;
        const auto note = string_field(*body, "note", false, res);
        if (!note) return;
        if (note->size() > 200) return send_error(res, 400, Code::bad_argument, "'note' exceeds 200 characters");
        if (id->empty() && *from != kProviderAccount)
            return send_error(res, 400, Code::bad_argument,
                              "an offer out of a customer account names its 'id': the customer's signature covers it");
        if (id->empty()) {
            static std::atomic<std::uint64_t> made{0};
            const std::string seed = std::to_string(d.clock()) + "/" + std::to_string(++made) + "/" + req.body;
            *id = "t-" + to_hex(crypto::sha256(as_bytes(seed))).substr(0, 20);
        }
        if (!is_valid_identifier(*id))
            return send_error(res, 400, Code::bad_argument, "'id' must be 1-64 characters from [A-Za-z0-9._-]");
        if (*to == *from) return send_error(res, 400, Code::bad_argument, "'to' and 'from' are the same account");
        if (*to == kProviderAccount)
            return send_error(res, 400, Code::bad_argument, "certificates return to the provider by release, not transfer");
        const auto target = account_or_404(d, *to, res);
        if (!target) return;
        const auto source = account_or_404(d, *from, res);
        if (!source) return;
        auto devices = transfer_devices(d, *body, res);
        if (!devices) return;
        Transfer t;
        t.id = *id;
        t.from_account = *from;
        t.to_account = *to;
        t.devices = std::move(*devices);
        t.created_at = d.clock();
        t.created_by = "admin";
        t.note = *note;
        // Out of a customer's account only with that customer's signature.
        if (*from != kProviderAccount) {
            const auto sig = signature_field(*body, res);
            if (!sig) return;
            if (auto ok = check_account_signature(
                    *source, transfer_message(TransferSignature::offer, transfer_digest(d.domain, t)), *sig);
                !ok)
                return send_error(res, 403, ok.error().code, ok.error().message);
        }
        auto offered = d.store.offer_transfer(
            t, audit_of(d, req, "transfer.offer", t.devices.size() == 1 ? t.devices.front() : "",
                        "transfer=" + t.id + " from=" + t.from_account + " to=" + t.to_account +
                            " devices=" + std::to_string(t.devices.size())));
        if (!offered) return send_error(res, offered.error());
        notify(d, t);
        send_json(res, 201, transfer_json(d.domain, t));
    }));

    for (const auto to : {TransferState::accepted, TransferState::rejected, TransferState::cancelled}) {
        const std::string verb = to == TransferState::accepted ? "/accept" : to == TransferState::rejected ? "/reject" : "/cancel";
        r.admin.Post(re("/v1/transfers/", verb), r.guarded([&d = r.d, to](const httplib::Request& req, httplib::Response& res) {
            const auto body = object_body(req, res);
            if (!body) return;
            auto t = transfer_or_404(d, req.matches[1], res);
            if (!t) return;
            std::string policy, by = "admin";
            if (to != TransferState::cancelled) {
                // Only the receiving account's key accepts or refuses.
                const auto account = account_or_404(d, t->to_account, res);
                if (!account) return;
                std::vector<crypto::Right> rights;
                if (to == TransferState::accepted) {
                    auto parsed = rights_field(*body, "policy", res);
                    if (!parsed) return;
                    rights = std::move(*parsed);
                    policy = rights_text(rights);
                }
                const auto sig = signature_field(*body, res);
                if (!sig) return;
                const auto kind = to == TransferState::accepted ? TransferSignature::accept : TransferSignature::reject;
                if (auto ok = check_account_signature(*account, transfer_message(kind, transfer_digest(d.domain, *t), policy), *sig); !ok)
                    return send_error(res, 403, ok.error().code, ok.error().message);
                by = "account:" + t->to_account;
            }
            auto audit = audit_of(d, req, std::string("transfer.") + transfer_state_name(to),
                                  t->devices.size() == 1 ? t->devices.front() : "",
                                  "transfer=" + t->id + " from=" + t->from_account + " to=" + t->to_account +
                                      " devices=" + std::to_string(t->devices.size()));
            audit.actor = by;
            auto decided = d.store.decide_transfer(t->id, to, policy, by, d.clock(), audit);
            if (!decided) return send_error(res, decided.error());
            notify(d, *decided);
            send_json(res, 200, transfer_json(d.domain, *decided));
        }));
    }
}

void add_statement_routes(Routes& r) {
    r.admin.Get(re("/v1/devices/", "/owners"), r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
        const std::string device = req.matches[1];
        auto dev = d.store.find_device(device);
        if (!dev) return send_error(res, dev.error());
        if (!*dev) return send_error(res, 404, Code::not_found, "no device '" + device + "'");
        auto owners = d.store.owners_of(device);
        if (!owners) return send_error(res, owners.error());
        // Before its first transfer a device is the provider's.
        json out = json::array();
        const std::int64_t first_move = owners->empty() ? 0 : owners->front().since;
        out.push_back(json{{"account", kProviderAccount}, {"since", (*dev)->first_seen}, {"until", first_move},
                           {"policy", json::array()}, {"transfer", ""}});
        for (const auto& o : *owners)
            out.push_back(json{{"account", o.account}, {"since", o.since}, {"until", o.until},
                               {"policy", rights_text_json(o.policy)}, {"transfer", o.transfer_id}});
        send_json(res, 200, json{{"device_id", device}, {"owners", out}});
    }));
    r.admin.Get("/v1/certificates/([0-9a-f]{1,40})/account",
                r.guarded([&d = r.d](const httplib::Request& req, httplib::Response& res) {
                    if (!d.statements) return send_error(res, 503, Code::internal, "account statements are not served here");
                    auto s = d.statements->status(req.matches[1]);
                    if (!s) return send_error(res, s.error());
                    send_json(res, 200, status_json(*s));
                }));
}

}  // namespace

void add_account_routes(Routes& r) {
    add_rights_routes(r);
    add_account_crud(r);
    add_transfer_routes(r);
    add_statement_routes(r);
}

}  // namespace irp::server::admin
