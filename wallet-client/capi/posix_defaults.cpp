// POSIX defaults for the C API's callbacks (irp_wallet_posix.h): the TLS
// client of lib/net as the transport, idwallet's directory store as the
// storage, CLOCK_MONOTONIC / time() and getrandom(2). Every callback catches
// everything: they are called through C function pointers.
#include "irp_wallet_posix.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <memory>
#include <new>
#include <string>
#include <sys/random.h>

#include "blob.hpp"
#include "idwallet.hpp"
#include "irp/net/client.hpp"

using namespace irp;

struct irp_wallet_posix {
    std::string dir;
    std::unique_ptr<wallet::Storage> storage;
    std::unique_ptr<net::TlsClientConnection> conn;
    Bytes rx;  // received beyond what the last receive's buffer held
    std::string transport_error;
    std::string storage_error;
};

namespace {

irp_wallet_posix& state(void* ctx) { return *static_cast<irp_wallet_posix*>(ctx); }

int transport_status(Code c) {
    switch (c) {
        case Code::deadline_exceeded: return IRP_WALLET_E_TIMEOUT;
        case Code::tls_failure: return IRP_WALLET_E_TLS;
        default: return IRP_WALLET_E_NETWORK;
    }
}

int transport_fail(irp_wallet_posix& s, const Error& e) noexcept {
    try {
        s.transport_error = e.message;
    } catch (...) {
        s.transport_error.clear();
    }
    return transport_status(e.code);
}

int storage_fail(irp_wallet_posix& s, std::string_view why) noexcept {
    try {
        s.storage_error = std::string(why);
    } catch (...) {
        s.storage_error.clear();
    }
    return IRP_WALLET_E_STORAGE;
}

// Runs a callback body; anything thrown becomes a status.
template <typename F>
int guard(irp_wallet_posix& s, bool storage, F&& f) noexcept {
    try {
        return f();
    } catch (const std::bad_alloc&) {
        return IRP_WALLET_E_NOMEM;
    } catch (const std::exception& e) {
        return storage ? storage_fail(s, e.what()) : transport_fail(s, make_error(Code::internal, e.what()));
    } catch (...) {
        return IRP_WALLET_E_INTERNAL;
    }
}

// ---- transport -------------------------------------------------------------

int tls_connect(void* ctx, const irp_wallet_connect_info_t* info) {
    auto& s = state(ctx);
    return guard(s, false, [&]() -> int {
        if (!info || !info->server || !info->trust_pem) return IRP_WALLET_E_INVALID;
        s.conn.reset();
        s.rx.clear();
        auto hp = net::split_host_port(info->server);
        if (!hp) return transport_fail(s, hp.error());
        auto roots = crypto::pem_blocks(std::string_view(info->trust_pem, info->trust_pem_len), "CERTIFICATE");
        if (!roots) return transport_fail(s, roots.error());
        crypto::TlsClientConfig cfg;
        cfg.trusted_roots = std::move(roots.value());
        cfg.server_name = info->server_name && *info->server_name ? info->server_name : hp->first;
        auto c = net::TlsClientConnection::connect(hp->first, hp->second, cfg, std::chrono::milliseconds(info->timeout_ms));
        if (!c) return transport_fail(s, c.error());
        s.conn = std::move(c.value());
        return IRP_WALLET_OK;
    });
}

int tls_send(void* ctx, const std::uint8_t* data, std::size_t len) {
    auto& s = state(ctx);
    return guard(s, false, [&]() -> int {
        if (!s.conn) return transport_fail(s, make_error(Code::connection_closed, "not connected"));
        if (auto r = s.conn->send(ByteView(data, len)); !r) return transport_fail(s, r.error());
        return IRP_WALLET_OK;
    });
}

int tls_receive(void* ctx, std::uint8_t* buf, std::size_t cap, std::size_t* received, std::uint32_t timeout_ms) {
    auto& s = state(ctx);
    return guard(s, false, [&]() -> int {
        if (!buf || !received || cap == 0) return IRP_WALLET_E_INVALID;
        if (!s.conn) return transport_fail(s, make_error(Code::connection_closed, "not connected"));
        if (s.rx.empty()) {
            auto r = s.conn->receive(std::chrono::milliseconds(timeout_ms));
            if (!r) return transport_fail(s, r.error());
            s.rx = std::move(r.value());
        }
        const std::size_t n = std::min(cap, s.rx.size());
        std::memcpy(buf, s.rx.data(), n);
        s.rx.erase(s.rx.begin(), s.rx.begin() + static_cast<std::ptrdiff_t>(n));
        *received = n;
        return IRP_WALLET_OK;
    });
}

int tls_channel_binding(void* ctx, std::uint8_t* buf, std::size_t cap, std::size_t* len) {
    auto& s = state(ctx);
    return guard(s, false, [&]() -> int {
        if (!buf || !len) return IRP_WALLET_E_INVALID;
        if (!s.conn) return transport_fail(s, make_error(Code::connection_closed, "not connected"));
        const Bytes b = s.conn->channel_binding();
        if (b.size() > cap) return IRP_WALLET_E_BUFFER;
        std::memcpy(buf, b.data(), b.size());
        *len = b.size();
        return IRP_WALLET_OK;
    });
}

void tls_close(void* ctx) {
    auto& s = state(ctx);
    try {
        if (s.conn) s.conn->close();
    } catch (...) {
    }
    s.conn.reset();
    s.rx.clear();
}

const char* tls_error(void* ctx) { return state(ctx).transport_error.c_str(); }

// ---- storage: the slots onto idwallet's directory layout -------------------

int copy_slot(const std::string& data, std::uint8_t* buf, std::size_t cap, std::size_t* len) {
    *len = data.size();
    if (data.size() > cap) return IRP_WALLET_E_BUFFER;
    if (!data.empty()) std::memcpy(buf, data.data(), data.size());
    return IRP_WALLET_OK;
}

int dir_save(void* ctx, int slot, const std::uint8_t* data, std::size_t len) {
    auto& s = state(ctx);
    return guard(s, true, [&]() -> int {
        if (!data && len) return IRP_WALLET_E_INVALID;
        const std::string_view text(reinterpret_cast<const char*>(data), len);
        Result<void> r;
        switch (slot) {
            case IRP_WALLET_SLOT_CREDENTIALS: {
                auto c = wallet::capi::parse_credentials_blob(text);
                if (!c) return storage_fail(s, c.error().message);
                r = s.storage->install(*c);
                break;
            }
            case IRP_WALLET_SLOT_PENDING: {
                auto p = wallet::capi::parse_pending_blob(text);
                if (!p) return storage_fail(s, p.error().message);
                r = s.storage->save_pending(*p);
                break;
            }
            case IRP_WALLET_SLOT_CRL: r = s.storage->save_crl(ByteView(data, len)); break;
            default: return IRP_WALLET_E_INVALID;
        }
        return r ? IRP_WALLET_OK : storage_fail(s, r.error().message);
    });
}

// The slots carry keys as PKCS#8 PEM; a key in a PKCS#11 token (a store
// `idwallet --pkcs11-token` made) has none to give.
std::string token_key_refused(const irp_wallet_posix& s) {
    return "the key in '" + s.dir + "' lives in a PKCS#11 token; the C API works with software keys only";
}

int dir_load(void* ctx, int slot, std::uint8_t* buf, std::size_t cap, std::size_t* len) {
    auto& s = state(ctx);
    return guard(s, true, [&]() -> int {
        if (!len || (!buf && cap)) return IRP_WALLET_E_INVALID;
        switch (slot) {
            case IRP_WALLET_SLOT_CREDENTIALS: {
                auto c = s.storage->load();
                if (!c) return storage_fail(s, c.error().message);
                if (!*c) return IRP_WALLET_E_NOT_FOUND;
                if ((*c)->key->in_token()) return storage_fail(s, token_key_refused(s));
                return copy_slot(wallet::capi::credentials_blob(**c), buf, cap, len);
            }
            case IRP_WALLET_SLOT_PENDING: {
                auto p = s.storage->load_pending();
                if (!p) return storage_fail(s, p.error().message);
                if (!*p) return IRP_WALLET_E_NOT_FOUND;
                if ((*p)->key->in_token()) return storage_fail(s, token_key_refused(s));
                return copy_slot(wallet::capi::pending_blob(**p), buf, cap, len);
            }
            case IRP_WALLET_SLOT_CRL: {
                auto d = s.storage->load_crl();
                if (!d) return storage_fail(s, d.error().message);
                if (!*d) return IRP_WALLET_E_NOT_FOUND;
                return copy_slot(std::string((*d)->begin(), (*d)->end()), buf, cap, len);
            }
        }
        return IRP_WALLET_E_INVALID;
    });
}

int remove_files(irp_wallet_posix& s, std::initializer_list<const char*> names) {
    for (const char* n : names) {
        const std::string path = s.dir + "/" + n;
        if (std::remove(path.c_str()) != 0 && errno != ENOENT) return storage_fail(s, "cannot remove '" + path + "'");
    }
    return IRP_WALLET_OK;
}

int dir_erase(void* ctx, int slot) {
    auto& s = state(ctx);
    return guard(s, true, [&]() -> int {
        switch (slot) {
            case IRP_WALLET_SLOT_PENDING: {
                auto r = s.storage->clear_pending();
                return r ? IRP_WALLET_OK : storage_fail(s, r.error().message);
            }
            // The certificate first: a key without a certificate is not an
            // identity (the order store.cpp's wipe keeps).
            case IRP_WALLET_SLOT_CREDENTIALS:
                return remove_files(s, {"device.crt.new", "device.crt", "device.key.new", "device.key"});
            case IRP_WALLET_SLOT_CRL: return remove_files(s, {"crl.der"});
        }
        return IRP_WALLET_E_INVALID;
    });
}

int dir_wipe(void* ctx) {
    auto& s = state(ctx);
    return guard(s, true, [&]() -> int {
        auto r = s.storage->wipe();
        return r ? IRP_WALLET_OK : storage_fail(s, r.error().message);
    });
}

const char* dir_error(void* ctx) { return state(ctx).storage_error.c_str(); }

// ---- clock and entropy -----------------------------------------------------

std::uint64_t clock_monotonic(void*) {
    timespec ts{};
    ::clock_gettime(CLOCK_MONOTONIC, &ts);
    return static_cast<std::uint64_t>(ts.tv_sec) * 1000u + static_cast<std::uint64_t>(ts.tv_nsec / 1'000'000);
}

std::int64_t clock_unix(void*) { return static_cast<std::int64_t>(std::time(nullptr)); }

int entropy_fill(void*, std::uint8_t* buf, std::size_t len) {
    while (len > 0) {
        const ssize_t n = ::getrandom(buf, len, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            return IRP_WALLET_E_ENTROPY;
        }
        buf += n;
        len -= static_cast<std::size_t>(n);
    }
    return IRP_WALLET_OK;
}

}  // namespace

extern "C" {

int irp_wallet_posix_defaults(irp_wallet_callbacks_t* cb, unsigned which, const char* storage_dir,
                              irp_wallet_posix_t** out) {
    if (out) *out = nullptr;
    if (!cb || !out || which == 0 || (which & ~IRP_WALLET_POSIX_ALL) != 0) return IRP_WALLET_E_INVALID;
    if (cb->struct_size < offsetof(irp_wallet_callbacks_t, fill) + sizeof cb->fill) return IRP_WALLET_E_VERSION;
    if ((which & IRP_WALLET_POSIX_STORAGE) && (!storage_dir || !*storage_dir)) return IRP_WALLET_E_INVALID;
    try {
        auto s = std::make_unique<irp_wallet_posix>();
        if (which & IRP_WALLET_POSIX_STORAGE) {
            s->dir = storage_dir;
            s->storage = wallet::open_directory_storage(s->dir);
            cb->storage_ctx = s.get();
            cb->save = dir_save;
            cb->load = dir_load;
            cb->erase = dir_erase;
            cb->wipe = dir_wipe;
            cb->storage_error = dir_error;
        }
        if (which & IRP_WALLET_POSIX_TRANSPORT) {
            cb->transport_ctx = s.get();
            cb->connect = tls_connect;
            cb->send = tls_send;
            cb->receive = tls_receive;
            cb->channel_binding = tls_channel_binding;
            cb->close = tls_close;
            cb->transport_error = tls_error;
        }
        if (which & IRP_WALLET_POSIX_CLOCK) {
            cb->clock_ctx = s.get();
            cb->monotonic_ms = clock_monotonic;
            cb->unix_seconds = clock_unix;
        }
        if (which & IRP_WALLET_POSIX_ENTROPY) {
            cb->entropy_ctx = s.get();
            cb->fill = entropy_fill;
        }
        *out = s.release();
        return IRP_WALLET_OK;
    } catch (const std::bad_alloc&) {
        return IRP_WALLET_E_NOMEM;
    } catch (...) {
        return IRP_WALLET_E_INTERNAL;
    }
}

void irp_wallet_posix_free(irp_wallet_posix_t* s) { delete s; }

}  // extern "C"
