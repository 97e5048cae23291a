// The server side in memory for the wallet tests (exchange_test.cpp,
// pkcs11_test.cpp, capi_test.cpp): a domain with its CA, class registry,
// hold desk and EnrollService, and the server's half of one connection (the
// real ServerSession), no sockets.
#pragma once

#include <doctest/doctest.h>

#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "../server/test_domain.hpp"
#include "enroll_service.hpp"
#include "idwallet.hpp"
#include "irp/core/frame.hpp"
#include "irp/core/server_session.hpp"
#include "irp/core/transcript.hpp"

namespace irp_test {

using namespace irp;

// A domain's server side at the test's clock (`now`, Unix seconds): its log
// lines are kept in `log`.
struct InMemoryServer {
    InMemoryServer(std::string domain, std::uint64_t domain_seed, std::uint64_t rng_seed)
        : d(std::move(domain), domain_seed), server_rng(crypto::deterministic_random(rng_seed)) {}

    TestDomain d;
    std::unique_ptr<crypto::Random> server_rng;
    server::Authority ca{d.material(), server::ProfileSettings{}, *server_rng};
    std::int64_t now = kNow;
    std::vector<std::string> log;
    server::ClassRegistry classes{d.store(), *server_rng, d.material().class_secrets, [this] { return now; }};
    server::HoldDesk holds{d.store(), [this] { return now; }, server::ApprovalPolicy{}};
    server::EnrollService svc{ca, d.store(), classes, holds, server::ServicePolicy{},
                              [this](const std::string& l) { log.push_back(l); }, [this] { return now; }};

    // What a device of the "default" class is made with: its token and this
    // domain's root.
    wallet::EnrollOptions enroll_options(const std::string& device_id) const {
        wallet::EnrollOptions o;
        o.device_id = device_id;
        o.class_id = "default";
        const auto t = derive_device_token(d.secret(), "default", device_id);
        o.token = Bytes(t.begin(), t.end());
        o.trusted_roots = {d.material().root_der};
        return o;
    }
};

// The server's half of one connection, driven in the caller's thread: what
// the wallet sends goes straight into a ServerSession, whose events are
// handled by the EnrollService the way net::Server's adapter handles them;
// what the session sends back is what the wallet receives. `rewrite` may
// change each server frame on its way to the wallet (a man in the middle).
// `skewed`: the wallet is told another channel binding than the server's,
// so its proofs fail and the server refuses.
class InMemoryTransport final : public wallet::Transport {
public:
    using Rewrite = std::function<ServerMessage(ServerMessage)>;

    InMemoryTransport(server::EnrollService& svc, const server::DomainMaterial& m, crypto::Random& rng,
                      Rewrite rewrite = {}, bool skewed = false)
        : svc_(svc), session_(config(m), rng, binding(), Time{0}), rewrite_(std::move(rewrite)), skewed_(skewed) {}

    Result<void> send(ByteView data) override {
        if (session_.finished()) return make_error(Code::connection_closed, "the server closed the connection");
        session_.receive(data, now_);
        while (auto ev = session_.poll_event()) {
            if (auto* req = std::get_if<RequestReceived>(&*ev)) {
                ++requests;
                seen.push_back(*req);
                if (auto r = session_.answer(svc_.on_request(*req, kPeer), now_); !r) return r.error();
            } else if (auto* rep = std::get_if<InstallReported>(&*ev)) {
                reports.push_back(*rep);
                if (auto r = session_.acknowledge_install(svc_.on_install_report(*rep, kPeer), now_); !r) return r.error();
            } else if (auto* rej = std::get_if<RequestRejected>(&*ev)) {
                svc_.on_rejected(*rej, kPeer);
                session_rejections.push_back(rej->error);
            } else if (auto* fail = std::get_if<SessionFailed>(&*ev)) {
                svc_.on_failure(fail->error, kPeer);
                failures.push_back(fail->error);
            }
        }
        const Bytes out = session_.take_output();
        ByteView in(out);
        FrameDecoder dec;
        while (!in.empty()) {
            REQUIRE(dec.feed(in) == FrameDecoder::Status::frame);
            auto msg = decode_server_message(dec.payload());
            REQUIRE(msg.ok());
            const ServerMessage m = rewrite_ ? rewrite_(std::move(msg.value())) : std::move(msg.value());
            const Bytes frame = encode_frame(encode(m));
            pending_.insert(pending_.end(), frame.begin(), frame.end());
        }
        return {};
    }

    Result<Bytes> receive(Time) override {
        // Everything the server has to say is produced by send(): nothing
        // pending means it is waiting for us, or it has closed.
        if (pending_.empty()) return make_error(Code::connection_closed, "nothing more from the server");
        return std::exchange(pending_, {});
    }

    Bytes channel_binding() override { return skewed_ ? Bytes(32, 0x5b) : binding(); }

    ServerSession::State server_state() const { return session_.state(); }

    int requests = 0;
    std::vector<RequestReceived> seen;  // as the server got them
    std::vector<InstallReported> reports;
    std::vector<Error> session_rejections;
    std::vector<Error> failures;

private:
    static inline const net::PeerInfo kPeer{"198.51.100.4:40000"};
    static Bytes binding() { return Bytes(32, 0x5a); }
    static ServerSessionConfig config(const server::DomainMaterial& m) {
        ServerSessionConfig c;
        c.domain = m.domain;
        c.ca_chain = {m.ca_der, m.root_der};
        c.key_algorithms = {KeyAlgorithm::ecdsa_p256, KeyAlgorithm::ed25519};
        return c;
    }

    server::EnrollService& svc_;
    ServerSession session_;
    Rewrite rewrite_;
    bool skewed_ = false;
    Time now_{0};
    Bytes pending_;
};

}  // namespace irp_test
