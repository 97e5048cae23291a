/*
 * irp_wallet_posix.h: POSIX defaults for the callbacks of irp/wallet.h
 * (library idwallet_c_posix). C99.
 *
 * Kept out of idwallet_c on purpose: the transport is a TLS client over TCP
 * (lib/net: Asio and Botan's TLS), the storage a directory of files. A
 * firmware build links idwallet_c alone and brings its own network stack and
 * flash; a Linux device, a test or an example may take any of these instead.
 */
#ifndef IRP_WALLET_POSIX_H
#define IRP_WALLET_POSIX_H

#include "irp/wallet.h"

#ifdef __cplusplus
extern "C" {
#endif

/* Which callback groups irp_wallet_posix_defaults fills in. */
#define IRP_WALLET_POSIX_TRANSPORT 1u /* TLS 1.2 over TCP; the server must chain to the trust anchors
                                         and carry the server name (connect_info) */
#define IRP_WALLET_POSIX_STORAGE 2u   /* a directory laid out as idwallet's --store: device.key (0600)
                                         and device.crt installed by write-temp/fsync/rename,
                                         pending.key and pending.id, crl.der; software keys only: a
                                         store whose key idwallet made in a PKCS#11 token is refused */
#define IRP_WALLET_POSIX_CLOCK 4u     /* CLOCK_MONOTONIC and time() */
#define IRP_WALLET_POSIX_ENTROPY 8u   /* getrandom(2) */
#define IRP_WALLET_POSIX_ALL 15u

typedef struct irp_wallet_posix irp_wallet_posix_t; /* opaque: the state those callbacks share */

/* Fills the groups named in `which` (ctx and function pointers) of *cb,
 * whose struct_size the caller has set, and leaves the others alone.
 * storage_dir is required with IRP_WALLET_POSIX_STORAGE (it is created on
 * the first save, mode 0700) and ignored otherwise. *state receives the
 * state the callbacks point to: free it with irp_wallet_posix_free after the
 * last handle using them is freed. One state per handle (it holds one
 * connection). */
int irp_wallet_posix_defaults(irp_wallet_callbacks_t* cb, unsigned which, const char* storage_dir,
                              irp_wallet_posix_t** state);
/* NULL is allowed. */
void irp_wallet_posix_free(irp_wallet_posix_t* state);

#ifdef __cplusplus
}
#endif

#endif /* IRP_WALLET_POSIX_H */
