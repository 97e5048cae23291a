#!/usr/bin/env bash
# Three irp-server replicas of one domain share one PostgreSQL database (a
# private cluster started here, socket only). Devices enroll through all of
# them at once; no serial is duplicated and no record is lost; a revocation
# made through one replica is served by the others (OCSP and CRL).
# Usage: replicas.sh irp-server idwallet irpctl
set -u
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
SERVER=$(realpath "$1"); WALLET=$(realpath "$2"); CTL=$(realpath "$3")
PIDS=()
PGBIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
if [ -z "$PGBIN" ]; then
    echo "PostgreSQL is not installed (apt-get install postgresql)"
    [ "${IRP_REQUIRE_POSTGRES:-0}" = 1 ] && exit 1
    echo "replicas: 0 passed, 0 failed, 1 skipped"; exit 0
fi
WORK=$(mktemp -d /tmp/irp-rep.XXXXXX)
AS_PG=()
if [ "$(id -u)" = 0 ]; then AS_PG=(runuser -u postgres --); chown postgres "$WORK"; fi
PGDATA="$WORK/pg"; PGPORT=$((20000 + RANDOM % 20000))
cleanup() {
    for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null; done
    wait 2>/dev/null
    "${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" stop -m immediate >/dev/null 2>&1
    rm -rf "$WORK"
}
trap cleanup EXIT
psql_q() { "${AS_PG[@]}" "$PGBIN/psql" -h "$WORK" -p "$PGPORT" -U postgres -d irp -Atc "$1"; }

echo "== a private PostgreSQL cluster"
"${AS_PG[@]}" "$PGBIN/initdb" -D "$PGDATA" -A trust -U postgres --no-sync -E UTF8 --locale=C >"$WORK/initdb.log" 2>&1 \
    || { cat "$WORK/initdb.log"; exit 1; }
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -w -l "$WORK/pg.log" \
    -o "-c listen_addresses='' -k $WORK -p $PGPORT -c fsync=off -c max_connections=50" start >/dev/null \
    || { cat "$WORK/pg.log"; exit 1; }
"${AS_PG[@]}" "$PGBIN/psql" -h "$WORK" -p "$PGPORT" -U postgres -qc "CREATE DATABASE irp" postgres
echo "  PostgreSQL $("${AS_PG[@]}" "$PGBIN/postgres" --version | awk '{print $3}') on $WORK/.s.PGSQL.$PGPORT"

echo "== one domain, three replicas"
"$SERVER" init --dir "$WORK/ca" --domain rep.example --listen 127.0.0.1:0 --admin-listen 127.0.0.1:0 \
    --http-listen 127.0.0.1:0 >/dev/null || exit 1
URL="host=$WORK port=$PGPORT dbname=irp user=postgres"
sed -i "s|^database = .*|url = \"$URL\"|" "$WORK/ca/server.toml"
declare -a PORT ADMIN HTTP
for i in 0 1 2; do
    "$SERVER" run --config "$WORK/ca/server.toml" 2>"$WORK/r$i.log" &
    PIDS+=($!)
done
for i in 0 1 2; do
    for _ in $(seq 1 200); do grep -q 'CRL and OCSP on' "$WORK/r$i.log" 2>/dev/null && break; sleep 0.05; done
    PORT[$i]=$(sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' "$WORK/r$i.log" | head -1)
    ADMIN[$i]=$(sed -n 's/.*admin API on \(http:\/\/[0-9.:]*\).*/\1/p' "$WORK/r$i.log" | head -1)
    HTTP[$i]=$(sed -n 's/.*CRL and OCSP on \(http:\/\/[0-9.:]*\).*/\1/p' "$WORK/r$i.log" | head -1)
    [ -n "${PORT[$i]}" ] || { echo "replica $i did not start:"; cat "$WORK/r$i.log"; exit 1; }
done
ok "three replicas started on ports ${PORT[*]} against one database"
check "the schema was migrated once" test "$(psql_q 'SELECT count(*) FROM schema_migrations')" = 7  # the newest migration (server/store/postgres/schema.cpp)

echo "== 30 devices enroll through all replicas at once"
token() { "$SERVER" token --config "$WORK/ca/server.toml" --class default --device-id "$1"; }
for n in $(seq 1 30); do
    i=$((n % 3)); dev=$(printf 'node-%02d' "$n")
    ( "$WALLET" enroll --server "127.0.0.1:${PORT[$i]}" --trust "$WORK/ca/root-ca.pem" --device-id "$dev" \
        --token "$(token "$dev")" --store "$WORK/$dev" >"$WORK/$dev.out" 2>&1; echo $? >"$WORK/$dev.rc" ) &
done
wait_jobs() { for j in $(jobs -p); do case " ${PIDS[*]} " in *" $j "*) ;; *) wait "$j";; esac; done; }
wait_jobs
FAILED=$(cat "$WORK"/node-*.rc | grep -vc '^0$')
check "all 30 enrollments succeeded" test "$FAILED" = 0
check "30 certificates recorded" test "$(psql_q 'SELECT count(*) FROM certificates')" = 30
check "30 distinct serials" test "$(psql_q 'SELECT count(DISTINCT serial) FROM certificates')" = 30
check "30 installs confirmed" test "$(psql_q 'SELECT count(*) FROM certificates WHERE status = 2')" = 30
for i in 0 1 2; do
    check "replica $i served enrollments" grep -q 'outcome=issued' "$WORK/r$i.log"
done

echo "== renew through another replica than the one that issued"
echo "127.0.0.1:${PORT[2]}" >"$WORK/node-01/server"   # node-01 enrolled through replica 1
check "renewal through replica 2" "$WALLET" renew --store "$WORK/node-01"
check "the old certificate is superseded for every replica" \
    test "$(psql_q "SELECT count(*) FROM certificates WHERE device_id = 'node-01' AND status = 3")" = 1

echo "== a revocation made through one replica is served by all"
awk '/BEGIN CERT/{n++} n==1' "$WORK/node-05/device.crt" >"$WORK/leaf.pem"
SERIAL=$(openssl x509 -in "$WORK/leaf.pem" -noout -serial | cut -d= -f2 | tr 'A-F' 'a-f')
check "revoke through replica 0's admin API" "$CTL" --url "${ADMIN[0]}" --token-file "$WORK/ca/admin.token" \
    revoke --serial "$SERIAL" --reason keyCompromise
for i in 1 2; do
    openssl ocsp -issuer "$WORK/ca/domain-ca.pem" -cert "$WORK/leaf.pem" -url "${HTTP[$i]}/ocsp" \
        -CAfile "$WORK/ca/root-ca.pem" >"$WORK/ocsp$i.out" 2>&1
    check "replica $i's OCSP says revoked" grep -q "leaf.pem: revoked" "$WORK/ocsp$i.out"
    curl -sf "${HTTP[$i]}/crl/$(psql_q 'SELECT issuer FROM certificates LIMIT 1').crl" -o "$WORK/crl$i.der"
    check "replica $i's CRL lists it" bash -c "openssl crl -inform DER -in '$WORK/crl$i.der' -noout -text | tr 'A-F' 'a-f' | grep -q '$SERIAL'"
done
N1=$(openssl crl -inform DER -in "$WORK/crl1.der" -noout -crlnumber | cut -d= -f2)
N2=$(openssl crl -inform DER -in "$WORK/crl2.der" -noout -crlnumber | cut -d= -f2)
check "CRL numbers are unique across replicas ($N1, $N2)" test "$N1" != "$N2"
check "the revoked device cannot renew through replica 1" \
    bash -c "echo 127.0.0.1:${PORT[1]} > '$WORK/node-05/server'; ! '$WALLET' renew --store '$WORK/node-05'"

echo "== the database goes away and comes back"
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -w stop -m fast >/dev/null
"$WALLET" enroll --server "127.0.0.1:${PORT[0]}" --trust "$WORK/ca/root-ca.pem" --device-id node-99 \
    --token "$(token node-99)" --store "$WORK/node-99" >"$WORK/down.out" 2>&1
RC=$?
check "while it is down, enrollment is refused as retryable (exit $RC = 9)" test "$RC" = 9
check "... naming storage_unavailable" grep -q "500 storage_unavailable" "$WORK/down.out"
"${AS_PG[@]}" "$PGBIN/pg_ctl" -D "$PGDATA" -w -l "$WORK/pg.log" \
    -o "-c listen_addresses='' -k $WORK -p $PGPORT -c fsync=off" start >/dev/null
check "after it is back, the same replica enrolls again by itself" "$WALLET" enroll --server "127.0.0.1:${PORT[0]}" \
    --trust "$WORK/ca/root-ca.pem" --device-id node-99 --token "$(token node-99)" --store "$WORK/node-99"
check "nothing half-written: 32 certificates" test "$(psql_q 'SELECT count(*) FROM certificates')" = 32

for p in "${PIDS[@]}"; do kill -TERM "$p"; done
for p in "${PIDS[@]}"; do wait "$p"; done
PIDS=()
echo
echo "replicas: $PASS passed, $FAIL failed"
[ "$FAIL" = 0 ]
