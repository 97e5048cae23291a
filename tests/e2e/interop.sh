#!/usr/bin/env bash
# Interop with relying parties we did not write. An offline root made with
# irp-ca publishes its CRL at the URL written into the domain CA certificate
# (sign-domain --crl-url); a device enrolls with idwallet; then
#   nginx        (ssl_verify_client on, the root as the only client CA, the
#                 root's and the domain's CRLs in one ssl_crl file),
#   OpenSSL      (s_server -Verify 2 -verify_return_error, s_client),
#   GnuTLS       (certtool --verify, --verify-crl),
#   NSS          (certutil database, vfychain -pp)
# accept the device; after irpctl revoke and a CRL refresh they refuse it,
# while a second device stays accepted. nginx and OpenSSL also refuse every
# device when the root's CRL is missing (full-chain CRL checking): that is
# why the root publishes one.
# nginx runs as its own instance: a private prefix and config under the
# test's directory, loopback ports, never /etc/nginx nor port 80.
# Usage: interop.sh irp-ca irp-server idwallet irpctl
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CA_TOOL=$(realpath "$1"); SERVER=$(realpath "$2"); WALLET=$(realpath "$3"); CTL=$(realpath "$4")
# A missing peer skips the test (77), unless IRP_REQUIRE_INTEROP=1
# (scripts/test.sh, which installs them all) makes it a failure.
for tool in nginx openssl curl certtool vfychain certutil crlutil; do
    command -v "$tool" >/dev/null && continue
    echo "interop: '$tool' is missing (scripts/setup.sh installs it)"
    [ "${IRP_REQUIRE_INTEROP:-0}" = 1 ] && exit 1
    exit 77
done
work_dir interop
ROOTDIR="$WORK/offline-root"; DOMDIR="$WORK/domain"; NGX="$WORK/nginx"
DOMAIN=interop.example
SSRV_PID=""

# free_port: a loopback port nobody listens on now, below the ephemeral range
# (nginx cannot listen on port 0 and say which port it got).
free_port() {
    local p
    for _ in $(seq 1 100); do
        p=$((20000 + RANDOM % 12000))
        [ "$p" != "${1:-}" ] || continue
        (: <>"/dev/tcp/127.0.0.1/$p") 2>/dev/null || { echo "$p"; return 0; }
    done
    return 1
}
token() { "$SERVER" token --config "$DOMDIR/server.toml" --class default --device-id "$1"; }
serial_of() { openssl x509 -in "$WORK/$1/leaf.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f'; }
# nginx_common DIR: the start of a test nginx's config under DIR (nothing
# from /etc/nginx), up to the server block; the caller closes "http {".
nginx_common() {
    cat <<EOF
worker_processes 1;
user $(id -un);
pid $1/nginx.pid;
error_log $1/logs/error.log info;
events { worker_connections 64; }
http {
    access_log $1/logs/access.log;
    client_body_temp_path $1/tmp/body;
    proxy_temp_path $1/tmp/proxy;
    fastcgi_temp_path $1/tmp/fastcgi;
    uwsgi_temp_path $1/tmp/uwsgi;
    scgi_temp_path $1/tmp/scgi;
    default_type text/plain;
EOF
}
# nginx_start DIR BLOCK: an nginx under DIR whose one server block is what the
# function BLOCK prints for a port, on a free loopback port. A port taken
# between the probe and nginx's bind is retried with another: nothing depends
# on the port before this returns. Sets NGX_PORT; adds the pid to PIDS.
nginx_start() {
    local dir=$1 block=$2 port pid
    mkdir -p "$dir/logs" "$dir/tmp"
    for _ in 1 2 3 4 5; do
        port=$(free_port) || break
        { nginx_common "$dir"; "$block" "$port"; echo "}"; } >"$dir/nginx.conf"
        rm -f "$dir/nginx.pid"
        nginx -p "$dir" -c "$dir/nginx.conf" -e "$dir/logs/error.log" -g 'daemon off;' 2>"$dir/logs/stderr" &
        pid=$!
        # nginx writes its pid file once its sockets are bound; a failed bind ends it.
        for _ in $(seq 1 200); do
            [ -s "$dir/nginx.pid" ] && { NGX_PORT=$port; PIDS+=("$pid"); return 0; }
            kill -0 "$pid" 2>/dev/null || break
            sleep 0.05
        done
        kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
        grep -qs "Address already in use" "$dir/logs/error.log" "$dir/logs/stderr" || break
        : >"$dir/logs/error.log"
    done
    echo "nginx did not start:"; cat "$dir/logs/error.log" "$dir/logs/stderr"; exit 1
}
# Where the root's CRL is published: its URL goes into the domain CA
# certificate, so this nginx starts first.
crl_block() { printf '    server {\n        listen 127.0.0.1:%s;\n        root %s;\n    }\n' "$1" "$WORK/pub"; }
mkdir -p "$WORK/pub"
nginx_start "$WORK/nginx-crl" crl_block
NGX_HTTP=$NGX_PORT
ROOT_CRL_URL="http://127.0.0.1:$NGX_HTTP/root.crl"
ROOT="$ROOTDIR/root-ca.pem"; CA="$DOMDIR/domain-ca.pem"

echo "== an offline root whose CRL URL is in the domain CA certificate"
expect_rc 0 "irp-ca root create" "$CA_TOOL" root create --dir "$ROOTDIR" --name "Interop Root" --years 20
expect_rc 0 "irp-ca domain-key" "$CA_TOOL" domain-key --dir "$DOMDIR" --domain "$DOMAIN"
expect_rc 0 "irp-ca sign-domain --crl-url $ROOT_CRL_URL" "$CA_TOOL" sign-domain --root "$ROOTDIR" \
    --csr "$DOMDIR/domain-ca.csr" --domain "$DOMAIN" --permit-dns "$DOMAIN" --crl-url "$ROOT_CRL_URL"
check "the domain CA's CRL distribution point is the root CRL URL" bash -c \
    "openssl x509 -in '$CA' -noout -ext crlDistributionPoints | grep -qF 'URI:$ROOT_CRL_URL'"
expect_rc 0 "irp-ca server-tls" "$CA_TOOL" server-tls --dir "$DOMDIR" --domain "$DOMAIN"
expect_rc 0 "irp-ca assemble" "$CA_TOOL" assemble --dir "$DOMDIR" --root-cert "$ROOT" --domain "$DOMAIN" \
    --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 --http-listen 127.0.0.1:0
expect_rc 0 "irp-ca root-crl" "$CA_TOOL" root-crl --root "$ROOTDIR" --days 30
expect_rc 0 "a second, untrusted root (irp-ca root create)" "$CA_TOOL" root create --dir "$WORK/other-root" --name "Other Root"
openssl req -x509 -newkey ec -pkeyopt ec_paramgen_curve:P-256 -nodes -keyout "$WORK/self.key" -out "$WORK/self.pem" \
    -subj /CN=cam-1 -days 1 -addext extendedKeyUsage=clientAuth 2>/dev/null

start_server "$DOMDIR/server.toml" "$WORK/server.log"
CTLC=("$CTL" --url "$ADMIN" --token-file "$DOMDIR/admin.token")
for dev in cam-1 cam-2; do
    expect_rc 0 "idwallet enroll $dev" "$WALLET" enroll --server "127.0.0.1:$PORT" --trust "$ROOT" --device-id "$dev" \
        --token "$(token "$dev")" --store "$WORK/$dev"
    awk '/BEGIN CERT/{n++} n==1' "$WORK/$dev/device.crt" >"$WORK/$dev/leaf.pem"
    cat "$WORK/$dev/leaf.pem" "$CA" >"$WORK/$dev/chain.pem"
done
# refresh_crls: the domain CRL again from the certificate's URL, and the
# file every relying party reads: the root's CRL and the domain's, PEM.
refresh_crls() {
    local url; url=$(openssl x509 -in "$WORK/cam-1/leaf.pem" -noout -ext crlDistributionPoints | sed -n 's/.*URI:\(.*\)/\1/p')
    curl -sf "$url" -o "$WORK/domain.crl.der" && openssl crl -inform DER -in "$WORK/domain.crl.der" -out "$WORK/domain.crl.pem" &&
        cat "$ROOTDIR/root.crl.pem" "$WORK/domain.crl.pem" >"$WORK/crls.pem"
}
check "the domain CRL is fetched from the device certificate's URL" refresh_crls

echo "== nginx: ssl_verify_client on, the root as CA, root + domain CRLs"
cp "$ROOTDIR/root.crl" "$WORK/pub/root.crl"
cat "$DOMDIR/server-tls.pem" "$CA" >"$WORK/server-chain.pem"
tls_block() {
    cat <<EOF
    server {
        listen 127.0.0.1:$1 ssl;
        ssl_certificate $WORK/server-chain.pem;
        ssl_certificate_key $DOMDIR/server-tls.key;
        ssl_verify_client on;
        ssl_client_certificate $ROOT;
        ssl_verify_depth 2;
        ssl_crl $WORK/crls.pem;
        location / { return 200 "dn=\$ssl_client_s_dn verify=\$ssl_client_verify\n"; }
    }
EOF
}
nginx_start "$NGX" tls_block
NGX_TLS=$NGX_PORT
NGINX=(nginx -p "$NGX" -c "$NGX/nginx.conf" -e "$NGX/logs/error.log")
curl -sf -o "$WORK/fetched-root.crl" "$ROOT_CRL_URL" || { echo "the root CRL is not served:"; cat "$WORK/nginx-crl/logs/error.log"; exit 1; }
check "the root CRL is served at the URL the domain CA names" cmp -s "$WORK/fetched-root.crl" "$ROOTDIR/root.crl"
# nginx_get DEVICE|-: one HTTPS request (client certificate of DEVICE, none
# for -, or "self" for a self-made one); prints the HTTP code (000: no answer).
nginx_get() {
    local args=(-s -o "$WORK/ngx.body" -w '%{http_code}' --cacert "$ROOT")
    case "$1" in
        -) ;;
        self) args+=(--cert "$WORK/self.pem" --key "$WORK/self.key") ;;
        *) args+=(--cert "$WORK/$1/device.crt" --key "$WORK/$1/device.key") ;;
    esac
    curl "${args[@]}" "https://127.0.0.1:$NGX_TLS/"
}
# nginx_until CODE DEVICE: asks until nginx answers CODE, for at most 5 s
# (after a reload, old workers serve until they finish).
nginx_until() {
    for _ in $(seq 1 50); do [ "$(nginx_get "$2")" = "$1" ] && return 0; sleep 0.1; done
    return 1
}
nginx_reload() { "${NGINX[@]}" -s reload; }
check "nginx answers 200 to cam-1's certificate" nginx_until 200 cam-1
check "... and saw the client's DN (\$ssl_client_s_dn)" grep -q "^dn=serialNumber=cam-1,CN=cam-1 verify=SUCCESS$" "$WORK/ngx.body"
check "nginx refuses a client without a certificate (400)" test "$(nginx_get -)" = 400
check "... 'No required SSL certificate was sent'" grep -q "No required SSL certificate was sent" "$WORK/ngx.body"
check "nginx refuses a self-made certificate with the same CN (400)" test "$(nginx_get self)" = 400
check "... 'The SSL certificate error'" grep -q "The SSL certificate error" "$WORK/ngx.body"
cp "$WORK/domain.crl.pem" "$WORK/crls.pem"  # the domain's CRL only
nginx_reload
check "without the root's CRL nginx refuses the valid device (400)" nginx_until 400 cam-1
check "... 'The SSL certificate error'" grep -q "The SSL certificate error" "$WORK/ngx.body"
check "... logging 'unable to get certificate CRL'" grep -q "verify error: (3:unable to get certificate CRL)" "$NGX/logs/error.log"
cat "$ROOTDIR/root.crl.pem" "$WORK/domain.crl.pem" >"$WORK/crls.pem"
nginx_reload
check "with both CRLs again, 200" nginx_until 200 cam-1

echo "== OpenSSL s_server -Verify 2 -verify_return_error, s_client"
# ssrv ARGS...: one s_server for one connection (-www: the answer page shows
# the client certificate); sets SPORT.
ssrv() {
    : >"$WORK/ssrv.log"  # here, not in the background child: the previous run's ACCEPT line must be gone
    openssl s_server -accept 127.0.0.1:0 -naccept 1 -cert "$DOMDIR/server-tls.pem" -cert_chain "$CA" \
        -key "$DOMDIR/server-tls.key" -Verify 2 -verify_return_error -www "$@" >"$WORK/ssrv.log" 2>&1 &
    SSRV_PID=$!
    PIDS+=("$SSRV_PID")
    SPORT=""
    for _ in $(seq 1 200); do
        SPORT=$(sed -n 's/^ACCEPT 127\.0\.0\.1:\([0-9]*\)$/\1/p' "$WORK/ssrv.log"); [ -n "$SPORT" ] && break; sleep 0.05
    done
    [ -n "$SPORT" ] || echo "s_server did not start: $(cat "$WORK/ssrv.log")"
}
# sclient DEVICE|-|self: GET / through s_client. Succeeds when s_server's
# page came back: a refused handshake leaves none. s_client's output is in
# $WORK/sclient.out, s_server's in $WORK/ssrv.log.
sclient() {
    local id=()
    case "$1" in
        -) ;;
        self) id=(-cert "$WORK/self.pem" -key "$WORK/self.key") ;;
        *) id=(-cert "$WORK/$1/leaf.pem" -cert_chain "$CA" -key "$WORK/$1/device.key") ;;
    esac
    printf 'GET / HTTP/1.0\r\n\r\n' | timeout 10 openssl s_client -quiet -connect "127.0.0.1:$SPORT" -CAfile "$ROOT" \
        -verify_return_error "${id[@]}" >"$WORK/sclient.out" 2>&1
    for _ in $(seq 1 50); do kill -0 "$SSRV_PID" 2>/dev/null || break; sleep 0.05; done
    kill "$SSRV_PID" 2>/dev/null; wait "$SSRV_PID" 2>/dev/null; SSRV_PID=""
    grep -aq "^HTTP/1.0 200 ok" "$WORK/sclient.out" && return 0
    grep -a -v '^ ' "$WORK/sclient.out"; grep -a 'error' "$WORK/ssrv.log"
    return 1
}
ssrv -CAfile "$ROOT"
expect_rc 0 "s_client with cam-1's certificate and key gets the page (HTTP/1.0 200 ok)" sclient cam-1
check "... shows the client certificate s_server verified" grep -aq "Subject: CN=cam-1/serialNumber=cam-1" "$WORK/sclient.out"
check "... s_server verified depth 0 cam-1 to depth 2 the root" bash -c \
    "grep -q '^depth=0 CN = cam-1, serialNumber = cam-1' '$WORK/ssrv.log' && grep -q '^depth=2 CN = Interop Root' '$WORK/ssrv.log'"
ssrv -CAfile "$ROOT"
expect_rc 1 "s_client without a certificate is refused" sclient -
check "... s_server: peer did not return a certificate" grep -q "peer did not return a certificate" "$WORK/ssrv.log"
ssrv -CAfile "$ROOT"
expect_rc 1 "a self-made certificate is refused" sclient self
check "... unknown CA" grep -aq "alert unknown ca" "$WORK/sclient.out"
# -CRL takes one CRL; the root's goes into the -CAfile, which holds CRLs too.
cat "$ROOT" "$ROOTDIR/root.crl.pem" >"$WORK/root+crl.pem"
ssrv -CAfile "$WORK/root+crl.pem" -crl_check_all -CRL "$WORK/domain.crl.pem"
expect_rc 0 "with -crl_check_all and both CRLs cam-1 is served" sclient cam-1
ssrv -CAfile "$ROOT" -crl_check_all -CRL "$WORK/domain.crl.pem"
expect_rc 1 "with -crl_check_all but no root CRL it is refused" sclient cam-1
check "... unable to get certificate CRL" grep -q "unable to get certificate CRL" "$WORK/ssrv.log"

echo "== GnuTLS certtool"
expect_rc 0 "certtool --verify accepts leaf + domain CA under the root" \
    certtool --verify --load-ca-certificate "$ROOT" --infile "$WORK/cam-1/chain.pem"
check "... 'Verified. The certificate is trusted.'" grep -q "Chain verification output: Verified. The certificate is trusted." "$WORK/last.out"
expect_rc 0 "... for TLS client authentication (--verify-purpose clientAuth)" certtool --verify \
    --verify-purpose 1.3.6.1.5.5.7.3.2 --load-ca-certificate "$ROOT" --infile "$WORK/cam-1/chain.pem"
expect_rc 1 "... but not for serverAuth" certtool --verify --verify-purpose 1.3.6.1.5.5.7.3.1 \
    --load-ca-certificate "$ROOT" --infile "$WORK/cam-1/chain.pem"
check "... 'does not match the intended purpose'" grep -q "does not match the intended purpose" "$WORK/last.out"
expect_rc 1 "certtool --verify refuses the chain under another root" \
    certtool --verify --load-ca-certificate "$WORK/other-root/root-ca.pem" --infile "$WORK/cam-1/chain.pem"
check "... 'The certificate issuer is unknown.'" grep -q "issuer is unknown" "$WORK/last.out"
expect_rc 0 "certtool --verify-crl accepts the root's CRL" \
    certtool --verify-crl --load-ca-certificate "$ROOT" --infile "$ROOTDIR/root.crl.pem"
check "... 'Verified.'" grep -q "^Verification output: Verified." "$WORK/last.out"
expect_rc 0 "certtool --verify-crl accepts the domain's CRL" \
    certtool --verify-crl --load-ca-certificate "$CA" --infile "$WORK/domain.crl.pem"
check "... 'Verified.'" grep -q "^Verification output: Verified." "$WORK/last.out"
expect_rc 1 "... and refuses it against the root (wrong issuer)" \
    certtool --verify-crl --load-ca-certificate "$ROOT" --infile "$WORK/domain.crl.pem"

echo "== NSS vfychain (usage 0: SSL client)"
nssdb() { mkdir -p "$WORK/$1" && certutil -N -d "sql:$WORK/$1" --empty-password && certutil -A -d "sql:$WORK/$1" -n "$2" -t "$3" -a -i "$4"; }
vfy() { local db=$1 usage=$2; shift 2; vfychain -d "sql:$WORK/$db" -u "$usage" -pp "$@"; }
check "an NSS database trusting the root for SSL servers only (C,,)" nssdb nss-c irp-root "C,," "$ROOT"
expect_rc 1 "... refuses the client chain" vfy nss-c 0 -a "$WORK/cam-1/leaf.pem" -a "$CA"
check "... the issuer is not trusted (-8172): client certificates need T" grep -q "ERROR -8172" "$WORK/last.out"
check "an NSS database trusting the root for client certificates (T,,)" nssdb nss irp-root "T,," "$ROOT"
expect_rc 0 "vfychain -u 0 -pp accepts leaf + domain CA" vfy nss 0 -a "$WORK/cam-1/leaf.pem" -a "$CA"
check "... 'Chain is good!'" grep -q "^Chain is good!" "$WORK/last.out"
expect_rc 1 "... not as an SSL server (-u 1)" vfy nss 1 -a "$WORK/cam-1/leaf.pem" -a "$CA"
check "... 'Certificate type not approved' (-8101)" grep -q "ERROR -8101" "$WORK/last.out"
expect_rc 1 "... nor the leaf without its CA" vfy nss 0 -a "$WORK/cam-1/leaf.pem"
check "a database trusting only another irp-ca root" nssdb nss-other other-root "T,," "$WORK/other-root/root-ca.pem"
expect_rc 1 "... refuses the chain" vfy nss-other 0 -a "$WORK/cam-1/leaf.pem" -a "$CA"
check "... 'Chain is bad!', issuer not recognized (-8179)" bash -c \
    "grep -q '^Chain is bad!' '$WORK/last.out' && grep -q 'ERROR -8179' '$WORK/last.out'"

echo "== revoke cam-1, refresh the CRL"
expect_rc 0 "irpctl revoke cam-1 (keyCompromise)" "${CTLC[@]}" revoke --serial "$(serial_of cam-1)" --reason keyCompromise
cp "$WORK/domain.crl.pem" "$WORK/domain-before.crl.pem"
check "the domain CRL is fetched again" refresh_crls
check "... and is another CRL" bash -c "! cmp -s '$WORK/domain-before.crl.pem' '$WORK/domain.crl.pem'"
nginx_reload
check "nginx now refuses cam-1 (400)" nginx_until 400 cam-1
check "... 'The SSL certificate error'" grep -q "The SSL certificate error" "$WORK/ngx.body"
check "... logging 'certificate revoked'" grep -q "verify error: (23:certificate revoked)" "$NGX/logs/error.log"
check "... and still serves cam-2 (200)" test "$(nginx_get cam-2)" = 200
check "... as cam-2" grep -q "CN=cam-2 verify=SUCCESS" "$WORK/ngx.body"
ssrv -CAfile "$WORK/root+crl.pem" -crl_check_all -CRL "$WORK/domain.crl.pem"
expect_rc 1 "s_server -crl_check_all refuses cam-1" sclient cam-1
check "... 'certificate revoked'" grep -q "verify error:num=23:certificate revoked" "$WORK/ssrv.log"
check "... s_client gets the alert" grep -aq "alert certificate revoked" "$WORK/sclient.out"
ssrv -CAfile "$WORK/root+crl.pem" -crl_check_all -CRL "$WORK/domain.crl.pem"
expect_rc 0 "... and serves cam-2" sclient cam-2
expect_rc 1 "certtool --verify --load-crl refuses cam-1" certtool --verify --load-ca-certificate "$ROOT" \
    --load-crl "$WORK/crls.pem" --infile "$WORK/cam-1/chain.pem"
check "... 'The certificate chain is revoked.'" grep -q "The certificate chain is revoked." "$WORK/last.out"
expect_rc 0 "... and accepts cam-2" certtool --verify --load-ca-certificate "$ROOT" \
    --load-crl "$WORK/crls.pem" --infile "$WORK/cam-2/chain.pem"
# The leaf's revocation from CRLs in the database, never fetched. (-g chain
# would test the CAs only; failIfNoInfo refuses even cam-2 here, also as -8180.)
REV=(-g leaf -h testLocalInfoFirst -m crl -s forbidFetching)
expect_rc 0 "vfychain -g leaf -m crl with no CRL in the database still passes cam-1 (soft fail)" \
    vfy nss 0 "${REV[@]}" -a "$WORK/cam-1/leaf.pem" -a "$CA"
check "NSS: the domain CA and both CRLs go into the database (crlutil -I)" bash -c \
    "certutil -A -d 'sql:$WORK/nss' -n domain-ca -t ',,' -a -i '$CA' && crlutil -I -d 'sql:$WORK/nss' -t 1 -i '$WORK/domain.crl.der' \
     && crlutil -I -d 'sql:$WORK/nss' -t 1 -i '$ROOTDIR/root.crl'"
expect_rc 1 "... then vfychain refuses cam-1" vfy nss 0 "${REV[@]}" -a "$WORK/cam-1/leaf.pem" -a "$CA"
check "... revoked (-8180)" grep -q "ERROR -8180: Peer's Certificate has been revoked" "$WORK/last.out"
expect_rc 0 "... and accepts cam-2" vfy nss 0 "${REV[@]}" -a "$WORK/cam-2/leaf.pem" -a "$CA"

finish interop
