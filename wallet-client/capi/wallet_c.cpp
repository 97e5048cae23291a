// The C API (include/irp/wallet.h) over the C++ wallet core: adapters from
// the caller's C callbacks to wallet::Transport, wallet::Storage,
// wallet::Clock and crypto::Random, and a catch-everything wrapper around
// every entry point so that no exception crosses into C.
#include "irp/wallet.h"

#include <algorithm>
#include <cstring>
#include <limits>
#include <new>
#include <optional>
#include <stdexcept>
#include <string>
#include <vector>

#include "blob.hpp"
#include "idwallet.hpp"
#include "irp/core/transcript.hpp"
#include "irp/crypto/revocation.hpp"
#include "irp/crypto/tls.hpp"

using namespace irp;

struct irp_wallet_outcome {
    int kind = IRP_WALLET_OUTCOME_NONE;
    std::uint32_t code = 0;
    char message[bounds::kMaxText + 1] = {};
    char request_id[bounds::kMaxRequestId + 1] = {};
    std::uint32_t retry_after = 0;
    char serial[2 * bounds::kMaxSerial + 1] = {};
    std::int64_t not_after = 0;
    int install_confirmed = 0;
    std::uint32_t install_status = 0;
    char redirect_server[260] = {};
    char redirect_domain[254] = {};
    std::uint32_t next_check_in = 0;
    int renew_now = 0;
    int crl_stored = 0;
    std::int64_t crl_number = 0;
    std::uint32_t crl_refused = 0;
};

struct irp_wallet {
    irp_wallet_callbacks_t cb{};
    std::string server;
    std::string server_name;
    std::string trust_pem;
    std::vector<Bytes> roots;
    std::uint32_t timeout_ms = 30'000;
    std::uint32_t max_frame_bytes = 0;
    irp_wallet_outcome outcome;
    bool busy = false;
};

namespace {

// ---- small helpers (none of them throws) ---------------------------------

template <std::size_t N>
void put(char (&dst)[N], std::string_view s) noexcept {
    const std::size_t n = std::min(s.size(), N - 1);
    std::memcpy(dst, s.data(), n);
    dst[n] = '\0';
}

std::size_t copy_out(const char* s, char* buf, std::size_t cap) noexcept {
    const std::size_t len = std::strlen(s);
    if (buf && cap > 0) {
        const std::size_t n = std::min(len, cap - 1);
        std::memcpy(buf, s, n);
        buf[n] = '\0';
    }
    return len;
}

// The size of a struct's first version: its members up to and including
// `last`. Later versions append, so this stays what version 1 callers pass
// at least.
#define IRP_V1_SIZE(type, last) (offsetof(type, last) + sizeof(static_cast<type*>(nullptr)->last))

// Copies a caller's versioned struct (see "Versions" in wallet.h): at least
// the first version, members past the caller's size zero, and an unknown
// tail only if it is all zero.
template <typename T>
int read_struct(const T* in, std::size_t v1_size, T& out) noexcept {
    if (!in) return IRP_WALLET_E_INVALID;
    const std::size_t given = in->struct_size;
    if (given < v1_size) return IRP_WALLET_E_VERSION;
    std::memset(static_cast<void*>(&out), 0, sizeof out);
    std::memcpy(static_cast<void*>(&out), in, std::min(given, sizeof(T)));
    const auto* tail = reinterpret_cast<const unsigned char*>(in);
    for (std::size_t i = sizeof(T); i < given; ++i)
        if (tail[i] != 0) return IRP_WALLET_E_VERSION;
    return IRP_WALLET_OK;
}

const char* slot_name(int slot) noexcept {
    switch (slot) {
        case IRP_WALLET_SLOT_CREDENTIALS: return "credentials";
        case IRP_WALLET_SLOT_PENDING: return "pending";
        case IRP_WALLET_SLOT_CRL: return "crl";
    }
    return "?";
}

int fail(irp_wallet& w, int status, Code code, std::string_view message) noexcept {
    w.outcome = irp_wallet_outcome{};
    w.outcome.kind = IRP_WALLET_OUTCOME_ERROR;
    w.outcome.code = static_cast<std::uint32_t>(code);
    put(w.outcome.message, message);
    return status;
}

// The entropy callback failed: thrown from Random::fill so that nothing is
// generated from the bytes it did not give. The crypto layer may turn it
// into an error result on its way; CbRandom remembers it either way.
struct EntropyFailure : std::runtime_error {
    EntropyFailure() : std::runtime_error("the entropy callback failed") {}
};

// What one exchange learned about its callbacks, for the status it returns.
struct CallState {
    bool nothing_installed = false;  // the credentials slot was empty
};

std::string callback_failure(const char* what, int rc, const char* (*describe)(void*), void* ctx) {
    std::string m = std::string(what) + " failed (" + irp_wallet_status_name(rc) + ")";
    if (describe)
        if (const char* d = describe(ctx); d && *d) m += std::string(": ") + d;
    return m;
}

// ---- the adapters ----------------------------------------------------------

class CbTransport final : public wallet::Transport {
public:
    CbTransport(const irp_wallet_callbacks_t& cb, const irp_wallet_connect_info_t& info) : cb_(cb), info_(info) {}
    ~CbTransport() override {
        if (open_) cb_.close(cb_.transport_ctx);
    }
    CbTransport(const CbTransport&) = delete;
    CbTransport& operator=(const CbTransport&) = delete;

    // The wallet asks for the binding first, after reading its storage: the
    // connection is opened here, so that a wallet with nothing to renew
    // never connects. A failure is kept and returned by the first send.
    Bytes channel_binding() override {
        if (!tried_) connect();
        return binding_;
    }

    Result<void> send(ByteView d) override {
        if (!tried_) connect();
        if (connect_error_) return *connect_error_;
        if (const int rc = cb_.send(cb_.transport_ctx, d.data(), d.size()); rc != IRP_WALLET_OK)
            return failure("the transport's send", rc);
        return {};
    }

    Result<Bytes> receive(Time timeout) override {
        if (!tried_) connect();
        if (connect_error_) return *connect_error_;
        const auto ms = static_cast<std::uint32_t>(
            std::clamp<std::int64_t>(timeout.count(), 0, std::numeric_limits<std::uint32_t>::max()));
        if (buf_.empty()) buf_.resize(kReceiveChunk);
        std::size_t n = 0;
        if (const int rc = cb_.receive(cb_.transport_ctx, buf_.data(), buf_.size(), &n, ms); rc != IRP_WALLET_OK)
            return failure("the transport's receive", rc);
        if (n == 0 || n > buf_.size())
            return make_error(Code::connection_closed, "the transport's receive returned " + std::to_string(n) +
                                                           " bytes for a buffer of " + std::to_string(buf_.size()));
        return Bytes(buf_.begin(), buf_.begin() + static_cast<std::ptrdiff_t>(n));
    }

private:
    static constexpr std::size_t kReceiveChunk = 4096;

    Error failure(const char* what, int rc) const {
        const Code code = rc == IRP_WALLET_E_TIMEOUT ? Code::deadline_exceeded
                          : rc == IRP_WALLET_E_TLS   ? Code::tls_failure
                                                     : Code::connection_closed;
        return make_error(code, callback_failure(what, rc, cb_.transport_error, cb_.transport_ctx));
    }

    void connect() {
        tried_ = true;
        if (const int rc = cb_.connect(cb_.transport_ctx, &info_); rc != IRP_WALLET_OK) {
            Error e = failure("the transport's connect", rc);
            e.message = "cannot reach " + std::string(info_.server) + ": " + e.message;
            connect_error_ = std::move(e);
            return;
        }
        open_ = true;
        std::uint8_t b[64];
        std::size_t len = 0;
        const int rc = cb_.channel_binding(cb_.transport_ctx, b, sizeof b, &len);
        if (rc != IRP_WALLET_OK || len != crypto::kChannelBindingSize) {
            connect_error_ = make_error(Code::tls_failure,
                                        rc != IRP_WALLET_OK
                                            ? callback_failure("the transport's channel_binding", rc, cb_.transport_error,
                                                               cb_.transport_ctx)
                                            : "the transport's channel_binding gave " + std::to_string(len) +
                                                  " bytes, not 32");
            return;
        }
        binding_.assign(b, b + len);
    }

    const irp_wallet_callbacks_t& cb_;
    const irp_wallet_connect_info_t& info_;
    bool tried_ = false;
    bool open_ = false;
    std::optional<Error> connect_error_;
    Bytes binding_;
    Bytes buf_;
};

class CbStorage final : public wallet::Storage {
public:
    CbStorage(const irp_wallet_callbacks_t& cb, CallState& st) : cb_(cb), st_(st) {}

    Result<void> install(const wallet::Credentials& c) override {
        return save(IRP_WALLET_SLOT_CREDENTIALS, wallet::capi::credentials_blob(c));
    }
    Result<std::optional<wallet::Credentials>> load() override {
        auto b = read(IRP_WALLET_SLOT_CREDENTIALS, wallet::capi::kMaxCredentialsBlob);
        if (!b) return b.error();
        if (!*b) {
            st_.nothing_installed = true;
            return std::optional<wallet::Credentials>{};
        }
        auto c = wallet::capi::parse_credentials_blob(text(**b));
        if (!c) return c.error();
        return std::optional<wallet::Credentials>(std::move(c.value()));
    }
    Result<void> save_pending(const wallet::PendingEnrollment& p) override {
        return save(IRP_WALLET_SLOT_PENDING, wallet::capi::pending_blob(p));
    }
    Result<std::optional<wallet::PendingEnrollment>> load_pending() override {
        auto b = read(IRP_WALLET_SLOT_PENDING, wallet::capi::kMaxPendingBlob);
        if (!b) return b.error();
        if (!*b) return std::optional<wallet::PendingEnrollment>{};
        auto p = wallet::capi::parse_pending_blob(text(**b));
        if (!p) return p.error();
        return std::optional<wallet::PendingEnrollment>(std::move(p.value()));
    }
    Result<void> clear_pending() override { return erase(IRP_WALLET_SLOT_PENDING); }
    Result<void> save_crl(ByteView der) override { return save(IRP_WALLET_SLOT_CRL, der); }
    Result<std::optional<Bytes>> load_crl() override { return read(IRP_WALLET_SLOT_CRL, crypto::kMaxCrlBytes); }
    Result<void> wipe() override {
        if (cb_.wipe) {
            if (const int rc = cb_.wipe(cb_.storage_ctx); rc != IRP_WALLET_OK) return failure("the storage's wipe", rc);
            return {};
        }
        for (const int slot : {IRP_WALLET_SLOT_PENDING, IRP_WALLET_SLOT_CREDENTIALS, IRP_WALLET_SLOT_CRL})
            if (auto r = erase(slot); !r) return r;
        return {};
    }

private:
    static std::string_view text(const Bytes& b) { return {reinterpret_cast<const char*>(b.data()), b.size()}; }

    Error failure(const std::string& what, int rc) const {
        return make_error(Code::file_error, callback_failure(what.c_str(), rc, cb_.storage_error, cb_.storage_ctx));
    }

    Result<void> save(int slot, std::string_view data) { return save(slot, as_bytes(data)); }
    Result<void> save(int slot, ByteView data) {
        if (const int rc = cb_.save(cb_.storage_ctx, slot, data.data(), data.size()); rc != IRP_WALLET_OK)
            return failure(std::string("the storage's save(") + slot_name(slot) + ")", rc);
        return {};
    }
    Result<void> erase(int slot) {
        const int rc = cb_.erase(cb_.storage_ctx, slot);
        if (rc != IRP_WALLET_OK && rc != IRP_WALLET_E_NOT_FOUND)
            return failure(std::string("the storage's erase(") + slot_name(slot) + ")", rc);
        return {};
    }
    // nullopt: the slot is empty.
    Result<std::optional<Bytes>> read(int slot, std::size_t max) {
        Bytes buf(kFirstRead);
        for (int attempt = 0; attempt < 2; ++attempt) {
            std::size_t len = 0;
            const int rc = cb_.load(cb_.storage_ctx, slot, buf.data(), buf.size(), &len);
            if (rc == IRP_WALLET_E_NOT_FOUND) return std::optional<Bytes>{};
            if (rc == IRP_WALLET_OK && len <= buf.size()) {
                buf.resize(len);
                return std::optional<Bytes>(std::move(buf));
            }
            if (rc == IRP_WALLET_E_BUFFER && attempt == 0 && len > buf.size() && len <= max) {
                buf.resize(len);
                continue;
            }
            if (rc == IRP_WALLET_E_BUFFER || rc == IRP_WALLET_OK)
                return make_error(Code::file_error, std::string("the storage's load(") + slot_name(slot) + ") gave " +
                                                        std::to_string(len) + " bytes for a buffer of " +
                                                        std::to_string(buf.size()) + " (at most " +
                                                        std::to_string(max) + " are read)");
            return failure(std::string("the storage's load(") + slot_name(slot) + ")", rc);
        }
        return make_error(Code::file_error, std::string("the storage's load(") + slot_name(slot) + ") did not settle");
    }

    static constexpr std::size_t kFirstRead = 4096;
    const irp_wallet_callbacks_t& cb_;
    CallState& st_;
};

class CbRandom final : public crypto::Random {
public:
    explicit CbRandom(const irp_wallet_callbacks_t& cb) : cb_(cb) {}
    void fill(std::span<std::uint8_t> out) override {
        if (out.empty()) return;
        if (failed_ || cb_.fill(cb_.entropy_ctx, out.data(), out.size()) != IRP_WALLET_OK) {
            failed_ = true;  // sticky: nothing more is generated in this call
            std::memset(out.data(), 0, out.size());
            throw EntropyFailure();
        }
    }
    bool failed() const { return failed_; }

private:
    const irp_wallet_callbacks_t& cb_;
    bool failed_ = false;
};

// ---- outcomes and statuses -------------------------------------------------

int status_for(Code c, const CallState& st) {
    if (c == Code::file_error && st.nothing_installed) return IRP_WALLET_E_NOT_FOUND;
    switch (c) {
        case Code::deadline_exceeded: return IRP_WALLET_E_TIMEOUT;
        case Code::connection_closed: return IRP_WALLET_E_NETWORK;
        case Code::tls_failure: return IRP_WALLET_E_TLS;
        case Code::file_error: return IRP_WALLET_E_STORAGE;
        case Code::bad_argument:
        case Code::key_algorithm_not_allowed:  // the server does not offer the algorithm asked for
            return IRP_WALLET_E_INVALID;
        default: break;
    }
    return category_of(c) == Category::internal ? IRP_WALLET_E_INTERNAL : IRP_WALLET_E_PROTOCOL;
}

void take_outcome(irp_wallet_outcome& o, const wallet::Outcome& r) {
    o = irp_wallet_outcome{};
    put(o.request_id, r.request_id);
    switch (r.kind) {
        case wallet::Outcome::Kind::installed:
            o.kind = IRP_WALLET_OUTCOME_INSTALLED;
            put(o.serial, to_hex(r.certificate.serial));
            o.not_after = r.certificate.not_after;
            o.install_confirmed = r.install_confirmed ? 1 : 0;
            put(o.message, "installed certificate for " + r.certificate.subject_cn);
            break;
        case wallet::Outcome::Kind::rejected:
            o.kind = r.reset ? IRP_WALLET_OUTCOME_RESET : IRP_WALLET_OUTCOME_REJECTED;
            o.code = static_cast<std::uint32_t>(r.rejection.code);
            put(o.message, r.rejection.message);
            break;
        case wallet::Outcome::Kind::pending:
            o.kind = IRP_WALLET_OUTCOME_PENDING;
            o.retry_after = r.retry_after_seconds;
            put(o.message, "held for approval");
            break;
        case wallet::Outcome::Kind::redirect:
            o.kind = IRP_WALLET_OUTCOME_REDIRECT;
            put(o.redirect_server, r.redirect.server);
            put(o.redirect_domain, r.redirect.domain);
            put(o.message, "redirected to " + r.redirect.server);
            break;
        case wallet::Outcome::Kind::invalid:
            o.kind = IRP_WALLET_OUTCOME_INVALID;
            if (r.invalid) {
                o.install_status = static_cast<std::uint32_t>(r.invalid->status);
                if (r.invalid->status == InstallStatus::storage_write_failed)
                    o.code = static_cast<std::uint32_t>(Code::file_error);
                put(o.message, r.invalid->message);
            }
            break;
        case wallet::Outcome::Kind::checked_in:
            if (r.reset) {
                o.kind = IRP_WALLET_OUTCOME_RESET;
                o.code = static_cast<std::uint32_t>(r.rejection.code);
                put(o.message, r.rejection.message);
                break;
            }
            o.kind = IRP_WALLET_OUTCOME_CHECKED_IN;
            o.next_check_in = r.checked_in.next_check_in_seconds;
            o.renew_now = r.checked_in.renew_now ? 1 : 0;
            o.crl_stored = r.crl_stored ? 1 : 0;
            o.crl_number = r.crl_number;
            if (r.crl_refused) {
                o.crl_refused = static_cast<std::uint32_t>(r.crl_refused->code);
                put(o.message, r.crl_refused->message);
            } else {
                put(o.message, "checked in");
            }
            break;
    }
}

// Runs one exchange over the handle's callbacks.
template <typename Op>
int run_exchange(irp_wallet& w, Op&& op) {
    CallState st;
    const irp_wallet_connect_info_t info{sizeof(irp_wallet_connect_info_t), w.server.c_str(), w.server_name.c_str(),
                                         w.trust_pem.c_str(), w.trust_pem.size(), w.timeout_ms};
    CbStorage storage(w.cb, st);
    CbRandom rng(w.cb);
    const irp_wallet_callbacks_t* cb = &w.cb;
    const wallet::Clock clock{[cb] { return Time(static_cast<std::int64_t>(cb->monotonic_ms(cb->clock_ctx))); },
                              [cb] { return static_cast<std::int64_t>(cb->unix_seconds(cb->clock_ctx)); }};
    std::optional<Result<wallet::Outcome>> r;
    try {
        CbTransport t(w.cb, info);  // closes the connection, if any, on the way out
        r.emplace(op(t, storage, rng, clock));
    } catch (const EntropyFailure&) {
        return fail(w, IRP_WALLET_E_ENTROPY, Code::internal, "the entropy callback failed; nothing was generated");
    }
    if (rng.failed())
        return fail(w, IRP_WALLET_E_ENTROPY, Code::internal, "the entropy callback failed; nothing was generated");
    if (!*r) return fail(w, status_for(r->error().code, st), r->error().code, r->error().message);
    take_outcome(w.outcome, r->value());
    return IRP_WALLET_OK;
}

// Every entry point that takes a handle: one call at a time, and nothing
// thrown gets out.
template <typename F>
int guarded(irp_wallet_t* w, const irp_wallet_outcome_t** out, F&& f) noexcept {
    if (out) *out = w ? &w->outcome : nullptr;
    if (!w) return IRP_WALLET_E_INVALID;
    if (w->busy) return IRP_WALLET_E_BUSY;
    w->busy = true;
    int rc = IRP_WALLET_E_INTERNAL;
    try {
        rc = f(*w);
    } catch (const std::bad_alloc&) {
        rc = fail(*w, IRP_WALLET_E_NOMEM, Code::internal, "out of memory");
    } catch (const std::exception& e) {
        rc = fail(*w, IRP_WALLET_E_INTERNAL, Code::internal, e.what());
    } catch (...) {
        rc = fail(*w, IRP_WALLET_E_INTERNAL, Code::internal, "an unexpected exception");
    }
    w->busy = false;
    return rc;
}

}  // namespace

extern "C" {

int irp_wallet_api_version(void) { return IRP_WALLET_API_VERSION; }

int irp_wallet_new(const irp_wallet_options_t* opts, const irp_wallet_callbacks_t* cb, irp_wallet_t** out) {
    if (out) *out = nullptr;
    if (!opts || !cb || !out) return IRP_WALLET_E_INVALID;
    try {
        irp_wallet_options_t o;
        if (const int rc = read_struct(opts, IRP_V1_SIZE(irp_wallet_options_t, max_frame_bytes), o); rc != IRP_WALLET_OK)
            return rc;
        irp_wallet_callbacks_t c;
        if (const int rc = read_struct(cb, IRP_V1_SIZE(irp_wallet_callbacks_t, fill), c); rc != IRP_WALLET_OK) return rc;
        if (!c.connect || !c.send || !c.receive || !c.channel_binding || !c.close || !c.save || !c.load || !c.erase ||
            !c.monotonic_ms || !c.unix_seconds || !c.fill)
            return IRP_WALLET_E_INVALID;
        if (!o.server || !*o.server || !o.trust_pem) return IRP_WALLET_E_INVALID;
        if (o.max_frame_bytes != 0 && o.max_frame_bytes < 1024) return IRP_WALLET_E_INVALID;
        const std::size_t trust_len = o.trust_pem_len ? o.trust_pem_len : std::strlen(o.trust_pem);
        std::string trust(o.trust_pem, trust_len);
        auto roots = crypto::pem_blocks(trust, "CERTIFICATE");
        if (!roots || roots->empty()) return IRP_WALLET_E_INVALID;

        auto w = std::make_unique<irp_wallet>();
        w->cb = c;
        w->server = o.server;
        w->server_name = o.server_name ? o.server_name : "";
        if (w->server_name.empty()) {
            // The host part of host:port ([v6]:port keeps its brackets off).
            std::string host = w->server;
            if (!host.empty() && host.front() == '[') {
                host = host.substr(1, host.find(']') == std::string::npos ? std::string::npos : host.find(']') - 1);
            } else if (const auto colon = host.rfind(':'); colon != std::string::npos && host.find(':') == colon) {
                host.resize(colon);
            }
            w->server_name = host;
        }
        w->trust_pem = std::move(trust);
        w->roots = std::move(roots.value());
        if (o.timeout_ms) w->timeout_ms = o.timeout_ms;
        w->max_frame_bytes = o.max_frame_bytes;
        *out = w.release();
        return IRP_WALLET_OK;
    } catch (const std::bad_alloc&) {
        return IRP_WALLET_E_NOMEM;
    } catch (...) {
        return IRP_WALLET_E_INTERNAL;
    }
}

void irp_wallet_free(irp_wallet_t* w) { delete w; }

int irp_wallet_enroll(irp_wallet_t* w, const irp_wallet_enroll_params_t* p, const irp_wallet_outcome_t** out) {
    return guarded(w, out, [p](irp_wallet& w) -> int {
        w.outcome = irp_wallet_outcome{};
        irp_wallet_enroll_params_t in;
        if (const int rc = read_struct(p, IRP_V1_SIZE(irp_wallet_enroll_params_t, key_algorithm), in); rc != IRP_WALLET_OK)
            return fail(w, rc, Code::bad_argument,
                        rc == IRP_WALLET_E_VERSION ? "the enroll parameters' struct_size is not one this library knows"
                                                   : "no enroll parameters");
        const auto bad = [&w](std::string_view why) { return fail(w, IRP_WALLET_E_INVALID, Code::bad_argument, why); };
        wallet::EnrollOptions o;
        if (!in.device_id || !is_valid_identifier(in.device_id))
            return bad("the device id must be 1 to 64 characters from [A-Za-z0-9._-]");
        o.device_id = in.device_id;
        o.class_id = in.class_id ? in.class_id : "default";
        if (!is_valid_identifier(o.class_id)) return bad("the class id must be 1 to 64 characters from [A-Za-z0-9._-]");
        if (in.token_len != 0 && (in.token_len != 32 || !in.token)) return bad("the token must be 32 bytes");
        if (in.token_len) o.token.assign(in.token, in.token + in.token_len);
        if (in.bootstrap_key_pem) {
            if (!o.token.empty()) return bad("give a token or a bootstrap key, not both");
            auto k = crypto::PrivateKey::from_pem(in.bootstrap_key_pem);
            if (!k) return bad("the bootstrap key: " + k.error().message);
            o.bootstrap_key = std::make_shared<const crypto::PrivateKey>(std::move(k.value()));
        }
        if (in.bootstrap_chain_pem) {
            if (!o.bootstrap_key) return bad("a manufacturer certificate needs its key");
            auto chain = crypto::pem_blocks(in.bootstrap_chain_pem, "CERTIFICATE");
            if (!chain || chain->empty()) return bad("the manufacturer certificate chain holds no certificate");
            o.bootstrap_chain = std::move(chain.value());
        }
        if (in.model) {
            if (std::strlen(in.model) > 64) return bad("the model is at most 64 characters");
            o.model = in.model;
        }
        switch (in.key_algorithm) {
            case IRP_WALLET_KEY_DEFAULT:
            case IRP_WALLET_KEY_ECDSA_P256: o.key_algorithm = KeyAlgorithm::ecdsa_p256; break;
            case IRP_WALLET_KEY_ED25519: o.key_algorithm = KeyAlgorithm::ed25519; break;
            case IRP_WALLET_KEY_ECDSA_P384: o.key_algorithm = KeyAlgorithm::ecdsa_p384; break;
            default: return bad("unknown key algorithm " + std::to_string(in.key_algorithm));
        }
        o.trusted_roots = w.roots;
        o.limits.exchange_timeout = Time{w.timeout_ms};
        if (w.max_frame_bytes) o.limits.max_frame_bytes = w.max_frame_bytes;
        return run_exchange(w, [&o](wallet::Transport& t, wallet::Storage& s, crypto::Random& r, const wallet::Clock& c) {
            return wallet::enroll(t, s, o, r, c);
        });
    });
}

int irp_wallet_renew(irp_wallet_t* w, const irp_wallet_renew_params_t* p, const irp_wallet_outcome_t** out) {
    return guarded(w, out, [p](irp_wallet& w) -> int {
        w.outcome = irp_wallet_outcome{};
        irp_wallet_renew_params_t in{};
        if (p)
            if (const int rc = read_struct(p, IRP_V1_SIZE(irp_wallet_renew_params_t, same_key), in); rc != IRP_WALLET_OK)
                return fail(w, rc, Code::bad_argument, "the renew parameters' struct_size is not one this library knows");
        wallet::RenewOptions o;
        o.same_key = in.same_key != 0;
        o.trusted_roots = w.roots;
        o.limits.exchange_timeout = Time{w.timeout_ms};
        if (w.max_frame_bytes) o.limits.max_frame_bytes = w.max_frame_bytes;
        return run_exchange(w, [&o](wallet::Transport& t, wallet::Storage& s, crypto::Random& r, const wallet::Clock& c) {
            return wallet::renew(t, s, o, r, c);
        });
    });
}

int irp_wallet_check_in(irp_wallet_t* w, const irp_wallet_check_in_params_t* p, const irp_wallet_outcome_t** out) {
    return guarded(w, out, [p](irp_wallet& w) -> int {
        w.outcome = irp_wallet_outcome{};
        irp_wallet_check_in_params_t in{};
        if (p)
            if (const int rc = read_struct(p, IRP_V1_SIZE(irp_wallet_check_in_params_t, max_frame_bytes), in);
                rc != IRP_WALLET_OK)
                return fail(w, rc, Code::bad_argument, "the check-in parameters' struct_size is not one this library knows");
        if (in.max_frame_bytes != 0 && in.max_frame_bytes < 1024)
            return fail(w, IRP_WALLET_E_INVALID, Code::bad_argument, "max_frame_bytes is at least 1024");
        wallet::CheckInOptions o;
        o.fetch_crl = in.skip_crl == 0;
        o.limits.exchange_timeout = Time{w.timeout_ms};
        // Room for the largest CRL a check-in carries (docs/PROTOCOL.md), unless told otherwise.
        o.limits.max_frame_bytes =
            in.max_frame_bytes ? in.max_frame_bytes : static_cast<std::uint32_t>(bounds::kMaxCrl + bounds::kCheckedInOverhead);
        return run_exchange(w, [&o](wallet::Transport& t, wallet::Storage& s, crypto::Random& r, const wallet::Clock& c) {
            return wallet::check_in(t, s, o, r, c);
        });
    });
}

const irp_wallet_outcome_t* irp_wallet_last_outcome(const irp_wallet_t* w) { return w ? &w->outcome : nullptr; }

int irp_wallet_outcome_kind(const irp_wallet_outcome_t* o) { return o ? o->kind : IRP_WALLET_OUTCOME_NONE; }
std::uint32_t irp_wallet_outcome_code(const irp_wallet_outcome_t* o) { return o ? o->code : 0; }
size_t irp_wallet_outcome_message(const irp_wallet_outcome_t* o, char* buf, size_t cap) {
    return copy_out(o ? o->message : "", buf, cap);
}
size_t irp_wallet_outcome_request_id(const irp_wallet_outcome_t* o, char* buf, size_t cap) {
    return copy_out(o ? o->request_id : "", buf, cap);
}
std::uint32_t irp_wallet_outcome_retry_after(const irp_wallet_outcome_t* o) { return o ? o->retry_after : 0; }
size_t irp_wallet_outcome_serial(const irp_wallet_outcome_t* o, char* buf, size_t cap) {
    return copy_out(o ? o->serial : "", buf, cap);
}
std::int64_t irp_wallet_outcome_not_after(const irp_wallet_outcome_t* o) { return o ? o->not_after : 0; }
int irp_wallet_outcome_install_confirmed(const irp_wallet_outcome_t* o) { return o ? o->install_confirmed : 0; }
std::uint32_t irp_wallet_outcome_install_status(const irp_wallet_outcome_t* o) { return o ? o->install_status : 0; }
size_t irp_wallet_outcome_redirect_server(const irp_wallet_outcome_t* o, char* buf, size_t cap) {
    return copy_out(o ? o->redirect_server : "", buf, cap);
}
size_t irp_wallet_outcome_redirect_domain(const irp_wallet_outcome_t* o, char* buf, size_t cap) {
    return copy_out(o ? o->redirect_domain : "", buf, cap);
}
std::uint32_t irp_wallet_outcome_next_check_in(const irp_wallet_outcome_t* o) { return o ? o->next_check_in : 0; }
int irp_wallet_outcome_renew_now(const irp_wallet_outcome_t* o) { return o ? o->renew_now : 0; }
int irp_wallet_outcome_crl_stored(const irp_wallet_outcome_t* o) { return o ? o->crl_stored : 0; }
std::int64_t irp_wallet_outcome_crl_number(const irp_wallet_outcome_t* o) { return o ? o->crl_number : 0; }
std::uint32_t irp_wallet_outcome_crl_refused(const irp_wallet_outcome_t* o) { return o ? o->crl_refused : 0; }

const char* irp_wallet_code_name(std::uint32_t code) {
    if (code > std::numeric_limits<std::uint16_t>::max()) return "unknown";
    return irp::code_name(static_cast<Code>(code));
}

const char* irp_wallet_status_name(int status) {
    switch (status) {
        case IRP_WALLET_OK: return "IRP_WALLET_OK";
        case IRP_WALLET_E_INVALID: return "IRP_WALLET_E_INVALID";
        case IRP_WALLET_E_VERSION: return "IRP_WALLET_E_VERSION";
        case IRP_WALLET_E_NOMEM: return "IRP_WALLET_E_NOMEM";
        case IRP_WALLET_E_STORAGE: return "IRP_WALLET_E_STORAGE";
        case IRP_WALLET_E_NETWORK: return "IRP_WALLET_E_NETWORK";
        case IRP_WALLET_E_TIMEOUT: return "IRP_WALLET_E_TIMEOUT";
        case IRP_WALLET_E_TLS: return "IRP_WALLET_E_TLS";
        case IRP_WALLET_E_PROTOCOL: return "IRP_WALLET_E_PROTOCOL";
        case IRP_WALLET_E_ENTROPY: return "IRP_WALLET_E_ENTROPY";
        case IRP_WALLET_E_NOT_FOUND: return "IRP_WALLET_E_NOT_FOUND";
        case IRP_WALLET_E_BUFFER: return "IRP_WALLET_E_BUFFER";
        case IRP_WALLET_E_BUSY: return "IRP_WALLET_E_BUSY";
        case IRP_WALLET_E_INTERNAL: return "IRP_WALLET_E_INTERNAL";
    }
    return "unknown";
}

const char* irp_wallet_outcome_kind_name(int kind) {
    switch (kind) {
        case IRP_WALLET_OUTCOME_NONE: return "none";
        case IRP_WALLET_OUTCOME_INSTALLED: return "installed";
        case IRP_WALLET_OUTCOME_PENDING: return "pending";
        case IRP_WALLET_OUTCOME_REJECTED: return "rejected";
        case IRP_WALLET_OUTCOME_RESET: return "reset";
        case IRP_WALLET_OUTCOME_REDIRECT: return "redirect";
        case IRP_WALLET_OUTCOME_CHECKED_IN: return "checked_in";
        case IRP_WALLET_OUTCOME_INVALID: return "invalid";
        case IRP_WALLET_OUTCOME_ERROR: return "error";
    }
    return "unknown";
}

}  // extern "C"
