#include "irpctl/accounts.hpp"

#include <algorithm>
#include <cstdio>

#include "accounts/rights_text.hpp"
#include "accounts/transfer.hpp"
#include "irp/crypto/crypto.hpp"
#include "irp/platform/files.hpp"

namespace irp::ctl {

namespace {

std::string rights_cell(const json& list) {
    std::string out;
    for (const auto& r : list) out += (out.empty() ? "" : ", ") + str(r, "action") + "=" + str(r, "target");
    return out.empty() ? "-" : out;
}

// --allow action=target, validated as the server will.
std::optional<json> rights_json(const std::vector<std::string>& allow) {
    std::vector<crypto::Right> rights;
    for (const auto& a : allow) {
        const auto eq = a.find('=');
        if (eq == std::string::npos) {
            std::fprintf(stderr, "irpctl: --allow %s: expected action=target\n", a.c_str());
            return std::nullopt;
        }
        rights.push_back(crypto::Right{a.substr(0, eq), a.substr(eq + 1)});
    }
    if (auto ok = server::parse_rights_text(server::rights_text(rights)); !ok) {
        std::fprintf(stderr, "irpctl: --allow: %s\n", ok.error().message.c_str());
        return std::nullopt;
    }
    json out = json::array();
    for (const auto& r : rights) out.push_back(json{{"action", r.action}, {"target", r.target}});
    return out;
}

std::optional<crypto::PrivateKey> load_key(const std::string& path) {
    auto pem = platform::read_file(path);
    if (!pem) {
        std::fprintf(stderr, "irpctl: %s\n", pem.error().message.c_str());
        return std::nullopt;
    }
    auto key = crypto::PrivateKey::from_pem(*pem);
    if (!key) {
        std::fprintf(stderr, "irpctl: %s: %s\n", path.c_str(), key.error().message.c_str());
        return std::nullopt;
    }
    return std::move(*key);
}

std::string sign_b64(const crypto::PrivateKey& key, ByteView message) {
    auto rng = crypto::system_random();
    return crypto::base64_encode(key.sign(message, *rng));
}

server::Transfer transfer_of(const json& j) {
    server::Transfer t;
    t.id = str(j, "id");
    t.from_account = str(j, "from");
    t.to_account = str(j, "to");
    for (const auto& d : j.value("devices", json::array())) t.devices.push_back(d.get<std::string>());
    return t;
}

// --allow as the API's JSON and as the canonical text the signature covers.
std::optional<std::pair<json, std::string>> policy_of(const std::vector<std::string>& allow) {
    auto policy = rights_json(allow);
    if (!policy) return std::nullopt;
    std::vector<crypto::Right> rights;
    for (const auto& r : *policy) rights.push_back({str(r, "action"), str(r, "target")});
    return std::pair{*policy, server::rights_text(rights)};
}

// The signature the account gives: --signature as made elsewhere (irpctl
// transfer sign, on the account holder's machine), or made here with --key.
std::optional<std::string> signature_of(const AccountCommands& c, server::TransferSignature kind,
                                        const crypto::Digest& digest, const std::string& policy_text) {
    if (!c.signature.empty()) return c.signature;
    if (c.key_file.empty()) {
        std::fprintf(stderr, "irpctl: give the account's --signature (irpctl transfer sign) or its --key\n");
        return std::nullopt;
    }
    auto key = load_key(c.key_file);
    if (!key) return std::nullopt;
    return sign_b64(*key, server::transfer_message(kind, digest, policy_text));
}

// A transfer listing checked against its own digest (what the server shows
// is what gets signed), or nullopt after a message.
std::optional<crypto::Digest> checked_digest(const json& t) {
    const auto digest = server::transfer_digest(str(t, "domain"), transfer_of(t));
    if (t.contains("digest") && to_hex(digest) != str(t, "digest")) {
        std::fprintf(stderr, "irpctl: transfer %s: the digest shown does not match the listing; not signing\n",
                     str(t, "id").c_str());
        return std::nullopt;
    }
    return digest;
}

void print_transfer(const json& t) {
    std::printf("transfer %s: %s -> %s, %s\n  %zu device(s):", str(t, "id").c_str(), str(t, "from").c_str(),
                str(t, "to").c_str(), str(t, "state").c_str(), t["devices"].size());
    std::size_t shown = 0;
    for (const auto& d : t["devices"]) {
        if (++shown > 20) {
            std::printf(" ...");
            break;
        }
        std::printf(" %s", d.get<std::string>().c_str());
    }
    std::printf("\n  digest %s\n", str(t, "digest").c_str());
    if (t.contains("policy")) std::printf("  policy %s\n", rights_cell(t["policy"]).c_str());
}

// Device ids named by --device, --devices-file (one per line) and --serial
// (resolved through the API), sorted and unique.
std::optional<std::vector<std::string>> devices_of(const AccountCommands& c, Api& api) {
    std::vector<std::string> out = c.devices;
    if (!c.devices_file.empty()) {
        auto text = platform::read_file(c.devices_file);
        if (!text) {
            std::fprintf(stderr, "irpctl: %s\n", text.error().message.c_str());
            return std::nullopt;
        }
        std::size_t start = 0;
        while (start < text->size()) {
            auto nl = text->find('\n', start);
            std::string line = text->substr(start, nl == std::string::npos ? std::string::npos : nl - start);
            start = nl == std::string::npos ? text->size() : nl + 1;
            while (!line.empty() && (line.back() == '\r' || line.back() == ' ')) line.pop_back();
            if (!line.empty() && line[0] != '#') out.push_back(line);
        }
    }
    for (const auto& s : c.serials) {
        auto cert = api.call("GET", "/v1/certificates/" + s);
        if (!cert) return std::nullopt;
        out.push_back(str(*cert, "device_id"));
    }
    std::sort(out.begin(), out.end());
    out.erase(std::unique(out.begin(), out.end()), out.end());
    return out;
}

int offer(const AccountCommands& c, Api& api) {
    auto devices = devices_of(c, api);
    if (!devices) return 1;
    json body{{"to", c.to}, {"devices", *devices}};
    if (!c.note.empty()) body["note"] = c.note;
    if (!c.id.empty()) body["id"] = c.id;
    if (!c.from.empty() && c.from != server::kProviderAccount) {
        // Out of a customer's account: that customer signs the offer, over
        // the domain, the id, both accounts and the devices.
        if (c.id.empty() || c.domain.empty()) {
            std::fprintf(stderr, "irpctl: an offer from account %s needs --id and the domain (--domain, or --config)\n",
                         c.from.c_str());
            return 2;
        }
        server::Transfer t;
        t.id = c.id;
        t.from_account = c.from;
        t.to_account = c.to;
        t.devices = *devices;
        auto sig = signature_of(c, server::TransferSignature::offer, server::transfer_digest(c.domain, t), "");
        if (!sig) return 2;
        body["from"] = c.from;
        body["signature"] = *sig;
    }
    return api.emit(api.call("POST", "/v1/transfers", &body), [](const json& t) {
        std::printf("offered ");
        print_transfer(t);
    });
}

// Accept or reject: with the receiving account's --signature, or its --key
// here after checking that the digest the server shows is that of what it lists.
int decide(const AccountCommands& c, Api& api, bool accept) {
    json body = json::object();
    std::string policy_text;
    if (accept) {
        auto policy = policy_of(c.allow);
        if (!policy) return 2;
        body["policy"] = policy->first;
        policy_text = policy->second;
    }
    auto t = api.call("GET", "/v1/transfers/" + c.id);
    if (!t) return 1;
    const auto digest = checked_digest(*t);
    if (!digest) return 1;
    const auto kind = accept ? server::TransferSignature::accept : server::TransferSignature::reject;
    auto sig = signature_of(c, kind, *digest, policy_text);
    if (!sig) return 2;
    body["signature"] = *sig;
    return api.emit(api.call("POST", "/v1/transfers/" + c.id + (accept ? "/accept" : "/reject"), &body),
                    [](const json& j) { print_transfer(j); });
}

}  // namespace

void add_account_commands(CLI::App& app, AccountCommands& c) {
    c.accounts = app.add_subcommand("accounts", "list accounts (the provider's and its customers')");
    auto* account = app.add_subcommand("account", "manage customer accounts");
    account->require_subcommand(1);
    c.account_create = account->add_subcommand("create", "create a customer account with the key that authorises its transfers");
    c.account_create->add_option("name", c.name, "account name")->required();
    c.account_create->add_option("--public-key", c.key_file, "PEM file with the customer's public (or private) key")->required();
    c.account_create->add_option("--note", c.note, "free text");

    c.transfers = app.add_subcommand("transfers", "list certificate transfers, newest first");
    c.transfers->add_option("--account", c.account, "only transfers from or to this account");
    c.transfers->add_option("--state", c.state, "offered, accepted, rejected, cancelled or all");
    auto* transfer = app.add_subcommand("transfer", "offer, accept, reject or cancel a certificate transfer");
    transfer->require_subcommand(1);
    c.transfer_show = transfer->add_subcommand("show", "show one transfer and the digest accounts sign");
    c.transfer_show->add_option("id", c.id, "transfer id")->required();
    c.transfer_offer = transfer->add_subcommand("offer", "offer devices (their certificates, present and renewed) to an account");
    c.transfer_offer->add_option("--to", c.to, "receiving account")->required();
    c.transfer_offer->add_option("--from", c.from, "giving account (default: the provider's)");
    c.transfer_offer->add_option("--key", c.key_file, "the giving account's key, when it is not the provider");
    c.transfer_offer->add_option("--signature", c.signature, "or that account's signature (irpctl transfer sign --offer)");
    c.transfer_offer->add_option("--domain", c.domain, "the domain (default: from --config)");
    c.transfer_offer->add_option("--device", c.devices, "a device id (repeat)");
    c.transfer_offer->add_option("--serial", c.serials, "a certificate serial (repeat)");
    c.transfer_offer->add_option("--devices-file", c.devices_file, "a file of device ids, one per line (bulk)");
    c.transfer_offer->add_option("--id", c.id, "transfer id (default: chosen for you)");
    c.transfer_offer->add_option("--note", c.note, "free text");
    c.transfer_accept = transfer->add_subcommand("accept", "accept a transfer with the receiving account's key and policy");
    c.transfer_accept->add_option("id", c.id, "transfer id")->required();
    auto* accept_key = c.transfer_accept->add_option("--key", c.key_file, "the receiving account's private key (PEM)");
    c.transfer_accept->add_option("--signature", c.signature, "or its signature (irpctl transfer sign)")->excludes(accept_key);
    c.transfer_accept->add_option("--allow", c.allow, "policy: action=target the devices may do (repeat)");
    c.transfer_reject = transfer->add_subcommand("reject", "refuse a transfer with the receiving account's key");
    c.transfer_reject->add_option("id", c.id, "transfer id")->required();
    auto* reject_key = c.transfer_reject->add_option("--key", c.key_file, "the receiving account's private key (PEM)");
    c.transfer_reject->add_option("--signature", c.signature, "or its signature (irpctl transfer sign --reject)")->excludes(reject_key);
    c.transfer_sign = transfer->add_subcommand(
        "sign", "sign as an account, offline, with no admin API access: prints the base64 signature to hand over");
    c.transfer_sign->add_option("--transfer", c.transfer_file,
                                "the transfer as JSON (irpctl --json transfer show ID; for --offer: domain, id, from, to, devices)")
        ->required();
    c.transfer_sign->add_option("--key", c.key_file, "the account's private key (PEM)")->required();
    c.transfer_sign->add_option("--allow", c.allow, "accept with this policy: action=target (repeat)");
    auto* sign_reject = c.transfer_sign->add_flag("--reject", c.sign_reject, "sign a refusal");
    c.transfer_sign->add_flag("--offer", c.sign_offer, "sign an offer out of this account")->excludes(sign_reject);
    c.transfer_cancel = transfer->add_subcommand("cancel", "withdraw an offer (provider)");
    c.transfer_cancel->add_option("id", c.id, "transfer id")->required();

    c.owners = app.add_subcommand("owners", "show a device's ownership history");
    c.owners->add_option("device", c.device, "device id")->required();
    c.account_status = app.add_subcommand("account-status", "show the account statement of a certificate");
    c.account_status->add_option("serial", c.serial, "serial, hex")->required();

    c.rights = app.add_subcommand("rights", "list, set or clear the rights copied into devices' certificates");
    c.rights_set = c.rights->add_subcommand("set", "set the rights of a device or a class (certificates issued from now on)");
    c.rights_clear = c.rights->add_subcommand("clear", "clear the rights of a device or a class");
    for (auto* sub : {c.rights_set, c.rights_clear}) {
        auto* d = sub->add_option("--device", c.device, "device id");
        sub->add_option("--class", c.cls, "device class")->excludes(d);
    }
    c.rights_set->add_option("--allow", c.allow, "action=target (repeat)")->required();
}

std::optional<int> run_offline_account_commands(const AccountCommands& c) {
    if (!*c.transfer_sign) return std::nullopt;
    auto text = platform::read_file(c.transfer_file);
    if (!text) {
        std::fprintf(stderr, "irpctl: %s\n", text.error().message.c_str());
        return 2;
    }
    json t = json::parse(*text, nullptr, false);
    if (!t.is_object() || str(t, "domain").empty() || str(t, "id").empty() || !t.contains("devices") ||
        !t["devices"].is_array()) {
        std::fprintf(stderr, "irpctl: %s: expected a transfer as JSON with domain, id, from, to and devices\n",
                     c.transfer_file.c_str());
        return 2;
    }
    const auto digest = checked_digest(t);
    if (!digest) return 1;
    std::string policy_text;
    auto kind = server::TransferSignature::accept;
    if (c.sign_offer) kind = server::TransferSignature::offer;
    if (c.sign_reject) kind = server::TransferSignature::reject;
    if (kind == server::TransferSignature::accept) {
        auto policy = policy_of(c.allow);
        if (!policy) return 2;
        policy_text = policy->second;
    }
    auto sig = signature_of(c, kind, *digest, policy_text);
    if (!sig) return 2;
    std::fprintf(stderr, "signed %s of transfer %s (%s -> %s, %zu device(s)) in %s\n",
                 server::transfer_signature_name(kind), str(t, "id").c_str(), str(t, "from").c_str(),
                 str(t, "to").c_str(), t["devices"].size(), str(t, "domain").c_str());
    std::printf("%s\n", sig->c_str());
    return 0;
}

std::optional<int> run_account_commands(const AccountCommands& c, Api& api) {
    if (*c.accounts)
        return api.emit(api.call("GET", "/v1/accounts"), [](const json& j) {
            std::vector<std::vector<std::string>> rows;
            for (const auto& a : j["accounts"])
                rows.push_back({str(a, "name"), a.contains("public_key_sha256") ? str(a, "public_key_sha256").substr(0, 16) : "-",
                                when(a["created_at"]), str(a, "note")});
            table({"ACCOUNT", "KEY", "CREATED", "NOTE"}, rows);
        });
    if (*c.account_create) {
        auto pem = platform::read_file(c.key_file);
        if (!pem) {
            std::fprintf(stderr, "irpctl: %s\n", pem.error().message.c_str());
            return 2;
        }
        std::string key = *pem;
        if (key.find("PRIVATE KEY") != std::string::npos) {  // only its public half leaves
            auto k = load_key(c.key_file);
            if (!k) return 2;
            key = crypto::to_pem(k->public_key_der(), "PUBLIC KEY");
        }
        json body{{"name", c.name}, {"public_key", key}};
        if (!c.note.empty()) body["note"] = c.note;
        return api.emit(api.call("POST", "/v1/accounts", &body),
                        [](const json& a) { std::printf("account %s created\n", str(a, "name").c_str()); });
    }
    if (*c.transfers)
        return api.emit(api.call("GET", "/v1/transfers" + query({{"account", c.account}, {"state", c.state}})),
                        [](const json& j) {
                            std::vector<std::vector<std::string>> rows;
                            for (const auto& t : j["transfers"])
                                rows.push_back({str(t, "id"), str(t, "from"), str(t, "to"), str(t, "state"),
                                                std::to_string(t["devices"].size()), when(t["created_at"]),
                                                t.contains("policy") ? rights_cell(t["policy"]) : "-"});
                            table({"TRANSFER", "FROM", "TO", "STATE", "DEVICES", "OFFERED", "POLICY"}, rows);
                        });
    if (*c.transfer_show) return api.emit(api.call("GET", "/v1/transfers/" + c.id), print_transfer);
    if (*c.transfer_offer) return offer(c, api);
    if (*c.transfer_accept || *c.transfer_reject) return decide(c, api, c.transfer_accept->parsed());
    if (*c.transfer_cancel)
        return api.emit(api.call("POST", "/v1/transfers/" + c.id + "/cancel"), print_transfer);
    if (*c.owners)
        return api.emit(api.call("GET", "/v1/devices/" + c.device + "/owners"), [](const json& j) {
            std::vector<std::vector<std::string>> rows;
            for (const auto& o : j["owners"])
                rows.push_back({str(o, "account"), when(o["since"]),
                                o.value("until", std::int64_t{0}) ? when(o["until"]) : "now", rights_cell(o["policy"]),
                                str(o, "transfer").empty() ? "-" : str(o, "transfer")});
            table({"ACCOUNT", "SINCE", "UNTIL", "POLICY", "TRANSFER"}, rows);
        });
    if (*c.account_status)
        return api.emit(api.call("GET", "/v1/certificates/" + c.serial + "/account"), [](const json& s) {
            std::printf("certificate %s of %s\naccount %s, %s\npolicy  %s\nvalid until %s\n", str(s, "serial").c_str(),
                        str(s, "device_id").c_str(), str(s, "account").c_str(),
                        s.value("active", false) ? "active" : "NOT active", rights_cell(s["policy"]).c_str(),
                        when(s["next_update"]).c_str());
        });
    if (*c.rights_set || *c.rights_clear) {
        if (c.device.empty() == c.cls.empty()) {
            std::fprintf(stderr, "irpctl: rights set/clear needs --device or --class\n");
            return 2;
        }
        const std::string path = c.device.empty() ? "/v1/rights/class/" + c.cls : "/v1/rights/device/" + c.device;
        auto print = [](const json& j) {
            std::printf("%s %s: %s\n", str(j, "scope").c_str(), str(j, "name").c_str(), rights_cell(j["rights"]).c_str());
        };
        if (*c.rights_clear) return api.emit(api.call("DELETE", path), print);
        auto rights = rights_json(c.allow);
        if (!rights) return 2;
        const json body{{"rights", *rights}};
        return api.emit(api.call("PUT", path, &body), print);
    }
    if (*c.rights)
        return api.emit(api.call("GET", "/v1/rights"), [](const json& j) {
            std::vector<std::vector<std::string>> rows;
            for (const auto& r : j["rights"])
                rows.push_back({str(r, "scope"), str(r, "name"), rights_cell(r["rights"]), when(r["updated_at"])});
            table({"SCOPE", "NAME", "RIGHTS", "UPDATED"}, rows);
        });
    return std::nullopt;
}

}  // namespace irp::ctl
