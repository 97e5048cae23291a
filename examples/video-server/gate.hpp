// The video server's admission decision, on the irp_rp library: may the
// device behind this TLS client certificate chain watch (or publish) video?
//   1. the chain validates to a trusted root (rp::Verifier), and the CRLs
//      held from the --crl files do not list the device, nor its issuing CA
//      (the root's CRL);
//   2. with an account: the domain's signed account statement for the
//      certificate puts it, active, in that account, whose policy allows the
//      action on the target (rp::account_allows).
// The answer is one line: "OK device=<id> domain=<domain> ..." or
// "REFUSED <stage>: <why>". No sockets here: the statement comes from the
// StatementSource the caller passes in (main.cpp: an HTTP GET).
#pragma once

#include <cstdint>
#include <functional>
#include <set>
#include <string>
#include <vector>

#include "irp/base/bytes.hpp"
#include "irp/base/error.hpp"
#include "irp/crypto/crypto.hpp"
#include "irp/crypto/revocation.hpp"
#include "irp/rp/verifier.hpp"

namespace video {

struct GateOptions {
    std::vector<irp::Bytes> roots = {};         // DER trusted roots
    std::vector<std::string> crl_files = {};    // DER or PEM (several CRLs in one file are fine); re-read when changed
    std::string account = {};                   // empty: no account statement is asked for
    std::string action = "stream";
    std::string target = "service:video";
    bool require_crl = false;                   // refuse when no fresh CRL of the device's CA is held
};

// Fetches the signed account statement for a serial (lower-case hex).
using StatementSource = std::function<irp::Result<irp::Bytes>(const std::string& serial_hex)>;

struct Verdict {
    bool ok = false;
    std::string line = {};  // without the newline
};

class Gate {
public:
    static irp::Result<Gate> create(GateOptions options, StatementSource statements);
    Verdict decide(const std::vector<irp::Bytes>& chain, std::int64_t now);

private:
    Gate(GateOptions options, StatementSource statements, irp::rp::Verifier verifier)
        : options_(std::move(options)), statements_(std::move(statements)), verifier_(std::move(verifier)) {}
    // Re-reads the CRL files and offers each CRL to the verifier for every
    // CA it may belong to: the roots and the CAs in the device's chain.
    // rp::Verifier checks every level: the device against its CA's CRL,
    // the CA against its root's CRL.
    void load_crls(const std::vector<irp::Bytes>& candidate_cas, std::int64_t now);

    GateOptions options_;
    StatementSource statements_;
    irp::rp::Verifier verifier_;
    std::vector<std::string> crl_text_;                 // per file: what was last read
    std::vector<irp::Bytes> crls_;                      // every CRL from the files, DER
    std::set<irp::crypto::Digest> tried_;               // (CRL, CA) pairs offered to the verifier
};

}  // namespace video
