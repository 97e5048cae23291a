// The public listener's answers (public_http.hpp): CRL and OCSP for relying
// parties, and signed account statements. No authentication, as RFC 5280 and
// RFC 6960 expect.
#include <regex>

#include "admin/api_util.hpp"
#include "admin/routes.hpp"
#include "irp/crypto/revocation.hpp"

namespace irp::server::admin {

namespace {

PublicAnswer der(const Bytes& b, const char* type) { return PublicAnswer{200, type, std::string(b.begin(), b.end())}; }

PublicAnswer crl(HttpDeps& d, const std::string& issuer) {
    if (!d.revocation.serves(issuer)) return PublicAnswer{404, "", ""};  // neither the current CA nor a retired one
    auto c = d.revocation.crl(issuer);
    if (!c) return PublicAnswer{503, "", ""};
    return der(*c, "application/pkix-crl");
}

PublicAnswer statement(HttpDeps& d, const std::string& serial) {
    if (!d.statements) return public_error(503, Code::internal, "account statements are not served here");
    auto s = d.statements->signed_statement(serial);
    if (!s) return public_error(http_status_for(s.error().code), s.error().code, s.error().message);
    auto a = der(*s, "application/x-irp-account-statement");
    a.headers.emplace_back("Cache-Control", "max-age=60");
    return a;
}

}  // namespace

PublicAnswer answer_public(HttpDeps& d, const std::string& method, const std::string& path, const std::string& body) {
    static const std::regex kCrl(R"(/crl/([0-9a-f]{1,64})\.crl)");
    static const std::regex kOcspGet(R"(/ocsp/(.+))");
    static const std::regex kAccount(R"(/account/([0-9a-f]{1,40}))");
    const bool get = method == "GET" || method == "HEAD";  // MHD leaves the body out of a HEAD answer
    std::smatch m;
    if (get && std::regex_match(path, m, kCrl)) return crl(d, m[1]);
    if (method == "POST" && path == "/ocsp") return der(d.revocation.ocsp(as_bytes(body)), "application/ocsp-response");
    // RFC 6960 appendix A.1: GET {url}/{url-encoding of base64(DER request)}
    if (get && std::regex_match(path, m, kOcspGet)) {
        const auto req = crypto::base64_decode(m[1].str());
        return der(req ? d.revocation.ocsp(*req) : crypto::ocsp_error_response(1), "application/ocsp-response");
    }
    if (get && std::regex_match(path, m, kAccount)) return statement(d, m[1]);
    return PublicAnswer{404, "", ""};
}

}  // namespace irp::server::admin
