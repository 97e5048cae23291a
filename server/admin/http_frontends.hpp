// The server's two HTTP listeners, beside the IRP listener:
//   admin (loopback by default): the JSON admin API (bearer token) and /metrics
//   http: CRL, OCSP and account statements for relying parties (no
//         authentication, by design), event-driven on libmicrohttpd
// The admin port runs on cpp-httplib's threads; neither touches the IRP sessions.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "accounts/statement.hpp"
#include "admin/metrics.hpp"
#include "classes/class_registry.hpp"
#include "config/config.hpp"
#include "lifecycle/holds.hpp"
#include "log.hpp"
#include "revocation/revocation.hpp"
#include "store/store.hpp"

namespace irp::server {

using LogLine = std::function<void(const std::string&)>;

struct HttpDeps {
    Store& store;
    RevocationService& revocation;
    ClassRegistry& classes;
    Metrics& metrics;
    std::string admin_token;  // empty: the admin API answers 503
    std::string domain;
    std::function<std::int64_t()> clock;
    LogLine log;
    LogFormat log_format = LogFormat::text;
    HoldDesk* holds = nullptr;  // held requests and the surge guard; null: those routes answer 503
    AccountStatements* statements = nullptr;  // account statements; null: those routes answer 503
    // Tells administrators and account holders of an event (the webhook):
    // event name and its JSON body. Unset: nobody is told.
    std::function<void(const std::string& event, const std::string& body)> notify;
};

class HttpFrontends {
public:
    HttpFrontends(HttpDeps deps, std::string admin_listen, std::string http_listen);
    ~HttpFrontends();
    HttpFrontends(const HttpFrontends&) = delete;
    HttpFrontends& operator=(const HttpFrontends&) = delete;

    // Binds both listeners and starts serving; ports are known afterwards.
    Result<void> start();
    void stop();
    // [http] max_connections_per_source: connections one source address may
    // have served at once on the CRL/OCSP port (0 = no bound). At start and
    // on SIGHUP.
    void set_http_max_per_source(std::size_t n);
    std::uint16_t admin_port() const;
    std::uint16_t http_port() const;

    struct Impl;

private:
    std::unique_ptr<Impl> impl_;
};

}  // namespace irp::server
