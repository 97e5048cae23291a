/*
 * irp-firmware-c: a device written in plain C99 on the wallet's C API
 * (include/irp/wallet.h). It brings its own storage (a "flash" of one file
 * per slot, each written to a temporary file, synced and renamed into
 * place), its own clock and its own entropy, as firmware would; only the
 * TLS transport comes from idwallet_c_posix.
 *
 *   irp-firmware-c --server HOST:PORT --trust ROOT.pem --flash DIR
 *                  [--device-id ID --class CLASS --token HEX]   enroll (the default)
 *                  [--renew] [--check-in]                        instead: renew, then check in
 *                  [--timeout-ms MS]
 *
 * The flash directory holds credentials.slot (key, then certificate and
 * chain, PEM), pending.slot and crl.slot (DER).
 *
 * Exit codes (those of idwallet, README.md "idwallet exit codes"):
 *   0 done; 1 internal error or out of memory; 2 usage; 3 network, TLS or
 *   timeout; 4 the server refused the device's proof (2xx); 5 the server's
 *   policy refused (3xx); 6 the certificate received failed validation (not
 *   installed), or the CRL received was refused; 7 storage (including:
 *   nothing installed to renew or check in); 8 protocol error; 9 held for
 *   approval or retry later; 10 redirected; 11 reset: released or revoked,
 *   the flash was erased.
 */
#define _POSIX_C_SOURCE 200809L

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "irp/wallet.h"
#include "irp_wallet_posix.h"

enum {
    EXIT_DONE = 0,
    EXIT_INTERNAL = 1,
    EXIT_USAGE = 2,
    EXIT_NETWORK = 3,
    EXIT_AUTH = 4,
    EXIT_POLICY = 5,
    EXIT_INVALID = 6,
    EXIT_STORAGE = 7,
    EXIT_PROTOCOL = 8,
    EXIT_RETRY = 9,
    EXIT_REDIRECT = 10,
    EXIT_RESET = 11
};

/* ---- the "flash": one file per slot ---- */

typedef struct flash {
    const char* dir;
    unsigned saves; /* counted, to show that ctx reaches the callbacks */
    char error[768];
} flash_t;

static const char* slot_file(int slot) {
    switch (slot) {
        case IRP_WALLET_SLOT_CREDENTIALS: return "credentials.slot";
        case IRP_WALLET_SLOT_PENDING: return "pending.slot";
        case IRP_WALLET_SLOT_CRL: return "crl.slot";
    }
    return NULL;
}

static int slot_path(const flash_t* f, int slot, const char* suffix, char* out, size_t cap) {
    const char* name = slot_file(slot);
    int n;
    if (!name) return 0;
    n = snprintf(out, cap, "%s/%s%s", f->dir, name, suffix);
    return n > 0 && (size_t)n < cap;
}

static int flash_fail(flash_t* f, const char* what, const char* path) {
    const int n = snprintf(f->error, sizeof f->error, "%s '%s': %s", what, path, strerror(errno));
    if (n < 0) f->error[0] = '\0'; /* a sentence cut short is still a sentence */
    return IRP_WALLET_E_STORAGE;
}

static void sync_dir(const char* dir) {
    int fd = open(dir, O_RDONLY);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

static int flash_save(void* ctx, int slot, const uint8_t* data, size_t len) {
    flash_t* f = (flash_t*)ctx;
    char path[512], tmp[512];
    int fd;
    size_t done = 0;
    if (!slot_path(f, slot, "", path, sizeof path) || !slot_path(f, slot, ".tmp", tmp, sizeof tmp))
        return IRP_WALLET_E_INVALID;
    if (mkdir(f->dir, 0700) != 0 && errno != EEXIST) return flash_fail(f, "cannot create", f->dir);
    fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC, 0600);
    if (fd < 0) return flash_fail(f, "cannot create", tmp);
    while (done < len) {
        ssize_t n = write(fd, data + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            close(fd);
            unlink(tmp);
            return flash_fail(f, "cannot write", tmp);
        }
        done += (size_t)n;
    }
    if (fsync(fd) != 0 || close(fd) != 0) {
        unlink(tmp);
        return flash_fail(f, "cannot sync", tmp);
    }
    if (rename(tmp, path) != 0) {
        unlink(tmp);
        return flash_fail(f, "cannot rename to", path);
    }
    sync_dir(f->dir);
    f->saves++;
    return IRP_WALLET_OK;
}

static int flash_load(void* ctx, int slot, uint8_t* buf, size_t cap, size_t* len) {
    flash_t* f = (flash_t*)ctx;
    char path[512];
    struct stat st;
    size_t done = 0;
    int fd;
    if (!slot_path(f, slot, "", path, sizeof path)) return IRP_WALLET_E_INVALID;
    fd = open(path, O_RDONLY);
    if (fd < 0) return errno == ENOENT ? IRP_WALLET_E_NOT_FOUND : flash_fail(f, "cannot open", path);
    if (fstat(fd, &st) != 0) {
        close(fd);
        return flash_fail(f, "cannot stat", path);
    }
    *len = (size_t)st.st_size;
    if (*len > cap) {
        close(fd);
        return IRP_WALLET_E_BUFFER;
    }
    while (done < *len) {
        ssize_t n = read(fd, buf + done, *len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) {
            close(fd);
            return flash_fail(f, "cannot read", path);
        }
        done += (size_t)n;
    }
    close(fd);
    return IRP_WALLET_OK;
}

static int flash_erase(void* ctx, int slot) {
    flash_t* f = (flash_t*)ctx;
    char path[512];
    if (!slot_path(f, slot, "", path, sizeof path)) return IRP_WALLET_E_INVALID;
    if (unlink(path) != 0 && errno != ENOENT) return flash_fail(f, "cannot erase", path);
    sync_dir(f->dir);
    return IRP_WALLET_OK;
}

static const char* flash_error(void* ctx) { return ((flash_t*)ctx)->error; }

/* ---- clock and entropy: the "hardware" ---- */

static uint64_t hw_monotonic_ms(void* ctx) {
    struct timespec ts;
    (void)ctx;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000u + (uint64_t)(ts.tv_nsec / 1000000);
}

static int64_t hw_unix_seconds(void* ctx) {
    (void)ctx;
    return (int64_t)time(NULL);
}

/* The hardware RNG: here the kernel's, read from /dev/urandom. */
static int hw_entropy(void* ctx, uint8_t* buf, size_t len) {
    int fd = *(const int*)ctx;
    size_t done = 0;
    while (done < len) {
        ssize_t n = read(fd, buf + done, len - done);
        if (n < 0 && errno == EINTR) continue;
        if (n <= 0) return IRP_WALLET_E_ENTROPY;
        done += (size_t)n;
    }
    return IRP_WALLET_OK;
}

/* ---- the program ---- */

static int usage(void) {
    fprintf(stderr,
            "usage: irp-firmware-c --server HOST:PORT --trust ROOT.pem --flash DIR\n"
            "                      [--device-id ID --class CLASS --token HEX] [--renew] [--check-in]\n"
            "                      [--timeout-ms MS]\n");
    return EXIT_USAGE;
}

static char* read_file(const char* path) {
    FILE* fp = fopen(path, "rb");
    char* buf = NULL;
    long size;
    if (!fp) return NULL;
    if (fseek(fp, 0, SEEK_END) == 0 && (size = ftell(fp)) >= 0 && size < 1024 * 1024 && fseek(fp, 0, SEEK_SET) == 0) {
        buf = (char*)malloc((size_t)size + 1);
        if (buf && fread(buf, 1, (size_t)size, fp) == (size_t)size) {
            buf[size] = '\0';
        } else {
            free(buf);
            buf = NULL;
        }
    }
    fclose(fp);
    return buf;
}

static int from_hex(const char* hex, uint8_t* out, size_t n) {
    size_t i;
    if (strlen(hex) != 2 * n) return 0;
    for (i = 0; i < 2 * n; ++i) {
        const char c = hex[i];
        int v;
        if (c >= '0' && c <= '9') v = c - '0';
        else if (c >= 'a' && c <= 'f') v = c - 'a' + 10;
        else if (c >= 'A' && c <= 'F') v = c - 'A' + 10;
        else return 0;
        if (i % 2 == 0) out[i / 2] = (uint8_t)(v << 4);
        else out[i / 2] |= (uint8_t)v;
    }
    return 1;
}

/* The exit code for a numbered error (docs/PROTOCOL.md "Error codes"). */
static int exit_for_code(uint32_t code) {
    if (code == 107 || code == 108 || code == 109) return EXIT_NETWORK;
    if (code >= 100 && code < 200) return EXIT_PROTOCOL;
    if (code >= 200 && code < 300) return EXIT_AUTH;
    if (code >= 300 && code < 400) return EXIT_POLICY;
    if (code == 401) return EXIT_STORAGE;
    if (code >= 400 && code < 500) return EXIT_USAGE;
    if (code >= 500 && code < 600) return code == 500 ? EXIT_RETRY : EXIT_INTERNAL;
    return EXIT_INTERNAL;
}

static int exit_for_status(int status) {
    switch (status) {
        case IRP_WALLET_E_NETWORK:
        case IRP_WALLET_E_TIMEOUT:
        case IRP_WALLET_E_TLS: return EXIT_NETWORK;
        case IRP_WALLET_E_STORAGE:
        case IRP_WALLET_E_NOT_FOUND: return EXIT_STORAGE;
        case IRP_WALLET_E_PROTOCOL: return EXIT_PROTOCOL;
        case IRP_WALLET_E_INVALID:
        case IRP_WALLET_E_VERSION: return EXIT_USAGE;
        default: return EXIT_INTERNAL;
    }
}

/* Prints what one exchange ended with; returns the exit code. */
static int report(const char* what, int status, const irp_wallet_outcome_t* o) {
    char message[1025], request[65], serial[64], where[260];
    const int kind = irp_wallet_outcome_kind(o);
    const uint32_t code = irp_wallet_outcome_code(o);
    irp_wallet_outcome_message(o, message, sizeof message);
    irp_wallet_outcome_request_id(o, request, sizeof request);
    if (status != IRP_WALLET_OK) {
        fprintf(stderr, "irp-firmware-c: %s failed: %s: %s (code %u %s)\n", what, irp_wallet_status_name(status),
                message, (unsigned)code, irp_wallet_code_name(code));
        return exit_for_status(status);
    }
    switch (kind) {
        case IRP_WALLET_OUTCOME_INSTALLED:
            irp_wallet_outcome_serial(o, serial, sizeof serial);
            printf("%s: installed serial %s request %s not-after %lld%s\n", what, serial, request,
                   (long long)irp_wallet_outcome_not_after(o),
                   irp_wallet_outcome_install_confirmed(o) ? "" : " (install not acknowledged)");
            return EXIT_DONE;
        case IRP_WALLET_OUTCOME_CHECKED_IN:
            printf("%s: checked in; next check-in in %u s%s", what, (unsigned)irp_wallet_outcome_next_check_in(o),
                   irp_wallet_outcome_renew_now(o) ? "; renew now" : "");
            if (irp_wallet_outcome_crl_stored(o))
                printf("; CRL number %lld stored", (long long)irp_wallet_outcome_crl_number(o));
            printf("\n");
            if (irp_wallet_outcome_crl_refused(o)) {
                fprintf(stderr, "irp-firmware-c: %s: %s (code %u %s)\n", what, message,
                        (unsigned)irp_wallet_outcome_crl_refused(o), irp_wallet_code_name(irp_wallet_outcome_crl_refused(o)));
                return irp_wallet_outcome_crl_refused(o) == 401 ? EXIT_STORAGE : EXIT_INVALID;
            }
            return EXIT_DONE;
        case IRP_WALLET_OUTCOME_RESET:
            printf("%s: reset: %s (code %u %s); the identity was erased from the flash\n", what, message,
                   (unsigned)code, irp_wallet_code_name(code));
            return EXIT_RESET;
        case IRP_WALLET_OUTCOME_REJECTED:
            fprintf(stderr, "irp-firmware-c: %s rejected: %s (code %u %s) request %s\n", what, message, (unsigned)code,
                    irp_wallet_code_name(code), request);
            return exit_for_code(code);
        case IRP_WALLET_OUTCOME_PENDING:
            fprintf(stderr, "irp-firmware-c: %s held for approval; retry in %u s; request %s\n", what,
                    (unsigned)irp_wallet_outcome_retry_after(o), request);
            return EXIT_RETRY;
        case IRP_WALLET_OUTCOME_REDIRECT:
            irp_wallet_outcome_redirect_server(o, where, sizeof where);
            fprintf(stderr, "irp-firmware-c: %s redirected to %s\n", what, where);
            return EXIT_REDIRECT;
        case IRP_WALLET_OUTCOME_INVALID:
            fprintf(stderr, "irp-firmware-c: %s: certificate not installed: %s (install error %u)\n", what, message,
                    (unsigned)irp_wallet_outcome_install_status(o));
            return code == 401 ? EXIT_STORAGE : EXIT_INVALID;
    }
    fprintf(stderr, "irp-firmware-c: %s: unexpected outcome %s\n", what, irp_wallet_outcome_kind_name(kind));
    return EXIT_INTERNAL;
}

int main(int argc, char** argv) {
    const char *server = NULL, *trust_path = NULL, *device_id = NULL, *class_id = "default", *token_hex = NULL;
    const char* flash_dir = NULL;
    int do_renew = 0, do_check_in = 0, i, rc = EXIT_DONE, status;
    unsigned long timeout_ms = 30000;
    uint8_t token[32];
    char* trust = NULL;
    int urandom = -1;
    flash_t flash;
    irp_wallet_callbacks_t cb;
    irp_wallet_options_t opts;
    irp_wallet_posix_t* posix = NULL;
    irp_wallet_t* w = NULL;
    const irp_wallet_outcome_t* outcome = NULL;

    for (i = 1; i < argc; ++i) {
        const char* a = argv[i];
        const char* v = i + 1 < argc ? argv[i + 1] : NULL;
        if (strcmp(a, "--renew") == 0) { do_renew = 1; continue; }
        if (strcmp(a, "--check-in") == 0) { do_check_in = 1; continue; }
        if (!v) return usage();
        if (strcmp(a, "--server") == 0) server = v;
        else if (strcmp(a, "--trust") == 0) trust_path = v;
        else if (strcmp(a, "--device-id") == 0) device_id = v;
        else if (strcmp(a, "--class") == 0) class_id = v;
        else if (strcmp(a, "--token") == 0) token_hex = v;
        else if (strcmp(a, "--flash") == 0) flash_dir = v;
        else if (strcmp(a, "--timeout-ms") == 0) timeout_ms = strtoul(v, NULL, 10);
        else return usage();
        ++i;
    }
    if (!server || !trust_path || !flash_dir) return usage();
    if (!do_renew && !do_check_in && !device_id) return usage();
    if (token_hex && !from_hex(token_hex, token, sizeof token)) {
        fprintf(stderr, "irp-firmware-c: the token must be 64 hex digits\n");
        return EXIT_USAGE;
    }
    trust = read_file(trust_path);
    if (!trust) {
        fprintf(stderr, "irp-firmware-c: cannot read '%s'\n", trust_path);
        return EXIT_STORAGE;
    }
    urandom = open("/dev/urandom", O_RDONLY);
    if (urandom < 0) {
        fprintf(stderr, "irp-firmware-c: no entropy source\n");
        free(trust);
        return EXIT_INTERNAL;
    }

    memset(&flash, 0, sizeof flash);
    flash.dir = flash_dir;
    memset(&cb, 0, sizeof cb);
    cb.struct_size = sizeof cb;
    /* Only the transport is POSIX's; the rest is this firmware's own. */
    status = irp_wallet_posix_defaults(&cb, IRP_WALLET_POSIX_TRANSPORT, NULL, &posix);
    if (status != IRP_WALLET_OK) {
        fprintf(stderr, "irp-firmware-c: irp_wallet_posix_defaults: %s\n", irp_wallet_status_name(status));
        rc = EXIT_INTERNAL;
        goto out;
    }
    cb.storage_ctx = &flash;
    cb.save = flash_save;
    cb.load = flash_load;
    cb.erase = flash_erase;
    cb.wipe = NULL; /* the wallet erases the slots one by one */
    cb.storage_error = flash_error;
    cb.clock_ctx = NULL;
    cb.monotonic_ms = hw_monotonic_ms;
    cb.unix_seconds = hw_unix_seconds;
    cb.entropy_ctx = &urandom;
    cb.fill = hw_entropy;

    memset(&opts, 0, sizeof opts);
    opts.struct_size = sizeof opts;
    opts.server = server;
    opts.trust_pem = trust;
    opts.timeout_ms = (uint32_t)timeout_ms;
    status = irp_wallet_new(&opts, &cb, &w);
    if (status != IRP_WALLET_OK) {
        fprintf(stderr, "irp-firmware-c: irp_wallet_new: %s\n", irp_wallet_status_name(status));
        rc = status == IRP_WALLET_E_NOMEM ? EXIT_INTERNAL : EXIT_USAGE;
        goto out;
    }

    if (!do_renew && !do_check_in) {
        irp_wallet_enroll_params_t p;
        memset(&p, 0, sizeof p);
        p.struct_size = sizeof p;
        p.device_id = device_id;
        p.class_id = class_id;
        if (token_hex) {
            p.token = token;
            p.token_len = sizeof token;
        }
        status = irp_wallet_enroll(w, &p, &outcome);
        rc = report("enroll", status, outcome);
    }
    if (do_renew) {
        status = irp_wallet_renew(w, NULL, &outcome);
        rc = report("renew", status, outcome);
    }
    if (do_check_in && rc == EXIT_DONE) {
        irp_wallet_check_in_params_t p;
        memset(&p, 0, sizeof p);
        p.struct_size = sizeof p;
        status = irp_wallet_check_in(w, &p, &outcome);
        rc = report("check-in", status, outcome);
    }
    if (rc == EXIT_DONE) printf("flash: %u slot writes in %s\n", flash.saves, flash_dir);

out:
    irp_wallet_free(w);
    irp_wallet_posix_free(posix);
    if (urandom >= 0) close(urandom);
    free(trust);
    return rc;
}
