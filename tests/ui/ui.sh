#!/usr/bin/env bash
# The administrator's web page end to end, over loopback: irp-server serves
# /ui on its admin listener; headless Chromium driven by Playwright
# (approve.mjs) signs in, approves one device held for approval, rejects
# another with a note the device prints, and shows a model name holding HTML
# as plain text.
# Usage: ui.sh irp-server idwallet
# Needs node, /usr/bin/chromium and tests/ui/node_modules (scripts/setup.sh
# installs them; by hand: apt-get install chromium; cd tests/ui && npm ci).
# The screenshot of the last state (ui.png) stays in the printed directory;
# the rest too on failure, or with IRP_UI_KEEP=1.
set -u
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
source "$HERE/../e2e/lib.sh"
SERVER=$(realpath "$1"); WALLET=$(realpath "$2")
CHROMIUM=/usr/bin/chromium

missing=()
command -v node >/dev/null || missing+=("node (Debian: nodejs)")
[ -x "$CHROMIUM" ] || missing+=("$CHROMIUM (Debian: chromium)")
[ -d "$HERE/node_modules/playwright-core" ] || missing+=("tests/ui/node_modules (cd tests/ui && npm ci)")
if [ ${#missing[@]} -gt 0 ]; then
    echo "  FAIL missing: ${missing[*]}"
    exit 1
fi

WORK=$(mktemp -d /tmp/irp-ui.XXXXXX)
SERVER_PID=""; NODE_PID=""; DEV_PIDS=()
cleanup() {
    local rc=$? p
    for p in "${DEV_PIDS[@]}" "$NODE_PID" "$SERVER_PID"; do [ -n "$p" ] && kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    if [ "$rc" = 0 ] && [ "${IRP_UI_KEEP:-}" != 1 ]; then
        # Keys and wallets go; the screenshot stays for a look.
        find "$WORK" -mindepth 1 -maxdepth 1 ! -name ui.png -exec rm -rf {} +
    fi
    echo "work directory: $WORK (screenshot: ui.png)"
}
trap cleanup EXIT

# wait_bounded PID SECONDS [WATCH]: the process's exit code, or 124 (and
# killed) after SECONDS; 125 (and killed) as soon as process WATCH (the page
# script, which answers the device) is gone.
wait_bounded() {
    local pid=$1 watch=${3:-} i
    for i in $(seq 1 $(($2 * 10))); do
        kill -0 "$pid" 2>/dev/null || { wait "$pid"; return $?; }
        if [ -n "$watch" ] && ! kill -0 "$watch" 2>/dev/null; then
            kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
            return 125
        fi
        sleep 0.1
    done
    kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    return 124
}
# wait_file FILE SECONDS: until FILE exists, or the page script has died.
wait_file() {
    local i
    for i in $(seq 1 $(($2 * 10))); do
        [ -e "$1" ] && return 0
        kill -0 "$NODE_PID" 2>/dev/null || return 1
        sleep 0.1
    done
    return 1
}

echo "== a domain whose default class also accepts devices without a token, on approval"
"$SERVER" init --dir "$WORK/domain" --domain ui.test --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --http-listen 127.0.0.1:0 >"$WORK/init.out" 2>&1 || { echo "  FAIL init:"; cat "$WORK/init.out"; exit 1; }
CONF="$WORK/domain/server.toml"
sed -i '/^\[classes\.default\]$/a bootstrap = ["token", "approval"]' "$CONF"
if grep -q '^\[approval\]' "$CONF"; then
    sed -i 's/^retry_after_s = .*/retry_after_s = 1/; s/^retry_max_s = .*/retry_max_s = 2/' "$CONF"
else
    printf '\n[approval]\nretry_after_s = 1\nretry_max_s = 2\n' >>"$CONF"
fi
check "the class accepts approval" grep -q '^bootstrap = \["token", "approval"\]' "$CONF"
"$SERVER" run --config "$CONF" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 200); do grep -q 'CRL and OCSP on' "$WORK/server.log" 2>/dev/null && break; sleep 0.05; done
PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/server.log" | head -1)
ADMIN=$(sed -n 's/.*admin API on \(http:\/\/[0-9.:]*\).*/\1/p' "$WORK/server.log" | head -1)
[ -n "$PORT" ] && [ -n "$ADMIN" ] || { echo "  FAIL server did not start:"; cat "$WORK/server.log"; exit 1; }
for _ in $(seq 1 100); do curl -sf "$ADMIN/metrics" >/dev/null 2>&1 && break; sleep 0.05; done
ROOT="$WORK/domain/root-ca.pem"
TOKEN_FILE="$WORK/domain/admin.token"

echo "== the page over plain HTTP"
curl -s -D "$WORK/ui.h" -o "$WORK/ui.html" "$ADMIN/ui"
check "GET /ui answers 200 without a token" grep -q '^HTTP/1.1 200' "$WORK/ui.h"
check "... as HTML" grep -qi '^Content-Type: text/html' "$WORK/ui.h"
check "... with the Content-Security-Policy" \
    grep -qi "^Content-Security-Policy: default-src 'self'; script-src 'self'; style-src 'self'; connect-src 'self'; frame-ancestors 'none'" "$WORK/ui.h"
check "... nosniff" grep -qi '^X-Content-Type-Options: nosniff' "$WORK/ui.h"
check "... not cached" grep -qi '^Cache-Control: no-store' "$WORK/ui.h"
check "... and the page it built in" grep -q '<script src="/ui/app.js"' "$WORK/ui.html"
check "the page has no inline script or style" bash -c "! grep -qiE '<script>|<style|style=' '$WORK/ui.html'"
check "GET /ui/ redirects to /ui" test "$(curl -s -o /dev/null -w '%{http_code} %{redirect_url}' "$ADMIN/ui/")" = "302 $ADMIN/ui"
check "GET /ui/app.js is JavaScript" grep -qi '^Content-Type: text/javascript' <(curl -s -D - -o /dev/null "$ADMIN/ui/app.js")
check "GET /ui/style.css is CSS" grep -qi '^Content-Type: text/css' <(curl -s -D - -o /dev/null "$ADMIN/ui/style.css")
check "the data still needs the token" test "$(curl -s -o /dev/null -w '%{http_code}' "$ADMIN/v1/held")" = 401

echo "== the page in headless Chromium"
(cd "$HERE" && exec timeout 170 node approve.mjs "$ADMIN" "$TOKEN_FILE" "$WORK") &
NODE_PID=$!
enroll() { # enroll DEVICE MODEL [options...]: no token, so the request is held for approval
    local dev=$1 model=$2; shift 2
    "$WALLET" enroll --server "127.0.0.1:$PORT" --trust "$ROOT" --device-id "$dev" --class default \
        --store "$WORK/$dev" --model "$model" "$@"
}

if wait_file "$WORK/page.ready" 60; then
    ok "the page is signed in and polling"
    echo "== cam-1: held, then approved on the page"
    enroll cam-1 "Cam 2000" --wait --max-wait 90 >"$WORK/cam-1.out" 2>&1 &
    DEV_PIDS+=($!)
    wait_bounded "${DEV_PIDS[-1]}" 100 "$NODE_PID"; rc=$?
    if [ "$rc" = 0 ]; then ok "idwallet --wait exits 0 once approved"; else bad "cam-1: exit $rc, wanted 0: $(tail -3 "$WORK/cam-1.out")"; fi
    check "... after being told it is held" grep -q "held for approval" "$WORK/cam-1.out"
    expect_rc 0 "idwallet show on the approved device" "$WALLET" show --store "$WORK/cam-1"

    echo "== cam-2: held, then rejected on the page with a note"
    enroll cam-2 "Cam 2000" --wait --max-wait 90 >"$WORK/cam-2.out" 2>&1 &
    DEV_PIDS+=($!)
    wait_bounded "${DEV_PIDS[-1]}" 100 "$NODE_PID"; rc=$?
    if [ "$rc" = 5 ]; then ok "idwallet --wait exits 5 once rejected"; else bad "cam-2: exit $rc, wanted 5: $(tail -3 "$WORK/cam-2.out")"; fi
    check "... and prints the administrator's note" grep -q "not ours" "$WORK/cam-2.out"
    check "... with the rejection code" grep -q "307 request_rejected" "$WORK/cam-2.out"

    echo "== cam-3: a model name holding HTML, shown as text"
    expect_rc 9 "without --wait a held device exits 9" enroll cam-3 "<b>x</b>"
else
    bad "the page did not sign in (see the lines above)"
fi

wait_bounded "$NODE_PID" 120; rc=$?
NODE_PID=""
if [ "$rc" = 0 ]; then ok "the page checks passed"; else bad "the page checks failed (exit $rc)"; fi
kill -TERM "$SERVER_PID"; wait "$SERVER_PID"; SERVER_PID=""
finish ui
