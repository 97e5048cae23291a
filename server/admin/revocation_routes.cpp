// The admin view of the CRLs, one per domain CA (current and retired). The
// CRL and OCSP endpoints relying parties use are in public_routes.cpp.
#include "admin/api_util.hpp"
#include "admin/routes.hpp"

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
}

}  // namespace irp::server::admin
