#!/usr/bin/env bash
# Many domains under one root (docs/ARCHITECTURE.md, "Scale-out"): an
# offline root (irp-ca) signs four domain CAs; three domain servers, each
# with its own SQLite store, and a directory server that only redirects
# ([[redirect]] rules: by class, by device id prefix, by a devices file).
# Devices enroll at the directory and end up in their domains; renewals go
# straight to the domain; a relying party that trusts only the root verifies
# devices of every domain (OpenSSL, full-chain CRL checking with the CRL and
# OCSP URLs written in the certificates) and sees a revocation made in any of
# them. The wallet refuses a redirect to a server that cannot prove the
# domain, and a redirect loop. Then DNS SRV discovery against a real DNS
# server (dnsmasq) in a private mount namespace (needs root; IRP_REQUIRE_DNS=1
# turns a skip into a failure).
# Usage: domains.sh irp-ca irp-server idwallet irpctl
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CA_TOOL=$(realpath "$1"); SERVER=$(realpath "$2"); WALLET=$(realpath "$3"); CTL=$(realpath "$4")
work_dir domains

ROOTDIR="$WORK/root"
ROOT="$ROOTDIR/root-ca.pem"
declare -A PORT ADMINURL HTTPURL LOG

# make_domain NAME CLASS: domain NAME.test, its CA signed by the root, its
# TLS certificate and server.toml, with loopback listeners on free ports.
make_domain() {
    local d="$WORK/$1" domain="$1.test"
    "$CA_TOOL" domain-key --dir "$d" --domain "$domain" >/dev/null 2>&1 &&
        "$CA_TOOL" sign-domain --root "$ROOTDIR" --csr "$d/domain-ca.csr" --domain "$domain" --permit-dns "$domain" \
            --crl-url "http://127.0.0.1:1/root.crl" >/dev/null 2>&1 &&
        "$CA_TOOL" server-tls --dir "$d" --domain "$domain" >/dev/null 2>&1 &&
        "$CA_TOOL" assemble --dir "$d" --root-cert "$ROOT" --domain "$domain" --class "$2" --listen 127.0.0.1:0 \
            --admin-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 >/dev/null 2>&1 ||
        { echo "cannot make domain $domain"; exit 1; }
}
# run_domain NAME: starts its server; fills PORT, ADMINURL, HTTPURL, LOG.
run_domain() {
    LOG[$1]="$WORK/$1.log"
    start_server "$WORK/$1/server.toml" "${LOG[$1]}"
    PIDS+=("$SERVER_PID")
    PORT[$1]=$PORT; ADMINURL[$1]=$ADMIN; HTTPURL[$1]=$HTTP
}
token() { "$SERVER" token --config "$WORK/$1/server.toml" --class "$2" --device-id "$3"; }
ctl() { local d=$1; shift; "$CTL" --url "${ADMINURL[$d]}" --token-file "$WORK/$d/admin.token" "$@"; }
leaf() { openssl x509 -in "$WORK/dev/$1/device.crt"; }
issuer_cn() { openssl x509 -in "$WORK/dev/$1/device.crt" -noout -issuer | sed -n 's/.*CN *= *//p'; }
enroll_at_directory() {  # DEVICE CLASS DOMAIN-NAME (for the token) [extra idwallet args]
    local dev=$1 cls=$2 dom=$3; shift 3
    "$WALLET" enroll --server "127.0.0.1:${PORT[directory]}" --trust "$ROOT" --device-id "$dev" --class "$cls" \
        --token "$(token "$dom" "$cls" "$dev")" --store "$WORK/dev/$dev" "$@"
}
metric() { curl -sf "${ADMINURL[$1]}/metrics" | sed -n "s/^$2 //p"; }

echo "== one root, four domains"
"$CA_TOOL" root create --dir "$ROOTDIR" --name "IRP Test Root" >/dev/null 2>&1 || { echo "root create failed"; exit 1; }
"$CA_TOOL" root-crl --root "$ROOTDIR" --days 365 >/dev/null 2>&1 || { echo "root-crl failed"; exit 1; }
make_domain d1 camera
make_domain d2 default
make_domain d3 default
make_domain directory default
check "four domain CAs, all under the one root" bash -c "for d in d1 d2 d3 directory; do
    openssl verify -CAfile '$ROOT' '$WORK/'\$d/domain-ca.pem || exit 1; done"
run_domain d1; run_domain d2; run_domain d3

# The directory: no class of its own, only rules.
printf 'globex-gx-42\n# more of what Globex bought\nsensor-0815\n' >"$WORK/directory/globex.devices"
sed -i '/^\[classes\./,$d' "$WORK/directory/server.toml"
cat >>"$WORK/directory/server.toml" <<EOF
[[redirect]]
name = "cameras"
domain = "d1.test"
server = "127.0.0.1:${PORT[d1]}"
classes = ["camera"]

[[redirect]]
name = "acme"
domain = "d2.test"
server = "127.0.0.1:${PORT[d2]}"
device_prefixes = ["acme-"]

[[redirect]]
name = "globex"
domain = "d3.test"
server = "127.0.0.1:${PORT[d3]}"
devices_file = "globex.devices"

[[redirect]]
name = "impostor"
domain = "d1.test"
server = "127.0.0.1:${PORT[d2]}"
device_prefixes = ["evil-"]

[[redirect]]
name = "loop"
domain = "d1.test"
server = "127.0.0.1:${PORT[d1]}"
device_prefixes = ["loop-"]
EOF
run_domain directory
check "the directory says how many rules and listed devices it has" \
    grep -q "directory: 5 redirect rule(s), 2 listed device(s)" "${LOG[directory]}"

echo "== enrolling through the directory"
expect_rc 0 "cam-1 (class camera) enrolls at the directory" enroll_at_directory cam-1 camera d1
check "... redirected to d1" grep -q "redirected by 127.0.0.1:${PORT[directory]} to 127.0.0.1:${PORT[d1]} (domain d1.test)" "$WORK/last.out"
check "... and issued by d1's CA" test "$(issuer_cn cam-1)" = "IRP Domain CA d1.test"
check "... the store remembers d1, by name d1.test" \
    test "$(head -2 "$WORK/dev/cam-1/server" | tr '\n' ' ')" = "127.0.0.1:${PORT[d1]} d1.test "
expect_rc 0 "acme-7 (id prefix acme-) enrolls at the directory" enroll_at_directory acme-7 default d2
check "... and is issued by d2's CA" test "$(issuer_cn acme-7)" = "IRP Domain CA d2.test"
expect_rc 0 "globex-gx-42 (listed in globex.devices) enrolls at the directory" enroll_at_directory globex-gx-42 default d3
check "... and is issued by d3's CA" test "$(issuer_cn globex-gx-42)" = "IRP Domain CA d3.test"
check "the directory logged each redirect with its rule" bash -c "
    grep -q 'outcome=redirected domain=d1.test.*rule=cameras match=class' '${LOG[directory]}' &&
    grep -q 'outcome=redirected domain=d2.test.*rule=acme match=device_prefix' '${LOG[directory]}' &&
    grep -q 'outcome=redirected domain=d3.test.*rule=globex match=devices_file' '${LOG[directory]}'"
check "the directory issued nothing" bash -c "! grep -q 'outcome=issued' '${LOG[directory]}'"
check "/metrics counts 3 redirected enrollments" test "$(metric directory 'irp_requests_total{operation="enroll",outcome="redirected"}')" = 3
expect_rc 4 "a device no rule matches is refused by the directory (no class there)" \
    "$WALLET" enroll --server "127.0.0.1:${PORT[directory]}" --trust "$ROOT" --device-id stray-1 \
    --token "$(token d2 default stray-1)" --store "$WORK/dev/stray-1"
check "... unknown_class" grep -q "204 unknown_class" "$WORK/last.out"

echo "== after enrollment the directory is out of the picture"
DIR_LINES=$(wc -l <"${LOG[directory]}")
expect_rc 0 "cam-1 renews (at d1, from the store)" "$WALLET" renew --store "$WORK/dev/cam-1"
expect_rc 0 "acme-7 checks in (at d2)" "$WALLET" check-in --store "$WORK/dev/acme-7"
check "d1 logged the renewal" grep -q "renew device=cam-1.*outcome=issued" "${LOG[d1]}"
check "the directory saw neither" test "$(wc -l <"${LOG[directory]}")" = "$DIR_LINES"

echo "== idwallet run follows the redirect, then renews at the domain"
expect_rc 0 "idwallet run --once: acme-run enrolls through the directory" \
    "$WALLET" run --once --server "127.0.0.1:${PORT[directory]}" --trust "$ROOT" --device-id acme-run \
    --token "$(token d2 default acme-run)" --store "$WORK/dev/acme-run"
check "... redirected to d2 and issued" bash -c "grep -q 'enroll redirected by .* (domain d2.test)' '$WORK/last.out' &&
    grep -q 'enroll outcome=issued' '$WORK/last.out'"
expect_rc 0 "a restarted daemon keeps to d2 for renewals" \
    "$WALLET" run --once --server "127.0.0.1:${PORT[directory]}" --trust "$ROOT" --device-id acme-run \
    --token "$(token d2 default acme-run)" --store "$WORK/dev/acme-run"
check "the store remembers where the enrollment started" test "$(sed -n 4p "$WORK/dev/acme-run/server")" = "127.0.0.1:${PORT[directory]}"
check "... and says so" grep -q "renewing at 127.0.0.1:${PORT[d2]} (the server that issued the certificate held), not 127.0.0.1:${PORT[directory]}" "$WORK/last.out"

echo "== redirects the wallet refuses"
expect_rc 3 "a redirect to a server that cannot prove the domain (d2's server for d1.test)" \
    enroll_at_directory evil-1 default d2
check "... fails the TLS name check" grep -q "109 tls_failure" "$WORK/last.out"
check "... and nothing is installed" test ! -e "$WORK/dev/evil-1/device.crt"
check "... d2 never saw a request" bash -c "! grep -q 'device=evil-1' '${LOG[d2]}'"
# d1 sends loop- devices back to the directory: a SIGHUP adds the rule live.
cat >>"$WORK/d1/server.toml" <<EOF

[[redirect]]
name = "back"
domain = "directory.test"
server = "127.0.0.1:${PORT[directory]}"
device_prefixes = ["loop-"]
EOF
kill -HUP "${PIDS[0]}"
for _ in $(seq 1 100); do grep -q "reload.*applied=redirect" "${LOG[d1]}" && break; sleep 0.05; done
check "d1 reloads its rules on SIGHUP" grep -q "reload.*outcome=done.*applied=redirect" "${LOG[d1]}"
expect_rc 10 "a redirect loop (directory -> d1 -> directory) stops with exit 10" enroll_at_directory loop-1 camera d1
check "... bad_redirect, naming the server visited" grep -q "visited already (110 bad_redirect)" "$WORK/last.out"

echo "== a relying party that trusts only the root"
# It reads the CRL and OCSP URLs from the certificates, as any relying party does.
crl_of() {  # DEVICE -> PEM CRL of its issuing CA, fetched from the certificate's CDP
    local url; url=$(leaf "$1" | openssl x509 -noout -ext crlDistributionPoints | sed -n 's/.*URI:\(.*\)/\1/p')
    curl -sf "$url" | openssl crl -inform DER -out "$WORK/$1.crl.pem"
}
rp_verify() {  # DEVICE: full-chain CRL check (the root's CRL and the domain's)
    crl_of "$1" || return 1
    leaf "$1" >"$WORK/$1.leaf.pem"
    sed -n '/BEGIN/,$p' "$WORK/dev/$1/device.crt" | awk 'f; /END CERTIFICATE/{f=1}' >"$WORK/$1.chain.pem"
    openssl verify -crl_check_all -CAfile "$ROOT" -untrusted "$WORK/$1.chain.pem" -CRLfile "$ROOTDIR/root.crl.pem" \
        -CRLfile "$WORK/$1.crl.pem" "$WORK/$1.leaf.pem"
}
ocsp_status() {  # DEVICE -> good / revoked, from the OCSP URL in its certificate
    local url; url=$(leaf "$1" | openssl x509 -noout -ocsp_uri)
    leaf "$1" >"$WORK/$1.leaf.pem"
    openssl ocsp -issuer "$WORK/$1.chain.pem" -cert "$WORK/$1.leaf.pem" -url "$url" -CAfile "$ROOT" \
        -verify_other "$WORK/$1.chain.pem" 2>/dev/null | sed -n "s#^$WORK/$1.leaf.pem: ##p"
}
export -f rp_verify crl_of leaf; export WORK ROOT ROOTDIR
for dev in cam-1 acme-7 globex-gx-42; do
    check "$dev verifies (root only, full-chain CRL check)" rp_verify "$dev"
    check "... and OCSP says good" test "$(ocsp_status "$dev")" = good
done
expect_rc 0 "d2 revokes acme-7" ctl d2 revoke --device acme-7 --reason keyCompromise
check "the relying party now refuses acme-7 (d2's CRL)" bash -c "! rp_verify acme-7 >'$WORK/rp.out' 2>&1"
check "... because it is revoked" bash -c "rp_verify acme-7 2>&1 | grep -q 'certificate revoked'"
check "... and OCSP says revoked" test "$(ocsp_status acme-7)" = revoked
check "devices of d1 and d3 still verify" bash -c "rp_verify cam-1 && rp_verify globex-gx-42"
expect_rc 0 "d3 revokes globex-gx-42" ctl d3 revoke --device globex-gx-42 --reason cessationOfOperation
check "the relying party sees that too" bash -c "! rp_verify globex-gx-42"
check "cam-1 (d1) is untouched" rp_verify cam-1

echo "== DNS SRV discovery (_irp._tcp.<domain>), against a real DNS server"
DNS_OK=0
if [ "$(id -u)" = 0 ] && command -v dnsmasq >/dev/null && unshare -m true 2>/dev/null; then DNS_OK=1; fi
if [ "$DNS_OK" = 1 ]; then
    # A dead target first (priority 10: nothing listens on port 1), then d3 (priority 20).
    dnsmasq --keep-in-foreground --conf-file=/dev/null --user=root --port=53 --listen-address=127.0.0.9 \
        --bind-interfaces --no-resolv --no-hosts --local=/test/ --log-facility="$WORK/dnsmasq.log" --pid-file="$WORK/dnsmasq.pid" \
        --srv-host="_irp._tcp.d3.test,dead.d3.test,1,10,0" --srv-host="_irp._tcp.d3.test,irp.d3.test,${PORT[d3]},20,0" \
        --host-record=irp.d3.test,127.0.0.1 --host-record=dead.d3.test,127.0.0.1 &
    PIDS+=("$!")
    echo "nameserver 127.0.0.9" >"$WORK/resolv.conf"
    for _ in $(seq 1 100); do [ -s "$WORK/dnsmasq.pid" ] && break; sleep 0.05; done
    # in_dns COMMAND...: runs it with the test DNS server as the system resolver.
    in_dns() { unshare -m bash -c 'mount --bind "$0" /etc/resolv.conf && exec "$@"' "$WORK/resolv.conf" "$@"; }
    expect_rc 0 "idwallet enroll --discover d3.test (SRV, first target dead)" in_dns "$WALLET" enroll --discover d3.test \
        --trust "$ROOT" --device-id srv-1 --token "$(token d3 default srv-1)" --store "$WORK/dev/srv-1"
    check "... issued by d3's CA" test "$(issuer_cn srv-1)" = "IRP Domain CA d3.test"
    check "the store remembers the domain to discover, not an address" test "$(sed -n 3p "$WORK/dev/srv-1/server")" = d3.test
    expect_rc 0 "renewal discovers the server again" in_dns "$WALLET" renew --store "$WORK/dev/srv-1"
    expect_rc 3 "a domain without an SRV record: exit 3" in_dns "$WALLET" enroll --discover nosrv.test \
        --trust "$ROOT" --device-id srv-2 --token "$(token d3 default srv-2)" --store "$WORK/dev/srv-2"
    check "... naming the record asked for" grep -q "no SRV record _irp._tcp.nosrv.test" "$WORK/last.out"
    # The SRV target does not decide the name the certificate must carry: a
    # record pointing d1.test at d3's server is refused by TLS.
    kill "${PIDS[-1]}"; wait "${PIDS[-1]}" 2>/dev/null; rm -f "$WORK/dnsmasq.pid"
    dnsmasq --keep-in-foreground --conf-file=/dev/null --user=root --port=53 --listen-address=127.0.0.9 \
        --bind-interfaces --no-resolv --no-hosts --local=/test/ --pid-file="$WORK/dnsmasq.pid" \
        --srv-host="_irp._tcp.d1.test,irp.d3.test,${PORT[d3]},10,0" --host-record=irp.d3.test,127.0.0.1 &
    PIDS+=("$!")
    for _ in $(seq 1 100); do [ -s "$WORK/dnsmasq.pid" ] && break; sleep 0.05; done
    expect_rc 3 "a forged SRV record (d1.test -> d3's server) is refused" in_dns "$WALLET" enroll --discover d1.test \
        --trust "$ROOT" --device-id cam-9 --class camera --token "$(token d1 camera cam-9)" --store "$WORK/dev/cam-9"
    check "... by the TLS name check" grep -q "109 tls_failure" "$WORK/last.out"
elif [ "${IRP_REQUIRE_DNS:-0}" = 1 ]; then
    bad "DNS SRV discovery needs root, unshare and dnsmasq (IRP_REQUIRE_DNS=1)"
else
    echo "  skip DNS SRV discovery: needs root, unshare -m and dnsmasq (Debian dnsmasq-base)"
fi

finish "e2e_domains"
