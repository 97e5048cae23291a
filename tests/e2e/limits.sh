#!/usr/bin/env bash
# One bad client must not hurt the others: the per-source connection rate
# limit refuses a flood before TLS, the refusals are counted, and a device
# that comes back later is served. On the CRL/OCSP port, one address has at
# most http.max_connections_per_source connections served at once.
# Usage: limits.sh irp-server idwallet
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SERVER=$(realpath "$1"); WALLET=$(realpath "$2")
work_dir limits

"$SERVER" init --dir "$WORK/ca" --domain limits.example --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --http-listen 127.0.0.1:0 >/dev/null || exit 1
sed -i 's/^per_source_rate = .*/per_source_rate = 2/; s/^per_source_burst = .*/per_source_burst = 3/' "$WORK/ca/server.toml"
sed -i 's/^log_format = .*/log_format = "json"/' "$WORK/ca/server.toml"
sed -i 's/^max_connections_per_source = .*/max_connections_per_source = 2/' "$WORK/ca/server.toml"
"$SERVER" run --config "$WORK/ca/server.toml" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q '"event":"start"' "$WORK/server.log" 2>/dev/null && break; sleep 0.05; done
PORT=$(sed -n 's/.*"irp":"127\.0\.0\.1:\([0-9]*\)".*/\1/p' "$WORK/server.log" | head -1)
ADMIN=$(sed -n 's/.*"admin":"\(http:\/\/[0-9.:]*\)".*/\1/p' "$WORK/server.log" | head -1)
HTTP=$(sed -n 's/.*"http":"\(http:\/\/[0-9.:]*\)".*/\1/p' "$WORK/server.log" | head -1)
[ -n "$PORT" ] && [ -n "$ADMIN" ] && [ -n "$HTTP" ] || { cat "$WORK/server.log"; exit 1; }

# Ten connections at once: an admitted one stays open (the server waits for
# TLS), a refused one is closed at once (EOF before the timeout).
ADMITTED=0; REFUSED=0
for i in $(seq 1 10); do
    ( exec 3<>/dev/tcp/127.0.0.1/"$PORT" && timeout 1 cat <&3 >/dev/null; echo $? >"$WORK/c$i" ) &
done
wait $(jobs -p | grep -v "^$SERVER_PID$") 2>/dev/null
for i in $(seq 1 10); do
    if [ "$(cat "$WORK/c$i")" = 124 ]; then ADMITTED=$((ADMITTED + 1)); else REFUSED=$((REFUSED + 1)); fi
done
check "a burst of 10 from one source: the burst is admitted, little more ($ADMITTED admitted)" \
    bash -c "[ $ADMITTED -ge 3 ] && [ $ADMITTED -le 5 ]"
check "... and the rest refused before TLS ($REFUSED refused)" test "$REFUSED" -ge 5
check "refusals are logged" grep -q '"outcome":"refused","reason":"rate_limited"' "$WORK/server.log"
check "refusals are counted in /metrics" bash -c "curl -sf '$ADMIN/metrics' | grep -Eq '^irp_connections_refused_total [1-9]'"
sleep 2  # the bucket refills
check "a device that comes back later is served" "$WALLET" enroll --server "127.0.0.1:$PORT" \
    --trust "$WORK/ca/root-ca.pem" --device-id late-1 \
    --token "$("$SERVER" token --config "$WORK/ca/server.toml" --class default --device-id late-1)" --store "$WORK/late-1"

# The CRL/OCSP port: two idle connections from 127.0.0.1 (open for up to
# 10 s, waiting for a request) use up this address's share.
HTTP_PORT=${HTTP##*:}
exec 5<>/dev/tcp/127.0.0.1/"$HTTP_PORT" 6<>/dev/tcp/127.0.0.1/"$HTTP_PORT"
sleep 0.3
code_of() { curl -s -o "$WORK/http.out" -w '%{http_code}' "$HTTP/crl/none.crl"; }
check "a third connection from the same address gets 503 at once" test "$(code_of)" = 503
check "... with error code 503 too_many_connections" bash -c "grep -q '\"code\":503' '$WORK/http.out' && grep -q '\"name\":\"too_many_connections\"' '$WORK/http.out'"
check "... counted in /metrics" bash -c "curl -sf '$ADMIN/metrics' | grep -Eq '^irp_http_connections_refused_total [1-9]'"
sed -i 's/^max_connections_per_source = .*/max_connections_per_source = 0/' "$WORK/ca/server.toml"
kill -HUP "$SERVER_PID"
for _ in $(seq 1 100); do grep -q '"applied":"http.max_connections_per_source"' "$WORK/server.log" && break; sleep 0.05; done
check "SIGHUP applies a new max_connections_per_source live" grep -q '"applied":"http.max_connections_per_source"' "$WORK/server.log"
check "... and 0 lifts the bound (the two idle connections are still open)" test "$(code_of)" = 404
exec 5>&- 6>&-

kill -TERM "$SERVER_PID"; wait "$SERVER_PID"; SERVER_PID=""
check "log_format = json: every line is one JSON object" bash -c "! grep -v '^{\"ts\":\".*}\$' '$WORK/server.log'"
check "... including the enrollment" grep -q '"event":"enroll".*"outcome":"issued"' "$WORK/server.log"
echo
echo "limits: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
