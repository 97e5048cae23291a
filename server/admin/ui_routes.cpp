// The administrator's web page (server/admin/ui, docs/OPERATIONS.md "Web page"):
//   GET /ui            index.html (GET /ui/ redirects here)
//   GET /ui/app.js
//   GET /ui/style.css
// Served on the admin listener without the token: the page holds no data, and
// each of its calls to the API carries the token the administrator types in.
// The three files are compiled in (CMakeLists.txt writes them into
// ui_assets.cpp in the build directory).
#include <string_view>

#include "admin/routes.hpp"

namespace irp::server::admin {

namespace ui {
// Defined in the generated ui_assets.cpp.
extern const std::string_view index_html;
extern const std::string_view app_js;
extern const std::string_view style_css;
}  // namespace ui

namespace {

// No inline script or style anywhere in the page, so the policy allows only
// this origin; no framing either.
constexpr const char* kPolicy =
    "default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'";

void hardened(httplib::Response& res) {
    res.set_header("Content-Security-Policy", kPolicy);
    res.set_header("X-Content-Type-Options", "nosniff");
    res.set_header("Cache-Control", "no-store");
    res.set_header("X-Frame-Options", "DENY");
    res.set_header("Referrer-Policy", "no-referrer");
}

Handler file(const std::string_view& body, const char* type) {
    return [&body, type](const httplib::Request&, httplib::Response& res) {
        hardened(res);
        res.set_content(body.data(), body.size(), type);
    };
}

}  // namespace

void add_ui_routes(Routes& r) {
    r.admin.Get("/ui", file(ui::index_html, "text/html; charset=utf-8"));
    r.admin.Get("/ui/app.js", file(ui::app_js, "text/javascript; charset=utf-8"));
    r.admin.Get("/ui/style.css", file(ui::style_css, "text/css; charset=utf-8"));
    r.admin.Get("/ui/", [](const httplib::Request&, httplib::Response& res) {
        hardened(res);
        res.set_redirect("/ui");
    });
}

}  // namespace irp::server::admin
