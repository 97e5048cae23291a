// SIGHUP: what a running server can take from a changed config, and what
// only a restart can change. docs/OPERATIONS.md, "Reloading".
#pragma once

#include <string>
#include <vector>

#include "config/config.hpp"

namespace irp::server {

struct ReloadPlan {
    std::vector<std::string> applied;       // dotted keys taken live
    std::vector<std::string> need_restart;  // dotted keys that changed but wait for a restart
};

// Live: limits.*, server.max_connections, profile.*, classes. Everything
// else (listeners, threads, domain and key files, storage, admin, http,
// log format) needs a restart.
ReloadPlan plan_reload(const Config& running, const Config& next);

// `running` with the live keys of `next` copied in (what the server runs
// with after a reload).
Config apply_live(const Config& running, const Config& next);

}  // namespace irp::server
