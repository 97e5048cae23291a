// irp-server's DNS-SD advertisement (`[discovery] mdns = true`): the service
// `_irp._tcp` in `.local` on the IRP port, its TXT record "txtvers=1" and
// "domain=<domain>" (include/irp/net/mdns.hpp), published through the Avahi
// daemon on a thread of its own (AvahiThreadedPoll). It starts after the
// listener is bound and is withdrawn when the server stops.
//
// Advertising never stops the server from serving: a daemon that is not
// running is waited for, a daemon that restarts is reconnected to, and a
// name taken by another service on the network is replaced by Avahi's
// alternative ("IRP home.example #2"). Each of these is one log record
// (event "mdns"). A build without Avahi has a stub whose start() fails, and
// irp-server then refuses to start (README.md, "[discovery]").
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "irp/base/error.hpp"
#include "irp/net/mdns.hpp"
#include "log.hpp"

namespace irp::server {

struct MdnsAdvertisement {
    std::string instance{};     // DNS-SD instance name; empty: default_instance_name(domain)
    std::string domain{};       // into the TXT record
    std::string listen_host{};  // server.listen's host: which interface to advertise on
    std::uint16_t port = 0;   // the IRP port actually bound
};

// "IRP <domain>", cut to the 63 bytes an instance name may have (the
// domain is ASCII, so a byte is a character).
inline std::string default_instance_name(const std::string& domain) {
    std::string name = "IRP " + domain;
    if (name.size() > net::kMaxMdnsInstanceBytes) name.resize(net::kMaxMdnsInstanceBytes);
    return name;
}

// Receives the fields of one log record ("outcome" first); the caller
// renders it as event "mdns".
using MdnsLog = std::function<void(const std::vector<LogField>&)>;

class MdnsAdvertiser {
public:
    // False in a build without Avahi.
    static bool supported();

    MdnsAdvertiser(MdnsAdvertisement what, MdnsLog log);
    ~MdnsAdvertiser();  // stop()
    MdnsAdvertiser(const MdnsAdvertiser&) = delete;
    MdnsAdvertiser& operator=(const MdnsAdvertiser&) = delete;

    // Starts advertising in the background (or logs why it will not: a
    // loopback listen address). Errors only when this build has no mDNS
    // support (config_invalid) or Avahi cannot be set up at all (internal).
    Result<void> start();
    // Withdraws the service (the daemon sends its goodbye packets) and
    // stops the thread. Idempotent.
    void stop();

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace irp::server
