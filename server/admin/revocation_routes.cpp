// Revocation over HTTP: the CRL and OCSP endpoints relying parties use (no
// authentication, as RFC 5280 and RFC 6960 expect) and the admin view of the
// CRLs, one per domain CA (current and retired).
#include "admin/api_util.hpp"
#include "admin/routes.hpp"
#include "irp/crypto/revocation.hpp"

namespace irp::server::admin {

namespace {

json crl_json(const CrlStatus& st) {
    return json{{"issuer_id", st.issuer_id},     {"subject", st.subject},
                {"retired", st.retired},         {"number", st.number},
                {"this_update", st.this_update}, {"next_update", st.next_update},
                {"entries", st.entries}};
}

}  // namespace

void add_revocation_routes(Routes& r) {
    // The top-level fields are the current CA's (what this answered before
    // retired CAs existed); `issuers` lists every CA, the current one first.
    r.admin.Get("/v1/crl", r.guarded([&d = r.d](const httplib::Request&, httplib::Response& res) {
        auto all = d.revocation.crl_statuses();
        if (!all) return send_error(res, all.error());
        const CrlStatus& current = all->front();
        json body{{"issuer_id", current.issuer_id},
                  {"number", current.number},
                  {"this_update", current.this_update},
                  {"next_update", current.next_update},
                  {"entries", current.entries},
                  {"issuers", json::array()}};
        for (const auto& st : *all) body["issuers"].push_back(crl_json(st));
        send_json(res, 200, body);
    }));

    // Relying parties: no authentication, as RFC 5280 / 6960 expect.
    r.http.Get(R"(/crl/([0-9a-f]{1,64})\.crl)", [&d = r.d](const httplib::Request& req, httplib::Response& res) {
        const std::string issuer = req.matches[1];
        if (!d.revocation.serves(issuer)) {
            res.status = 404;  // neither the current CA nor a retired one
            return;
        }
        auto crl = d.revocation.crl(issuer);
        if (!crl) {
            res.status = 503;
            return;
        }
        res.set_content(std::string(crl->begin(), crl->end()), "application/pkix-crl");
    });
    r.http.Post("/ocsp", [&d = r.d](const httplib::Request& req, httplib::Response& res) {
        const Bytes resp = d.revocation.ocsp(as_bytes(req.body));
        res.set_content(std::string(resp.begin(), resp.end()), "application/ocsp-response");
    });
    // RFC 6960 appendix A.1: GET {url}/{url-encoding of base64(DER request)}
    r.http.Get(R"(/ocsp/(.+))", [&d = r.d](const httplib::Request& req, httplib::Response& res) {
        const auto der = crypto::base64_decode(req.matches[1].str());
        const Bytes resp = der ? d.revocation.ocsp(*der) : crypto::ocsp_error_response(1);
        res.set_content(std::string(resp.begin(), resp.end()), "application/ocsp-response");
    });
}

}  // namespace irp::server::admin
