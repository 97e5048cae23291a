#!/usr/bin/env bash
# End-to-end device lifecycle with the real binaries: a device held for
# approval (approved, and rejected with a reason), pre-registered keys
# (irpctl register and a CSV import), the surge guard and its lift, the
# webhook checked by the example receiver (a forged signature is refused),
# the domain CRL brought by check-in (a revocation reaches the other devices,
# the revoked one resets), check-in, and release: the device resets itself
# and the old owner's domain refuses it.
# Usage: lifecycle.sh irp-server idwallet irpctl irp-webhook-receiver
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SERVER=$(realpath "$1"); WALLET=$(realpath "$2"); CTL=$(realpath "$3"); RECEIVER=$(realpath "$4")
WORK=$(mktemp -d /tmp/irp-lifecycle.XXXXXX)
SERVER_PID=""; RECV_PID=""
cleanup() {
    for p in $SERVER_PID $RECV_PID; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

echo "== a webhook receiver"
start_webhook_receiver "$RECEIVER"

echo "== a domain whose classes accept approval and pre-registered keys"
"$SERVER" init --dir "$WORK/ca" --domain life.example --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --http-listen 127.0.0.1:0 >/dev/null || { echo "init failed"; exit 1; }
openssl rand -hex 32 >"$WORK/ca/classes/bulk.secret"
# The class table is last in the generated file: its keys go right under it.
cat >>"$WORK/ca/server.toml" <<EOF
bootstrap = ["token", "preregistered", "approval"]

[classes.bulk]
secret_file = "classes/bulk.secret"
bootstrap = ["token"]
EOF
sed -i -e 's/^retry_after_s = .*/retry_after_s = 1/' -e 's/^retry_max_s = .*/retry_max_s = 2/' \
    -e 's/^max_new_devices = .*/max_new_devices = 3/' \
    -e "/^\[webhook\]/a url = \"http://$HOOK/irp-events\"\nsecret_file = \"$WORK/webhook.secret\"" "$WORK/ca/server.toml"
start_server "$WORK/ca/server.toml" "$WORK/server.log"
ROOT="$WORK/ca/root-ca.pem"; CA="$WORK/ca/domain-ca.pem"
CTLC=("$CTL" --url "$ADMIN" --token-file "$WORK/ca/admin.token")
enroll() { "$WALLET" --timeout-ms 10000 enroll --server "127.0.0.1:$PORT" --trust "$ROOT" "$@"; }
held_id() { "${CTLC[@]}" held --state "$2" | awk -v d="$1" '$2 == d {print $1; exit}'; }

echo "== approval: an unknown device waits for an administrator"
expect_rc 9 "cam-1 without any proof is held (exit 9)" enroll --device-id cam-1 --store "$WORK/cam-1" --model "Cam 2000"
check "... and told its request id" grep -q "request " "$WORK/last.out"
check "the wallet keeps the held key and id" test -f "$WORK/cam-1/pending.key" -a -f "$WORK/cam-1/pending.id"
check "no certificate yet" test ! -f "$WORK/cam-1/device.crt"
expect_rc 0 "irpctl held" "${CTLC[@]}" held
check "... lists cam-1 with its model" bash -c "grep cam-1 '$WORK/last.out' | grep -q 'Cam 2000'"
R1=$(held_id cam-1 pending)
check "... with a request id" test -n "$R1"
expect_rc 9 "asking again is the same request" enroll --device-id cam-1 --store "$WORK/cam-1"
check "... (same id $R1)" grep -q "request $R1" "$WORK/last.out"
for _ in $(seq 1 60); do grep -q '"cam-1"' "$WORK/events.log" && break; sleep 0.1; done
check "the webhook receiver got the held request, signature verified" grep -q '"device_id":"cam-1"' "$WORK/events.log"
check "... once (re-asks are not new requests)" test "$(grep -c '"device_id":"cam-1"' "$WORK/events.log")" = 1
expect_rc 0 "irpctl approve" "${CTLC[@]}" approve "$R1" --note "installer on site"
expect_rc 0 "the next ask is issued" enroll --device-id cam-1 --store "$WORK/cam-1"
check "the held key and id are gone" test ! -f "$WORK/cam-1/pending.id"
expect_rc 0 "idwallet show" "$WALLET" show --store "$WORK/cam-1"
expect_rc 1 "approving twice is a conflict" "${CTLC[@]}" approve "$R1"
check "... HTTP 409" grep -q "HTTP 409" "$WORK/last.out"

echo "== approval with --wait, then rejection with a reason"
enroll --device-id cam-2 --store "$WORK/cam-2" --wait --max-wait 60 >"$WORK/cam-2.out" 2>&1 &
WAIT_PID=$!
for _ in $(seq 1 100); do R2=$(held_id cam-2 pending); [ -n "$R2" ] && break; sleep 0.1; done
check "cam-2 is held" test -n "$R2"
expect_rc 0 "irpctl reject with a note" "${CTLC[@]}" reject "$R2" --note "not one of ours"
wait "$WAIT_PID"; RC=$?
check "the waiting wallet ends with exit 5 (policy)" test "$RC" = 5
check "... saying why" grep -q "not one of ours" "$WORK/cam-2.out"
check "... and code 307 request_rejected" grep -q "307 request_rejected" "$WORK/cam-2.out"

echo "== forged webhook deliveries are refused"
BODY='{"event":"held","request":{"device_id":"evil"}}'
TS=$(date +%s)
check "a wrong signature: 401" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-IRP-Timestamp: $TS" \
    -H 'X-IRP-Signature: sha256=00' --data "$BODY" "http://$HOOK/irp-events")" = 401
SIG=$(printf '%s' "$TS.$BODY" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(cat "$WORK/webhook.secret")" | sed 's/.*= //')
OLD=$((TS - 3600)); OLDSIG=$(printf '%s' "$OLD.$BODY" | openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(cat "$WORK/webhook.secret")" | sed 's/.*= //')
check "a correctly signed but hour-old event: 401" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST \
    -H "X-IRP-Timestamp: $OLD" -H "X-IRP-Signature: sha256=$OLDSIG" --data "$BODY" "http://$HOOK/irp-events")" = 401
check "a correctly signed fresh event: accepted (the receiver's check is HMAC, as documented)" \
    test "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-IRP-Timestamp: $TS" \
    -H "X-IRP-Signature: sha256=$SIG" --data "$BODY" "http://$HOOK/irp-events")" = 204
check "... and its replay: 401" test "$(curl -s -o /dev/null -w '%{http_code}' -X POST -H "X-IRP-Timestamp: $TS" \
    -H "X-IRP-Signature: sha256=$SIG" --data "$BODY" "http://$HOOK/irp-events")" = 401

echo "== a class made through the admin API can require approval too"
expect_rc 0 "irpctl class create walkin --bootstrap approval" "${CTLC[@]}" class create walkin --bootstrap approval
expect_rc 0 "irpctl classes" "${CTLC[@]}" classes
check "... shows walkin's bootstrap" grep -q "^walkin *admin *enabled *approval " "$WORK/last.out"
expect_rc 9 "a walk-in device without proof is held" enroll --device-id walk-1 --class walkin --store "$WORK/walk-1"
expect_rc 1 "idevid without manufacturer roots is refused" "${CTLC[@]}" class bootstrap walkin --bootstrap idevid
check "... HTTP 400" grep -q "HTTP 400" "$WORK/last.out"
expect_rc 0 "irpctl class bootstrap walkin --bootstrap token" "${CTLC[@]}" class bootstrap walkin --bootstrap token
expect_rc 5 "... then a device without proof is refused" enroll --device-id walk-2 --class walkin --store "$WORK/walk-2"
check "... 306 bootstrap_not_allowed" grep -q "306 bootstrap_not_allowed" "$WORK/last.out"

echo "== pre-registered keys: no human step"
for d in reg-1 reg-2; do openssl genpkey -algorithm ed25519 -out "$WORK/$d.boot.pem" 2>/dev/null; done
openssl genpkey -algorithm ed25519 -out "$WORK/stranger.pem" 2>/dev/null
expect_rc 0 "irpctl register (from the device's key file)" "${CTLC[@]}" register reg-1 --class default \
    --public-key "$WORK/reg-1.boot.pem" --note "batch 7"
openssl pkey -in "$WORK/reg-2.boot.pem" -pubout -out "$WORK/reg-2.pub.pem" 2>/dev/null
printf '# device,class,key,note\nreg-2,default,%s,batch 8, line 2\n' "$WORK/reg-2.pub.pem" >"$WORK/import.csv"
expect_rc 0 "irpctl import (CSV)" "${CTLC[@]}" import "$WORK/import.csv"
expect_rc 1 "importing it again is refused, all or nothing" "${CTLC[@]}" import "$WORK/import.csv"
printf 'bad-1,default,notbase64!!\n' >"$WORK/bad.csv"
expect_rc 1 "a malformed key is refused with the line's entry" "${CTLC[@]}" import "$WORK/bad.csv"
check "... naming it" grep -q "registrations\[0\]" "$WORK/last.out"
expect_rc 0 "irpctl registrations" "${CTLC[@]}" registrations
check "... lists both" bash -c "grep -q reg-1 '$WORK/last.out' && grep -q 'batch 8, line 2' '$WORK/last.out'"
expect_rc 0 "reg-1 enrolls with its registered key" enroll --device-id reg-1 --store "$WORK/reg-1" \
    --bootstrap-key "$WORK/reg-1.boot.pem"
expect_rc 0 "reg-2 too" enroll --device-id reg-2 --store "$WORK/reg-2" --bootstrap-key "$WORK/reg-2.boot.pem"
check "its certificate is for a fresh key, not the registered one" bash -c \
    "! cmp -s <(openssl x509 -in '$WORK/reg-2/device.crt' -noout -pubkey) <(openssl pkey -in '$WORK/reg-2.boot.pem' -pubout)"
expect_rc 4 "a key nobody registered is refused (auth)" enroll --device-id reg-3 --store "$WORK/reg-3" \
    --bootstrap-key "$WORK/stranger.pem"
check "... as not_registered" grep -q "210 not_registered" "$WORK/last.out"

echo "== the surge guard (3 new devices per hour in this domain's config)"
btoken() { "$SERVER" token --config "$WORK/ca/server.toml" --class bulk --device-id "$1"; }
for d in bulk-1 bulk-2 bulk-3; do
    expect_rc 0 "$d enrolls" enroll --device-id "$d" --class bulk --token "$(btoken "$d")" --store "$WORK/$d"
done
expect_rc 9 "bulk-4 is held: the guard is up" enroll --device-id bulk-4 --class bulk --token "$(btoken bulk-4)" \
    --store "$WORK/bulk-4"
expect_rc 0 "irpctl surge" "${CTLC[@]}" surge
check "... shows bulk HOLDING" bash -c "grep bulk '$WORK/last.out' | grep -q HOLDING"
expect_rc 0 "irpctl surge-lift bulk" "${CTLC[@]}" surge-lift bulk --hours 1
check "... approving the held request" grep -q "1 held request(s) approved" "$WORK/last.out"
expect_rc 0 "bulk-4 asks again and is issued" enroll --device-id bulk-4 --class bulk --token "$(btoken bulk-4)" \
    --store "$WORK/bulk-4"
expect_rc 0 "bulk-5 passes while the guard is lifted" enroll --device-id bulk-5 --class bulk \
    --token "$(btoken bulk-5)" --store "$WORK/bulk-5"

echo "== the domain CRL travels with check-in"
crl_number() { sed -n 's/.*"number":\([0-9]*\).*/\1/p' "$1"; }
expect_rc 7 "idwallet crl before any check-in: none held" "$WALLET" crl --store "$WORK/reg-1"
expect_rc 0 "reg-1 checks in" "$WALLET" check-in --store "$WORK/reg-1"
check "... and stores the domain's CRL" grep -q "; CRL number [0-9]* stored" "$WORK/last.out"
check "... which OpenSSL verifies with the domain CA" bash -c \
    "openssl crl -inform DER -in '$WORK/reg-1/crl.der' -CAfile '$CA' -noout 2>&1 | grep -q 'verify OK'"
check "... and which is the CRL the HTTP listener serves" bash -c \
    "curl -sf \"\$(openssl x509 -in '$WORK/reg-1/device.crt' -noout -ext crlDistributionPoints | sed -n 's/.*URI://p')\" | cmp -s - '$WORK/reg-1/crl.der'"
expect_rc 0 "idwallet crl --json" "$WALLET" crl --store "$WORK/reg-1" --json
N1=$(crl_number "$WORK/last.out")
check "... has a CRL number ($N1)" test -n "$N1"
check "... listing nobody yet" grep -q '"count":0,' "$WORK/last.out"
expect_rc 0 "reg-2 checks in and stores the CRL too" "$WALLET" check-in --store "$WORK/reg-2"
check "... ($WORK/reg-2/crl.der)" test -s "$WORK/reg-2/crl.der"
expect_rc 0 "a check-in while up to date" "$WALLET" check-in --store "$WORK/reg-1"
check "... brings no CRL" bash -c "! grep -q 'CRL number' '$WORK/last.out'"
SB=$("$WALLET" show --store "$WORK/reg-2" | awk '/^serial:/ {print $2}')
check "reg-2's serial ($SB)" test -n "$SB"
expect_rc 0 "irpctl revoke --device reg-2 (keyCompromise)" "${CTLC[@]}" revoke --device reg-2 --reason keyCompromise
expect_rc 0 "reg-1's next check-in brings the newer CRL" "$WALLET" check-in --store "$WORK/reg-1"
check "... and stores it" grep -q "; CRL number [0-9]* stored" "$WORK/last.out"
expect_rc 0 "idwallet crl --json" "$WALLET" crl --store "$WORK/reg-1" --json
N2=$(crl_number "$WORK/last.out")
check "... a higher number ($N1 -> $N2)" test "${N2:-0}" -gt "${N1:-0}"
check "... listing reg-2's serial, keyCompromise" grep -q "{\"serial\":\"$SB\",\"revoked_at\":[0-9]*,\"reason\":\"keyCompromise\"}" "$WORK/last.out"
check "... and only it" grep -q '"count":1,' "$WORK/last.out"
expect_rc 0 "idwallet crl (text)" "$WALLET" crl --store "$WORK/reg-1"
check "... shows the number, the dates and the count" bash -c "grep -q '^number: *$N2\$' '$WORK/last.out' && \
    grep -q '^thisUpdate: ' '$WORK/last.out' && grep -q '^nextUpdate: ' '$WORK/last.out' && grep -q '^revoked: *1\$' '$WORK/last.out'"
check "... and the serial" grep -q "^  $SB " "$WORK/last.out"
expect_rc 11 "reg-2 checks in: revoked, factory reset (exit 11)" "$WALLET" check-in --store "$WORK/reg-2"
check "... told certificate_not_active" grep -q "207 certificate_not_active" "$WORK/last.out"
check "... key, certificate and CRL are gone" test ! -f "$WORK/reg-2/device.crt" -a ! -f "$WORK/reg-2/device.key" \
    -a ! -f "$WORK/reg-2/crl.der"
check "the server logged the CRLs it sent" grep -q "crl=sent:$N2" "$WORK/server.log"

echo "== check-in and release"
expect_rc 0 "cam-1 checks in" "$WALLET" check-in --store "$WORK/cam-1"
check "... and is told when to come back" grep -q "next check-in in 86400 s" "$WORK/last.out"
L1=$(awk '/BEGIN CERT/{n++} n==1' "$WORK/cam-1/device.crt")
printf '%s\n' "$L1" >"$WORK/cam-1.leaf.pem"
expect_rc 0 "irpctl release cam-1" "${CTLC[@]}" release cam-1
check "... revoking its certificate" grep -q "revoked 1 certificate" "$WORK/last.out"
openssl ocsp -issuer "$CA" -cert "$WORK/cam-1.leaf.pem" -url "$HTTP/ocsp" -CAfile "$ROOT" >"$WORK/ocsp.out" 2>&1
check "OCSP: revoked, cessationOfOperation" bash -c "grep -q 'revoked' '$WORK/ocsp.out' && grep -qi 'cessationOfOperation' '$WORK/ocsp.out'"
expect_rc 11 "cam-1's next check-in: factory reset (exit 11)" "$WALLET" check-in --store "$WORK/cam-1"
check "... saying it was released" grep -q "308 device_released" "$WORK/last.out"
check "... key and certificate are gone" test ! -f "$WORK/cam-1/device.crt" -a ! -f "$WORK/cam-1/device.key"
expect_rc 5 "the old owner's domain refuses cam-1 from now on" enroll --device-id cam-1 --store "$WORK/cam-1"
check "... as device_released" grep -q "308 device_released" "$WORK/last.out"
expect_rc 0 "irpctl devices shows the release" "${CTLC[@]}" devices
check "... for cam-1" bash -c "grep cam-1 '$WORK/last.out' | grep -q released"
expect_rc 0 "the audit log has every decision" "${CTLC[@]}" audit --limit 200
for a in hold approve reject register release surge-lift; do check "... $a" grep -q " $a " "$WORK/last.out"; done

finish lifecycle
