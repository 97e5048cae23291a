// The C API (include/irp/wallet.h) through its callbacks: bad arguments and
// struct sizes are refused without a crash, failing callbacks become clean
// status codes and numbered errors, each callback gets its own ctx, and a
// whole enroll / renew / check-in / reset runs against the real server side
// (ServerSession + EnrollService over SQLite), connected in memory.
#include <doctest/doctest.h>

#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <new>
#include <string>
#include <vector>

#include "../server/test_domain.hpp"
#include "in_memory_server.hpp"
#include "enroll_service.hpp"
#include "idwallet.hpp"
#include "irp/core/server_session.hpp"
#include "irp/core/transcript.hpp"
#include "irp/wallet.h"
#include "irp_wallet_posix.h"
#include "revocation/revocation.hpp"

using namespace irp;
using irp_test::kNow;
using irp_test::TempDir;
using irp_test::TestDomain;

// ---- allocation failure injection (not under ASan, which owns operator new) ----
#if !defined(__SANITIZE_ADDRESS__)
#define IRP_CAPI_TEST_NOMEM 1
namespace {
thread_local long g_fail_allocation = -1;  // >= 0: that many more allocations succeed, then one fails
}
// GCC sees free() on what `new` returned, not knowing that this `new` is malloc.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
void* operator new(std::size_t n) {
    if (g_fail_allocation >= 0 && g_fail_allocation-- == 0) throw std::bad_alloc();
    if (void* p = std::malloc(n ? n : 1)) return p;
    throw std::bad_alloc();
}
void operator delete(void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
#pragma GCC diagnostic pop
#endif

namespace {

const net::PeerInfo kPeer{"198.51.100.7:40000"};

// ---- the server side of a connection, behind the transport callbacks ----

struct Domain : irp_test::InMemoryServer {
    server::RevocationService rev{d.material(), d.store(), *server_rng, server::RevocationSettings{},
                                  [this] { return now; }};
    Domain() : InMemoryServer("capi.test", 5, 51) { svc.set_revocation(&rev); }

    std::string root_pem() const { return crypto::to_pem(d.material().root_der, "CERTIFICATE"); }
    Bytes token(const std::string& device) const {
        const auto t = derive_device_token(d.secret(), "default", device);
        return Bytes(t.begin(), t.end());
    }
};

struct MemServer {
    explicit MemServer(Domain& d) : dom(d) {}
    Domain& dom;
    std::unique_ptr<ServerSession> session;
    Bytes out;  // what the server said and the wallet has not read yet
    void* seen_ctx = nullptr;
    bool foreign_ctx = false;  // a callback got a ctx not its own
    int connects = 0, closes = 0, sends = 0;
    std::string last_server, last_server_name, last_trust;
    std::uint32_t last_timeout = 0;
    int fail_connect = IRP_WALLET_OK, fail_send = IRP_WALLET_OK, fail_receive = IRP_WALLET_OK;
    std::size_t binding_size = 32;
    std::string error = "the network said no";

    static Bytes binding() { return Bytes(32, 0x5a); }
};

MemServer& srv(void* ctx) {
    auto* s = static_cast<MemServer*>(ctx);
    s->seen_ctx = ctx;
    return *s;
}

int mem_connect(void* ctx, const irp_wallet_connect_info_t* info) {
    auto& s = srv(ctx);
    s.last_server = info->server;
    s.last_server_name = info->server_name;
    s.last_trust.assign(info->trust_pem, info->trust_pem_len);
    s.last_timeout = info->timeout_ms;
    if (s.fail_connect != IRP_WALLET_OK) return s.fail_connect;
    ++s.connects;
    ServerSessionConfig c;
    c.domain = s.dom.d.material().domain;
    c.ca_chain = {s.dom.d.material().ca_der, s.dom.d.material().root_der};
    c.key_algorithms = {KeyAlgorithm::ecdsa_p256, KeyAlgorithm::ed25519};
    s.session = std::make_unique<ServerSession>(std::move(c), *s.dom.server_rng, MemServer::binding(), Time{0});
    s.out.clear();
    return IRP_WALLET_OK;
}

int mem_send(void* ctx, const std::uint8_t* data, std::size_t len) {
    auto& s = srv(ctx);
    ++s.sends;
    if (s.fail_send != IRP_WALLET_OK) return s.fail_send;
    if (!s.session || s.session->finished()) return IRP_WALLET_E_NETWORK;
    s.session->receive(ByteView(data, len), Time{0});
    while (auto ev = s.session->poll_event()) {
        if (auto* req = std::get_if<RequestReceived>(&*ev)) {
            (void)s.session->answer(s.dom.svc.on_request(*req, kPeer), Time{0});
        } else if (auto* rep = std::get_if<InstallReported>(&*ev)) {
            (void)s.session->acknowledge_install(s.dom.svc.on_install_report(*rep, kPeer), Time{0});
        } else if (auto* rej = std::get_if<RequestRejected>(&*ev)) {
            s.dom.svc.on_rejected(*rej, kPeer);
        } else if (auto* fail = std::get_if<SessionFailed>(&*ev)) {
            s.dom.svc.on_failure(fail->error, kPeer);
        }
    }
    const Bytes o = s.session->take_output();
    s.out.insert(s.out.end(), o.begin(), o.end());
    return IRP_WALLET_OK;
}

// Hands the wallet at most 100 bytes at a time: frames arrive in pieces.
int mem_receive(void* ctx, std::uint8_t* buf, std::size_t cap, std::size_t* received, std::uint32_t) {
    auto& s = srv(ctx);
    if (s.fail_receive != IRP_WALLET_OK) return s.fail_receive;
    if (s.out.empty()) return IRP_WALLET_E_NETWORK;  // it has closed, or waits for us
    const std::size_t n = std::min({cap, s.out.size(), std::size_t{100}});
    std::memcpy(buf, s.out.data(), n);
    s.out.erase(s.out.begin(), s.out.begin() + static_cast<std::ptrdiff_t>(n));
    *received = n;
    return IRP_WALLET_OK;
}

int mem_binding(void* ctx, std::uint8_t* buf, std::size_t cap, std::size_t* len) {
    auto& s = srv(ctx);
    const Bytes b = MemServer::binding();
    if (cap < s.binding_size) return IRP_WALLET_E_BUFFER;
    std::memcpy(buf, b.data(), std::min(b.size(), s.binding_size));
    *len = s.binding_size;
    return IRP_WALLET_OK;
}

void mem_close(void* ctx) {
    auto& s = srv(ctx);
    ++s.closes;
    s.session.reset();
}

const char* mem_transport_error(void* ctx) { return srv(ctx).error.c_str(); }

// ---- storage: slots in RAM, with failures on request ----

struct MemFlash {
    std::map<int, Bytes> slots;
    void* seen_ctx = nullptr;
    int fail_save_slot = 0, fail_load_slot = 0;  // that slot's save / load fails
    bool lie_about_length = false;               // load claims more than it wrote
    std::size_t pad_credentials = 0;             // newlines appended when loading CREDENTIALS
    int loads = 0, saves = 0, erases = 0, wipes = 0;
    irp_wallet_t* reenter = nullptr;  // load calls irp_wallet_renew on this handle
    int reentered_status = 1;
    std::string error = "the flash is worn out";

    std::string text(int slot) const {
        auto it = slots.find(slot);
        return it == slots.end() ? "" : std::string(it->second.begin(), it->second.end());
    }
};

MemFlash& fl(void* ctx) {
    auto* f = static_cast<MemFlash*>(ctx);
    f->seen_ctx = ctx;
    return *f;
}

int flash_save(void* ctx, int slot, const std::uint8_t* data, std::size_t len) {
    auto& f = fl(ctx);
    ++f.saves;
    if (slot == f.fail_save_slot) return IRP_WALLET_E_STORAGE;
    f.slots[slot] = Bytes(data, data + len);
    return IRP_WALLET_OK;
}

int flash_load(void* ctx, int slot, std::uint8_t* buf, std::size_t cap, std::size_t* len) {
    auto& f = fl(ctx);
    ++f.loads;
    if (f.reenter) f.reentered_status = irp_wallet_renew(f.reenter, nullptr, nullptr);
    if (slot == f.fail_load_slot) return IRP_WALLET_E_STORAGE;
    auto it = f.slots.find(slot);
    if (it == f.slots.end()) return IRP_WALLET_E_NOT_FOUND;
    Bytes b = it->second;
    if (slot == IRP_WALLET_SLOT_CREDENTIALS) b.insert(b.end(), f.pad_credentials, '\n');
    if (f.lie_about_length) {
        *len = cap + 1;
        return IRP_WALLET_OK;
    }
    *len = b.size();
    if (b.size() > cap) return IRP_WALLET_E_BUFFER;
    if (!b.empty()) std::memcpy(buf, b.data(), b.size());
    return IRP_WALLET_OK;
}

int flash_erase(void* ctx, int slot) {
    auto& f = fl(ctx);
    ++f.erases;
    f.slots.erase(slot);
    return IRP_WALLET_OK;
}

const char* flash_error(void* ctx) { return fl(ctx).error.c_str(); }

// ---- clock and entropy ----

struct Hw {
    std::uint64_t mono_ms = 1000;
    std::uint64_t step_ms = 0;  // added at every monotonic read
    std::int64_t unix_s = kNow;
    std::unique_ptr<crypto::Random> rng = crypto::deterministic_random(52);
    long fills_left = -1;  // >= 0: that many fills succeed, then they fail
    void* clock_ctx_seen = nullptr;
    void* entropy_ctx_seen = nullptr;
};

std::uint64_t hw_mono(void* ctx) {
    auto& h = *static_cast<Hw*>(ctx);
    h.clock_ctx_seen = ctx;
    h.mono_ms += h.step_ms;
    return h.mono_ms;
}
std::int64_t hw_unix(void* ctx) {
    auto& h = *static_cast<Hw*>(ctx);
    h.clock_ctx_seen = ctx;
    return h.unix_s;
}
int hw_fill(void* ctx, std::uint8_t* buf, std::size_t len) {
    auto& h = *static_cast<Hw*>(ctx);
    h.entropy_ctx_seen = ctx;
    if (h.fills_left == 0) return IRP_WALLET_E_ENTROPY;
    if (h.fills_left > 0) --h.fills_left;
    h.rng->fill(std::span<std::uint8_t>(buf, len));
    return IRP_WALLET_OK;
}

// ---- one device: a handle over those callbacks ----

struct Device {
    Domain& dom;
    MemServer server{dom};
    MemFlash flash;
    Hw clock;  // the clock's ctx
    Hw entropy;  // the entropy's ctx (a separate object: each group has its own ctx)
    std::string trust = dom.root_pem();
    irp_wallet_callbacks_t cb{};
    irp_wallet_options_t opts{};
    irp_wallet_t* w = nullptr;

    explicit Device(Domain& d) : dom(d) {
        cb.struct_size = sizeof cb;
        cb.transport_ctx = &server;
        cb.connect = mem_connect;
        cb.send = mem_send;
        cb.receive = mem_receive;
        cb.channel_binding = mem_binding;
        cb.close = mem_close;
        cb.transport_error = mem_transport_error;
        cb.storage_ctx = &flash;
        cb.save = flash_save;
        cb.load = flash_load;
        cb.erase = flash_erase;
        cb.storage_error = flash_error;
        cb.clock_ctx = &clock;
        cb.monotonic_ms = hw_mono;
        cb.unix_seconds = hw_unix;
        cb.entropy_ctx = &entropy;
        cb.fill = hw_fill;
        opts.struct_size = sizeof opts;
        opts.server = "ca.capi.test:4604";
        opts.trust_pem = trust.c_str();
    }
    ~Device() { irp_wallet_free(w); }

    void open() { REQUIRE(irp_wallet_new(&opts, &cb, &w) == IRP_WALLET_OK); }

    int enroll(const std::string& id, const irp_wallet_outcome_t** out, Bytes token = {}) {
        if (token.empty()) token = dom.token(id);
        irp_wallet_enroll_params_t p{};
        p.struct_size = sizeof p;
        p.device_id = id.c_str();
        p.token = token.data();
        p.token_len = token.size();
        return irp_wallet_enroll(w, &p, out);
    }
};

std::string message(const irp_wallet_outcome_t* o) {
    char buf[1100];
    irp_wallet_outcome_message(o, buf, sizeof buf);
    return buf;
}

std::string serial(const irp_wallet_outcome_t* o) {
    char buf[64];
    irp_wallet_outcome_serial(o, buf, sizeof buf);
    return buf;
}

// The certificate (leaf) in a CREDENTIALS slot.
crypto::CertInfo slot_leaf(const std::string& text) {
    auto certs = crypto::pem_blocks(text, "CERTIFICATE");
    REQUIRE(certs.ok());
    REQUIRE_FALSE(certs->empty());
    auto info = crypto::parse_certificate(certs->front());
    REQUIRE(info.ok());
    return std::move(info.value());
}

}  // namespace

TEST_CASE("capi: NULL arguments are refused, never dereferenced") {
    Domain dom;
    Device dev(dom);
    irp_wallet_t* w = reinterpret_cast<irp_wallet_t*>(0x1);
    CHECK(irp_wallet_new(nullptr, &dev.cb, &w) == IRP_WALLET_E_INVALID);
    CHECK(w == nullptr);
    CHECK(irp_wallet_new(&dev.opts, nullptr, &w) == IRP_WALLET_E_INVALID);
    CHECK(irp_wallet_new(&dev.opts, &dev.cb, nullptr) == IRP_WALLET_E_INVALID);
    irp_wallet_free(nullptr);

    const irp_wallet_outcome_t* out = reinterpret_cast<const irp_wallet_outcome_t*>(0x1);
    CHECK(irp_wallet_enroll(nullptr, nullptr, &out) == IRP_WALLET_E_INVALID);
    CHECK(out == nullptr);
    CHECK(irp_wallet_renew(nullptr, nullptr, nullptr) == IRP_WALLET_E_INVALID);
    CHECK(irp_wallet_check_in(nullptr, nullptr, nullptr) == IRP_WALLET_E_INVALID);
    CHECK(irp_wallet_last_outcome(nullptr) == nullptr);

    // Accessors take NULL and answer "nothing".
    char buf[8] = "xxxxxxx";
    CHECK(irp_wallet_outcome_kind(nullptr) == IRP_WALLET_OUTCOME_NONE);
    CHECK(irp_wallet_outcome_code(nullptr) == 0u);
    CHECK(irp_wallet_outcome_message(nullptr, buf, sizeof buf) == 0u);
    CHECK(std::string(buf).empty());
    CHECK(irp_wallet_outcome_serial(nullptr, nullptr, 0) == 0u);
    CHECK(irp_wallet_outcome_retry_after(nullptr) == 0u);

    // A required callback or option missing.
    for (int missing = 0; missing < 11; ++missing) {
        irp_wallet_callbacks_t cb = dev.cb;
        switch (missing) {
            case 0: cb.connect = nullptr; break;
            case 1: cb.send = nullptr; break;
            case 2: cb.receive = nullptr; break;
            case 3: cb.channel_binding = nullptr; break;
            case 4: cb.close = nullptr; break;
            case 5: cb.save = nullptr; break;
            case 6: cb.load = nullptr; break;
            case 7: cb.erase = nullptr; break;
            case 8: cb.monotonic_ms = nullptr; break;
            case 9: cb.unix_seconds = nullptr; break;
            case 10: cb.fill = nullptr; break;
        }
        CHECK_MESSAGE(irp_wallet_new(&dev.opts, &cb, &w) == IRP_WALLET_E_INVALID, "callback #" << missing);
        CHECK(w == nullptr);
    }
    {
        irp_wallet_callbacks_t cb = dev.cb;
        cb.wipe = nullptr;  // optional
        cb.transport_error = nullptr;
        cb.storage_error = nullptr;
        REQUIRE(irp_wallet_new(&dev.opts, &cb, &w) == IRP_WALLET_OK);
        irp_wallet_free(w);
    }
    irp_wallet_options_t o = dev.opts;
    o.server = nullptr;
    CHECK(irp_wallet_new(&o, &dev.cb, &w) == IRP_WALLET_E_INVALID);
    o = dev.opts;
    o.trust_pem = nullptr;
    CHECK(irp_wallet_new(&o, &dev.cb, &w) == IRP_WALLET_E_INVALID);
    o.trust_pem = "not a certificate";
    CHECK(irp_wallet_new(&o, &dev.cb, &w) == IRP_WALLET_E_INVALID);

    // Enroll parameters that are absent or wrong: refused before any I/O.
    dev.open();
    CHECK(irp_wallet_enroll(dev.w, nullptr, &out) == IRP_WALLET_E_INVALID);
    CHECK(out == irp_wallet_last_outcome(dev.w));
    CHECK(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_ERROR);
    CHECK(irp_wallet_outcome_code(out) == 400u);
    irp_wallet_enroll_params_t p{};
    p.struct_size = sizeof p;
    CHECK(irp_wallet_enroll(dev.w, &p, &out) == IRP_WALLET_E_INVALID);  // no device id
    p.device_id = "../etc";
    CHECK(irp_wallet_enroll(dev.w, &p, &out) == IRP_WALLET_E_INVALID);
    CHECK(message(out).find("device id") != std::string::npos);
    p.device_id = "ok-1";
    const std::uint8_t short_token[31] = {};
    p.token = short_token;
    p.token_len = sizeof short_token;
    CHECK(irp_wallet_enroll(dev.w, &p, &out) == IRP_WALLET_E_INVALID);
    p.token = nullptr;
    p.token_len = 32;
    CHECK(irp_wallet_enroll(dev.w, &p, &out) == IRP_WALLET_E_INVALID);
    p.token_len = 0;
    p.key_algorithm = 9;
    CHECK(irp_wallet_enroll(dev.w, &p, &out) == IRP_WALLET_E_INVALID);
    CHECK(dev.server.connects == 0);
    CHECK(dev.flash.loads == 0);

    irp_wallet_callbacks_t none{};
    CHECK(irp_wallet_posix_defaults(nullptr, IRP_WALLET_POSIX_ALL, "/tmp/x", nullptr) == IRP_WALLET_E_INVALID);
    irp_wallet_posix_t* ps = nullptr;
    none.struct_size = sizeof none;
    CHECK(irp_wallet_posix_defaults(&none, IRP_WALLET_POSIX_STORAGE, nullptr, &ps) == IRP_WALLET_E_INVALID);
    CHECK(irp_wallet_posix_defaults(&none, 0x100, "/tmp/x", &ps) == IRP_WALLET_E_INVALID);
    CHECK(ps == nullptr);
    irp_wallet_posix_free(nullptr);
}

TEST_CASE("capi: a struct_size the library does not know is refused, not read past") {
    Domain dom;
    Device dev(dom);
    irp_wallet_t* w = nullptr;
    for (std::size_t size : {std::size_t{0}, std::size_t{1}, sizeof(size_t), sizeof(irp_wallet_options_t) - 1}) {
        irp_wallet_options_t o = dev.opts;
        o.struct_size = size;
        CHECK_MESSAGE(irp_wallet_new(&o, &dev.cb, &w) == IRP_WALLET_E_VERSION, "options size " << size);
        irp_wallet_callbacks_t c = dev.cb;
        c.struct_size = size;
        CHECK_MESSAGE(irp_wallet_new(&dev.opts, &c, &w) == IRP_WALLET_E_VERSION, "callbacks size " << size);
    }
    CHECK(w == nullptr);

    // A newer caller's larger struct: accepted while its extra tail is zero.
    struct Newer {
        irp_wallet_options_t o;
        std::uint64_t added_later;
    } newer{};
    newer.o = dev.opts;
    newer.o.struct_size = sizeof newer;
    CHECK(irp_wallet_new(&newer.o, &dev.cb, &w) == IRP_WALLET_OK);
    irp_wallet_free(w);
    w = nullptr;
    newer.added_later = 7;
    CHECK(irp_wallet_new(&newer.o, &dev.cb, &w) == IRP_WALLET_E_VERSION);
    CHECK(w == nullptr);

    dev.open();
    const irp_wallet_outcome_t* out = nullptr;
    irp_wallet_enroll_params_t p{};
    p.struct_size = 4;
    p.device_id = "ok-1";
    CHECK(irp_wallet_enroll(dev.w, &p, &out) == IRP_WALLET_E_VERSION);
    CHECK(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_ERROR);
    irp_wallet_renew_params_t rp{};
    rp.struct_size = 1;
    CHECK(irp_wallet_renew(dev.w, &rp, &out) == IRP_WALLET_E_VERSION);
    irp_wallet_check_in_params_t cp{};
    cp.struct_size = sizeof cp - 1;
    CHECK(irp_wallet_check_in(dev.w, &cp, &out) == IRP_WALLET_E_VERSION);
    CHECK(dev.server.connects == 0);

    irp_wallet_callbacks_t small{};
    small.struct_size = 8;
    irp_wallet_posix_t* ps = nullptr;
    CHECK(irp_wallet_posix_defaults(&small, IRP_WALLET_POSIX_CLOCK, nullptr, &ps) == IRP_WALLET_E_VERSION);
    CHECK(ps == nullptr);
    CHECK(irp_wallet_api_version() == IRP_WALLET_API_VERSION);
}

TEST_CASE("capi: enroll, renew, check in and reset through C callbacks, each with its own ctx") {
    Domain dom;
    Device dev(dom);
    dev.open();
    const irp_wallet_outcome_t* out = nullptr;

    REQUIRE(dev.enroll("meter-1", &out) == IRP_WALLET_OK);
    REQUIRE_MESSAGE(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_INSTALLED, message(out));
    CHECK(irp_wallet_outcome_install_confirmed(out) == 1);
    CHECK(irp_wallet_outcome_code(out) == 0u);
    char req[80];
    CHECK(irp_wallet_outcome_request_id(out, req, sizeof req) > 0u);
    // What the transport was told.
    CHECK(dev.server.last_server == "ca.capi.test:4604");
    CHECK(dev.server.last_server_name == "ca.capi.test");
    CHECK(dev.server.last_trust == dev.trust);
    CHECK(dev.server.last_timeout == 30'000u);
    CHECK(dev.server.connects == 1);
    CHECK(dev.server.closes == 1);
    // Every group got its own ctx.
    CHECK(dev.server.seen_ctx == &dev.server);
    CHECK(dev.flash.seen_ctx == &dev.flash);
    CHECK(dev.clock.clock_ctx_seen == &dev.clock);
    CHECK(dev.entropy.entropy_ctx_seen == &dev.entropy);
    CHECK(dev.clock.entropy_ctx_seen == nullptr);
    CHECK(dev.entropy.clock_ctx_seen == nullptr);

    // The credentials slot: key, then leaf and chain, PEM; the leaf is the one reported.
    const std::string creds = dev.flash.text(IRP_WALLET_SLOT_CREDENTIALS);
    CHECK(creds.starts_with("-----BEGIN PRIVATE KEY-----"));
    auto certs = crypto::pem_blocks(creds, "CERTIFICATE");
    REQUIRE(certs.ok());
    REQUIRE(certs->size() == 3);
    const auto leaf = slot_leaf(creds);
    CHECK(leaf.subject_cn == "meter-1");
    CHECK(serial(out) == to_hex(leaf.serial));
    CHECK(irp_wallet_outcome_not_after(out) == leaf.not_after);
    CHECK(crypto::verify_chain(certs->front(), {(*certs)[1]}, {dom.d.material().root_der}, kNow,
                               crypto::Usage::tls_client)
              .ok());
    // The C++ wallet reads the same slot back.
    const std::string first_serial = serial(out);

    // Text accessors cut like snprintf and say the full length.
    char tiny[4];
    const std::size_t full = irp_wallet_outcome_serial(out, tiny, sizeof tiny);
    CHECK(full == first_serial.size());
    CHECK(std::string(tiny) == first_serial.substr(0, 3));

    SUBCASE("renew: a new key and serial in the same slot") {
        REQUIRE(irp_wallet_renew(dev.w, nullptr, &out) == IRP_WALLET_OK);
        REQUIRE_MESSAGE(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_INSTALLED, message(out));
        CHECK(serial(out) != first_serial);
        const std::string renewed = dev.flash.text(IRP_WALLET_SLOT_CREDENTIALS);
        CHECK(to_hex(slot_leaf(renewed).serial) == serial(out));
        CHECK(renewed.substr(0, 200) != creds.substr(0, 200));  // a new key
        CHECK(dev.server.closes == 2);
    }

    SUBCASE("check in: the CRL is stored; revoked: the next check-in resets and erases every slot") {
        irp_wallet_check_in_params_t p{};
        p.struct_size = sizeof p;
        dom.now += 60;
        REQUIRE(irp_wallet_check_in(dev.w, &p, &out) == IRP_WALLET_OK);
        REQUIRE_MESSAGE(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_CHECKED_IN, message(out));
        CHECK(irp_wallet_outcome_next_check_in(out) > 0u);
        CHECK(irp_wallet_outcome_crl_stored(out) == 1);
        CHECK(irp_wallet_outcome_crl_number(out) == 1);
        CHECK(irp_wallet_outcome_crl_refused(out) == 0u);
        auto served = dom.rev.crl();
        REQUIRE(served.ok());
        CHECK(dev.flash.slots[IRP_WALLET_SLOT_CRL] == *served);

        const std::string hex = to_hex(leaf.serial);
        REQUIRE(dom.d.store().revoke(hex, 1, dom.now, server::AuditEvent{dom.now, "admin", "revoke", "meter-1", hex, "", ""}).ok());
        dom.now += 60;
        const int erases = dev.flash.erases;
        REQUIRE(irp_wallet_check_in(dev.w, nullptr, &out) == IRP_WALLET_OK);
        CHECK(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_RESET);
        CHECK(irp_wallet_outcome_code(out) == static_cast<std::uint32_t>(Code::certificate_not_active));
        CHECK(dev.flash.slots.empty());
        CHECK(dev.flash.erases - erases == 3);  // no wipe callback: PENDING, CREDENTIALS, CRL one by one

        // Nothing left to renew: said before any connection.
        const int connects = dev.server.connects;
        CHECK(irp_wallet_renew(dev.w, nullptr, &out) == IRP_WALLET_E_NOT_FOUND);
        CHECK(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_ERROR);
        CHECK(irp_wallet_outcome_code(out) == 401u);
        CHECK(dev.server.connects == connects);
    }

    SUBCASE("a wrong token: rejected with 200, nothing stored") {
        Device other(dom);
        other.open();
        REQUIRE(other.enroll("meter-2", &out, dom.token("meter-3")) == IRP_WALLET_OK);
        CHECK(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_REJECTED);
        CHECK(irp_wallet_outcome_code(out) == 200u);
        CHECK(std::string(irp_wallet_code_name(irp_wallet_outcome_code(out))) == "bad_token_proof");
        CHECK(other.flash.slots.empty());
    }
}

TEST_CASE("capi: a failing storage callback is a clean error") {
    Domain dom;
    Device dev(dom);
    dev.open();
    const irp_wallet_outcome_t* out = nullptr;

    SUBCASE("load fails before the exchange: no connection, IRP_WALLET_E_STORAGE, 401 and the callback's words") {
        dev.flash.fail_load_slot = IRP_WALLET_SLOT_PENDING;
        CHECK(dev.enroll("meter-5", &out) == IRP_WALLET_E_STORAGE);
        CHECK(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_ERROR);
        CHECK(irp_wallet_outcome_code(out) == 401u);
        CHECK(message(out).find("load(pending)") != std::string::npos);
        CHECK(message(out).find("the flash is worn out") != std::string::npos);
        CHECK(dev.server.connects == 0);
    }
    SUBCASE("the install (save of CREDENTIALS) fails: not installed, and the server is told 11") {
        dev.flash.fail_save_slot = IRP_WALLET_SLOT_CREDENTIALS;
        CHECK(dev.enroll("meter-5", &out) == IRP_WALLET_OK);
        CHECK(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_INVALID);
        CHECK(irp_wallet_outcome_install_status(out) == static_cast<std::uint32_t>(InstallStatus::storage_write_failed));
        CHECK(irp_wallet_outcome_code(out) == 401u);
        CHECK(dev.flash.slots.empty());
        CHECK(dev.server.closes == dev.server.connects);
    }
    SUBCASE("a slot that does not parse, a load that lies about its length") {
        dev.flash.slots[IRP_WALLET_SLOT_CREDENTIALS] = to_bytes("-----BEGIN PRIVATE KEY-----\nnot base64\n");
        CHECK(irp_wallet_renew(dev.w, nullptr, &out) == IRP_WALLET_E_STORAGE);
        CHECK(irp_wallet_outcome_code(out) == 401u);
        dev.flash.lie_about_length = true;
        CHECK(irp_wallet_check_in(dev.w, nullptr, &out) == IRP_WALLET_E_STORAGE);
        CHECK(message(out).find("load(credentials)") != std::string::npos);
        CHECK(dev.server.connects == 0);
    }
    SUBCASE("a slot larger than the first buffer is read again with the size the callback asked for") {
        REQUIRE(dev.enroll("meter-6", &out) == IRP_WALLET_OK);
        REQUIRE(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_INSTALLED);
        dev.flash.pad_credentials = 10'000;
        const int loads = dev.flash.loads;
        REQUIRE(irp_wallet_renew(dev.w, nullptr, &out) == IRP_WALLET_OK);
        CHECK_MESSAGE(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_INSTALLED, message(out));
        CHECK(dev.flash.loads - loads == 2);
        dev.flash.pad_credentials = 1 << 20;  // beyond what the wallet reads for credentials
        CHECK(irp_wallet_renew(dev.w, nullptr, &out) == IRP_WALLET_E_STORAGE);
    }
    SUBCASE("a callback that calls back into its handle gets IRP_WALLET_E_BUSY; the outer call goes on") {
        dev.flash.reenter = dev.w;
        REQUIRE(dev.enroll("meter-7", &out) == IRP_WALLET_OK);
        CHECK(dev.flash.reentered_status == IRP_WALLET_E_BUSY);
        CHECK(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_INSTALLED);
    }
}

TEST_CASE("capi: a failing transport callback is a clean error code") {
    Domain dom;
    Device dev(dom);
    dev.open();
    const irp_wallet_outcome_t* out = nullptr;

    SUBCASE("connect: TLS refused; the callback's sentence is in the message; nothing to close") {
        dev.server.fail_connect = IRP_WALLET_E_TLS;
        dev.server.error = "certificate not trusted";
        CHECK(dev.enroll("meter-8", &out) == IRP_WALLET_E_TLS);
        CHECK(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_ERROR);
        CHECK(irp_wallet_outcome_code(out) == 109u);
        CHECK(message(out).find("certificate not trusted") != std::string::npos);
        CHECK(message(out).find("ca.capi.test:4604") != std::string::npos);
        CHECK(dev.server.closes == 0);
    }
    SUBCASE("connect: timeout, and an unknown status counts as network") {
        dev.server.fail_connect = IRP_WALLET_E_TIMEOUT;
        CHECK(dev.enroll("meter-8", &out) == IRP_WALLET_E_TIMEOUT);
        CHECK(irp_wallet_outcome_code(out) == 107u);
        dev.server.fail_connect = -12345;
        CHECK(dev.enroll("meter-8", &out) == IRP_WALLET_E_NETWORK);
        CHECK(irp_wallet_outcome_code(out) == 108u);
    }
    SUBCASE("send fails: network error, the connection is closed") {
        dev.server.fail_send = IRP_WALLET_E_NETWORK;
        CHECK(dev.enroll("meter-8", &out) == IRP_WALLET_E_NETWORK);
        CHECK(irp_wallet_outcome_code(out) == 108u);
        CHECK(dev.server.closes == 1);
        CHECK(dev.flash.slots.empty());
    }
    SUBCASE("receive never brings anything: the exchange's deadline ends it") {
        dev.server.fail_receive = IRP_WALLET_E_TIMEOUT;
        dev.clock.step_ms = 1000;  // time passes at every look at the clock
        CHECK(dev.enroll("meter-8", &out) == IRP_WALLET_E_TIMEOUT);
        CHECK(irp_wallet_outcome_code(out) == 107u);
        CHECK(dev.server.closes == 1);
    }
    SUBCASE("a channel binding of the wrong length") {
        dev.server.binding_size = 16;
        CHECK(dev.enroll("meter-8", &out) == IRP_WALLET_E_TLS);
        CHECK(message(out).find("16 bytes") != std::string::npos);
        CHECK(dev.server.closes == 1);
    }
    // The handle is fine afterwards.
    dev.server.fail_connect = dev.server.fail_send = dev.server.fail_receive = IRP_WALLET_OK;
    dev.server.binding_size = 32;
    dev.clock.step_ms = 0;
    CHECK(dev.enroll("meter-9", &out) == IRP_WALLET_OK);
    CHECK(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_INSTALLED);
}

TEST_CASE("capi: failing entropy generates nothing") {
    Domain dom;
    Device dev(dom);
    dev.open();
    const irp_wallet_outcome_t* out = nullptr;
    // The n-th fill fails, for every n an enrollment reaches: the nonce,
    // the key, the CSR's signature...
    int failures = 0;
    for (long good = 0; good < 100; ++good) {
        CAPTURE(good);
        dev.entropy.fills_left = good;
        const int rc = dev.enroll("meter-10", &out);
        if (rc == IRP_WALLET_OK) break;
        ++failures;
        CHECK(rc == IRP_WALLET_E_ENTROPY);
        CHECK(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_ERROR);
        CHECK(message(out).find("entropy") != std::string::npos);
        CHECK(dev.flash.slots.empty());
        CHECK(dev.server.closes == dev.server.connects);
    }
    CHECK(failures >= 2);
    CHECK(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_INSTALLED);
    dev.entropy.fills_left = -1;
    CHECK(dev.enroll("meter-10", &out) == IRP_WALLET_OK);
    CHECK(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_INSTALLED);
}

#ifdef IRP_CAPI_TEST_NOMEM
TEST_CASE("capi: an allocation failure is IRP_WALLET_E_NOMEM, and the handle still works") {
    Domain dom;
    Device dev(dom);
    dev.open();
    const irp_wallet_outcome_t* out = nullptr;
    const Bytes token = dom.token("meter-11");
    irp_wallet_enroll_params_t p{};
    p.struct_size = sizeof p;
    p.device_id = "meter-11";
    p.token = token.data();
    p.token_len = token.size();
    g_fail_allocation = 0;
    const int rc = irp_wallet_enroll(dev.w, &p, &out);
    g_fail_allocation = -1;
    CHECK(rc == IRP_WALLET_E_NOMEM);
    CHECK(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_ERROR);
    CHECK(message(out) == "out of memory");

    irp_wallet_t* w = nullptr;
    g_fail_allocation = 0;
    const int rc_new = irp_wallet_new(&dev.opts, &dev.cb, &w);
    g_fail_allocation = -1;
    CHECK(rc_new == IRP_WALLET_E_NOMEM);
    CHECK(w == nullptr);

    CHECK(irp_wallet_enroll(dev.w, &p, &out) == IRP_WALLET_OK);
    CHECK(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_INSTALLED);
}
#endif

TEST_CASE("capi: the POSIX storage default keeps idwallet's directory layout") {
    Domain dom;
    Device dev(dom);
    TempDir tmp;
    const std::string dir = tmp / "store";
    irp_wallet_posix_t* ps = nullptr;
    REQUIRE(irp_wallet_posix_defaults(&dev.cb, IRP_WALLET_POSIX_STORAGE | IRP_WALLET_POSIX_ENTROPY, dir.c_str(), &ps) ==
            IRP_WALLET_OK);
    REQUIRE(ps != nullptr);
    CHECK(dev.cb.storage_ctx == ps);
    CHECK(static_cast<bool>(dev.cb.wipe));
    CHECK(dev.cb.entropy_ctx == ps);
    CHECK(dev.cb.transport_ctx == &dev.server);  // the groups not asked for are left alone
    CHECK(dev.cb.clock_ctx == &dev.clock);
    dev.open();
    const irp_wallet_outcome_t* out = nullptr;
    REQUIRE(dev.enroll("meter-12", &out) == IRP_WALLET_OK);
    REQUIRE_MESSAGE(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_INSTALLED, message(out));

    // What idwallet (show, renew) reads.
    auto store = wallet::open_directory_storage(dir);
    auto creds = store->load();
    REQUIRE(creds.ok());
    REQUIRE(creds->has_value());
    auto info = crypto::parse_certificate((*creds)->certificate);
    REQUIRE(info.ok());
    CHECK(to_hex(info->serial) == serial(out));
    CHECK(irp_test::file_mode(dir + "/device.key") == 0600);

    dom.now += 60;
    REQUIRE(irp_wallet_check_in(dev.w, nullptr, &out) == IRP_WALLET_OK);
    REQUIRE_MESSAGE(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_CHECKED_IN, message(out));
    CHECK(irp_wallet_outcome_crl_stored(out) == 1);
    CHECK(irp_test::file_mode(dir + "/crl.der") != -1);
    const std::string hex = to_hex(info->serial);
    REQUIRE(dom.d.store().revoke(hex, 1, dom.now, server::AuditEvent{dom.now, "admin", "revoke", "meter-12", hex, "", ""}).ok());
    REQUIRE(irp_wallet_check_in(dev.w, nullptr, &out) == IRP_WALLET_OK);
    CHECK(irp_wallet_outcome_kind(out) == IRP_WALLET_OUTCOME_RESET);
    CHECK(irp_test::file_mode(dir + "/device.key") == -1);
    CHECK(irp_test::file_mode(dir + "/device.crt") == -1);
    CHECK(irp_test::file_mode(dir + "/crl.der") == -1);

    irp_wallet_free(dev.w);
    dev.w = nullptr;
    irp_wallet_posix_free(ps);
}
