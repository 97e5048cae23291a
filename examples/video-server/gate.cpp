#include "gate.hpp"

#include <cstdio>

#include "irp/crypto/crypto.hpp"
#include "irp/platform/files.hpp"
#include "irp/rp/account.hpp"

namespace video {

namespace {

using irp::Bytes;
namespace crypto = irp::crypto;
namespace rp = irp::rp;

Verdict refuse(const std::string& stage, const std::string& why) { return {false, "REFUSED " + stage + ": " + why}; }
Verdict refuse(const std::string& stage, const irp::Error& e) {
    return refuse(stage, std::string(irp::code_name(e.code)) + ": " + e.message);
}

// The domain from the device's SAN URI urn:irp:<domain>:<device-id> (docs/PROTOCOL.md).
std::string domain_of(const Bytes& leaf) {
    auto info = crypto::parse_certificate(leaf);
    if (!info) return "?";
    constexpr std::string_view prefix = "urn:irp:";
    for (const auto& uri : info->san_uris)
        if (uri.starts_with(prefix) && uri.find(':', prefix.size()) != std::string::npos)
            return uri.substr(prefix.size(), uri.find(':', prefix.size()) - prefix.size());
    return "?";
}

std::vector<Bytes> crls_in(const std::string& text) {
    if (text.find("-----BEGIN X509 CRL-----") == std::string::npos) return {irp::to_bytes(text)};
    auto blocks = crypto::pem_blocks(text, "X509 CRL");
    return blocks ? std::move(*blocks) : std::vector<Bytes>{};
}

crypto::Digest pair_key(const Bytes& crl, const Bytes& ca) {
    Bytes both(crl);
    both.insert(both.end(), ca.begin(), ca.end());
    return crypto::sha256(both);
}

}  // namespace

irp::Result<Gate> Gate::create(GateOptions options, StatementSource statements) {
    rp::VerifierOptions vo;
    vo.require_fresh_revocation = options.require_crl;
    auto verifier = rp::Verifier::create(options.roots, vo);
    if (!verifier) return verifier.error();
    return Gate(std::move(options), std::move(statements), std::move(*verifier));
}

void Gate::load_crls(const std::vector<Bytes>& candidate_cas, std::int64_t now) {
    crl_text_.resize(options_.crl_files.size());
    bool changed = false;
    for (std::size_t i = 0; i < options_.crl_files.size(); ++i) {
        auto text = irp::platform::read_file(options_.crl_files[i], crypto::kMaxCrlBytes);
        if (!text) {
            std::fprintf(stderr, "CRL %s: %s\n", options_.crl_files[i].c_str(), text.error().message.c_str());
            continue;
        }
        if (*text != crl_text_[i]) changed = true;
        crl_text_[i] = std::move(*text);
    }
    if (changed) {
        crls_.clear();
        for (const auto& text : crl_text_)
            for (auto& crl : crls_in(text)) crls_.push_back(std::move(crl));
    }
    // Each CRL is offered once to each CA it may belong to; the verifier
    // checks that the CA validates to a root and signed the CRL, and keeps
    // the newest per CA (a CRL number going backwards is refused).
    if (tried_.size() > 4096) tried_.clear();  // bounded: a client chooses the CAs in its chain
    std::vector<Bytes> cas = options_.roots;
    cas.insert(cas.end(), candidate_cas.begin(), candidate_cas.end());
    for (const auto& crl : crls_)
        for (const auto& ca : cas) {
            if (!tried_.insert(pair_key(crl, ca)).second) continue;
            auto added = verifier_.add_crl(crl, ca, now);
            if (!added && added.error().code != irp::Code::identity_mismatch)
                std::fprintf(stderr, "CRL not used: %s: %s\n", irp::code_name(added.error().code),
                             added.error().message.c_str());
        }
}

Verdict Gate::decide(const std::vector<Bytes>& chain, std::int64_t now) {
    if (chain.empty()) return refuse("certificate", "no client certificate");
    load_crls(std::vector<Bytes>(chain.begin() + 1, chain.end()), now);
    auto peer = verifier_.verify_certificate(chain, now);
    if (!peer) return refuse("certificate", peer.error());

    std::string line = "OK device=" + peer->device_id + " domain=" + domain_of(chain.front()) +
                       " serial=" + peer->serial_hex + " revocation=" +
                       (peer->revocation == rp::PeerIdentity::Revocation::good ? "good" : "unknown");
    if (options_.account.empty()) return {true, line};

    auto signed_statement = statements_(peer->serial_hex);
    if (!signed_statement) return refuse("account", signed_statement.error());
    // Against the CA that signed the device's certificate, never the chain's
    // second certificate: the device chose what its chain holds.
    auto status = rp::verify_account_statement(*signed_statement, peer->issuer_der, now);
    if (!status) return refuse("account", status.error());
    if (!rp::account_allows(*peer, *status, options_.account, options_.action, options_.target)) {
        if (status->serial_hex != peer->serial_hex || status->device_id != peer->device_id)
            return refuse("account", "the statement is about another certificate");
        if (!status->active)
            return refuse("account", "certificate " + peer->serial_hex + " is not active in account " +
                                         status->account + " (revoked, expired or released)");
        if (status->account != options_.account)
            return refuse("account", peer->device_id + " is in account " + status->account + ", not " +
                                         options_.account);
        return refuse("account", "the policy of account " + status->account + " does not allow " + options_.action +
                                     " on " + options_.target);
    }
    return {true, line + " account=" + status->account};
}

}  // namespace video
