// irp-rp-check: what a relying party (a cloud service, a video server) does
// before it lets a device in, with the irp_rp library:
//   1. the device's certificate chain validates to the trusted root, and the
//      CA's CRL (when given) does not list it;
//   2. the domain's signed account statement for that certificate verifies
//      and is current;
//   3. the certificate is active in the expected account, whose policy
//      allows the action on the target.
// Exit 0: allowed. 3: verified but not allowed. 1: verification failed.
// 2: usage or files.
//
//   irp-rp-check --root root-ca.pem --chain device.crt --statement stmt.bin
//       --account acme --action stream --target service:video [--crl domain.crl --crl root.crl] [--now UNIX]
#include <CLI/CLI.hpp>

#include <chrono>
#include <cstdio>

#include "irp/platform/files.hpp"
#include "irp/rp/account.hpp"
#include "irp/rp/verifier.hpp"

using namespace irp;

namespace {

int fail(int rc, const std::string& what, const Error& e) {
    std::printf("verdict: %s\nerror: %s: %u %s: %s\n", rc == 1 ? "refused" : "error", what.c_str(),
                static_cast<unsigned>(e.code), code_name(e.code), e.message.c_str());
    return rc;
}

Result<Bytes> read_binary(const std::string& path) {
    auto text = platform::read_file(path, 1 << 20);
    if (!text) return text.error();
    return to_bytes(*text);
}

Result<std::vector<Bytes>> read_certs(const std::string& path) {
    auto pem = platform::read_file(path, 1 << 20);
    if (!pem) return pem.error();
    return crypto::pem_blocks(*pem, "CERTIFICATE");
}

}  // namespace

int main(int argc, char** argv) {
    CLI::App app{"irp-rp-check: may this device do this, in this account?"};
    std::string root_file, chain_file, statement_file, account, action, target;
    std::vector<std::string> crl_files;
    std::int64_t now = std::chrono::duration_cast<std::chrono::seconds>(
                           std::chrono::system_clock::now().time_since_epoch()).count();
    app.add_option("--root", root_file, "trusted root CA certificate (PEM)")->required();
    app.add_option("--chain", chain_file, "the device's certificate and its CA certificates (PEM, leaf first)")->required();
    app.add_option("--statement", statement_file, "the account statement (GET <http>/account/<serial>)")->required();
    app.add_option("--crl", crl_files, "a CRL (DER): the issuing CA's, and the root's for the CA itself; repeatable");
    app.add_option("--account", account, "the account the device must be in (empty: any)");
    app.add_option("--action", action, "what the device asks to do")->required();
    app.add_option("--target", target, "on what")->required();
    app.add_option("--now", now, "Unix time to check at");
    CLI11_PARSE(app, argc, argv);

    auto roots = read_certs(root_file);
    auto chain = read_certs(chain_file);
    auto statement = read_binary(statement_file);
    if (!roots || roots->empty()) return fail(2, root_file, roots ? make_error(Code::bad_argument, "no certificate") : roots.error());
    if (!chain || chain->size() < 2) return fail(2, chain_file, chain ? make_error(Code::bad_argument, "need the leaf and its CA") : chain.error());
    if (!statement) return fail(2, statement_file, statement.error());
    // The root itself is the anchor, not part of the peer's chain.
    if (chain->back() == roots->front()) chain->pop_back();

    auto verifier = rp::Verifier::create(*roots);
    if (!verifier) return fail(2, "trusted roots", verifier.error());
    auto peer = verifier->verify_certificate(*chain, now);
    if (!peer) return fail(1, "certificate", peer.error());
    if (!crl_files.empty()) {
        // Each CRL is the issuing CA's or a root's (about the CA); the
        // verifier checks which CA signed it. Then the check again, with
        // every level of the path against its CRL.
        for (const auto& file : crl_files) {
            auto crl = read_binary(file);
            if (!crl) return fail(2, file, crl.error());
            bool used = false;
            Error last;
            std::vector<Bytes> cas = *roots;
            cas.insert(cas.begin(), peer->issuer_der);
            for (const auto& ca : cas) {
                auto r = verifier->add_crl(*crl, ca, now);
                if (r) used = true;
                else last = r.error();
            }
            if (!used) return fail(1, "CRL " + file, last);
        }
        peer = verifier->verify_certificate(*chain, now);
        if (!peer) return fail(1, "certificate", peer.error());
    }
    // Against the CA whose key signed the certificate, never chain[1]: the
    // device chose what its chain holds.
    auto status = rp::verify_account_statement(*statement, peer->issuer_der, now);
    if (!status) return fail(1, "account statement", status.error());

    const bool allowed = rp::account_allows(*peer, *status, account, action, target);
    const char* revocation = peer->revocation == rp::PeerIdentity::Revocation::good ? "good" : "unknown";
    std::printf("device: %s\nserial: %s\nrevocation: %s\naccount: %s (%s)\npolicy:", peer->device_id.c_str(),
                peer->serial_hex.c_str(), revocation, status->account.c_str(), status->active ? "active" : "not active");
    for (const auto& r : status->policy) std::printf(" %s=%s", r.action.c_str(), r.target.c_str());
    std::printf("\ncertificate rights:");
    for (const auto& r : peer->rights) std::printf(" %s=%s", r.action.c_str(), r.target.c_str());
    std::printf("\nverdict: %s\n", allowed ? "allowed" : "denied");
    return allowed ? 0 : 3;
}
