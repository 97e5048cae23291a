#!/usr/bin/env bash
# The wallet's footprint, measured (issue 5; docs/ARCHITECTURE.md "The C API"):
#   1. peak heap of one enrollment by examples/firmware-c (valgrind massif),
#      against a real irp-server this script starts on loopback, split by what
#      the memory was for, and compared with the 256 KiB target for the
#      wallet core;
#   2. the stripped size of what an embedder of the C API links of our code
#      (libidwallet_c.a + libidwallet_core.a + libirp_core.a + libirp_proto.a
#      + libirp_crypto.a + libirp_base.a), Botan and protobuf excluded, and
#      what of it a C program using idwallet_c alone really pulls in.
# A measurement, not a test: it is not part of ctest.
#
# Usage: scripts/footprint.sh [BUILD_DIR]
#   BUILD_DIR: an existing build (irp-server and irp-firmware-c are built in it
#   if missing); default: configure and build build-footprint (RelWithDebInfo).
# Needs valgrind (massif), binutils (strip, size), a C compiler, pkg-config.
set -euo pipefail
SRC=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=${1:-}
if [ -z "$BUILD" ]; then
    BUILD="$SRC/build-footprint"
    cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
fi
BUILD=$(cd "$BUILD" && pwd)
for tool in valgrind strip size cc c++ pkg-config awk; do
    command -v "$tool" >/dev/null || { echo "footprint: $tool is missing (apt-get install valgrind binutils gcc g++ pkg-config)"; exit 2; }
done
cmake --build "$BUILD" --target irp-server irp-firmware-c idwallet_c >/dev/null

WORK=$(mktemp -d /tmp/irp-footprint.XXXXXX)
SERVER_PID=""
cleanup() { [ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT
kib() { awk -v b="$1" 'BEGIN { printf "%.1f", b / 1024 }'; }

# ---- 1. peak heap of one enrollment ---------------------------------------------
SERVER="$BUILD/irp-server"
FW="$BUILD/examples/firmware-c/irp-firmware-c"
"$SERVER" init --dir "$WORK/ca" --domain footprint.example --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --http-listen 127.0.0.1:0 >/dev/null
"$SERVER" run --config "$WORK/ca/server.toml" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 200); do grep -q 'CRL and OCSP on' "$WORK/server.log" 2>/dev/null && break; sleep 0.05; done
PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/server.log" | head -1)
[ -n "$PORT" ] || { echo "footprint: the server did not start"; cat "$WORK/server.log"; exit 1; }
TOKEN=$("$SERVER" token --config "$WORK/ca/server.toml" --class default --device-id footprint-1)

# Every snapshot detailed, so that each category's peak over time is known;
# allocation sites below 0.05% of the heap are lumped (counted as the wallet's).
valgrind --tool=massif --threshold=0.05 --depth=40 --detailed-freq=1 --massif-out-file="$WORK/massif.out" \
    "$FW" --server "127.0.0.1:$PORT" --trust "$WORK/ca/root-ca.pem" --flash "$WORK/flash" \
    --device-id footprint-1 --token "$TOKEN" >"$WORK/fw.out" 2>"$WORK/valgrind.log" ||
    { echo "footprint: the enrollment failed:"; cat "$WORK/fw.out" "$WORK/valgrind.log"; exit 1; }
grep -q "^enroll: installed" "$WORK/fw.out" || { echo "footprint: no install:"; cat "$WORK/fw.out"; exit 1; }
kill "$SERVER_PID" 2>/dev/null; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=""

# Each heap-tree leaf goes to one category by the frames on its stack:
#   ec      Botan's tables for an elliptic curve (EC_Group): built the first
#           time the curve is used (here: the TLS handshake checking the
#           server's P-256 certificate; else the device's own P-256 key),
#           then kept for the process
#   tls     the transport: lib/net's TLS client (Botan TLS channel, Asio)
#   startup static initialisation before main (libstdc++'s emergency
#           exception pool and the like)
#   wallet  the rest: the wallet core, the C API, protobuf-lite, Botan's work
#           for keys, CSRs and X.509 checks, the program's own buffers
awk '
function classify(p) {
    if (p ~ /EC_group_info|load_EC_group_info/) return "ec"
    if (p ~ /TlsClientConnection|irp::net::|asio::|tls_connect|tls_send|tls_receive|tls_close|tls_channel_binding/) return "tls"
    if (p !~ /irp_wallet|irp::wallet|main \(main\.c/ && p ~ /_dl_init|call_init|_GLOBAL__sub_I/) return "startup"
    return "wallet"
}
function flush() {
    if (!tree) return
    printf "%s %d %d %d %d %d %d\n", snap, heap, extra, s["ec"], s["tls"], s["startup"], s["wallet"]
    tree = 0
}
/^snapshot=/ { flush(); snap = substr($0, 10); next }
/^mem_heap_B=/ { heap = substr($0, 12); next }
/^mem_heap_extra_B=/ { extra = substr($0, 18); next }
/^heap_tree=/ { delete s; delete path; tree = ($0 != "heap_tree=empty"); next }
tree && /^ *n[0-9]+: / {
    match($0, /^ */); d = RLENGTH
    rest = substr($0, d + 1)
    n = substr(rest, 2, index(rest, ":") - 2) + 0
    rest = substr(rest, index(rest, ":") + 2)
    bytes = substr(rest, 1, index(rest, " ") - 1) + 0
    path[d] = substr(rest, index(rest, " ") + 1)
    if (n == 0 && bytes > 0) {
        p = ""
        for (i = 0; i <= d; i++) p = p "|" path[i]
        s[classify(p)] += bytes
    }
    next
}
END { flush() }' "$WORK/massif.out" >"$WORK/snapshots.txt"
[ -s "$WORK/snapshots.txt" ] || { echo "footprint: massif wrote no heap tree"; exit 1; }

# Columns: snapshot heap extra ec tls startup wallet
read -r PEAK_SNAP PEAK PEAK_EXTRA PEAK_EC PEAK_TLS PEAK_START PEAK_WALLET < <(sort -k2,2n "$WORK/snapshots.txt" | tail -1)
MAX_EC=$(awk '$4 > m { m = $4 } END { print m + 0 }' "$WORK/snapshots.txt")
MAX_TLS=$(awk '$5 > m { m = $5 } END { print m + 0 }' "$WORK/snapshots.txt")
MAX_START=$(awk '$6 > m { m = $6 } END { print m + 0 }' "$WORK/snapshots.txt")
MAX_WALLET=$(awk '$7 > m { m = $7 } END { print m + 0 }' "$WORK/snapshots.txt")
# The wallet core with the crypto it needs: everything but the transport and
# the C++ runtime's start-up allocations, at its own worst moment.
MAX_CORE=$(awk '$2 - $5 - $6 > m { m = $2 - $5 - $6 } END { print m + 0 }' "$WORK/snapshots.txt")
MAX_CORE_STEADY=$(awk '{ v = $7 + $4 } $4 < 0.5 * '"$MAX_EC"' && v > m { m = v } END { print m + 0 }' "$WORK/snapshots.txt")
TARGET=$((256 * 1024))

echo "== peak heap of one enrollment (irp-firmware-c: own storage/clock/entropy, POSIX TLS transport)"
printf "%-64s %10s %9s\n" "KiB" "at peak" "max"
printf "%-64s %10s %9s\n" "process heap, useful bytes (massif mem_heap_B)" "$(kib "$PEAK")" "$(kib "$PEAK")"
printf "%-64s %10s\n" "  + allocator overhead (mem_heap_extra_B)" "$(kib "$PEAK_EXTRA")"
printf "%-64s %10s %9s\n" "  transport: TLS client (Botan TLS channel, Asio)" "$(kib "$PEAK_TLS")" "$(kib "$MAX_TLS")"
printf "%-64s %10s %9s\n" "  start-up: C++ runtime before main (libstdc++ exception pool)" "$(kib "$PEAK_START")" "$(kib "$MAX_START")"
printf "%-64s %10s %9s\n" "  Botan's P-256 tables (built on first use of the curve, kept)" "$(kib "$PEAK_EC")" "$(kib "$MAX_EC")"
printf "%-64s %10s %9s\n" "  wallet core: ours, C API, protobuf-lite, Botan keys/CSR/X.509" "$(kib "$PEAK_WALLET")" "$(kib "$MAX_WALLET")"
echo
verdict() { if [ "$1" -le "$TARGET" ]; then echo "within"; else echo "ABOVE"; fi; }
printf "%-64s %10s  %s the 256 KiB target\n" "wallet core + Botan's curve tables, worst moment" "$(kib "$MAX_CORE")" "$(verdict "$MAX_CORE")"
printf "%-64s %10s  %s the 256 KiB target\n" "  ... outside the moments Botan builds them" "$(kib "$MAX_CORE_STEADY")" "$(verdict "$MAX_CORE_STEADY")"
printf "%-64s %10s  %s the 256 KiB target\n" "wallet core without Botan's curve tables" "$(kib "$MAX_WALLET")" "$(verdict "$MAX_WALLET")"
printf "%-64s %10s  %s the 256 KiB target\n" "whole process (TLS and C++ runtime included)" "$(kib "$PEAK")" "$(verdict "$PEAK")"
echo "(massif snapshot $PEAK_SNAP is the process peak; heap only: stacks, Botan's mlock pool and code are not counted)"

# ---- 2. sizes -----------------------------------------------------------------------
echo
echo "== what an embedder of the C API links of our code (Botan and protobuf excluded)"
printf "%-24s %12s %14s %10s %10s %10s\n" "archive" "bytes" "stripped (B)" "text" "data" "bss"
TOTAL=0; TOTAL_STRIPPED=0; TT=0; TD=0; TB=0
for lib in idwallet_c idwallet_core irp_core irp_proto irp_crypto irp_base; do
    a="$BUILD/lib$lib.a"
    [ -f "$a" ] || { echo "footprint: $a is missing"; exit 1; }
    cp "$a" "$WORK/s.a"
    strip --strip-unneeded "$WORK/s.a"
    raw=$(wc -c <"$a"); stripped=$(wc -c <"$WORK/s.a")
    read -r t d b < <(size -t "$a" | tail -1 | awk '{ print $1, $2, $3 }')
    printf "%-24s %12d %14d %10d %10d %10d\n" "lib$lib.a" "$raw" "$stripped" "$t" "$d" "$b"
    TOTAL=$((TOTAL + raw)); TOTAL_STRIPPED=$((TOTAL_STRIPPED + stripped)); TT=$((TT + t)); TD=$((TD + d)); TB=$((TB + b))
done
printf "%-24s %12d %14d %10d %10d %10d\n" "total" "$TOTAL" "$TOTAL_STRIPPED" "$TT" "$TD" "$TB"
echo "($(kib "$TOTAL_STRIPPED") KiB stripped; text+data $(kib $((TT + TD))) KiB. libidwallet_c_posix.a and libirp_net.a (Asio) are the POSIX defaults, not counted)"

# What a C program that uses idwallet_c alone (its own callbacks) pulls in:
# the linker takes only the archive members it needs (store.cpp and
# lib/platform stay out); Botan, protobuf-lite and libstdc++ are shared here.
cat >"$WORK/embed.c" <<'EOF'
#include <string.h>
#include "irp/wallet.h"
static int c_connect(void* c, const irp_wallet_connect_info_t* i) { (void)c; (void)i; return IRP_WALLET_E_NETWORK; }
static int c_send(void* c, const uint8_t* d, size_t n) { (void)c; (void)d; (void)n; return IRP_WALLET_E_NETWORK; }
static int c_recv(void* c, uint8_t* b, size_t n, size_t* r, uint32_t t) { (void)c; (void)b; (void)n; (void)r; (void)t; return IRP_WALLET_E_NETWORK; }
static int c_bind(void* c, uint8_t* b, size_t n, size_t* l) { (void)c; (void)b; (void)n; (void)l; return IRP_WALLET_E_NETWORK; }
static void c_close(void* c) { (void)c; }
static int s_save(void* c, int s, const uint8_t* d, size_t n) { (void)c; (void)s; (void)d; (void)n; return IRP_WALLET_E_STORAGE; }
static int s_load(void* c, int s, uint8_t* b, size_t n, size_t* l) { (void)c; (void)s; (void)b; (void)n; (void)l; return IRP_WALLET_E_NOT_FOUND; }
static int s_erase(void* c, int s) { (void)c; (void)s; return IRP_WALLET_OK; }
static uint64_t k_mono(void* c) { (void)c; return 0; }
static int64_t k_unix(void* c) { (void)c; return 0; }
static int e_fill(void* c, uint8_t* b, size_t n) { (void)c; memset(b, 0, n); return IRP_WALLET_E_ENTROPY; }
int main(int argc, char** argv) {
    irp_wallet_callbacks_t cb; irp_wallet_options_t o; irp_wallet_enroll_params_t p; irp_wallet_t* w = 0;
    (void)argv;
    memset(&cb, 0, sizeof cb); memset(&o, 0, sizeof o); memset(&p, 0, sizeof p);
    cb.struct_size = sizeof cb; cb.connect = c_connect; cb.send = c_send; cb.receive = c_recv; cb.channel_binding = c_bind;
    cb.close = c_close; cb.save = s_save; cb.load = s_load; cb.erase = s_erase; cb.monotonic_ms = k_mono;
    cb.unix_seconds = k_unix; cb.fill = e_fill;
    o.struct_size = sizeof o; o.server = "x:1"; o.trust_pem = "";
    p.struct_size = sizeof p; p.device_id = "d";
    if (irp_wallet_new(&o, &cb, &w) != IRP_WALLET_OK) return 1;
    if (argc > 5) { irp_wallet_enroll(w, &p, 0); irp_wallet_renew(w, 0, 0); irp_wallet_check_in(w, 0, 0); }
    irp_wallet_free(w);
    return 0;
}
EOF
cc -std=c99 -O2 -I"$SRC/include" -c "$WORK/embed.c" -o "$WORK/embed.o"
c++ -o "$WORK/embed" "$WORK/embed.o" "$BUILD/libidwallet_c.a" "$BUILD/libidwallet_core.a" "$BUILD/libirp_core.a" \
    "$BUILD/libirp_proto.a" "$BUILD/libirp_crypto.a" "$BUILD/libirp_base.a" "$BUILD/libirp_platform.a" \
    $(pkg-config --libs botan-2) -lprotobuf-lite -ldl
strip --strip-unneeded -o "$WORK/embed.stripped" "$WORK/embed"
read -r ET ED EB < <(size "$WORK/embed" | tail -1 | awk '{ print $1, $2, $3 }')
printf "%-48s %10d B stripped (text %d, data %d, bss %d)\n" "a C program on idwallet_c alone, linked" \
    "$(wc -c <"$WORK/embed.stripped")" "$ET" "$ED" "$EB"
if ldd "$WORK/embed" | grep -q 'libprotobuf\.so'; then echo "protobuf: the FULL runtime is linked"; else
    echo "protobuf: lite runtime only ($(ldd "$WORK/embed" | awk '/protobuf/ { print $1 }'))"; fi
strip --strip-unneeded -o "$WORK/fw.stripped" "$FW"
printf "%-48s %10d B stripped (with the POSIX TLS transport and Asio)\n" "irp-firmware-c" "$(wc -c <"$WORK/fw.stripped")"
