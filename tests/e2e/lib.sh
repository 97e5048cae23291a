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
# finish NAME: prints "NAME: N passed, M failed" and returns non-zero on failure.
finish() {
    echo
    echo "$1: $PASS passed, $FAIL failed"
    [ "$FAIL" = 0 ]
}
