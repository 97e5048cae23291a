#!/usr/bin/env bash
# The main job in one command: build, create a demo domain, start its CA
# server on 127.0.0.1:4604, enroll three devices, renew one, show and verify
# the certificates, revoke one and check it over OCSP, stop the server.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$IRP_ROOT"

irp_install_packages
echo "building (this takes a few minutes the first time)..."
irp_build build >/dev/null

SERVER=$IRP_ROOT/build/irp-server
WALLET=$IRP_ROOT/build/idwallet
DEMO=$(mktemp -d /tmp/irp-demo.XXXXXX)
PORT=${IRP_DEMO_PORT:-4604}
SERVER_PID=""
trap '[ -n "$SERVER_PID" ] && kill "$SERVER_PID" 2>/dev/null; wait 2>/dev/null || true' EXIT

if [ -t 1 ]; then say() { printf '\n\033[1m%s\033[0m\n' "$*"; }; else say() { printf '\n%s\n' "$*"; }; fi

say "1. The operator creates a domain CA for demo.example"
"$SERVER" init --dir "$DEMO/ca" --domain demo.example --listen "127.0.0.1:$PORT" | sed 's/^/   /'
echo "   root CA:   $(openssl x509 -in "$DEMO/ca/root-ca.pem" -noout -subject)"
echo "   domain CA: $(openssl x509 -in "$DEMO/ca/domain-ca.pem" -noout -subject)"

say "2. The domain CA server starts on 127.0.0.1:$PORT (its log: $DEMO/server.log)"
"$SERVER" run --config "$DEMO/ca/server.toml" 2>"$DEMO/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q listening "$DEMO/server.log" 2>/dev/null && break; sleep 0.05; done
grep -q listening "$DEMO/server.log" || { echo "the server did not start:"; cat "$DEMO/server.log"; exit 1; }
echo "   $(head -1 "$DEMO/server.log")"

say "3. The manufacturer burns a bootstrap token into each camera (derived from the class secret)"
for dev in cam-001 cam-002 cam-003; do
    "$SERVER" token --config "$DEMO/ca/server.toml" --class default --device-id "$dev" >"$DEMO/$dev.token"
    echo "   $dev: token $(cut -c1-16 "$DEMO/$dev.token")... (never sent over the wire)"
done

say "4. Each camera generates its own key pair and enrolls over IRP (TLS, port $PORT)"
for dev in cam-001 cam-002 cam-003; do
    "$WALLET" enroll --server "127.0.0.1:$PORT" --trust "$DEMO/ca/root-ca.pem" --device-id "$dev" \
        --token-file "$DEMO/$dev.token" --store "$DEMO/$dev" | sed 's/^/   /'
done

say "5. cam-002 renews: it signs with its current key and gets a certificate for a NEW key"
"$WALLET" renew --store "$DEMO/cam-002" | sed 's/^/   /'

say "6. A device with a wrong token is refused, with a numbered reason"
"$WALLET" enroll --server "127.0.0.1:$PORT" --trust "$DEMO/ca/root-ca.pem" --device-id cam-666 \
    --token-file "$DEMO/cam-001.token" --store "$DEMO/cam-666" 2>&1 | sed 's/^/   /' || true

say "7. The certificates, checked with OpenSSL against the root only"
for dev in cam-001 cam-002 cam-003; do
    awk -v d="$DEMO/$dev" '/BEGIN CERT/{n++} {print > (d "/c" n ".pem")}' "$DEMO/$dev/device.crt"
    subject=$(openssl x509 -in "$DEMO/$dev/c1.pem" -noout -subject | sed 's/^subject=//')
    serial=$(openssl x509 -in "$DEMO/$dev/c1.pem" -noout -serial | cut -d= -f2)
    until=$(openssl x509 -in "$DEMO/$dev/c1.pem" -noout -enddate | cut -d= -f2)
    verdict=$(openssl verify -x509_strict -purpose sslclient -CAfile "$DEMO/ca/root-ca.pem" \
        -untrusted "$DEMO/$dev/c2.pem" "$DEMO/$dev/c1.pem" 2>&1 | sed 's/.*: //')
    printf '   %-8s %-34s serial %s  until %s  verify: %s\n' "$dev" "$subject" "$serial" "$until" "$verdict"
done

say "8. The operator revokes cam-003 (irpctl over the admin API); relying parties see it at once"
CTL=$IRP_ROOT/build/irpctl
"$CTL" --config "$DEMO/ca/server.toml" revoke --serial "$(openssl x509 -in "$DEMO/cam-003/c1.pem" -noout -serial | cut -d= -f2 | tr A-F a-f)" \
    --reason keyCompromise | sed 's/^/   /'
OCSP_URL=$(openssl x509 -in "$DEMO/cam-003/c1.pem" -noout -ocsp_uri)
for dev in cam-001 cam-003; do
    status=$(openssl ocsp -issuer "$DEMO/ca/domain-ca.pem" -cert "$DEMO/$dev/c1.pem" -url "$OCSP_URL" \
        -CAfile "$DEMO/ca/root-ca.pem" 2>&1 | grep -E "c1.pem: " | sed 's/.*c1.pem: //')
    echo "   openssl ocsp ($OCSP_URL): $dev is $status"
done
"$WALLET" renew --store "$DEMO/cam-003" 2>&1 | sed 's/^/   /' || true

say "9. What the server recorded"
sqlite3 -column "$DEMO/ca/irp.db" "select device_id as device, substr(serial,1,16)||'...' as serial,
    case status when 1 then 'issued' when 2 then 'installed' when 3 then 'superseded' else 'failed' end as status,
    case when revoked_at is null then '' else 'revoked' end as revoked
    from certificates order by issued_at, rowid" | sed 's/^/   /'
echo "   server log:"
sed 's/^/     /' "$DEMO/server.log"

say "10. Stopping the server (SIGTERM: in-flight requests finish first)"
kill -TERM "$SERVER_PID"; wait "$SERVER_PID"; SERVER_PID=""
echo "   stopped. Everything is in $DEMO"
