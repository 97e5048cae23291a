// The admin API and the relying-party endpoints, one file per topic. Each
// add_*_routes registers its handlers; admin handlers are wrapped by
// `guarded` (bearer token, one log line per call).
#pragma once

#include <functional>

#include <httplib.h>

#include "admin/http_frontends.hpp"
#include "admin/public_http.hpp"

namespace irp::server::admin {

using Handler = std::function<void(const httplib::Request&, httplib::Response&)>;

struct Routes {
    HttpDeps& d;
    httplib::Server& admin;  // loopback by default; token required
    std::function<httplib::Server::Handler(Handler)> guarded;
};

void add_inventory_routes(Routes& r);   // /v1/devices, /v1/certificates, /v1/audit (inventory_routes.cpp)
void add_class_routes(Routes& r);       // /v1/classes (class_routes.cpp)
void add_revocation_routes(Routes& r);  // /v1/crl (revocation_routes.cpp)
void add_lifecycle_routes(Routes& r);   // /v1/held, /v1/registrations, release, /v1/surge (lifecycle_routes.cpp)
void add_account_routes(Routes& r);     // /v1/accounts, /v1/transfers, /v1/rights (account_routes.cpp)
void add_ui_routes(Routes& r);          // /ui: the administrator's web page, no token (ui_routes.cpp)

// The public listener: /crl/<issuer>.crl, /ocsp, /account/<serial> (public_routes.cpp).
PublicAnswer answer_public(HttpDeps& d, const std::string& method, const std::string& path, const std::string& body);

}  // namespace irp::server::admin
