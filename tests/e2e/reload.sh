#!/usr/bin/env bash
# SIGHUP: a new device class and a new certificate lifetime apply without a
# restart; a listener change is reported as needing one; a broken config is
# refused and the server keeps serving with what it had.
# Usage: reload.sh irp-server idwallet
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SERVER=$(realpath "$1"); WALLET=$(realpath "$2")
work_dir reload

"$SERVER" init --dir "$WORK/ca" --domain reload.example --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --http-listen 127.0.0.1:0 >/dev/null || exit 1
"$SERVER" run --config "$WORK/ca/server.toml" 2>"$WORK/server.log" &
SERVER_PID=$!
for _ in $(seq 1 100); do grep -q 'CRL and OCSP on' "$WORK/server.log" 2>/dev/null && break; sleep 0.05; done
PORT=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/server.log" | head -1)
[ -n "$PORT" ] || { cat "$WORK/server.log"; exit 1; }
reloaded() { # waits for the Nth reload line
    for _ in $(seq 1 100); do [ "$(grep -c ' reload ' "$WORK/server.log")" -ge "$1" ] && return 0; sleep 0.05; done
    return 1
}
enroll() { # enroll DEVICE CLASS SECRETFILE
    local token
    token=$(openssl dgst -sha256 -mac HMAC -macopt "hexkey:$(cat "$3")" -binary < <(printf '%s\0%s' "$2" "$1") | xxd -p -c 64)
    "$WALLET" enroll --server "127.0.0.1:$PORT" --trust "$WORK/ca/root-ca.pem" --device-id "$1" --class "$2" \
        --token "$token" --store "$WORK/$1"
}

echo "== a new class, before and after SIGHUP"
head -c 32 /dev/urandom | xxd -p -c 64 >"$WORK/ca/classes/sensors.secret"
chmod 600 "$WORK/ca/classes/sensors.secret"
printf '\n[classes.sensors]\nsecret_file = "classes/sensors.secret"\n' >>"$WORK/ca/server.toml"
sed -i 's/^validity_days = .*/validity_days = 30/' "$WORK/ca/server.toml"
expect_rc 4 "before the reload the class is unknown" enroll s-1 sensors "$WORK/ca/classes/sensors.secret"
check "... as unknown_class" grep -q "204 unknown_class" "$WORK/last.out"
kill -HUP "$SERVER_PID"
check "the server logs the reload" reloaded 1
check "... naming what it applied" grep -q 'reload outcome=done applied=profile.validity_days,classes needs_restart=none' "$WORK/server.log"
expect_rc 0 "after the reload the new class enrolls" enroll s-2 sensors "$WORK/ca/classes/sensors.secret"
DAYS=$(( ( $(date -d "$(openssl x509 -in <(awk '/BEGIN CERT/{n++} n==1' "$WORK/s-2/device.crt") -noout -enddate | cut -d= -f2)" +%s) - $(date +%s) ) / 86400 ))
check "the new lifetime applies (about 30 days: $DAYS)" bash -c "[ $DAYS -ge 29 ] && [ $DAYS -le 30 ]"

echo "== a secret file replaced in place is re-read"
cp "$WORK/ca/classes/sensors.secret" "$WORK/old-sensors.secret"
head -c 32 /dev/urandom | xxd -p -c 64 >"$WORK/ca/classes/sensors.secret"
kill -HUP "$SERVER_PID"
reloaded 2
check "... reported as a class change" bash -c "grep ' reload ' '$WORK/server.log' | tail -1 | grep -q 'applied=classes needs_restart=none'"
expect_rc 0 "a device with the new secret enrolls" enroll s-4 sensors "$WORK/ca/classes/sensors.secret"
expect_rc 4 "the old secret no longer works" enroll s-5 sensors "$WORK/old-sensors.secret"

echo "== what needs a restart is named, not silently ignored"
sed -i 's/^threads = .*/threads = 3/' "$WORK/ca/server.toml"
kill -HUP "$SERVER_PID"
reloaded 3
check "a threads change is reported as needing a restart" grep -q 'applied=none needs_restart=server.threads' "$WORK/server.log"

echo "== a broken config is refused; the server keeps serving"
cp "$WORK/ca/server.toml" "$WORK/good.toml"
echo "this is not = toml [" >>"$WORK/ca/server.toml"
kill -HUP "$SERVER_PID"
sleep 0.3
check "the reload is refused with the file and line" grep -q 'reload outcome=refused reason=".*server.toml:[0-9]*' "$WORK/server.log"
expect_rc 0 "the server still enrolls with what it had" enroll s-3 sensors "$WORK/ca/classes/sensors.secret"
check "the server process is still the same" kill -0 "$SERVER_PID"

kill -TERM "$SERVER_PID"; wait "$SERVER_PID"; SERVER_PID=""
finish reload
