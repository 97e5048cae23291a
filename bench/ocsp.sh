#!/usr/bin/env bash
# OCSP throughput: N signed responses over HTTP keep-alive from curl (C in
# parallel), for one device certificate, with and without a nonce. Prints
# responses/s and irp-server CPU per response (from /proc). Client and
# server share the machine, so responses/s is a floor; CPU per response is
# what a dedicated responder would pay.
# Usage: bench/ocsp.sh [BUILD_DIR] (default build); env N (10000), C (8).
set -euo pipefail
ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
BUILD=$(realpath "${1:-$ROOT/build}")
N=${N:-10000}; C=${C:-8}
WORK=$(mktemp -d /tmp/irp-ocsp-bench.XXXXXX)
PID=""
cleanup() { [ -n "$PID" ] && kill "$PID" 2>/dev/null; wait 2>/dev/null; rm -rf "$WORK"; }
trap cleanup EXIT

"$BUILD/irp-server" init --dir "$WORK/ca" --domain ocsp.example --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --http-listen 127.0.0.1:0 >/dev/null
# One client address opens C connections at once: lift the per-address bound.
sed -i 's/^max_connections_per_source = .*/max_connections_per_source = 0/' "$WORK/ca/server.toml"
"$BUILD/irp-server" run --config "$WORK/ca/server.toml" 2>"$WORK/server.log" &
PID=$!
for _ in $(seq 1 100); do grep -q 'CRL and OCSP on' "$WORK/server.log" 2>/dev/null && break; sleep 0.05; done
PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/server.log" | head -1)
HTTP=$(sed -n 's/.*CRL and OCSP on \(http:\/\/[0-9.:]*\).*/\1/p' "$WORK/server.log" | head -1)
TOKEN=$("$BUILD/irp-server" token --config "$WORK/ca/server.toml" --class default --device-id cam-1)
"$BUILD/idwallet" enroll --server "127.0.0.1:$PORT" --trust "$WORK/ca/root-ca.pem" --device-id cam-1 \
    --token "$TOKEN" --store "$WORK/cam-1" >/dev/null
awk '/BEGIN CERT/{n++} n==1' "$WORK/cam-1/device.crt" >"$WORK/leaf.pem"

cpu_ticks() { awk '{print $14 + $15}' "/proc/$PID/stat"; }
run() { # run LABEL OPENSSL-NONCE-FLAG
    openssl ocsp -issuer "$WORK/ca/domain-ca.pem" -cert "$WORK/leaf.pem" $2 -reqout "$WORK/req.der" >/dev/null 2>&1
    : >"$WORK/curl.cfg"
    for i in $(seq 1 "$N"); do
        [ "$i" = 1 ] || echo next >>"$WORK/curl.cfg"  # options do not carry over; a trailing next would be an empty URL
        printf 'url = "%s/ocsp"\ndata-binary = "@%s"\nheader = "Content-Type: application/ocsp-request"\noutput = "/dev/null"\n' \
            "$HTTP" "$WORK/req.der" >>"$WORK/curl.cfg"
    done
    local t0 c0 t1 c1
    t0=$(date +%s.%N); c0=$(cpu_ticks)
    curl -s --no-progress-meter -Z --parallel-max "$C" -K "$WORK/curl.cfg"
    t1=$(date +%s.%N); c1=$(cpu_ticks)
    awk -v l="$1" -v n="$N" -v t0="$t0" -v t1="$t1" -v c0="$c0" -v c1="$c1" -v hz="$(getconf CLK_TCK)" 'BEGIN {
        s = t1 - t0; printf "%-10s %6d responses in %6.2f s = %7.0f /s; irp-server CPU %.3f ms/response (= %.0f /s per core)\n",
        l, n, s, n / s, (c1 - c0) / hz * 1000 / n, n / ((c1 - c0) / hz) }'
}
run "no nonce" -no_nonce
run "nonce" ""
openssl ocsp -issuer "$WORK/ca/domain-ca.pem" -cert "$WORK/leaf.pem" -url "$HTTP/ocsp" \
    -CAfile "$WORK/ca/root-ca.pem" 2>&1 | grep -q "leaf.pem: good" && echo "check: openssl ocsp verifies the answer: good"
