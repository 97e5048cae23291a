#!/usr/bin/env bash
# The example relying party, irp-video-server (examples/video-server): a TLS
# service that wants a client certificate and decides with irp_rp. Devices
# enroll under an irp-ca offline root and are transferred to two customer
# accounts; openssl s_client connects with each device's key and chain.
#   in account acme, allowed by its policy        -> OK device=... domain=...
#   in account beta, or still the provider's      -> REFUSED account
#   acme's policy does not allow the target       -> REFUSED account
#   no client certificate, or another root's      -> refused in the handshake
#   revoked: the account statement says inactive  -> REFUSED account
#   ... and once the CRL file is refreshed        -> REFUSED certificate (revoked)
#   the root's CRL revokes the domain CA          -> REFUSED certificate (the CA in its path)
# Usage: video_server.sh irp-ca irp-server idwallet irpctl irp-video-server
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CA_TOOL=$(realpath "$1"); SERVER=$(realpath "$2"); WALLET=$(realpath "$3"); CTL=$(realpath "$4"); VIDEO=$(realpath "$5")
work_dir video
ROOTDIR="$WORK/offline-root"; DOMDIR="$WORK/domain"; DOMAIN=cams.example
ROOT="$ROOTDIR/root-ca.pem"; CA="$DOMDIR/domain-ca.pem"
token() { "$SERVER" token --config "$DOMDIR/server.toml" --class default --device-id "$1"; }
serial_of() { openssl x509 -in "$WORK/$1/leaf.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f'; }

echo "== a domain under an offline root, two customer accounts, three devices"
ca_tool() { "$CA_TOOL" "$@" >>"$WORK/irp-ca.log" 2>&1; }
ca_tool root create --dir "$ROOTDIR" --name "Video Test Root" &&
    ca_tool domain-key --dir "$DOMDIR" --domain "$DOMAIN" &&
    ca_tool sign-domain --root "$ROOTDIR" --csr "$DOMDIR/domain-ca.csr" --domain "$DOMAIN" --permit-dns "$DOMAIN" &&
    ca_tool server-tls --dir "$DOMDIR" --domain "$DOMAIN" &&
    ca_tool assemble --dir "$DOMDIR" --root-cert "$ROOT" --domain "$DOMAIN" --listen 127.0.0.1:0 \
        --admin-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 &&
    ca_tool root-crl --root "$ROOTDIR" || { echo "irp-ca set-up failed:"; cat "$WORK/irp-ca.log"; exit 1; }
start_server "$DOMDIR/server.toml" "$WORK/server.log"
CTLC=("$CTL" --url "$ADMIN" --token-file "$DOMDIR/admin.token")
for who in acme beta; do
    openssl genpkey -algorithm EC -pkeyopt ec_paramgen_curve:P-256 -out "$WORK/$who.key" 2>/dev/null
    expect_rc 0 "irpctl account create $who" "${CTLC[@]}" account create "$who" --public-key "$WORK/$who.key"
done
for dev in cam-1 cam-2 cam-3; do
    expect_rc 0 "enroll $dev" "$WALLET" enroll --server "127.0.0.1:$PORT" --trust "$ROOT" --device-id "$dev" \
        --token "$(token "$dev")" --store "$WORK/$dev"
    awk '/BEGIN CERT/{n++} n==1' "$WORK/$dev/device.crt" >"$WORK/$dev/leaf.pem"
done
expect_rc 0 "cam-1 offered to acme" "${CTLC[@]}" transfer offer --to acme --id t-acme --device cam-1
expect_rc 0 "... accepted with acme's key, policy stream=service:video" "${CTLC[@]}" transfer accept t-acme \
    --key "$WORK/acme.key" --allow stream=service:video
expect_rc 0 "cam-2 offered to beta" "${CTLC[@]}" transfer offer --to beta --id t-beta --device cam-2
expect_rc 0 "... accepted with beta's key, the same policy" "${CTLC[@]}" transfer accept t-beta \
    --key "$WORK/beta.key" --allow stream=service:video
# refresh_crls: the domain's CRL from the device certificate's URL, and the
# root's, in the one file the video server reads.
refresh_crls() {
    local url; url=$(openssl x509 -in "$WORK/cam-1/leaf.pem" -noout -ext crlDistributionPoints | sed -n 's/.*URI:\(.*\)/\1/p')
    curl -sf "$url" | openssl crl -inform DER -out "$WORK/domain.crl.pem" &&
        cat "$ROOTDIR/root.crl.pem" "$WORK/domain.crl.pem" >"$WORK/crls.pem.new" && mv "$WORK/crls.pem.new" "$WORK/crls.pem"
}
check "the domain and root CRLs are fetched" refresh_crls

echo "== the video server (its own TLS certificate; clients need an IRP certificate)"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/video.key" -out "$WORK/video.pem" \
    -subj /CN=video.test -days 2 -addext subjectAltName=IP:127.0.0.1 2>/dev/null
# Another root and a device certificate under it, made with OpenSSL.
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/rogue-root.key" \
    -out "$WORK/rogue-root.pem" -subj "/CN=Rogue Root" -days 2 2>/dev/null
openssl req -new -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/rogue.key" -subj /CN=cam-1 2>/dev/null |
    openssl x509 -req -CA "$WORK/rogue-root.pem" -CAkey "$WORK/rogue-root.key" -days 1 -out "$WORK/rogue.pem" \
        -extfile <(printf 'extendedKeyUsage=clientAuth\nsubjectAltName=URI:urn:irp:%s:cam-1\n' "$DOMAIN") 2>/dev/null
# start_video NAME ARGS...: an irp-video-server; sets VPORT.
start_video() {
    local name=$1; shift
    "$VIDEO" --root "$ROOT" --cert "$WORK/video.pem" --key "$WORK/video.key" --crl "$WORK/crls.pem" "$@" \
        >"$WORK/$name.out" 2>"$WORK/$name.err" &
    PIDS+=("$!")
    VPORT=""
    for _ in $(seq 1 100); do
        VPORT=$(sed -n 's/^listening on 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/$name.out"); [ -n "$VPORT" ] && break; sleep 0.05
    done
    [ -n "$VPORT" ] || { echo "irp-video-server did not start:"; cat "$WORK/$name.err"; exit 1; }
}
# connect PORT DEVICE|-|rogue: one connection with openssl s_client; the
# server's line in $WORK/answer (empty when the handshake failed).
connect() {
    local id=()
    case "$2" in
        -) ;;
        rogue) id=(-cert "$WORK/rogue.pem" -cert_chain "$WORK/rogue-root.pem" -key "$WORK/rogue.key") ;;
        *) id=(-cert "$WORK/$2/leaf.pem" -cert_chain "$CA" -key "$WORK/$2/device.key") ;;
    esac
    timeout 10 openssl s_client -quiet -connect "127.0.0.1:$1" -CAfile "$WORK/video.pem" -verify_return_error "${id[@]}" \
        </dev/null >"$WORK/sclient.out" 2>&1
    grep -aE '^(OK|REFUSED) ' "$WORK/sclient.out" >"$WORK/answer"
    cat "$WORK/answer"
}
answer_is() { grep -qxE "$1" "$WORK/answer"; }
start_video main --account acme --account-url "$HTTP"
MAIN=$VPORT
connect "$MAIN" cam-1 >/dev/null
check "cam-1 (acme, stream=service:video) gets OK device=cam-1 domain=$DOMAIN" \
    answer_is "OK device=cam-1 domain=$DOMAIN serial=$(serial_of cam-1) revocation=good account=acme"
connect "$MAIN" cam-2 >/dev/null
check "cam-2 is refused: in account beta, not acme" answer_is "REFUSED account: cam-2 is in account beta, not acme"
connect "$MAIN" cam-3 >/dev/null
check "cam-3 is refused: never transferred, still the provider's" \
    answer_is "REFUSED account: cam-3 is in account provider, not acme"
connect "$MAIN" - >/dev/null
check "no client certificate: refused in the handshake, no answer line" test ! -s "$WORK/answer"
# The server logs after the client may have gone: wait for its line.
wait_lines() { for _ in $(seq 1 100); do [ "$(grep -c '^127\.0\.0\.1:' "$WORK/main.out")" -ge "$1" ] && return 0; sleep 0.05; done; return 1; }
wait_lines 4
check "... the server says why" bash -c "tail -1 '$WORK/main.out' | grep -q 'REFUSED tls: tls_failure: .*certificate'"
connect "$MAIN" rogue >/dev/null
check "a certificate under another root: refused in the handshake" test ! -s "$WORK/answer"
check "... with a bad_certificate alert" grep -aq "alert bad certificate" "$WORK/sclient.out"
wait_lines 5
check "the server wrote one line per connection (5)" test "$(grep -c '^127\.0\.0\.1:' "$WORK/main.out")" = 5
start_video archive --account acme --account-url "$HTTP" --target service:archive
connect "$VPORT" cam-1 >/dev/null
check "acme's policy does not let cam-1 stream to service:archive" \
    answer_is "REFUSED account: the policy of account acme does not allow stream on service:archive"
start_video open  # no account: chain and CRLs only
OPEN=$VPORT
connect "$OPEN" cam-2 >/dev/null
check "without --account, cam-2 gets OK (chain and CRL only)" answer_is "OK device=cam-2 domain=$DOMAIN .* revocation=good"
# A client that connects and says nothing holds its own thread until the 5 s
# I/O deadline, never the next device (one connection at a time would).
silent() { exec 3<>"/dev/tcp/127.0.0.1/$OPEN"; sleep 4; exec 3>&-; }
silent & SILENT_PID=$!
sleep 0.3
T0=$(date +%s%N)
connect "$OPEN" cam-2 >/dev/null
T1=$(date +%s%N)
check "a silent client does not hold up cam-2 (answered in $(( (T1 - T0) / 1000000 )) ms)" \
    bash -c "grep -qE '^OK device=cam-2 ' '$WORK/answer' && [ $(( (T1 - T0) / 1000000 )) -lt 3000 ]"
kill "$SILENT_PID" 2>/dev/null; wait "$SILENT_PID" 2>/dev/null

echo "== revocation"
expect_rc 0 "irpctl revoke cam-1" "${CTLC[@]}" revoke --serial "$(serial_of cam-1)" --reason keyCompromise
connect "$MAIN" cam-1 >/dev/null
check "before the CRL refresh, acme's statement already says inactive" \
    answer_is "REFUSED account: certificate $(serial_of cam-1) is not active in account acme .*"
check "the CRL is refreshed (the file is replaced)" refresh_crls
connect "$MAIN" cam-1 >/dev/null
check "after it, the certificate itself is refused: revoked" \
    answer_is "REFUSED certificate: certificate_not_active: the peer certificate cam-1 .* is revoked: .*keyCompromise.*"
connect "$OPEN" cam-1 >/dev/null
check "... also where no account is asked for" answer_is "REFUSED certificate: certificate_not_active: .* is revoked: .*"
connect "$OPEN" cam-2 >/dev/null
check "cam-2 still gets in" answer_is "OK device=cam-2 .*"
CA_SERIAL=$(openssl x509 -in "$CA" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
expect_rc 0 "the root revokes the domain CA (irp-ca root-crl --revoke-serial)" \
    "$CA_TOOL" root-crl --root "$ROOTDIR" --revoke-serial "$CA_SERIAL" --reason cACompromise
check "the CRLs are refreshed" refresh_crls
connect "$OPEN" cam-2 >/dev/null
check "cam-2 is refused: its issuing CA is revoked by the root" \
    answer_is "REFUSED certificate: certificate_not_active: the CA .* in the path of the peer certificate cam-2 .* is revoked: .*[(]cACompromise[)], per CRL number [0-9]* of .*Root.*"

finish video_server
