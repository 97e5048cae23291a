#!/usr/bin/env bash
# Reproduces the figures in bench/README.md: builds irp-server and irp-bench,
# creates throw-away domains, starts irp-server, and runs irp-bench:
#   (a) a warm-up; (b) maximum enrollment throughput at concurrency 2 and 4
#   (the best counts), with the server's CPU per enrollment and the crypto
#   floor; (c) an open-loop run at half that rate for p99 latency;
#   (d) renewals; the same against PostgreSQL when the server supports
#   storage.url and PostgreSQL is installed; (e) throughput with 1,000,000
#   devices pre-filled in the SQLite database against an empty one.
# Prints a summary table with the targets at the end.
#
# Environment:
#   IRP_BENCH_BUILD=DIR      build directory (default: build)
#   IRP_BENCH_DEVICES=N      devices per throughput run (default 2000)
#   IRP_BENCH_MILLION=0      skip (e); IRP_BENCH_MILLION_N sets the row count (default 1000000)
#   IRP_BENCH_PG=0           skip PostgreSQL
#   IRP_BENCH_QUIET_WAIT=S   wait up to S seconds for an idle machine before each run (default 30)
#   IRP_BENCH_RETRIES=N      repeat a run during which other processes used > 0.25 cores, up to N times (default 2)
#   IRP_BENCH_KEEP=1         keep the work directory (logs, JSON of every run)
# Run it on an otherwise idle machine: bench and server share the CPUs.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/setup.sh"
cd "$IRP_ROOT"

BUILD=${IRP_BENCH_BUILD:-build}
DEVICES=${IRP_BENCH_DEVICES:-2000}
MILLION=${IRP_BENCH_MILLION:-1}
MILLION_N=${IRP_BENCH_MILLION_N:-1000000}
WANT_PG=${IRP_BENCH_PG:-1}
QUIET_WAIT=${IRP_BENCH_QUIET_WAIT:-30}

irp_install_packages
echo "== build ($BUILD)"
if [ -f "$BUILD/build.ninja" ]; then
    # Already configured: only what the benchmark runs.
    cmake -S "$IRP_ROOT" -B "$BUILD" >/dev/null
    cmake --build "$BUILD" --target irp-server irp-bench >/dev/null
else
    irp_build "$BUILD" >/dev/null
fi
SERVER=$(realpath "$BUILD/irp-server")
BENCH=$(realpath "$BUILD/bench/irp-bench")

WORK=$(mktemp -d /tmp/irp-bench.XXXXXX)
SERVER_PIDS=()
PG_DIR="" PG_BIN="" PG_AS=()
cleanup() {
    for p in "${SERVER_PIDS[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    if [ -n "$PG_DIR" ] && [ -f "$PG_DIR/data/postmaster.pid" ]; then
        (cd "$PG_DIR" && "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -m immediate -w stop >/dev/null 2>&1) || true
    fi
    [ -n "$PG_DIR" ] && rm -rf "$PG_DIR"
    if [ "${IRP_BENCH_KEEP:-0}" = 1 ]; then echo "work directory kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT

# ---- helpers -------------------------------------------------------------------

# jget FILE SECTION KEY: a value from irp-bench --json (SECTION "" = top level).
jget() {
    awk -v sec="$2" -v key="$3" '
        /^  "[a-z_]+": \{/ { match($0, /"[a-z_]+"/); cur = substr($0, RSTART + 1, RLENGTH - 2); next }
        /^  \}/ { cur = ""; next }
        {
            if (cur == sec && match($0, "^ *\"" key "\": ")) {
                v = substr($0, RLENGTH + 1); sub(/,$/, "", v); gsub(/"/, "", v); print v; exit
            }
        }' "$1"
}
fmt() { awk -v v="$1" -v f="$2" 'BEGIN { if (v == "" || v == "null") print "-"; else printf f, v }'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN { if (a == "" || b == "" || b == 0) print ""; else printf "%.4f", a / b }'; }

# Percentage of the machine's CPU busy over one second.
cpu_busy() {
    local a b c d e f g h t1 i1 t2 i2
    read -r _ a b c d e f g h _ </proc/stat; t1=$((a + b + c + d + e + f + g + h)); i1=$((d + e))
    sleep 1
    read -r _ a b c d e f g h _ </proc/stat; t2=$((a + b + c + d + e + f + g + h)); i2=$((d + e))
    echo $((100 * ((t2 - t1) - (i2 - i1)) / (t2 - t1 > 0 ? t2 - t1 : 1)))
}
# Waits (up to QUIET_WAIT s) until the machine is under 10% busy; prints
# what else is running if it never gets there.
wait_quiet() {
    local busy=100 waited=0
    while [ "$waited" -lt "$QUIET_WAIT" ]; do
        busy=$(cpu_busy); waited=$((waited + 1))
        [ "$busy" -le 10 ] && break
    done
    if [ "$busy" -gt 10 ]; then
        echo "   ! the machine is ${busy}% busy before this run; the busiest processes:"
        top -b -n 2 -d 0.5 -w 160 2>/dev/null | awk '/^top -/ { n++ } n == 2' | sed -n '7,11p' | sed 's/^/     /'
    fi
    LAST_BUSY=$busy
}

# start_server CONFIG LOG: starts irp-server; sets SERVER_PID and PORT.
start_server() {
    local seen  # the log is appended to: look only at this start's lines
    touch "$2"; seen=$(wc -l <"$2")
    "$SERVER" run --config "$1" 2>>"$2" &
    SERVER_PID=$!
    SERVER_PIDS+=("$SERVER_PID")
    PORT=""
    for _ in $(seq 1 200); do
        PORT=$(tail -n "+$((seen + 1))" "$2" | sed -n 's/.*listening on 127\.0\.0\.1:\([0-9]*\).*/\1/p' | tail -1) || true
        [ -n "$PORT" ] && return 0
        kill -0 "$SERVER_PID" 2>/dev/null || break
        sleep 0.05
    done
    echo "irp-server did not start:"; tail -5 "$2"; exit 1
}
stop_server() {  # stop_server PID
    kill -TERM "$1" 2>/dev/null || true
    wait "$1" 2>/dev/null || true
}

# new_domain NAME: a fresh domain in $WORK/NAME (ports 0: the kernel picks).
new_domain() {
    "$SERVER" init --dir "$WORK/$1" --domain "$1.bench.example" --listen 127.0.0.1:0 \
        --admin-listen 127.0.0.1:0 --http-listen 127.0.0.1:0 >/dev/null
}

# run_bench LABEL DOMAIN [irp-bench args...]: one irp-bench run against the
# server in $SERVER_PID/$PORT; JSON in $WORK/LABEL.json. A run during which
# other processes used more than a quarter of a core is repeated (up to
# RETRIES times; the last attempt counts, and is flagged).
RUN_N=0
DISTURBED=""
RETRIES=${IRP_BENCH_RETRIES:-2}
run_bench() {
    local label=$1 dom=$2; shift 2
    local f=$WORK/$label.json rc attempt=0 others
    while :; do
        wait_quiet
        RUN_N=$((RUN_N + 1))
        local common=(--server "127.0.0.1:$PORT" --trust "$WORK/$dom/root-ca.pem"
                      --class-secret-file "$WORK/$dom/classes/default.secret" --server-pid "$SERVER_PID"
                      --id-prefix "r$RUN_N-$label")
        rc=0
        "$BENCH" "${common[@]}" "$@" --json >"$f" || rc=$?
        others=$(jget "$f" enroll other_cores)
        awk -v o="$others" 'BEGIN { exit !(o > 0.25) }' || break
        attempt=$((attempt + 1))
        if [ "$attempt" -gt "$RETRIES" ]; then
            echo "   ! other processes used $others cores during $label (kept after $RETRIES retries)"
            DISTURBED="$DISTURBED $label"
            break
        fi
        echo "   (other processes used $others cores during $label: repeating it)"
    done
    printf '   %-14s %6s ok %4s err  %8s ops/s  p50 %6s  p99 %7s ms  server %6s ms/op  bench %6s ms/op  others %5s cores  (idle before: %s%% busy)\n' \
        "$label" "$(jget "$f" enroll ok)" "$(jget "$f" enroll errors)" "$(fmt "$(jget "$f" enroll ops_per_s)" %.1f)" \
        "$(fmt "$(jget "$f" enroll p50_ms)" %.2f)" "$(fmt "$(jget "$f" enroll p99_ms)" %.2f)" \
        "$(fmt "$(jget "$f" enroll server_cpu_ms_per_op)" %.3f)" "$(fmt "$(jget "$f" enroll bench_cpu_ms_per_op)" %.3f)" \
        "$(fmt "$(jget "$f" enroll other_cores)" %.2f)" "$LAST_BUSY"
    if grep -q '^  "renew": {' "$f"; then
        printf '   %-14s %6s ok %4s err  %8s ops/s  p50 %6s  p99 %7s ms  server %6s ms/op\n' "  (renewals)" \
            "$(jget "$f" renew ok)" "$(jget "$f" renew errors)" "$(fmt "$(jget "$f" renew ops_per_s)" %.1f)" \
            "$(fmt "$(jget "$f" renew p50_ms)" %.2f)" "$(fmt "$(jget "$f" renew p99_ms)" %.2f)" \
            "$(fmt "$(jget "$f" renew server_cpu_ms_per_op)" %.3f)"
    fi
    [ "$rc" = 0 ] || echo "   ! irp-bench reported errors (see $label.json: errors_by_code)"
}

# The full series (a)-(d) against the server in $SERVER_PID; results in
# variables prefixed with $1 (SQ_ or PG_).
series() {
    local p=$1 dom=$2; shift 2
    local extra=("$@")
    run_bench "${p}warmup" "$dom" --devices 300 --concurrency 2 --no-floor "${extra[@]}"
    run_bench "${p}c2" "$dom" --devices "$DEVICES" --concurrency 2 "${extra[@]}"
    run_bench "${p}c4" "$dom" --devices "$DEVICES" --concurrency 4 "${extra[@]}"
    local t2 t4 best
    t2=$(jget "$WORK/${p}c2.json" enroll ops_per_s); t4=$(jget "$WORK/${p}c4.json" enroll ops_per_s)
    best=c2; awk -v a="$t4" -v b="$t2" 'BEGIN { exit !(a > b) }' && best=c4
    eval "${p}BEST=$best"
    local f=$WORK/${p}$best.json
    local max rate n
    max=$(jget "$f" enroll ops_per_s)
    rate=$(awk -v m="$max" 'BEGIN { printf "%.1f", m / 2 }')
    n=$(awk -v r="$rate" 'BEGIN { n = int(r * 20); if (n < 400) n = 400; print n }')  # ~20 s
    run_bench "${p}half" "$dom" --devices "$n" --concurrency 8 --rate "$rate" --no-floor "${extra[@]}"
    run_bench "${p}renew" "$dom" --devices "$((DEVICES / 2))" --concurrency "${best#c}" --renew "${extra[@]}"
}

# ---- the machine ------------------------------------------------------------------
echo "== machine"
echo "   $(nproc) CPUs: $(sed -n 's/^model name[[:space:]]*: //p' /proc/cpuinfo | head -1); $(free -m | awk '/^Mem:/ { print $2 " MiB RAM" }')"
echo "   $(uname -sr); $(uptime | sed 's/^ *//')"
echo "   $(sqlite3 --version | cut -d' ' -f1-2 | sed 's/^/SQLite /'); irp-bench + irp-server side by side on this machine"
echo "   work directory: $WORK"

# ---- SQLite ---------------------------------------------------------------------------
echo "== SQLite: $DEVICES devices per run (synchronous=FULL, WAL: every commit is fsync'd)"
new_domain sq
start_server "$WORK/sq/server.toml" "$WORK/sq.log"
SQ_PID=$SERVER_PID SQ_PORT=$PORT
series SQ_ sq

# ---- PostgreSQL ------------------------------------------------------------------------
PG_STATUS="skipped"
pg_start() {
    PG_BIN=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)
    [ -n "$PG_BIN" ] && [ -x "$PG_BIN/initdb" ] || { PG_STATUS="skipped: no PostgreSQL server in /usr/lib/postgresql"; return 1; }
    PG_DIR=$(mktemp -d /tmp/irp-bpg.XXXXXX)  # short: it holds the socket
    if [ "$(id -u)" = 0 ]; then
        id postgres >/dev/null 2>&1 || { PG_STATUS="skipped: running as root without a postgres user"; return 1; }
        chown postgres: "$PG_DIR"; PG_AS=(runuser -u postgres --); PG_USER=postgres
    else
        PG_AS=(); PG_USER=$(id -un)
    fi
    PG_PORT=$((20000 + RANDOM % 20000))
    (cd "$PG_DIR" && "${PG_AS[@]}" "$PG_BIN/initdb" -D "$PG_DIR/data" -U "$PG_USER" --auth=trust -E UTF8 --locale=C \
        >"$WORK/pg-initdb.log" 2>&1) || { PG_STATUS="skipped: initdb failed ($WORK/pg-initdb.log)"; return 1; }
    # Durable defaults (fsync=on, synchronous_commit=on); Unix socket only.
    (cd "$PG_DIR" && "${PG_AS[@]}" "$PG_BIN/pg_ctl" -D "$PG_DIR/data" -l "$PG_DIR/server.log" -w -t 60 \
        -o "-c listen_addresses='' -k $PG_DIR -p $PG_PORT" start >/dev/null) || { PG_STATUS="skipped: pg_ctl start failed"; return 1; }
    "$PG_BIN/psql" -X -q -h "$PG_DIR" -p "$PG_PORT" -U "$PG_USER" -d postgres -c "CREATE DATABASE irp" >/dev/null
    PG_POSTMASTER=$(head -1 "$PG_DIR/data/postmaster.pid")
    PG_VERSION=$("$PG_BIN/psql" -X -t -A -h "$PG_DIR" -p "$PG_PORT" -U "$PG_USER" -d postgres -c "SHOW server_version")
}
if [ "$WANT_PG" != 1 ]; then
    PG_STATUS="skipped (IRP_BENCH_PG=0)"
elif ! grep -q storage_url "$IRP_ROOT/server/config/config.hpp"; then
    PG_STATUS="skipped: this irp-server has no storage.url (PostgreSQL) setting"
elif pg_start; then
    echo "== PostgreSQL $PG_VERSION: private cluster on a Unix socket, fsync=on, synchronous_commit=on"
    new_domain pg
    sed -i "s|^database = .*|url = \"host=$PG_DIR port=$PG_PORT user=$PG_USER dbname=irp connect_timeout=5\"|" "$WORK/pg/server.toml"
    stop_server "$SQ_PID"  # one server at a time
    start_server "$WORK/pg/server.toml" "$WORK/pg.log"
    PG_SERVER_PID=$SERVER_PID
    series PG_ pg --db-pid "$PG_POSTMASTER"
    stop_server "$PG_SERVER_PID"
    PG_STATUS="measured"
    start_server "$WORK/sq/server.toml" "$WORK/sq.log"
    SQ_PID=$SERVER_PID SQ_PORT=$PORT
fi
[ "$PG_STATUS" = measured ] || echo "== PostgreSQL: $PG_STATUS"

# ---- 1,000,000 devices -------------------------------------------------------------------
M_STATUS="skipped (IRP_BENCH_MILLION=0)"
if [ "$MILLION" = 1 ]; then
    C=${SQ_BEST#c}
    echo "== SQLite with $MILLION_N devices already in the database, against an empty one (concurrency $C)"
    # Two fresh domains: "empty" and "million"; the same warm-up on both,
    # then the pre-fill of "million" while its server is stopped.
    stop_server "$SQ_PID"
    new_domain empty; new_domain million
    start_server "$WORK/million/server.toml" "$WORK/million.log"
    run_bench m_warmup million --devices 200 --concurrency 2 --no-floor
    stop_server "$SERVER_PID"
    ISSUER=$(sqlite3 "$WORK/million/irp.db" "SELECT issuer FROM certificates LIMIT 1")
    t0=$(date +%s)
    sqlite3 -bail "$WORK/million/irp.db" ".parameter set @n $MILLION_N" ".parameter set @issuer \"'$ISSUER'\"" \
        ".parameter set @prefix \"'pre'\"" ".read $IRP_ROOT/bench/prefill_sqlite.sql" | tail -1 | sed 's/^/   /'
    echo "   pre-fill took $(($(date +%s) - t0)) s; database $(du -h "$WORK/million/irp.db" | cut -f1)"
    start_server "$WORK/million/server.toml" "$WORK/million.log"; M_PID=$SERVER_PID M_PORT=$PORT
    start_server "$WORK/empty/server.toml" "$WORK/empty.log"; E_PID=$SERVER_PID E_PORT=$PORT
    SERVER_PID=$E_PID PORT=$E_PORT; run_bench e_warmup empty --devices 200 --concurrency 2 --no-floor
    # Alternate, so drift in the machine affects both sides alike.
    for i in 1 2; do
        SERVER_PID=$E_PID PORT=$E_PORT; run_bench "empty$i" empty --devices "$DEVICES" --concurrency "$C" --no-floor
        SERVER_PID=$M_PID PORT=$M_PORT; run_bench "million$i" million --devices "$DEVICES" --concurrency "$C" --no-floor
    done
    M_STATUS="measured"
fi

# ---- summary -----------------------------------------------------------------------------
echo
echo "== summary (targets from the issue; bench and server share the machine's $(nproc) CPUs)"
col() {  # col PREFIX: the column for one store
    local p=$1 best f h r
    eval "best=\${${p}BEST:-}"
    [ -n "$best" ] || return 1
    f=$WORK/${p}$best.json h=$WORK/${p}half.json r=$WORK/${p}renew.json
    C_MAX=$(fmt "$(jget "$f" enroll ops_per_s)" %.1f)
    C_AT=${best#c}
    C_CPU=$(fmt "$(jget "$f" enroll server_cpu_ms_per_op)" %.3f)
    C_DB=$(fmt "$(jget "$f" enroll db_cpu_ms_per_op)" %.3f)
    C_FLOOR=$(fmt "$(jget "$f" floor total_ms)" %.3f)
    C_RATIO=$(fmt "$(jget "$f" enroll ratio_to_floor)" %.2fx)
    C_RATIO_DB=$(fmt "$(jget "$f" enroll ratio_with_db_to_floor)" %.2fx)
    C_RATE=$(fmt "$(jget "$h" "" rate)" %.1f)
    C_P99=$(fmt "$(jget "$h" enroll p99_ms)" %.2f)
    C_P50=$(fmt "$(jget "$h" enroll p50_ms)" %.2f)
    C_RN=$(fmt "$(jget "$r" renew ops_per_s)" %.1f)
    C_RCPU=$(fmt "$(jget "$r" renew server_cpu_ms_per_op)" %.3f)
    C_RRATIO=$(fmt "$(jget "$r" renew ratio_to_floor)" %.2fx)
    C_BENCH=$(fmt "$(jget "$f" enroll bench_cpu_ms_per_op)" %.3f)
    C_ERR=0
    local j e1 e2
    for j in "$WORK/${p}"*.json; do
        e1=$(jget "$j" enroll errors); e2=$(jget "$j" renew errors)
        C_ERR=$((C_ERR + ${e1:-0} + ${e2:-0}))
    done
}
row() { printf '   %-54s %-24s %-24s %s\n' "$@"; }
declare -A S P
for p in SQ_ PG_; do
    if col "$p"; then
        for k in C_MAX C_AT C_CPU C_DB C_FLOOR C_RATIO C_RATIO_DB C_RATE C_P99 C_P50 C_RN C_RCPU C_RRATIO C_BENCH C_ERR; do
            if [ "$p" = SQ_ ]; then S[$k]=${!k}; else P[$k]=${!k}; fi
        done
    fi
done
verdict() { awk -v v="$1" -v t="$2" -v op="$3" 'BEGIN { if (v == "" || v == "-") print "-"; else if ((op == "le" && v + 0 <= t) || (op == "ge" && v + 0 >= t)) print "met"; else print "MISSED" }'; }
pgv() { [ "$PG_STATUS" = measured ] && echo "${P[$1]}" || echo "n/a"; }
row "" "SQLite" "PostgreSQL" "target"
row "max enrollment throughput (ops/s)" "${S[C_MAX]} (C=${S[C_AT]})" "$(pgv C_MAX) (C=$(pgv C_AT))" ""
row "irp-server CPU per enrollment (ms)" "${S[C_CPU]}" "$(pgv C_CPU)" ""
row "PostgreSQL CPU per enrollment (ms)" "-" "$(pgv C_DB)" ""
row "crypto floor per enrollment (ms, same run)" "${S[C_FLOOR]}" "$(pgv C_FLOOR)" ""
row "irp-server CPU / floor" "${S[C_RATIO]} $(verdict "${S[C_RATIO]%x}" 1.25 le)" \
    "$(pgv C_RATIO) $([ "$PG_STATUS" = measured ] && verdict "${P[C_RATIO]%x}" 1.25 le)" "<= 1.25x"
row "(irp-server + PostgreSQL CPU) / floor" "-" "$(pgv C_RATIO_DB)" ""
row "p99 latency at half max throughput (ms)" "${S[C_P99]} @ ${S[C_RATE]}/s $(verdict "${S[C_P99]}" 10 le)" \
    "$(pgv C_P99) @ $(pgv C_RATE)/s $([ "$PG_STATUS" = measured ] && verdict "${P[C_P99]}" 10 le)" "<= 10 ms"
row "  p50 there (ms)" "${S[C_P50]}" "$(pgv C_P50)" ""
row "renewal throughput (ops/s)" "${S[C_RN]}" "$(pgv C_RN)" ""
row "irp-server CPU per renewal (ms) / renewal floor" "${S[C_RCPU]} / ${S[C_RRATIO]}" "$(pgv C_RCPU) / $(pgv C_RRATIO)" ""
row "bench (device side) CPU per enrollment (ms)" "${S[C_BENCH]}" "$(pgv C_BENCH)" ""
row "errors in all runs" "${S[C_ERR]}" "$(pgv C_ERR)" "0"
if [ "$M_STATUS" = measured ]; then
    E=$(awk -v a="$(jget "$WORK/empty1.json" enroll ops_per_s)" -v b="$(jget "$WORK/empty2.json" enroll ops_per_s)" 'BEGIN { printf "%.1f", (a + b) / 2 }')
    M=$(awk -v a="$(jget "$WORK/million1.json" enroll ops_per_s)" -v b="$(jget "$WORK/million2.json" enroll ops_per_s)" 'BEGIN { printf "%.1f", (a + b) / 2 }')
    EC=$(awk -v a="$(jget "$WORK/empty1.json" enroll server_cpu_ms_per_op)" -v b="$(jget "$WORK/empty2.json" enroll server_cpu_ms_per_op)" 'BEGIN { printf "%.3f", (a + b) / 2 }')
    MC=$(awk -v a="$(jget "$WORK/million1.json" enroll server_cpu_ms_per_op)" -v b="$(jget "$WORK/million2.json" enroll server_cpu_ms_per_op)" 'BEGIN { printf "%.3f", (a + b) / 2 }')
    R=$(ratio "$M" "$E")
    row "SQLite, $MILLION_N devices vs empty: ops/s (mean of 2)" "$M vs $E" "" "within 10%"
    row "  ratio" "$(fmt "$R" %.3f) $(awk -v r="$R" 'BEGIN { print (r >= 0.9 ? "met" : "MISSED") }')" "" ">= 0.90"
    row "  irp-server CPU per enrollment (ms)" "$MC vs $EC" "" ""
else
    row "1,000,000 devices" "$M_STATUS" "" ""
fi
[ "$PG_STATUS" = measured ] || echo "   PostgreSQL: $PG_STATUS"
[ -z "$DISTURBED" ] || echo "   runs disturbed by other processes (> 0.25 cores):$DISTURBED"
echo "   (every run's JSON: IRP_BENCH_KEEP=1 keeps $WORK)"
