// irpctl's commands for rights, accounts and certificate transfer
// (docs/OPERATIONS.md, "Accounts and transfers"). A customer's signature is
// made here, with the customer's key file, over what the transfer digest
// says; the key never leaves this process.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>

#include "irpctl/cli.hpp"

namespace irp::ctl {

struct AccountCommands {
    std::string name, key_file, note, to, from, id, account, state, device, cls, serial, devices_file;
    std::string signature, transfer_file;
    std::string domain;  // --domain, or the one in --config
    bool sign_reject = false, sign_offer = false;
    std::vector<std::string> devices, serials, allow;
    CLI::App *accounts = nullptr, *account_create = nullptr, *transfers = nullptr, *transfer_show = nullptr,
             *transfer_offer = nullptr, *transfer_accept = nullptr, *transfer_reject = nullptr,
             *transfer_cancel = nullptr, *transfer_sign = nullptr, *owners = nullptr, *account_status = nullptr, *rights = nullptr,
             *rights_set = nullptr, *rights_clear = nullptr;
};

// Registers the subcommands on `app`; `c` must outlive parsing.
void add_account_commands(CLI::App& app, AccountCommands& c);

// Runs the one that was given: its exit code, or nullopt when none of them was.
std::optional<int> run_account_commands(const AccountCommands& c, Api& api);
// The commands that need no admin API (transfer sign, for an account
// holder who has no token): its exit code, or nullopt.
std::optional<int> run_offline_account_commands(const AccountCommands& c);

}  // namespace irp::ctl
