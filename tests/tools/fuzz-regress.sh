# Replays every fuzz seed and every saved crash (tests/fuzz/regress/NAME/)
# through the harnesses built without libFuzzer: a crash or sanitizer
# report fails the run.
. "$(dirname "$0")/lib.sh"
: "${MLR_REPLAY:=$MLR_ROOT/build/replay}"
for h in "$MLR_REPLAY"/fuzz_*; do
    [ -x "$h" ] || continue
    n=${h##*/fuzz_}
    set -- "$MLR_ROOT"/tests/fuzz/seeds/"$n"/* "$MLR_ROOT"/tests/fuzz/regress/"$n"/*
    files=""
    for f in "$@"; do [ -f "$f" ] && files="$files $f"; done
    [ -n "$files" ] || continue
    # shellcheck disable=SC2086
    if "$h" $files >"$T/replay.out" 2>&1; then pass "fuzz-regress $n ($(grep -c PASS "$T/replay.out") inputs)"
    else fail "fuzz-regress $n" "$(tail -n 3 "$T/replay.out" | tr '\n' ' ')"; fi
done
