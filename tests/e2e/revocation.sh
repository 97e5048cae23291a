#!/usr/bin/env bash
# End-to-end revocation and administration: irpctl over the admin API, the
# CRL and OCSP endpoints checked by real OpenSSL and GnuTLS, and what a
# revoked device can no longer do.
# Usage: revocation.sh irp-server idwallet irpctl
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SERVER=$(realpath "$1"); WALLET=$(realpath "$2"); CTL=$(realpath "$3")
work_dir revocation

start_domain rev.example
leaf() { awk '/BEGIN CERT/{n++} n==1' "$WORK/$1/device.crt" >"$WORK/$1/leaf.pem"; echo "$WORK/$1/leaf.pem"; }

echo "== enrollment with revocation pointers"
for dev in lamp-1 lamp-2; do
    expect_rc 0 "enroll $dev" "$WALLET" enroll --server "127.0.0.1:$PORT" --trust "$ROOT" --device-id "$dev" \
        --token "$(token "$dev")" --store "$WORK/$dev"
done
L1=$(leaf lamp-1); L2=$(leaf lamp-2)
TEXT=$(openssl x509 -in "$L1" -noout -text)
check "certificate carries the CRL distribution point" grep -q "URI:$HTTP/crl/" <<<"$TEXT"
check "certificate carries the OCSP responder" grep -q "OCSP - URI:$HTTP/ocsp" <<<"$TEXT"
SERIAL1=$(openssl x509 -in "$L1" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')

echo "== OCSP and CRL before revocation"
openssl ocsp -issuer "$CA" -cert "$L1" -url "$HTTP/ocsp" -CAfile "$ROOT" >"$WORK/ocsp1.out" 2>&1
check "openssl ocsp says good" grep -q "leaf.pem: good" "$WORK/ocsp1.out"
check "openssl ocsp verifies the response" grep -q "Response verify OK" "$WORK/ocsp1.out"
CRL_URL=$(openssl x509 -in "$L1" -noout -ext crlDistributionPoints | sed -n 's/.*URI:\(.*\)/\1/p')
curl -sf "$CRL_URL" -o "$WORK/crl.der"
openssl crl -inform DER -in "$WORK/crl.der" -out "$WORK/crl.pem"
check "the CRL verifies against the domain CA" openssl crl -in "$WORK/crl.pem" -CAfile "$CA" -verify -noout
check "openssl verify -crl_check accepts an unrevoked device" \
    openssl verify -crl_check -CAfile "$ROOT" -untrusted "$CA" -CRLfile "$WORK/crl.pem" "$L1"
# A request line that never ends, to the public CRL/OCSP port: answered 414
# once it fills the connection's 64 KiB (the server does not keep reading it
# into memory), and the CRL is served as before.
endless_request_line() {
    local hostport=${CRL_URL#http://}; hostport=${hostport%%/*}
    python3 - "${hostport%:*}" "${hostport##*:}" <<'PYEOF2'
import socket, sys
s = socket.create_connection((sys.argv[1], int(sys.argv[2])), timeout=5)
try:
    s.sendall(b"GET /" + b"a" * (1 << 20))
except OSError:
    pass  # the server may close while we still send; its answer is already on the way
answer = s.recv(200)
sys.exit(0 if answer.startswith(b"HTTP/1.1 414 ") else 1)
PYEOF2
}
check "the CRL/OCSP port answers an endless request line with 414" endless_request_line
check "... and still serves the CRL" curl -sf "$CRL_URL" -o /dev/null

echo "== administration"
expect_rc 1 "the admin API refuses a wrong token" "$CTL" --url "$ADMIN" --token-file "$WORK/ca/server.toml" devices
check "... with HTTP 401" grep -q "HTTP 401" "$WORK/last.out"
check "the admin API refuses a missing token" test "$(curl -s -o /dev/null -w '%{http_code}' "$ADMIN/v1/devices")" = 401
# Headers announcing a 3 MB body and no body at all: a server that read the
# body before checking the token would say nothing within the 2 s.
admin_body_without_token() {
    local hostport=${ADMIN#http://}
    exec 3<>"/dev/tcp/${hostport%:*}/${hostport##*:}" || return 1
    printf 'POST /v1/classes HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 3000000\r\nAuthorization: Bearer wrong\r\n\r\n' >&3
    local status
    status=$(timeout 2 head -n 1 <&3)
    exec 3>&-
    [[ $status == "HTTP/1.1 401"* ]]
}
check "the admin API refuses a body without the token before reading it" admin_body_without_token
expect_rc 2 "irpctl --config names a bad config clearly" "$CTL" --config "$WORK/nope.toml" devices
check "... with the file" grep -q "nope.toml" "$WORK/last.out"
expect_rc 0 "irpctl devices" "${CTLC[@]}" devices
check "it lists both devices" bash -c "grep -q lamp-1 '$WORK/last.out' && grep -q lamp-2 '$WORK/last.out'"
expect_rc 0 "irpctl cert shows the PEM" "${CTLC[@]}" cert "$SERIAL1"
check "... with the certificate" grep -q "BEGIN CERTIFICATE" "$WORK/last.out"
expect_rc 1 "an unknown serial is a clear error" "${CTLC[@]}" cert 00ff
expect_rc 1 "an unknown reason is refused" "${CTLC[@]}" revoke --serial "$SERIAL1" --reason becauseISaidSo

echo "== revoke lamp-1 (keyCompromise)"
expect_rc 0 "irpctl revoke --serial" "${CTLC[@]}" revoke --serial "$SERIAL1" --reason keyCompromise
expect_rc 1 "revoking twice is refused" "${CTLC[@]}" revoke --serial "$SERIAL1"
check "... as a conflict" grep -q "HTTP 409" "$WORK/last.out"
openssl ocsp -issuer "$CA" -cert "$L1" -url "$HTTP/ocsp" -CAfile "$ROOT" >"$WORK/ocsp2.out" 2>&1
check "openssl ocsp now says revoked" grep -q "leaf.pem: revoked" "$WORK/ocsp2.out"
check "... with the reason" grep -qi "keyCompromise" "$WORK/ocsp2.out"
openssl ocsp -issuer "$CA" -cert "$L2" -url "$HTTP/ocsp" -CAfile "$ROOT" -nonce >"$WORK/ocsp3.out" 2>&1
check "the other device is still good (with a nonce)" grep -q "leaf.pem: good" "$WORK/ocsp3.out"
check "... and the nonce is echoed and verified" bash -c "! grep -qiE 'no nonce|nonce verify error' '$WORK/ocsp3.out'"
curl -sf "$CRL_URL" -o "$WORK/crl2.der"; openssl crl -inform DER -in "$WORK/crl2.der" -out "$WORK/crl2.pem"
check "the new CRL verifies" openssl crl -in "$WORK/crl2.pem" -CAfile "$CA" -verify -noout
check "the new CRL lists the serial" bash -c "openssl crl -in '$WORK/crl2.pem' -noout -text | tr 'A-F' 'a-f' | grep -q '$SERIAL1'"
N1=$(openssl crl -in "$WORK/crl.pem" -noout -crlnumber | cut -d= -f2); N2=$(openssl crl -in "$WORK/crl2.pem" -noout -crlnumber | cut -d= -f2)
check "the CRL number increased ($N1 -> $N2)" test "$((16#${N2#0x}))" -gt "$((16#${N1#0x}))"
openssl verify -crl_check -CAfile "$ROOT" -untrusted "$CA" -CRLfile "$WORK/crl2.pem" "$L1" >"$WORK/v.out" 2>&1
check "openssl verify -crl_check refuses the revoked device" grep -q "certificate revoked" "$WORK/v.out"
check "openssl verify -crl_check still accepts the other" \
    openssl verify -crl_check -CAfile "$ROOT" -untrusted "$CA" -CRLfile "$WORK/crl2.pem" "$L2"
if command -v certtool >/dev/null; then
    check "GnuTLS certtool --verify-crl accepts the CRL" certtool --verify-crl --load-ca-certificate "$CA" --infile "$WORK/crl2.pem"
else
    bad "GnuTLS certtool is not installed"
fi
expect_rc 4 "a revoked device cannot renew" "$WALLET" renew --store "$WORK/lamp-1"
check "... and is told why" grep -q "207 certificate_not_active" "$WORK/last.out"
expect_rc 0 "the unrevoked device still renews" "$WALLET" renew --store "$WORK/lamp-2"
expect_rc 0 "irpctl revoke --device" "${CTLC[@]}" revoke --device lamp-2 --reason cessationOfOperation
check "... revoked every live certificate of the device" grep -q "revoked 2 certificate" "$WORK/last.out"
expect_rc 0 "irpctl certs --revoked" "${CTLC[@]}" --json certs --revoked
check "... lists three revoked certificates" test "$(grep -c '"revoked": true' "$WORK/last.out")" = 3
expect_rc 0 "irpctl audit" "${CTLC[@]}" audit
check "the audit log records the revocations" test "$(grep -c ' revoke ' "$WORK/last.out")" -ge 3
expect_rc 0 "irpctl crl" "${CTLC[@]}" crl
check "... shows 3 entries" grep -q "3 entries" "$WORK/last.out"

echo "== device classes managed through irpctl"
expect_rc 0 "irpctl class create" "${CTLC[@]}" class create cams
CAMS_SECRET=$(sed -n 's/^secret \([0-9a-f]*\)$/\1/p' "$WORK/last.out")
check "... prints a 32-byte secret once" test "${#CAMS_SECRET}" = 64
"${CTLC[@]}" --json audit --limit 50 >"$WORK/audit.json"
check "... the audit log records the creation" grep -q '"class-create"' "$WORK/audit.json"
check "... but never the secret" bash -c "! grep -q '$CAMS_SECRET' '$WORK/audit.json'"
expect_rc 1 "creating it twice is refused" "${CTLC[@]}" class create cams
check "... as already existing (409)" grep -q "HTTP 409" "$WORK/last.out"
expect_rc 1 "a class from server.toml cannot be rotated through the API" "${CTLC[@]}" class rotate default
check "... and the error says where it lives" grep -q "server.toml" "$WORK/last.out"
ctoken() { "${CTLC[@]}" class token cams --device-id "$1"; }
cam_token() { openssl dgst -sha256 -mac HMAC -macopt "hexkey:$2" -binary < <(printf 'cams\0%s' "$1") | xxd -p -c 64; }
check "irpctl class token gives what the manufacturer derives" test "$(ctoken cam-1)" = "$(cam_token cam-1 "$CAMS_SECRET")"
cam_enroll() { "$WALLET" enroll --server "127.0.0.1:$PORT" --trust "$ROOT" --device-id "$1" --class cams --token "$2" --store "$WORK/$1"; }
expect_rc 0 "a device of the new class enrolls" cam_enroll cam-1 "$(cam_token cam-1 "$CAMS_SECRET")"
expect_rc 0 "irpctl class rotate --grace-days 1" "${CTLC[@]}" class rotate cams --grace-days 1
NEW_SECRET=$(sed -n 's/^secret \([0-9a-f]*\)$/\1/p' "$WORK/last.out")
check "... gives a different secret" test -n "$NEW_SECRET" -a "$NEW_SECRET" != "$CAMS_SECRET"
expect_rc 0 "a device made before the rotation still enrolls during the grace period" cam_enroll cam-2 "$(cam_token cam-2 "$CAMS_SECRET")"
expect_rc 0 "a device made after it enrolls with the new secret" cam_enroll cam-3 "$(cam_token cam-3 "$NEW_SECRET")"
expect_rc 0 "irpctl class rotate --grace-days 0 (a leak)" "${CTLC[@]}" class rotate cams --grace-days 0
LAST_SECRET=$(sed -n 's/^secret \([0-9a-f]*\)$/\1/p' "$WORK/last.out")
expect_rc 4 "... the leaked secret is refused at once" cam_enroll cam-4 "$(cam_token cam-4 "$NEW_SECRET")"
check "... as bad_token_proof" grep -q "200 bad_token_proof" "$WORK/last.out"
expect_rc 0 "irpctl class disable" "${CTLC[@]}" class disable cams
expect_rc 5 "a disabled class enrolls nobody" cam_enroll cam-5 "$(cam_token cam-5 "$LAST_SECRET")"
check "... and the device is told why" grep -q "305 class_disabled" "$WORK/last.out"
expect_rc 0 "a device of the disabled class still renews" "$WALLET" renew --store "$WORK/cam-1"
expect_rc 0 "irpctl classes" "${CTLC[@]}" classes
check "... lists both sources and the state" bash -c "grep -q '^default *config *enabled' '$WORK/last.out' && grep -q '^cams *admin *disabled' '$WORK/last.out'"
expect_rc 0 "irpctl class enable" "${CTLC[@]}" class enable cams
expect_rc 0 "enabled again, the class enrolls" cam_enroll cam-5 "$(cam_token cam-5 "$LAST_SECRET")"
expect_rc 0 "irpctl audit" "${CTLC[@]}" audit --limit 100
check "the audit log records every class change" test "$(grep -c ' class-' "$WORK/last.out")" = 5

echo "== metrics"
curl -sf "$ADMIN/metrics" >"$WORK/metrics.txt"
check "/metrics counts issued enrollments" grep -q 'irp_requests_total{operation="enroll",outcome="issued"} 6' "$WORK/metrics.txt"
check "/metrics counts rejected renewals" grep -q 'irp_requests_total{operation="renew",outcome="rejected"} 1' "$WORK/metrics.txt"
check "/metrics has the latency histogram" grep -q 'irp_request_duration_seconds_bucket' "$WORK/metrics.txt"
check "/metrics has the CRL age" grep -q '^irp_crl_age_seconds{issuer="[0-9a-f]*"} [0-9]' "$WORK/metrics.txt"

kill -TERM "$SERVER_PID"; wait "$SERVER_PID"; RC=$?; SERVER_PID=""
check "server exits cleanly (exit $RC)" test "$RC" = 0
echo
echo "revocation: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
