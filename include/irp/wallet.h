/*
 * irp/wallet.h: the C API of the IRP device wallet (library idwallet_c, over
 * the C++ wallet core idwallet_core). C99; usable from C++ as is.
 *
 * The wallet generates the device's key pair, enrolls it with the domain's
 * server, checks and installs the certificate it gets, renews it, and checks
 * in (learning of release or revocation, and fetching the domain's CRL). It
 * does no I/O of its own: the caller supplies, as callbacks, the transport
 * (a connected, authenticated channel: TLS in practice), the storage (three
 * slots of bytes), the clock and the entropy. The POSIX defaults for all four
 * are in a separate library, idwallet_c_posix (wallet-client/capi/
 * irp_wallet_posix.h), so that firmware linking only idwallet_c gets no
 * socket or file code.
 *
 * ---- Status codes -----------------------------------------------------
 * Every function that can fail returns an int: IRP_WALLET_OK (0) or one of
 * the negative IRP_WALLET_E_* codes below. No function throws, and no C++
 * type or exception crosses this header: every entry point catches
 * everything (an allocation failure is IRP_WALLET_E_NOMEM, anything else
 * unexpected IRP_WALLET_E_INTERNAL). Callbacks return the same codes.
 *
 * An exchange (irp_wallet_enroll, _renew, _check_in) returns IRP_WALLET_OK
 * when it ran to an answer, whatever the answer was: the server's refusal
 * is an outcome (IRP_WALLET_OUTCOME_REJECTED with its code), not a failed
 * call. It returns a negative code when the exchange itself failed
 * (transport, storage, protocol, entropy, memory); the outcome is then
 * IRP_WALLET_OUTCOME_ERROR and carries the numbered code of docs/PROTOCOL.md
 * ("Error codes", e.g. 107 deadline_exceeded, 109 tls_failure, 401
 * file_error) and a sentence.
 *
 * ---- Ownership ----------------------------------------------------------
 * - irp_wallet_new copies what the options point to (server, server name,
 *   trust anchors) and the callbacks struct; the caller may free or reuse
 *   them afterwards. The callbacks' ctx pointers are NOT owned: what they
 *   point to must outlive the handle.
 * - Buffers passed to a callback are valid only during that call.
 * - The outcome (irp_wallet_outcome_t) belongs to the handle. It stays valid
 *   and unchanged until the next exchange on that handle or irp_wallet_free.
 * - Text accessors copy into caller buffers, snprintf style: at most cap-1
 *   bytes and a NUL (nothing when cap is 0), and return the full length, so
 *   a return value >= cap means the text was cut.
 *
 * ---- Threads ------------------------------------------------------------
 * One handle per thread: a handle must not be used by two threads at once.
 * Separate handles are independent and may run in parallel. Callbacks run
 * only during a call, on the calling thread. A callback must not call back
 * into the same handle (the call fails with IRP_WALLET_E_BUSY).
 *
 * ---- Versions -----------------------------------------------------------
 * Every struct the caller fills starts with `size_t struct_size`, which the
 * caller sets to sizeof the struct as it was compiled. Later versions of
 * this header only append members, so:
 * - a struct_size below the first version's size (or 0) is refused with
 *   IRP_WALLET_E_VERSION;
 * - members beyond the caller's struct_size take their default (0 / NULL);
 * - a struct_size larger than this library knows is accepted if the
 *   unknown tail is all zero, and refused with IRP_WALLET_E_VERSION
 *   otherwise (a newer caller asking for something this library cannot do
 *   is told so, never silently ignored).
 * Numeric values of constants never change. IRP_WALLET_API_VERSION is
 * raised when something is added; irp_wallet_api_version() tells which
 * version the linked library implements.
 */
#ifndef IRP_WALLET_H
#define IRP_WALLET_H

#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define IRP_WALLET_API_VERSION 1

/* ---- status codes ---- */
#define IRP_WALLET_OK 0
#define IRP_WALLET_E_INVALID (-1)   /* NULL or malformed argument, missing callback or field */
#define IRP_WALLET_E_VERSION (-2)   /* struct_size too small, or a non-zero tail this library does not know */
#define IRP_WALLET_E_NOMEM (-3)     /* out of memory */
#define IRP_WALLET_E_STORAGE (-4)   /* a storage callback failed, or what it holds does not parse */
#define IRP_WALLET_E_NETWORK (-5)   /* cannot connect; send or receive failed; the peer closed */
#define IRP_WALLET_E_TIMEOUT (-6)   /* a deadline passed (connect, or the exchange's limits) */
#define IRP_WALLET_E_TLS (-7)       /* TLS failed: untrusted server, wrong name, handshake */
#define IRP_WALLET_E_PROTOCOL (-8)  /* the server broke the protocol (codes 1xx) */
#define IRP_WALLET_E_ENTROPY (-9)   /* the entropy callback failed: nothing was generated from it */
#define IRP_WALLET_E_NOT_FOUND (-10) /* storage: the slot is empty; renew/check-in: nothing installed */
#define IRP_WALLET_E_BUFFER (-11)   /* storage load: the buffer is too small (*len: the size needed) */
#define IRP_WALLET_E_BUSY (-12)     /* the handle is in a call already (a callback called back) */
#define IRP_WALLET_E_INTERNAL (-13) /* a bug or an unexpected failure */

/* ---- what an exchange ended with (irp_wallet_outcome_kind) ---- */
#define IRP_WALLET_OUTCOME_NONE 0       /* no exchange yet */
#define IRP_WALLET_OUTCOME_INSTALLED 1  /* a certificate was issued, checked and installed */
#define IRP_WALLET_OUTCOME_PENDING 2    /* held for approval: ask again after retry_after seconds */
#define IRP_WALLET_OUTCOME_REJECTED 3   /* the server refused: code and message */
#define IRP_WALLET_OUTCOME_RESET 4      /* released or revoked: key, certificate, pending request and
                                           CRL were erased (factory reset); enroll again */
#define IRP_WALLET_OUTCOME_REDIRECT 5   /* the server sent the device elsewhere (not followed) */
#define IRP_WALLET_OUTCOME_CHECKED_IN 6 /* alive; next check-in, renew_now, CRL */
#define IRP_WALLET_OUTCOME_INVALID 7    /* the certificate received failed validation or could not be
                                           stored; it was not installed (install_status) */
#define IRP_WALLET_OUTCOME_ERROR 8      /* the exchange failed: the call returned a negative code */

/* ---- storage slots ---- */
/* CREDENTIALS: the device's key (PKCS#8 PEM) followed by its certificate and
 *   the chain (PEM, leaf first, root last). Saving it is the install: it must
 *   be atomic (afterwards the old or the new content is held, never a mix).
 * PENDING: an enrollment held for approval (a text header, then the key it
 *   was made for, PKCS#8 PEM); erased once answered.
 * CRL: the domain's CRL (DER, as its CA signed it), verified before saving.
 * Every save must be atomic; the contents are for the wallet to interpret,
 * but plain text or DER so that they can be inspected. The key is secret:
 * keep the CREDENTIALS and PENDING slots where only the device can read. */
#define IRP_WALLET_SLOT_CREDENTIALS 1
#define IRP_WALLET_SLOT_PENDING 2
#define IRP_WALLET_SLOT_CRL 3

/* ---- key algorithms (the wire values) ---- */
#define IRP_WALLET_KEY_DEFAULT 0 /* ECDSA P-256 */
#define IRP_WALLET_KEY_ECDSA_P256 1
#define IRP_WALLET_KEY_ED25519 2
#define IRP_WALLET_KEY_ECDSA_P384 3

typedef struct irp_wallet irp_wallet_t;                 /* opaque */
typedef struct irp_wallet_outcome irp_wallet_outcome_t; /* opaque, owned by its handle */

/* What the transport's connect callback is told. */
typedef struct irp_wallet_connect_info {
    size_t struct_size;
    const char* server;      /* "host:port" (port 4604 when absent), from the options */
    const char* server_name; /* the name the server certificate must carry: the host part of server
                                unless the options say otherwise */
    const char* trust_pem;   /* the trusted root(s), PEM: the server must chain to one */
    size_t trust_pem_len;
    uint32_t timeout_ms;     /* for connecting and the TLS handshake */
} irp_wallet_connect_info_t;

typedef struct irp_wallet_callbacks {
    size_t struct_size; /* sizeof(irp_wallet_callbacks_t) */

    /* Transport: one connection per exchange, opened by connect and always
     * closed by close (also after a failure), both called by the wallet.
     * Failures: IRP_WALLET_E_NETWORK, _TIMEOUT or _TLS (any other negative
     * value counts as _NETWORK). */
    void* transport_ctx;
    int (*connect)(void* ctx, const irp_wallet_connect_info_t* info);
    /* Sends all `len` bytes. */
    int (*send)(void* ctx, const uint8_t* data, size_t len);
    /* Waits at most timeout_ms for bytes; stores 1..cap of them in buf and
     * their number in *received. Nothing within timeout_ms: _TIMEOUT. */
    int (*receive)(void* ctx, uint8_t* buf, size_t cap, size_t* received, uint32_t timeout_ms);
    /* The RFC 5705 exporter value of this connection (label
     * "EXPORTER-IRP-v1-channel-binding", no context, 32 bytes): the proofs
     * the wallet sends are bound to it. At most cap bytes into buf, the
     * number into *len. */
    int (*channel_binding)(void* ctx, uint8_t* buf, size_t cap, size_t* len);
    void (*close)(void* ctx);
    /* Optional (NULL: none): a sentence about the last failure of a
     * transport callback, owned by ctx, valid until its next call. */
    const char* (*transport_error)(void* ctx);

    /* Storage: three slots (IRP_WALLET_SLOT_*). */
    void* storage_ctx;
    /* Replaces the slot's content atomically. */
    int (*save)(void* ctx, int slot, const uint8_t* data, size_t len);
    /* Copies the slot's content into buf and its length into *len. An empty
     * slot: IRP_WALLET_E_NOT_FOUND. Content longer than cap: set *len to its
     * length and return IRP_WALLET_E_BUFFER; the wallet calls again with a
     * buffer that large. cap may be 0 (buf is then NULL). */
    int (*load)(void* ctx, int slot, uint8_t* buf, size_t cap, size_t* len);
    /* Empties the slot; an empty slot is not an error. */
    int (*erase)(void* ctx, int slot);
    /* Optional (NULL: the wallet erases PENDING, then CREDENTIALS, then
     * CRL): the factory reset, all three slots emptied. */
    int (*wipe)(void* ctx);
    /* Optional, as transport_error. */
    const char* (*storage_error)(void* ctx);

    /* Clock. */
    void* clock_ctx;
    uint64_t (*monotonic_ms)(void* ctx); /* any origin; never goes back: for deadlines */
    int64_t (*unix_seconds)(void* ctx);  /* wall clock: for certificate validity */

    /* Entropy: fills buf with len bytes from a cryptographically secure
     * source, or fails (then nothing is generated from it and the call
     * returns IRP_WALLET_E_ENTROPY). Keys are generated from it. */
    void* entropy_ctx;
    int (*fill)(void* ctx, uint8_t* buf, size_t len);
} irp_wallet_callbacks_t;

typedef struct irp_wallet_options {
    size_t struct_size;    /* sizeof(irp_wallet_options_t) */
    const char* server;    /* required: "host:port" of the domain server, given to connect */
    const char* server_name; /* NULL: the host part of server */
    const char* trust_pem; /* required: the trusted root(s), PEM. The issued certificate must chain
                              to one; the transport is asked to hold the server to them too */
    size_t trust_pem_len;  /* 0: trust_pem is NUL-terminated */
    uint32_t timeout_ms;   /* connect timeout and the longest exchange; 0: 30000 */
    uint32_t max_frame_bytes; /* largest frame accepted from the server for enroll and renew: 0 (65536)
                                 or at least 1024 */
} irp_wallet_options_t;

typedef struct irp_wallet_enroll_params {
    size_t struct_size;    /* sizeof(irp_wallet_enroll_params_t) */
    const char* device_id; /* required: 1 to 64 of [A-Za-z0-9._-] */
    const char* class_id;  /* NULL: "default" */
    /* How the device proves it belongs (docs/PROTOCOL.md, "Bootstrap
     * methods"); at most one of the two; neither: ask for approval. */
    const uint8_t* token;  /* the bootstrap token (32 bytes) */
    size_t token_len;      /* 0 or 32 */
    const char* bootstrap_key_pem;   /* NULL, or a PKCS#8 PEM key registered with the domain */
    const char* bootstrap_chain_pem; /* NULL, or the manufacturer certificate (then intermediates),
                                        PEM, for bootstrap_key_pem */
    const char* model;     /* NULL, or at most 64 characters shown to an approver */
    int key_algorithm;     /* IRP_WALLET_KEY_* */
} irp_wallet_enroll_params_t;

typedef struct irp_wallet_renew_params {
    size_t struct_size; /* sizeof(irp_wallet_renew_params_t) */
    int same_key;       /* non-zero: keep the current key (only if the domain allows it) */
} irp_wallet_renew_params_t;

typedef struct irp_wallet_check_in_params {
    size_t struct_size;       /* sizeof(irp_wallet_check_in_params_t) */
    int skip_crl;             /* non-zero: do not ask for the domain's CRL */
    uint32_t max_frame_bytes; /* 0: room for the largest CRL a check-in carries (1 MiB + 256); else at
                                 least 1024: the server sends no CRL that would not fit */
} irp_wallet_check_in_params_t;

/* IRP_WALLET_API_VERSION of the linked library. */
int irp_wallet_api_version(void);

/* Creates a handle. opts and cb are copied (see "Ownership"). Required
 * callbacks: connect, send, receive, channel_binding, close, save, load,
 * erase, monotonic_ms, unix_seconds, fill. *out is NULL on failure. */
int irp_wallet_new(const irp_wallet_options_t* opts, const irp_wallet_callbacks_t* cb, irp_wallet_t** out);
/* NULL is allowed. */
void irp_wallet_free(irp_wallet_t* w);

/* Generates a key and enrolls it (or continues an enrollment held for
 * approval, whose key the PENDING slot holds). *out (may be NULL) is set to
 * the handle's outcome, also on failure. */
int irp_wallet_enroll(irp_wallet_t* w, const irp_wallet_enroll_params_t* p, const irp_wallet_outcome_t** out);
/* Renews the installed certificate (a new key unless same_key). p may be
 * NULL. Nothing installed: IRP_WALLET_E_NOT_FOUND, before connecting. */
int irp_wallet_renew(irp_wallet_t* w, const irp_wallet_renew_params_t* p, const irp_wallet_outcome_t** out);
/* Tells the server the device is alive and still holds its key; learns when
 * to check in next and whether to renew now, and brings the CRL slot up to
 * date. Released, revoked (by answer or by the CRL) or expired: the wallet
 * erases its slots and the outcome is IRP_WALLET_OUTCOME_RESET. p may be
 * NULL. Nothing installed: IRP_WALLET_E_NOT_FOUND, before connecting. */
int irp_wallet_check_in(irp_wallet_t* w, const irp_wallet_check_in_params_t* p, const irp_wallet_outcome_t** out);

/* The outcome of the handle's last exchange (never NULL for a handle). */
const irp_wallet_outcome_t* irp_wallet_last_outcome(const irp_wallet_t* w);

/* ---- the outcome; every accessor takes NULL and then returns 0 / "" ---- */
int irp_wallet_outcome_kind(const irp_wallet_outcome_t* o);
/* The error code of docs/PROTOCOL.md: REJECTED, RESET, ERROR (and INVALID
 * when the certificate could not be stored: 401); 0 otherwise. */
uint32_t irp_wallet_outcome_code(const irp_wallet_outcome_t* o);
/* The sentence that goes with it (the server's, or the wallet's). */
size_t irp_wallet_outcome_message(const irp_wallet_outcome_t* o, char* buf, size_t cap);
/* The server's request id ("" when it gave none). */
size_t irp_wallet_outcome_request_id(const irp_wallet_outcome_t* o, char* buf, size_t cap);
/* PENDING: seconds until the next ask, as the server said. */
uint32_t irp_wallet_outcome_retry_after(const irp_wallet_outcome_t* o);
/* INSTALLED: the certificate's serial (hex), its validity end, and whether
 * the server acknowledged the install. */
size_t irp_wallet_outcome_serial(const irp_wallet_outcome_t* o, char* buf, size_t cap);
int64_t irp_wallet_outcome_not_after(const irp_wallet_outcome_t* o);
int irp_wallet_outcome_install_confirmed(const irp_wallet_outcome_t* o);
/* INVALID: the install error number (docs/PROTOCOL.md, "Install errors"). */
uint32_t irp_wallet_outcome_install_status(const irp_wallet_outcome_t* o);
/* REDIRECT: where to. */
size_t irp_wallet_outcome_redirect_server(const irp_wallet_outcome_t* o, char* buf, size_t cap);
size_t irp_wallet_outcome_redirect_domain(const irp_wallet_outcome_t* o, char* buf, size_t cap);
/* CHECKED_IN: when to check in next, whether to renew now; the CRL that came
 * with it: stored (1/0), its number, and the code why it was refused (0:
 * not refused; the message says why). */
uint32_t irp_wallet_outcome_next_check_in(const irp_wallet_outcome_t* o);
int irp_wallet_outcome_renew_now(const irp_wallet_outcome_t* o);
int irp_wallet_outcome_crl_stored(const irp_wallet_outcome_t* o);
int64_t irp_wallet_outcome_crl_number(const irp_wallet_outcome_t* o);
uint32_t irp_wallet_outcome_crl_refused(const irp_wallet_outcome_t* o);

/* Names, for messages: "bad_token_proof", "IRP_WALLET_E_TLS", "installed".
 * Static strings; "unknown" for values not in the tables. */
const char* irp_wallet_code_name(uint32_t code);
const char* irp_wallet_status_name(int status);
const char* irp_wallet_outcome_kind_name(int kind);

#ifdef __cplusplus
}
#endif

#endif /* IRP_WALLET_H */
