#include "admin/metrics.hpp"

#include <algorithm>
#include <cstdio>

namespace irp::server {

void Metrics::Histogram::observe(double seconds) {
    for (std::size_t i = 0; i < kBuckets.size(); ++i)
        if (seconds <= kBuckets[i]) ++le[i];
    ++count;
    sum_us += static_cast<std::uint64_t>(seconds * 1e6);
}

void Metrics::Histogram::render(std::string& out, const std::string& name, const std::string& labels) const {
    char buf[160];
    const std::string sep = labels.empty() ? "" : ",";
    for (std::size_t i = 0; i < kBuckets.size(); ++i) {
        std::snprintf(buf, sizeof buf, "%s_bucket{%s%sle=\"%g\"} %llu\n", name.c_str(), labels.c_str(), sep.c_str(),
                      kBuckets[i], static_cast<unsigned long long>(le[i].load()));
        out += buf;
    }
    std::snprintf(buf, sizeof buf, "%s_bucket{%s%sle=\"+Inf\"} %llu\n%s_sum%s%s%s %.6f\n%s_count%s%s%s %llu\n",
                  name.c_str(), labels.c_str(), sep.c_str(), static_cast<unsigned long long>(count.load()),
                  name.c_str(), labels.empty() ? "" : "{", labels.c_str(), labels.empty() ? "" : "}",
                  static_cast<double>(sum_us.load()) / 1e6, name.c_str(), labels.empty() ? "" : "{", labels.c_str(),
                  labels.empty() ? "" : "}", static_cast<unsigned long long>(count.load()));
    out += buf;
}

void Metrics::request(Operation op, bool issued, double seconds) {
    if (op == Operation::enroll)
        ++(issued ? enroll_issued_ : enroll_rejected_);
    else
        ++(issued ? renew_issued_ : renew_rejected_);
    request_latency_.observe(seconds);
}

void Metrics::database(double seconds) { db_latency_.observe(seconds); }

void Metrics::track_crl_issuers(const std::vector<std::string>& issuer_ids) {
    for (const auto& id : issuer_ids)
        if (std::none_of(crl_ages_.begin(), crl_ages_.end(), [&](const CrlAge& c) { return c.issuer == id; }))
            crl_ages_.emplace_back(id);
}

void Metrics::crl_signed(std::string_view issuer_id, std::int64_t at) {
    for (auto& c : crl_ages_)
        if (c.issuer == issuer_id) c.signed_at = at;
}

std::string Metrics::render(std::int64_t now) const {
    std::string out;
    auto line = [&out](const char* text, std::uint64_t v) {
        out += text;
        out += " " + std::to_string(v) + "\n";
    };
    out += "# HELP irp_requests_total IRP requests by operation and outcome.\n# TYPE irp_requests_total counter\n";
    line("irp_requests_total{operation=\"enroll\",outcome=\"issued\"}", enroll_issued_);
    line("irp_requests_total{operation=\"enroll\",outcome=\"rejected\"}", enroll_rejected_);
    line("irp_requests_total{operation=\"enroll\",outcome=\"redirected\"}", enroll_redirected_);
    line("irp_requests_total{operation=\"renew\",outcome=\"issued\"}", renew_issued_);
    line("irp_requests_total{operation=\"renew\",outcome=\"rejected\"}", renew_rejected_);
    out += "# HELP irp_request_duration_seconds Time to decide, sign and commit one request.\n"
           "# TYPE irp_request_duration_seconds histogram\n";
    request_latency_.render(out, "irp_request_duration_seconds", "");
    out += "# HELP irp_db_duration_seconds Time of one durable issuance commit.\n"
           "# TYPE irp_db_duration_seconds histogram\n";
    db_latency_.render(out, "irp_db_duration_seconds", "");
    out += "# HELP irp_open_connections IRP connections open now.\n# TYPE irp_open_connections gauge\n";
    out += "irp_open_connections " + std::to_string(open_connections_.load()) + "\n";
    out += "# HELP irp_session_failures_total Sessions ended by protocol errors, deadlines or TLS failures.\n"
           "# TYPE irp_session_failures_total counter\n";
    line("irp_session_failures_total", session_failures_);
    out += "# HELP irp_connections_refused_total Connections refused by the per-source rate limit or the cap.\n"
           "# TYPE irp_connections_refused_total counter\n";
    line("irp_connections_refused_total", refused_);
    out += "# HELP irp_http_connections_refused_total CRL/OCSP connections refused because their source address had "
           "http.max_connections_per_source open: answered 503, or closed at accept when 4 more already waited.\n"
           "# TYPE irp_http_connections_refused_total counter\n";
    line("irp_http_connections_refused_total", http_refused_);
    out += "# HELP irp_crl_age_seconds Age of the CRL last signed by this server, per issuing CA (-1: none yet).\n"
           "# TYPE irp_crl_age_seconds gauge\n";
    for (const auto& c : crl_ages_) {
        const std::int64_t signed_at = c.signed_at.load();
        out += "irp_crl_age_seconds{issuer=\"" + c.issuer + "\"} " + std::to_string(signed_at ? now - signed_at : -1) + "\n";
    }
    return out;
}

}  // namespace irp::server
