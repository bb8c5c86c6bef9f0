#!/bin/sh
# Runs every unit test binary in $MLR_TESTBIN and every tests/tools/*.sh,
# MLR_JOBS (2) at a time, and prints each one's PASS/FAIL/SKIP lines as one
# group, in a fixed order, then "N skipped" and "N passed, N failed".
# The programs that have AVX2 twins (MLR_SIMD_TWINS) run a second time
# with MLR_SIMD=sse, so that the SSE paths are tested on an AVX2 machine.
# A failure is: a FAIL line; a program that exits non-zero without one (a
# crash, a sanitizer report); a program that prints no PASS, FAIL or SKIP
# line at all; fewer passes in all than MLR_TEST_FLOOR. A SKIP line is
# neither a pass nor a failure. The status is 0 only without failures.
set -u
cd "$(dirname "$0")/.."
: "${MLR_BIN:=$PWD/bin}" "${MLR_TESTBIN:=$PWD/build/tests}"
: "${MLR_REPLAY:=$PWD/build/replay}"
export MLR_BIN MLR_TESTBIN MLR_REPLAY
export MLR_ROOT="$PWD"
: "${MLR_JOBS:=2}"
# The floor: the suite has some 1,470 checks without the data sets; losing
# two hundred of them at once (a script that stops early) must not go unseen.
: "${MLR_TEST_FLOOR:=1300}"
MLR_SIMD_TWINS="test_nn test_optim test_model determinism.sh"
dir=$(mktemp -d) || exit 1
trap 'rm -rf "$dir"' EXIT
trap 'exit 130' INT TERM
# The suite runs as root in CI: it must leave the system's devices as they
# were (a rename over /dev/stdout, a /dev/null.ids: issue 16).
devices() { stat -c '%F %t:%T %N' /dev/null /dev/full /dev/stdout 2>&1; }
devices_before=$(devices)

# The jobs, one a line: NAME<tab>SIMD<tab>PATH (SIMD: "" or "sse"). The
# scripts first, the longest of the jobs, so that the two slots end
# together; a job's MLR_SIMD=sse twin right after it.
for t in tests/tools/*.sh; do
    case $t in */lib.sh) continue ;; esac
    [ -f "$t" ] && printf '%s\t\t%s\n' "${t##*/}" "$t"
done >"$dir/all"
for t in "$MLR_TESTBIN"/test_*; do
    [ -x "$t" ] && printf '%s\t\t%s\n' "${t##*/}" "$t"
done >>"$dir/all"
awk -F'\t' -v OFS='\t' -v twins=" $MLR_SIMD_TWINS " \
    '{ print } index(twins, " " $1 " ") { print $1, "sse", $3 }' "$dir/all" >"$dir/jobs"
njobs=$(wc -l <"$dir/jobs")

# start N: runs job N in the background; its lines go to N.log, its wall
# time to N.time, its status to N.rc once it has ended.
start() {
    line=$(sed -n "${1}p" "$dir/jobs")
    simd=$(printf '%s\n' "$line" | cut -f2)
    path=$(printf '%s\n' "$line" | cut -f3-)
    (
        if [ -n "$simd" ]; then MLR_SIMD=$simd; export MLR_SIMD; fi
        t0=$(date +%s%N)
        case $path in
        *.sh) sh "$path" ;;
        *) "$path" ;;
        esac >"$dir/$1.log" 2>&1 </dev/null
        st=$?
        echo $((($(date +%s%N) - t0) / 100000000)) >"$dir/$1.time" # tenths of a second
        echo $st >"$dir/$1.tmp" && mv "$dir/$1.tmp" "$dir/$1.rc"
    ) &
}

# report N: prints job N's group and adds its figures to the totals.
passed=0 failed=0 skipped=0
report() {
    line=$(sed -n "${1}p" "$dir/jobs")
    name=$(printf '%s\n' "$line" | cut -f1)
    simd=$(printf '%s\n' "$line" | cut -f2)
    [ -n "$simd" ] && name="$name [MLR_SIMD=$simd]"
    log=$dir/$1.log status=$(cat "$dir/$1.rc")
    ds=$(cat "$dir/$1.time")
    echo "== $name ($((ds / 10)).$((ds % 10)) s)"
    grep -E '^(PASS|FAIL|SKIP) ' "$log"
    p=$(grep -c '^PASS ' "$log") f=$(grep -c '^FAIL ' "$log") s=$(grep -c '^SKIP ' "$log")
    if [ "$status" -ne 0 ] && [ "$f" -eq 0 ]; then
        echo "FAIL $name: exited with status $status"; tail -n 5 "$log" | sed 's/^/    /'
        f=1
    elif [ $((p + f + s)) -eq 0 ]; then
        echo "FAIL $name: printed no PASS, FAIL or SKIP line"; tail -n 5 "$log" | sed 's/^/    /'
        f=1
    fi
    passed=$((passed + p)) failed=$((failed + f)) skipped=$((skipped + s))
}

# Up to MLR_JOBS jobs at a time; the groups are printed in the jobs'
# order as soon as each one and all before it have ended.
next=1 shown=1 running=0
while [ "$shown" -le "$njobs" ]; do
    while [ "$running" -lt "$MLR_JOBS" ] && [ "$next" -le "$njobs" ]; do
        start "$next"; next=$((next + 1)); running=$((running + 1))
    done
    if [ -f "$dir/$shown.rc" ]; then
        report "$shown"; shown=$((shown + 1))
        continue
    fi
    ended=$(ls "$dir" | grep -c '\.rc$')
    running=$((next - 1 - ended))
    [ "$running" -lt "$MLR_JOBS" ] && [ "$next" -le "$njobs" ] || sleep 0.1
done
wait

if [ "$(devices)" = "$devices_before" ] && [ -c /dev/null ] && [ -c /dev/full ]; then
    echo "PASS /dev/null, /dev/full, /dev/stdout unchanged by the suite"; passed=$((passed + 1))
else
    echo "FAIL the suite changed the system's devices: $(devices | tr '\n' ' ')"; failed=$((failed + 1))
fi
[ "$skipped" -eq 0 ] || echo "$skipped skipped (neither passed nor failed)"
if [ "$passed" -lt "$MLR_TEST_FLOOR" ]; then
    echo "FAIL tests/run.sh: $passed passes, fewer than the floor MLR_TEST_FLOOR=$MLR_TEST_FLOOR"
    failed=$((failed + 1))
fi
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
