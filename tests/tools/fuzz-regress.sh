# Replays every fuzz seed and every saved crash (tests/fuzz/regress/NAME/)
# through the harnesses built without libFuzzer: a crash or sanitizer
# report fails the run. The hostile classes of issue 16 (a CSV quote open
# over many lines, 10^6 columns, NUL bytes, .npy headers claiming 10^12
# rows, NaN in safetensors headers and weights) are generated at their
# real sizes by tests/fuzz/hostile-seeds.sh and replayed too.
. "$(dirname "$0")/lib.sh"
: "${MLR_REPLAY:=$MLR_ROOT/build/replay}"
if ! sh "$MLR_ROOT/tests/fuzz/hostile-seeds.sh" "$T/hostile" big 2>"$T/seeds.err"; then
    fail "fuzz-regress: hostile seeds" "$(head -c 300 "$T/seeds.err")"
fi
for h in "$MLR_REPLAY"/fuzz_*; do
    [ -x "$h" ] || continue
    n=${h##*/fuzz_}
    set -- "$MLR_ROOT"/tests/fuzz/seeds/"$n"/* "$MLR_ROOT"/tests/fuzz/regress/"$n"/* "$T/hostile/$n"/*
    files=""
    for f in "$@"; do [ -f "$f" ] && files="$files $f"; done
    [ -n "$files" ] || continue
    # shellcheck disable=SC2086
    if "$h" $files >"$T/replay.out" 2>&1; then pass "fuzz-regress $n ($(grep -c PASS "$T/replay.out") inputs)"
    else fail "fuzz-regress $n" "$(tail -n 3 "$T/replay.out" | tr '\n' ' ')"; fi
done
