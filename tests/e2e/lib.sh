# Shared by the end-to-end scripts: counters, checks and the closing line.
# Each script sets WORK (a temporary directory) before calling expect_rc.
PASS=0
FAIL=0
ok()  { PASS=$((PASS + 1)); echo "  ok   $1"; }
bad() { FAIL=$((FAIL + 1)); echo "  FAIL $1"; }
# check "description" command...: passes when the command exits 0.
check() {
    local what=$1; shift
    if "$@" >/dev/null 2>&1; then ok "$what"; else bad "$what"; fi
}
# expect_rc RC "description" command...: the exit code must be RC; the
# output is kept in $WORK/last.out for further checks.
expect_rc() {
    local want=$1 what=$2; shift 2
    "$@" >"$WORK/last.out" 2>&1
    local got=$?
    if [ "$got" = "$want" ]; then ok "$what (exit $got)"; else bad "$what: exit $got, wanted $want: $(tail -3 "$WORK/last.out")"; fi
}
# work_dir NAME: a fresh $WORK (/tmp/irp-NAME.XXXXXX). On exit, kills
# $SERVER_PID and every pid a script adds to PIDS, then removes $WORK.
work_dir() {
    WORK=$(mktemp -d "/tmp/irp-$1.XXXXXX")
    SERVER_PID=""
    PIDS=()
    trap 'for p in $SERVER_PID "${PIDS[@]}"; do kill "$p" 2>/dev/null; done; wait 2>/dev/null; rm -rf "$WORK"' EXIT
}
# finish NAME: prints "NAME: N passed, M failed" and returns non-zero on failure.
finish() {
    echo
    echo "$1: $PASS passed, $FAIL failed"
    [ "$FAIL" = 0 ]
}
# start_server CONFIG LOG: runs $SERVER in the background; sets SERVER_PID,
# and PORT, ADMIN and HTTP from its start-up lines (or exits if it failed).
start_server() {
    "$SERVER" run --config "$1" 2>"$2" &
    SERVER_PID=$!
    for _ in $(seq 1 100); do grep -q 'CRL and OCSP on' "$2" 2>/dev/null && break; sleep 0.05; done
    PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$2" | head -1)
    ADMIN=$(sed -n 's/.*admin API on \(http:\/\/[0-9.:]*\).*/\1/p' "$2" | head -1)
    HTTP=$(sed -n 's/.*CRL and OCSP on \(http:\/\/[0-9.:]*\).*/\1/p' "$2" | head -1)
    [ -n "$PORT" ] && [ -n "$ADMIN" ] && [ -n "$HTTP" ] || { echo "server did not start:"; cat "$2"; exit 1; }
}
# start_webhook_receiver RECEIVER: runs the example webhook receiver with a
# fresh secret ($WORK/webhook.secret), its events in $WORK/events.log; sets
# RECV_PID and HOOK (host:port), or exits if it did not start.
start_webhook_receiver() {
    openssl rand -hex 32 >"$WORK/webhook.secret"
    "$1" --secret-file "$WORK/webhook.secret" >"$WORK/events.log" 2>"$WORK/receiver.err" &
    RECV_PID=$!
    for _ in $(seq 1 100); do grep -q 'listening on' "$WORK/events.log" 2>/dev/null && break; sleep 0.05; done
    HOOK=$(sed -n 's/^listening on \(.*\)$/\1/p' "$WORK/events.log")
    [ -n "$HOOK" ] || { echo "receiver did not start"; cat "$WORK/receiver.err"; exit 1; }
}
# start_domain DOMAIN: `irp-server init` in $WORK/ca with loopback listeners,
# start_server, wait for the admin API; sets ROOT, CA, CTLC (irpctl against
# it, when $CTL is set) and defines token DEVICE (a default-class token).
start_domain() {
    "$SERVER" init --dir "$WORK/ca" --domain "$1" --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
        --http-listen 127.0.0.1:0 >/dev/null || { echo "init failed"; exit 1; }
    start_server "$WORK/ca/server.toml" "$WORK/server.log"
    for _ in $(seq 1 100); do curl -sf "$ADMIN/metrics" >/dev/null 2>&1 && break; sleep 0.05; done
    ROOT="$WORK/ca/root-ca.pem"; CA="$WORK/ca/domain-ca.pem"
    CTLC=("${CTL:-irpctl}" --url "$ADMIN" --token-file "$WORK/ca/admin.token")
    token() { "$SERVER" token --config "$WORK/ca/server.toml" --class default --device-id "$1"; }
}
