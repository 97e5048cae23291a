#!/usr/bin/env bash
# `idwallet run`, the device daemon, against a real server: it enrolls, checks
# in, renews on schedule with no one at the keyboard, survives SIGKILL and a
# restart (the store on disk, no second enrollment), stops at once on SIGTERM
# (within 1.5 s during an exchange), backs off while the server is unreachable, resets and enrolls again after a
# revocation, and exits 11 after a release.
#
# Certificates live a day at the least (profile.validity_days), so the server
# backdates them by a day (profile.backdate_s = 86400, its largest clock-skew
# allowance): a new certificate is half used, and --renew-at 0.50003 puts its
# renewal about 5 s after issuance (0.00003 of the 48 h lifetime), with a
# jitter of ±1.7 s (--jitter 0.00001). A certificate never starts before its
# CA, so `irp-server init` runs two days in the past (faketime); the server
# and the daemon run on the real clock.
# Usage: daemon.sh irp-server idwallet irpctl
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SERVER=$(realpath "$1"); WALLET=$(realpath "$2"); CTL=$(realpath "$3")
WORK=$(mktemp -d /tmp/irp-daemon.XXXXXX)
SERVER_PID=""; DPID=""; SILENT_PID=""
cleanup() {
    for p in $DPID $SILENT_PID $SERVER_PID; do kill -KILL "$p" 2>/dev/null; done
    wait 2>/dev/null
    rm -rf "$WORK"
}
trap cleanup EXIT

command -v faketime >/dev/null || { echo "faketime is missing (Debian package faketime; scripts/setup.sh installs it)"; exit 1; }
# libfaketime is preloaded: an ASan build must be told not to insist on coming first.
ASAN_OPTIONS="${ASAN_OPTIONS:+$ASAN_OPTIONS:}verify_asan_link_order=0" faketime -f -2d \
    "$SERVER" init --dir "$WORK/ca" --domain daemon.example --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --http-listen 127.0.0.1:0 >/dev/null || { echo "init failed"; exit 1; }
sed -i -e 's/^validity_days = .*/validity_days = 1/' -e 's/^backdate_s = .*/backdate_s = 86400/' \
    -e 's/^check_in_s = .*/check_in_s = 10/' "$WORK/ca/server.toml"
start_server "$WORK/ca/server.toml" "$WORK/server.log"
CTLC=("$CTL" --url "$ADMIN" --token-file "$WORK/ca/admin.token")
TOKEN=$("$SERVER" token --config "$WORK/ca/server.toml" --class default --device-id dev-1)
STORE="$WORK/dev-1"
RUN=(run --server "127.0.0.1:$PORT" --trust "$WORK/ca/root-ca.pem" --device-id dev-1 --token "$TOKEN" --store "$STORE")
SOON=(--renew-at 0.50003 --jitter 0.00001)

# wait_for PATTERN FILE TENTHS: until grep finds PATTERN (extended regex).
wait_for() {
    for _ in $(seq 1 "$3"); do grep -qE "$1" "$2" 2>/dev/null && return 0; sleep 0.1; done
    return 1
}
serial() { openssl x509 -in <(awk '/BEGIN CERT/{n++} n==1' "$STORE/device.crt") -noout -serial | cut -d= -f2 | tr A-F a-f; }
# start_daemon LOG ARGS...: idwallet run in the background; sets DPID.
start_daemon() { local log=$1; shift; "$WALLET" "${RUN[@]}" "$@" 2>"$log" & DPID=$!; }
# stopped_within TENTHS: the daemon has exited (its code in DRC).
stopped_within() {
    for _ in $(seq 1 "$1"); do kill -0 "$DPID" 2>/dev/null || { wait "$DPID"; DRC=$?; DPID=""; return 0; }; sleep 0.1; done
    return 1
}
stamp() { date -d "$1" +%s; }

echo "== no certificate: it enrolls, checks in, and renews on schedule by itself"
start_daemon "$WORK/a.log" --check-in --max-runtime 25 "${SOON[@]}"
check "it enrolls" wait_for 'enroll outcome=issued serial=' "$WORK/a.log" 100
S1=$(serial)
check "... the certificate it logged is the one installed ($S1)" grep -q "enroll outcome=issued serial=$S1 " "$WORK/a.log"
check "... and remembers the server for later subcommands" test -f "$STORE/server" -a -f "$STORE/trust.pem"
check "it checks in first thing, told to come back in 10 s" wait_for 'check-in outcome=ok next_check_in=10 s' "$WORK/a.log" 50
check "... and stores the domain CRL the check-in brought" test -f "$STORE/crl.der"
check "it plans the renewal" wait_for 'next renew at ' "$WORK/a.log" 50
PLAN=$(grep -m1 'next renew at ' "$WORK/a.log")
IN=$(sed -n 's/.*(in \([0-9]*\) s)$/\1/p' <<<"$PLAN")
check "... 1 to 7 s out: 5 s after issuance, ±1.7 s of jitter (in ${IN:-?} s)" test "${IN:-0}" -ge 1 -a "${IN:-99}" -le 7
check "it renews with no one at the keyboard" wait_for 'renew outcome=issued serial=' "$WORK/a.log" 100
RENEWED=$(grep -m1 'renew outcome=issued serial=' "$WORK/a.log")
S2=$(sed -n 's/.*serial=\([0-9a-f]*\) .*/\1/p' <<<"$RENEWED")
check "... a new serial ($S2)" test -n "$S2" -a "$S2" != "$S1"
AT=$(stamp "$(sed -n 's/.*next renew at \(.*Z\) (in.*/\1/p' <<<"$PLAN")")
DONE=$(stamp "$(cut -d' ' -f1 <<<"$RENEWED")")
check "... when planned, not before (planned $AT, done $DONE)" test "$DONE" -ge "$AT" -a "$DONE" -le $((AT + 2))
check "the server recorded the renewal" grep -qE 'renew device=dev-1 .*outcome=issued' "$WORK/server.log"
check "it keeps running" kill -0 "$DPID"

echo "== SIGKILL, then a restart: the certificate on disk is used, not enrolled again"
sleep 0.3  # between two renewals: asleep
kill -KILL "$DPID"; wait "$DPID" 2>/dev/null; DPID=""
SK=$(serial)
PLANNED=$(sed -n "s/.* outcome=issued serial=$SK .*renew_at=\([^ ]*\).*/\1/p" "$WORK/a.log" | tail -1)
start_daemon "$WORK/b.log" --check-in --max-runtime 25 "${SOON[@]}"
check "the restarted daemon starts from the certificate on disk ($SK)" wait_for "start device=dev-1 serial=$SK " "$WORK/b.log" 50
check "... and plans its renewal for the same second as before the kill ($PLANNED)" \
    grep -q "start device=dev-1 serial=$SK .*renew_at=$PLANNED " "$WORK/b.log"
check "... checks in" wait_for 'check-in outcome=ok' "$WORK/b.log" 50
check "... and does not enroll" bash -c "! grep -q 'enroll outcome' '$WORK/b.log'"
check "the server saw one enrollment of dev-1 in all" test "$(grep -cE 'enroll device=dev-1 .*outcome=issued' "$WORK/server.log")" = 1

echo "== SIGTERM: stops at once, exit 0"
T0=$(date +%s%N)
kill -TERM "$DPID"
stopped_within 30; TOOK=$((($(date +%s%N) - T0) / 1000000))
check "it exits 0 (exit ${DRC:-none})" test "${DRC:-none}" = 0
check "... within 2 s (${TOOK} ms)" test "$TOOK" -lt 2000
check "... saying why" grep -q 'stop signal=TERM' "$WORK/b.log"

echo "== --once: what is due now, then exit"
SN=$(serial)
expect_rc 0 "nothing due (--renew-at 0.9)" "$WALLET" "${RUN[@]}" --once --renew-at 0.9
check "... says when the next step is" grep -q 'nothing due; next renew at ' "$WORK/last.out"
check "... and renews nothing" test "$(serial)" = "$SN"
expect_rc 0 "a renewal due (--renew-at 0.3: past already)" "$WALLET" "${RUN[@]}" --once --renew-at 0.3
check "... renews once" test "$(grep -c 'renew outcome=issued' "$WORK/last.out")" = 1
check "... a new certificate" test "$(serial)" != "$SN"
check "... which is due on arrival too, so it backs off rather than renewing in a loop" \
    grep -q 'already due for renewal by this device.s clock.*renewing in [0-9]* s' "$WORK/last.out"
SN=$(serial)
DOWN=(run --server 127.0.0.1:1 --trust "$WORK/ca/root-ca.pem" --device-id dev-1 --token "$TOKEN" --store "$STORE")
expect_rc 3 "the server unreachable: exit 3 at once" "$WALLET" --timeout-ms 3000 "${DOWN[@]}" --once --renew-at 0.3
check "... the certificate is kept" test "$(serial)" = "$SN"

echo "== the server unreachable: bounded, doubling back-off, not a tight loop"
"$WALLET" --timeout-ms 3000 "${DOWN[@]}" --renew-at 0.3 --max-runtime 6 2>"$WORK/e.log"
RC=$?
check "--max-runtime ends it with exit 0 (exit $RC)" test "$RC" = 0
check "... saying so" grep -q 'stop max-runtime=6 s' "$WORK/e.log"
check "two attempts in 6 s" test "$(grep -c 'renew outcome=failed' "$WORK/e.log")" = 2
check "... the first waits 5 s less up to a quarter" grep -qE 'renew outcome=failed code=108/connection_closed .*attempt=1 retry_in=[45] s' "$WORK/e.log"
check "... the second 10 s less up to a quarter" grep -qE 'attempt=2 retry_in=(8|9|10) s' "$WORK/e.log"
check "... the certificate is kept" test "$(serial)" = "$SN"

echo "== SIGTERM during an exchange: given 1.5 s to finish, then abandoned; exit 0"
# A listener that never accepts: the TLS handshake waits for an answer that never comes.
python3 -c 'import socket, time
s = socket.socket(); s.bind(("127.0.0.1", 0)); s.listen(8)
print(s.getsockname()[1], flush=True); time.sleep(60)' >"$WORK/silent.port" &
SILENT_PID=$!
for _ in $(seq 1 50); do [ -s "$WORK/silent.port" ] && break; sleep 0.1; done
SILENT=(run --server "127.0.0.1:$(cat "$WORK/silent.port")" --trust "$WORK/ca/root-ca.pem" --device-id dev-1 --token "$TOKEN" --store "$STORE")
"$WALLET" --timeout-ms 20000 "${SILENT[@]}" --renew-at 0.3 2>"$WORK/f.log" &
DPID=$!
sleep 0.5  # connected; waiting for the server's TLS handshake
T0=$(date +%s%N)
kill -TERM "$DPID"
stopped_within 40; TOOK=$((($(date +%s%N) - T0) / 1000000))
kill "$SILENT_PID" 2>/dev/null; wait "$SILENT_PID" 2>/dev/null; SILENT_PID=""
check "it exits 0 (exit ${DRC:-none})" test "${DRC:-none}" = 0
check "... after about 1.5 s (${TOOK} ms)" test "$TOOK" -ge 1300 -a "$TOOK" -lt 2000
check "... saying it abandoned the exchange" grep -q 'stop signal=TERM (exchange abandoned)' "$WORK/f.log"
check "... the certificate is kept" test "$(serial)" = "$SN"

echo "== revoked: the wallet resets, the daemon enrolls afresh (the class allows it)"
start_daemon "$WORK/c.log" --check-in --max-runtime 25 "${SOON[@]}"
check "the daemon is up and checked in" wait_for 'check-in outcome=ok' "$WORK/c.log" 50
SR=$(serial)
expect_rc 0 "irpctl revoke --device dev-1" "${CTLC[@]}" revoke --device dev-1 --reason keyCompromise
check "it learns of the revocation and resets" wait_for 'outcome=reset code=207/certificate_not_active' "$WORK/c.log" 120
check "... then enrolls again with its token" wait_for 'enroll outcome=issued' "$WORK/c.log" 50
check "... a new identity (serial $(serial), was $SR)" test "$(serial)" != "$SR"
check "... and keeps running" kill -0 "$DPID"

echo "== released: the wallet resets, this domain refuses it: exit 11"
expect_rc 0 "irpctl release dev-1" "${CTLC[@]}" release dev-1
check "it stops within 12 s" stopped_within 120
check "... with exit 11 (exit ${DRC:-none})" test "${DRC:-none}" = 11
check "... told device_released, the wallet reset" grep -q 'outcome=reset code=308/device_released' "$WORK/c.log"
check "... tried to enroll again, refused" grep -q 'enroll outcome=rejected code=308/device_released' "$WORK/c.log"
check "... and says it cannot go on" grep -q 'stop: the device was reset and cannot enroll again here (exit 11)' "$WORK/c.log"
check "key, certificate and CRL are gone" test ! -f "$STORE/device.crt" -a ! -f "$STORE/device.key" -a ! -f "$STORE/crl.der"
expect_rc 11 "started again, it exits 11 at once" "$WALLET" "${RUN[@]}" --max-runtime 10
check "... refused device_released" grep -q '308/device_released' "$WORK/last.out"

echo "== bad options are refused"
expect_rc 2 "--renew-at 0.99 is out of range" "$WALLET" "${RUN[@]}" --renew-at 0.99 --once
expect_rc 2 "--jitter 0.5 is out of range" "$WALLET" "${RUN[@]}" --jitter 0.5 --once

kill -TERM "$SERVER_PID"; wait "$SERVER_PID"; SERVER_PID=""
finish daemon
