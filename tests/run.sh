#!/bin/sh
# Runs every unit test binary in $MLR_TESTBIN and every tests/tools/*.sh,
# counts their PASS/FAIL lines and ends with "N passed, N failed".
# A test program that exits non-zero without a FAIL line (a crash, a
# sanitizer report) counts as one failure.
set -u
cd "$(dirname "$0")/.."
: "${MLR_BIN:=$PWD/bin}" "${MLR_TESTBIN:=$PWD/build/tests}"
: "${MLR_REPLAY:=$PWD/build/replay}"
export MLR_BIN MLR_TESTBIN MLR_REPLAY
export MLR_ROOT="$PWD"
log=$(mktemp) || exit 1
trap 'rm -f "$log"' EXIT
passed=0 failed=0

run_one() { # name, command...
    name=$1; shift
    "$@" >"$log" 2>&1
    status=$?
    grep -E '^(PASS|FAIL|SKIP) ' "$log"
    p=$(grep -c '^PASS ' "$log"); f=$(grep -c '^FAIL ' "$log")
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: exited with status $status"; tail -n 5 "$log" | sed 's/^/    /'
        f=1
    fi
    passed=$((passed + p)); failed=$((failed + f))
}

for t in "$MLR_TESTBIN"/test_*; do
    [ -x "$t" ] || continue
    run_one "$(basename "$t")" "$t"
done
for t in tests/tools/*.sh; do
    [ -f "$t" ] || continue
    case $t in */lib.sh) continue ;; esac
    run_one "$t" sh "$t"
done
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
