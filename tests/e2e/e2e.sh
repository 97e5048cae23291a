#!/usr/bin/env bash
# End-to-end: the real irp-server and idwallet over loopback TLS, checked
# with OpenSSL (chain, profile, TLS policy) and sqlite3 (what was recorded).
# Usage: e2e.sh PATH/TO/irp-server PATH/TO/idwallet
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SERVER=$(realpath "$1")
WALLET=$(realpath "$2")
work_dir e2e

sql() { sqlite3 "$WORK/ca/irp.db" "$1"; }

start_server() {
    "$SERVER" run --config "$WORK/ca/server.toml" 2>>"$WORK/server.log" &
    SERVER_PID=$!
    for _ in $(seq 1 100); do
        PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/server.log" | tail -1)
        [ -n "$PORT" ] && return 0
        sleep 0.05
    done
    echo "server did not start:"; cat "$WORK/server.log"; exit 1
}

echo "== set-up"
"$SERVER" init --dir "$WORK/ca" --domain e2e.example --listen 127.0.0.1:0 >/dev/null || { echo "init failed"; exit 1; }
check "key files are 0600" test "$(stat -c %a "$WORK/ca/domain-ca.key")" = 600
expect_rc 2 "init refuses to overwrite an existing domain" "$SERVER" init --dir "$WORK/ca" --domain e2e.example
cp "$WORK/ca/server.toml" "$WORK/good.toml"
sed -i 's/^max_frame_bytes = .*/max_frame_bytes = 65536\nmax_frame = 1/' "$WORK/ca/server.toml"
expect_rc 2 "an unknown config key stops the server at start-up" "$SERVER" run --config "$WORK/ca/server.toml"
check "the error names the file, line and key" grep -q "server.toml:[0-9]*: unknown key 'limits.max_frame'" "$WORK/last.out"
sed 's/^threads = .*/threads = 0/' "$WORK/good.toml" >"$WORK/ca/server.toml"
expect_rc 2 "an out-of-range value stops the server at start-up" "$SERVER" run --config "$WORK/ca/server.toml"
check "the error names the key and its range" grep -q "'server.threads' must be an integer from 1 to 64" "$WORK/last.out"
sed 's/^drain_timeout_ms = .*/drain_timeout_ms = 1500/' "$WORK/good.toml" >"$WORK/ca/server.toml"
start_server
ROOT="$WORK/ca/root-ca.pem"
token() { "$SERVER" token --config "$WORK/ca/server.toml" --class default --device-id "$1"; }

echo "== enrollment"
for dev in cam-001 cam-002 cam-003; do
    expect_rc 0 "enroll $dev" "$WALLET" enroll --server "127.0.0.1:$PORT" --trust "$ROOT" \
        --device-id "$dev" --token "$(token "$dev")" --store "$WORK/$dev"
done
expect_rc 0 "enroll an Ed25519 device" "$WALLET" enroll --server "127.0.0.1:$PORT" --trust "$ROOT" \
    --device-id cam-ed --key-type ed25519 --token "$(token cam-ed)" --store "$WORK/cam-ed"
split_chain() { awk -v d="$2" '/BEGIN CERT/{n++} {print > (d "/c" n ".pem")}' "$1"; }
split_chain "$WORK/cam-ed/device.crt" "$WORK/cam-ed"
check "the Ed25519 certificate verifies" openssl verify -x509_strict -purpose sslclient -CAfile "$ROOT" \
    -untrusted "$WORK/cam-ed/c2.pem" "$WORK/cam-ed/c1.pem"
check "device key is 0600" test "$(stat -c %a "$WORK/cam-001/device.key")" = 600
for dev in cam-001 cam-002 cam-003; do
    split_chain "$WORK/$dev/device.crt" "$WORK/$dev"
    check "openssl verify -x509_strict -purpose sslclient ($dev)" \
        openssl verify -x509_strict -purpose sslclient -CAfile "$ROOT" -untrusted "$WORK/$dev/c2.pem" "$WORK/$dev/c1.pem"
done
TEXT=$(openssl x509 -in "$WORK/cam-001/c1.pem" -noout -text)
check "subject carries CN and serialNumber" grep -q "Subject: CN = cam-001, serialNumber = cam-001" <<<"$TEXT"
check "SAN URI urn:irp:e2e.example:cam-001" grep -q "URI:urn:irp:e2e.example:cam-001" <<<"$TEXT"
check "keyUsage is critical digitalSignature" grep -A1 -q "Key Usage: critical" <<<"$TEXT"
check "EKU is clientAuth" grep -q "TLS Web Client Authentication" <<<"$TEXT"
SERIAL_BITS=$(openssl x509 -in "$WORK/cam-001/c1.pem" -noout -serial | cut -d= -f2 | tr -d '\n' | wc -c)
check "serial has at least 64 random bits (got $((SERIAL_BITS * 4)) bits)" test "$SERIAL_BITS" -ge 16
check "server recorded 4 installed certificates" test "$(sql "select count(*) from certificates where status=2")" = 4
check "audit log has enroll and install events" test "$(sql "select count(*) from audit")" = 8

echo "== renewal"
cp -a "$WORK/cam-002" "$WORK/cam-002-old"
OLD_SERIAL=$(openssl x509 -in "$WORK/cam-002/c1.pem" -noout -serial)
OLD_KEY=$(openssl pkey -in "$WORK/cam-002/device.key" -pubout)
expect_rc 0 "renew cam-002" "$WALLET" renew --store "$WORK/cam-002"
split_chain "$WORK/cam-002/device.crt" "$WORK/cam-002"
check "renewal issued a new serial" test "$(openssl x509 -in "$WORK/cam-002/c1.pem" -noout -serial)" != "$OLD_SERIAL"
check "renewal used a new key pair" test "$(openssl pkey -in "$WORK/cam-002/device.key" -pubout)" != "$OLD_KEY"
check "renewed certificate verifies" openssl verify -x509_strict -purpose sslclient -CAfile "$ROOT" \
    -untrusted "$WORK/cam-002/c2.pem" "$WORK/cam-002/c1.pem"
check "old certificate is recorded as superseded" test "$(sql "select count(*) from certificates where status=3 and replaced_by<>''")" = 1
expect_rc 4 "a superseded certificate cannot renew again" "$WALLET" renew --store "$WORK/cam-002-old"
expect_rc 0 "show the wallet" "$WALLET" show --store "$WORK/cam-002"

echo "== bad input gets a clear answer, nothing is recorded"
BEFORE=$(sql "select count(*) from certificates")
AUDIT_BEFORE=$(sql "select count(*) from audit")
expect_rc 4 "wrong token is rejected" "$WALLET" enroll --server "127.0.0.1:$PORT" --trust "$ROOT" \
    --device-id cam-004 --token "$(token cam-005)" --store "$WORK/cam-004"
check "the wallet names the error code" grep -q "200 bad_token_proof" "$WORK/last.out"
check "nothing installed for a rejected device" test ! -e "$WORK/cam-004/device.crt"
expect_rc 4 "unknown class is rejected" "$WALLET" enroll --server "127.0.0.1:$PORT" --trust "$ROOT" \
    --device-id cam-006 --class nosuch --token "$(token cam-006)" --store "$WORK/cam-006"
expect_rc 2 "odd device id is refused before anything is sent" "$WALLET" enroll --server "127.0.0.1:$PORT" \
    --trust "$ROOT" --device-id 'cam/../7' --token "$(token cam-001)" --store "$WORK/x"
"$SERVER" init --dir "$WORK/other" --domain other.example >/dev/null
expect_rc 3 "a server outside the trusted root is refused (TLS)" "$WALLET" enroll --server "127.0.0.1:$PORT" \
    --trust "$WORK/other/root-ca.pem" --device-id cam-008 --token "$(token cam-008)" --store "$WORK/cam-008"
expect_rc 3 "a server name the certificate does not carry is refused" "$WALLET" enroll --server "127.0.0.1:$PORT" \
    --server-name wrong.example --trust "$ROOT" --device-id cam-009 --token "$(token cam-009)" --store "$WORK/cam-009"
check "rejections wrote no certificate" test "$(sql "select count(*) from certificates")" = "$BEFORE"
check "rejections wrote no audit event" test "$(sql "select count(*) from audit")" = "$AUDIT_BEFORE"

# Plain garbage instead of TLS, then a half-open connection.
exec 3<>/dev/tcp/127.0.0.1/"$PORT" && printf 'GET / HTTP/1.0\r\n\r\n' >&3 && exec 3>&-
exec 4<>/dev/tcp/127.0.0.1/"$PORT"
# Real OpenSSL as the TLS peer: an IRP frame declaring 1 MiB must get
# ProtocolError{code=100} before any payload is read.
printf '\x00\x10\x00\x00' | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -tls1_2 -quiet \
    -CAfile "$ROOT" -verify_return_error 2>/dev/null | xxd -p >"$WORK/oversize.hex"
check "oversize frame answered with frame_too_large (100) by an OpenSSL client" grep -q '0864' "$WORK/oversize.hex"
{ printf '\x00\x00\x00\x17'; printf 'garbage-not-protobuf-xx'; } | timeout 10 openssl s_client \
    -connect "127.0.0.1:$PORT" -tls1_2 -quiet -CAfile "$ROOT" 2>/dev/null | xxd -p >"$WORK/garbage.hex"
check "garbage frame answered with malformed_message (102)" grep -q '0866' "$WORK/garbage.hex"
echo | timeout 10 openssl s_client -connect "127.0.0.1:$PORT" -tls1_1 -CAfile "$ROOT" >"$WORK/tls11.out" 2>&1
check "TLS 1.1 is refused" grep -q 'Cipher is (NONE)' "$WORK/tls11.out"
expect_rc 0 "the server still serves after bad clients" "$WALLET" enroll --server "127.0.0.1:$PORT" --trust "$ROOT" \
    --device-id cam-010 --token "$(token cam-010)" --store "$WORK/cam-010"

echo "== shutdown"
# fd 4 is still an idle, half-open client: SIGTERM must not wait for it past
# drain_timeout_ms (1.5 s here).
T0=$(date +%s%N)
kill -TERM "$SERVER_PID"
for _ in $(seq 1 100); do kill -0 "$SERVER_PID" 2>/dev/null || break; sleep 0.05; done
T1=$(date +%s%N)
exec 4>&-
check "SIGTERM drains within the grace period ($(( (T1 - T0) / 1000000 )) ms)" test $(( (T1 - T0) / 1000000 )) -lt 4500
if kill -0 "$SERVER_PID" 2>/dev/null; then bad "server exits on SIGTERM"; else
    wait "$SERVER_PID"; RC=$?; SERVER_PID=""
    check "server exits cleanly on SIGTERM (exit $RC)" test "$RC" = 0
fi
check "server logged one line per enrollment request" test "$(grep -c ' enroll device=' "$WORK/server.log")" = 7
check "server logged the failed sessions" test "$(grep -c ' session peer=.*outcome=failed' "$WORK/server.log")" -ge 3
check "log lines carry request ids" grep -q 'request=[0-9a-f]\{16\}' "$WORK/server.log"

echo
echo "e2e: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
