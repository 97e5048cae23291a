#!/usr/bin/env bash
# mDNS/DNS-SD discovery end to end (docs/PROTOCOL.md, "Redirects and
# discovery"): irp-server advertises _irp._tcp.local ([discovery] mdns) and
# idwallet enroll --discover-local finds it, through a real avahi-daemon.
#
# Avahi ignores loopback, so everything runs in a fresh network and mount
# namespace (unshare -m -n): a veth pair (v0 10.77.0.1 <-> v1), a tmpfs over
# /run holding a private D-Bus system bus and avahi-daemon (allow-interfaces=v0).
# Nothing binds outside the namespace, and nothing outside can reach it.
#
# Asserts: enrollment in the advertised domain (the certificate's SAN), what
# DIR/server keeps, renewal by browsing again; with two domains on the link a
# refusal listing both unless --domain names one; `idwallet run` renewing in
# the domain of the certificate it holds; forged answers (a TXT domain that
# the server's certificate does not name, and a server whose certificate names
# the domain but which says it serves another) refused by TLS and by the
# ServerHello domain check; a stopped server's record withdrawn; a daemon
# restart survived by the server (it advertises again), a daemon that is down
# reported by the wallet (exit 3) while a renewal falls back to the address
# the enrollment used.
#
# Skips (exit 77) without root, avahi-daemon, dbus-daemon, avahi-utils or a
# build with Avahi (then it still checks that both binaries say so);
# IRP_REQUIRE_MDNS=1 turns every skip into a failure.
# Usage: mdns.sh irp-ca irp-server idwallet HAVE_AVAHI(ON|OFF)
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
CA_TOOL=$(realpath "$1"); SERVER=$(realpath "$2"); WALLET=$(realpath "$3"); HAVE_AVAHI=${4:-OFF}

skip() {
    if [ "${IRP_REQUIRE_MDNS:-0}" = 1 ]; then
        echo "FAIL: $1 (IRP_REQUIRE_MDNS=1)"
        exit 1
    fi
    echo "skip: $1"
    exit 77
}

if [ "${IRP_MDNS_INSIDE:-0}" != 1 ]; then
    case "$HAVE_AVAHI" in ON|on|TRUE|true|1) ;; *)
        # A build without Avahi must say so, clearly, on both sides.
        WORK=$(mktemp -d /tmp/irp-mdns.XXXXXX)
        trap 'rm -rf "$WORK"' EXIT
        echo "== a build without Avahi"
        expect_rc 2 "idwallet enroll --discover-local: exit 2" "$WALLET" enroll --discover-local --trust /dev/null \
            --device-id d-1 --store "$WORK/d-1"
        check "... saying this build has no mDNS support" grep -q "no mDNS (Avahi) support" "$WORK/last.out"
        "$SERVER" init --dir "$WORK/ca" --domain nomdns.test --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
            --http-listen 127.0.0.1:0 >/dev/null || { echo "init failed"; exit 1; }
        sed -i 's/^mdns = false/mdns = true/' "$WORK/ca/server.toml"
        expect_rc 2 "irp-server with [discovery] mdns = true refuses to start: exit 2" "$SERVER" run --config "$WORK/ca/server.toml"
        check "... saying it was built without mDNS support" grep -q "built without mDNS (Avahi) support" "$WORK/last.out"
        [ "$FAIL" = 0 ] || { finish "e2e_mdns"; exit 1; }
        skip "this build has no Avahi (IRP_WITH_AVAHI=OFF, or libavahi-client-dev missing)" ;;
    esac
    [ "$(id -u)" = 0 ] || skip "needs root (network and mount namespaces)"
    for tool in avahi-daemon dbus-daemon avahi-browse avahi-publish ip unshare openssl; do
        command -v "$tool" >/dev/null || skip "needs $tool (Debian avahi-daemon, avahi-utils, dbus, iproute2)"
    done
    unshare -m -n true 2>/dev/null || skip "unshare -m -n does not work here"
    IRP_MDNS_INSIDE=1 exec unshare -m -n bash "$0" "$@"
fi

# ---- inside the private namespaces -------------------------------------------
work_dir mdns

echo "== a private link, bus and Avahi daemon"
ip link set lo up
ip link add v0 type veth peer name v1 || { echo "cannot make a veth pair"; exit 1; }
ip addr add 10.77.0.1/24 dev v0
ip link set v0 up multicast on
ip link set v1 up multicast on
mount -t tmpfs -o mode=0755 tmpfs /run || { echo "cannot mount a private /run"; exit 1; }
mkdir -p /run/dbus /run/avahi-daemon
cat >"$WORK/bus.conf" <<'EOF'
<!DOCTYPE busconfig PUBLIC "-//freedesktop//DTD D-Bus Bus Configuration 1.0//EN"
 "http://www.freedesktop.org/standards/dbus/1.0/busconfig.dtd">
<busconfig>
  <type>system</type>
  <listen>unix:path=/run/dbus/system_bus_socket</listen>
  <auth>EXTERNAL</auth>
  <policy context="default">
    <allow user="*"/>
    <allow own="*"/>
    <allow send_destination="*"/>
    <allow receive_sender="*"/>
  </policy>
</busconfig>
EOF
cat >"$WORK/avahi.conf" <<'EOF'
[server]
host-name=irp-mdns-test
use-ipv4=yes
use-ipv6=no
allow-interfaces=v0
enable-dbus=yes
ratelimit-interval-usec=1000000
ratelimit-burst=1000
[wide-area]
enable-wide-area=no
[publish]
publish-hinfo=no
publish-workstation=no
[reflector]
[rlimits]
EOF
export DBUS_SYSTEM_BUS_ADDRESS=unix:path=/run/dbus/system_bus_socket
dbus-daemon --config-file="$WORK/bus.conf" --nofork --nopidfile >"$WORK/dbus.log" 2>&1 &
PIDS+=("$!")
for _ in $(seq 1 100); do [ -S /run/dbus/system_bus_socket ] && break; sleep 0.05; done
[ -S /run/dbus/system_bus_socket ] || { echo "dbus-daemon did not start"; cat "$WORK/dbus.log"; exit 1; }

AVAHI_PID=
start_avahi() {
    local before; before=$(grep -c 'Server startup complete' "$WORK/avahi.log" 2>/dev/null)
    avahi-daemon --no-drop-root --no-chroot --no-rlimits -f "$WORK/avahi.conf" >>"$WORK/avahi.log" 2>&1 &
    AVAHI_PID=$!
    PIDS+=("$AVAHI_PID")
    for _ in $(seq 1 100); do
        [ "$(grep -c 'Server startup complete' "$WORK/avahi.log" 2>/dev/null)" -gt "${before:-0}" ] && return 0
        sleep 0.05
    done
    echo "avahi-daemon did not start"; cat "$WORK/avahi.log"; exit 1
}
stop_avahi() { kill "$AVAHI_PID"; wait "$AVAHI_PID" 2>/dev/null; }
start_avahi
check "avahi-daemon runs on v0 only" grep -q "New relevant interface v0.IPv4" "$WORK/avahi.log"

# browse: one avahi-browse pass (resolved, parsable). resolved NAME < FILE:
# the resolved line of instance NAME, as avahi-browse escapes it ("\032" for
# a space, "\." for a dot).
browse() { avahi-browse -t -r -p -k _irp._tcp 2>/dev/null; }
resolved() { grep -F "=;v0;IPv4;$1;_irp._tcp;local;"; }
# wait_for COUNT PATTERN FILE: until PATTERN is in FILE COUNT times (5 s at most).
wait_for() {
    for _ in $(seq 1 100); do [ "$(grep -c -- "$2" "$3" 2>/dev/null)" -ge "$1" ] && return 0; sleep 0.05; done
    return 1
}

echo "== one root, two domains, servers on the link"
ROOTDIR="$WORK/root"; ROOT="$ROOTDIR/root-ca.pem"
declare -A PORT LOG SPID
"$CA_TOOL" root create --dir "$ROOTDIR" --name "IRP mDNS Test Root" >/dev/null 2>&1 || { echo "root create failed"; exit 1; }
make_domain() {  # NAME: domain NAME.test, its IRP port on 10.77.0.1
    local d="$WORK/$1" domain="$1.test"
    "$CA_TOOL" domain-key --dir "$d" --domain "$domain" >/dev/null 2>&1 &&
        "$CA_TOOL" sign-domain --root "$ROOTDIR" --csr "$d/domain-ca.csr" --domain "$domain" --permit-dns "$domain" \
            --crl-url "http://127.0.0.1:1/root.crl" >/dev/null 2>&1 &&
        "$CA_TOOL" server-tls --dir "$d" --domain "$domain" >/dev/null 2>&1 &&
        "$CA_TOOL" assemble --dir "$d" --root-cert "$ROOT" --domain "$domain" --class default --listen 10.77.0.1:0 \
            --admin-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 >/dev/null 2>&1 ||
        { echo "cannot make domain $domain"; exit 1; }
}
run_server() {  # NAME CONFIG: starts it; fills PORT, LOG, SPID
    LOG[$1]="$WORK/$1.log"
    "$SERVER" run --config "$2" 2>"${LOG[$1]}" &
    SPID[$1]=$!
    PIDS+=("${SPID[$1]}")
    wait_for 1 'CRL and OCSP on' "${LOG[$1]}" || { echo "server $1 did not start"; cat "${LOG[$1]}"; exit 1; }
    PORT[$1]=$(sed -n 's/.*listening on 10\.77\.0\.1:\([0-9]*\).*/\1/p' "${LOG[$1]}" | head -1)
}
stop_server() { kill "${SPID[$1]}"; wait "${SPID[$1]}" 2>/dev/null; }  # its exit code
token() { "$SERVER" token --config "$WORK/$1/server.toml" --class default --device-id "$2"; }
local_enroll() {  # DEVICE DOMAIN-NAME (for the token) [idwallet options]
    local dev=$1 dom=$2; shift 2
    "$WALLET" enroll --discover-local --trust "$ROOT" --device-id "$dev" --token "$(token "$dom" "$dev")" \
        --store "$WORK/dev/$dev" "$@"
}
san() { openssl x509 -in "$WORK/dev/$1/device.crt" -noout -ext subjectAltName 2>/dev/null | sed -n 's/^ *URI://p'; }
issuer_cn() { openssl x509 -in "$WORK/dev/$1/device.crt" -noout -issuer | sed -n 's/.*CN *= *//p'; }

make_domain home; make_domain other
sed -i 's/^mdns = false$/mdns = true\ninstance = "Home CA"/' "$WORK/home/server.toml"
sed -i 's/^mdns = false$/mdns = true/' "$WORK/other/server.toml"
run_server home "$WORK/home/server.toml"
check "home.test advertises itself" wait_for 1 'mdns outcome=advertised name="Home CA"' "${LOG[home]}"
check "... on v0, on its IRP port, with its domain" \
    grep -q "mdns outcome=advertised .*port=${PORT[home]} domain=home.test interface=v0" "${LOG[home]}"
browse | resolved 'Home\032CA' >"$WORK/home.rr"
check "avahi-browse resolves it: its host, 10.77.0.1, its port" \
    grep -qF "irp-mdns-test.local;10.77.0.1;${PORT[home]};" "$WORK/home.rr"
check "... and its TXT record: txtvers=1, domain=home.test" \
    bash -c "grep -qF '\"txtvers=1\"' '$WORK/home.rr' && grep -qF '\"domain=home.test\"' '$WORK/home.rr'"

echo "== enrolling with --discover-local"
expect_rc 0 "dev-1 enrolls with --discover-local and nothing else" local_enroll dev-1 home
check "... its certificate is of home.test" test "$(san dev-1)" = "urn:irp:home.test:dev-1"
check "... issued by home.test's CA" test "$(issuer_cn dev-1)" = "IRP Domain CA home.test"
check "DIR/server: the address used, the domain (TLS name), no SRV, no via, the domain to browse for" \
    test "$(tr '\n' '|' <"$WORK/dev/dev-1/server")" = "10.77.0.1:${PORT[home]}|home.test|||home.test|"
expect_rc 0 "dev-1 renews with --store only (browsing again)" "$WALLET" renew --store "$WORK/dev/dev-1"
check "... at home.test" grep -q "renew device=dev-1 .*outcome=issued" "${LOG[home]}"

echo "== two domains on the link"
run_server other "$WORK/other/server.toml"
check "other.test advertises itself" wait_for 1 'mdns outcome=advertised name="IRP other.test"' "${LOG[other]}"
expect_rc 2 "dev-2 without --domain is refused: two domains answered" local_enroll dev-2 other
check "... the error lists both" bash -c "grep -q 'several IRP domains answered' '$WORK/last.out' &&
    grep -q 'home.test' '$WORK/last.out' && grep -q 'other.test' '$WORK/last.out' && grep -q -- '--domain' '$WORK/last.out'"
check "... nothing is installed" test ! -e "$WORK/dev/dev-2/device.crt"
check "... and neither server heard of dev-2" bash -c "! grep -q 'device=dev-2' '${LOG[home]}' '${LOG[other]}'"
expect_rc 0 "dev-2 with --domain other.test enrolls" local_enroll dev-2 other --domain other.test
check "... in other.test" test "$(san dev-2)" = "urn:irp:other.test:dev-2"
expect_rc 0 "idwallet run --once --discover-local --domain home.test: dev-3 enrolls" \
    "$WALLET" run --once --discover-local --domain home.test --trust "$ROOT" --device-id dev-3 \
    --token "$(token home dev-3)" --store "$WORK/dev/dev-3"
check "... in home.test" test "$(san dev-3)" = "urn:irp:home.test:dev-3"
expect_rc 0 "a restarted run with --discover-local alone (two domains answer) keeps to its certificate's domain" \
    "$WALLET" run --once --discover-local --trust "$ROOT" --device-id dev-3 --store "$WORK/dev/dev-3"
check "... and says so" grep -q "renewing in domain home.test (found by mDNS, last at 10.77.0.1:${PORT[home]})" "$WORK/last.out"

echo "== a stopped server withdraws its record"
stop_server home
RC=$?
check "home.test exits 0 at SIGTERM, and logged the withdrawal" bash -c "[ $RC = 0 ] && grep -q 'mdns outcome=withdrawn' '${LOG[home]}'"
GONE=0
for _ in $(seq 1 20); do
    browse >"$WORK/browse.out"
    resolved 'Home\032CA' <"$WORK/browse.out" >/dev/null || { GONE=1; break; }
    sleep 0.2
done
check "avahi-browse no longer resolves 'Home CA'" test "$GONE" = 1
STILL=0; resolved 'IRP\032other\.test' <"$WORK/browse.out" >/dev/null && STILL=1
check "... while other.test is still there" test "$STILL" = 1

echo "== forged answers"
# fake NAME PORT DOMAIN: publish a record as anyone on the link can.
fake() {
    avahi-publish -s "$1" _irp._tcp "$2" txtvers=1 "domain=$3" >"$WORK/fake.log" 2>&1 &
    FAKE=$!
    PIDS+=("$FAKE")
    wait_for 1 "Established under name" "$WORK/fake.log" || { echo "avahi-publish failed"; cat "$WORK/fake.log"; exit 1; }
}
unfake() { kill "$FAKE"; wait "$FAKE" 2>/dev/null; }
fake "Fake home" "${PORT[other]}" home.test  # home.test's name, other.test's server
expect_rc 3 "a TXT domain the server's certificate does not name: refused by TLS" local_enroll dev-4 home --domain home.test
check "... 109 tls_failure" grep -q "109 tls_failure" "$WORK/last.out"
check "... nothing is installed" test ! -e "$WORK/dev/dev-4/device.crt"
check "... and other.test never saw a request" bash -c "! grep -q 'device=dev-4' '${LOG[other]}'"
unfake
# A server with home.test's certificate that says it serves liar.test.
sed -e 's/^name = "home.test"/name = "liar.test"/' -e 's/^database = .*/database = "liar.db"/' \
    -e 's/^mdns = true/mdns = false/' "$WORK/home/server.toml" >"$WORK/home/liar.toml"
run_server liar "$WORK/home/liar.toml"
fake "Fake liar" "${PORT[liar]}" home.test
expect_rc 4 "a server proving home.test over TLS but saying it serves liar.test: refused" local_enroll dev-5 home --domain home.test
check "... 208 identity_mismatch, naming both" bash -c "grep -q '208 identity_mismatch' '$WORK/last.out' &&
    grep -q 'expected domain home.test .*serves liar.test' '$WORK/last.out'"
check "... nothing is installed" test ! -e "$WORK/dev/dev-5/device.crt"
unfake
stop_server liar

echo "== a server on loopback does not advertise"
sed -e 's/^listen = "10.77.0.1:0"/listen = "127.0.0.1:0"/' -e 's/^database = .*/database = "lo.db"/' \
    "$WORK/other/server.toml" >"$WORK/other/lo.toml"
"$SERVER" run --config "$WORK/other/lo.toml" 2>"$WORK/lo.log" &
LO=$!
PIDS+=("$LO")
check "it says why, and serves on" bash -c "for _ in \$(seq 1 100); do grep -q 'CRL and OCSP on' '$WORK/lo.log' && break; sleep 0.05; done
    grep -q 'mdns outcome=skipped .*loopback' '$WORK/lo.log' && kill -0 $LO"
kill "$LO"; wait "$LO" 2>/dev/null

echo "== the Avahi daemon goes away and comes back"
stop_avahi
check "other.test notices, and keeps serving" wait_for 1 "mdns outcome=disconnected" "${LOG[other]}"
expect_rc 3 "the wallet says the daemon is down (exit 3)" local_enroll dev-6 other
check "... naming avahi-daemon" grep -q "cannot reach the Avahi daemon" "$WORK/last.out"
expect_rc 0 "dev-2 renews anyway: at the address its enrollment used" "$WALLET" renew --store "$WORK/dev/dev-2"
# A replica of other.test (its own store), started while the daemon is down,
# with the same instance name as other.test's server.
sed -e 's/^database = .*/database = "replica.db"/' "$WORK/other/server.toml" >"$WORK/other/replica.toml"
run_server replica "$WORK/other/replica.toml"
check "a server started without a daemon says so" grep -q "mdns outcome=waiting" "${LOG[replica]}"
expect_rc 0 "... and serves (--server)" "$WALLET" enroll --server "10.77.0.1:${PORT[replica]}" --server-name other.test \
    --trust "$ROOT" --device-id dev-7 --token "$(token other dev-7)" --store "$WORK/dev/dev-7"
start_avahi
check "other.test advertises again once the daemon is back" wait_for 2 "mdns outcome=advertised" "${LOG[other]}"
check "the replica advertises once it is there" wait_for 1 "mdns outcome=advertised" "${LOG[replica]}"
check "one of the two took Avahi's alternative name for the taken one" \
    bash -c "grep -qh 'mdns outcome=advertised name=\"IRP other.test #2\"' '${LOG[other]}' '${LOG[replica]}' &&
    grep -qh 'mdns outcome=renamed' '${LOG[other]}' '${LOG[replica]}'"
expect_rc 0 "dev-6 enrolls with --discover-local alone (one domain, two servers, answers now)" local_enroll dev-6 other
check "... in other.test" test "$(san dev-6)" = "urn:irp:other.test:dev-6"
stop_server other
RC=$?
check "other.test exits 0 at SIGTERM, its record withdrawn" bash -c "[ $RC = 0 ] && grep -q 'mdns outcome=withdrawn' '${LOG[other]}'"
stop_server replica

finish "e2e_mdns"
