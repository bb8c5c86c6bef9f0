# lib.sh: helpers for the benchmarks. Source it. Every benchmark appends
# rows to $BENCH_OUT (TSV: benchmark, figure, unit, reference, ref_unit,
# ratio, note) where the reference is measured in the same run.
set -eu
: "${MLR_ROOT:=$(cd "$(dirname "$0")/.." && pwd)}"
: "${MLR_BIN:=$MLR_ROOT/bin}"
PATH="$MLR_BIN:$PATH"
export PATH
# As pipelines/lib.sh: the tools size OpenBLAS's threads themselves, and
# one at start spares each process OpenBLAS's 0.1 s of spinning threads.
OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export OPENBLAS_NUM_THREADS
# Run alone (sh bench/NAME.sh, not through run.sh): a temporary folder of
# its own, removed at exit, and the result rows on stdout at the end.
if [ -z "${BENCH_TMP:-}" ]; then
    BENCH_TMP=$(mktemp -d) || exit 1
    BENCH_OUT=$BENCH_TMP/results.tsv
    : >"$BENCH_OUT"
    trap 'cat "$BENCH_OUT"; rm -rf "$BENCH_TMP"' EXIT
fi
: "${BENCH_OUT:=$BENCH_TMP/results.tsv}"

# timed LABEL CMD...: runs CMD under GNU time; sets SECS and RSS_MB
# (peak resident set of the largest process) and logs them on stderr.
timed() {
    label=$1; shift
    /usr/bin/time -f '%e %M' -o "$BENCH_TMP/time" "$@"
    read -r SECS kb <"$BENCH_TMP/time"
    RSS_MB=$(awk -v k="$kb" 'BEGIN { printf "%.1f", k / 1024 }')
    echo "bench: $label: ${SECS}s, ${RSS_MB} MB peak" >&2
}

# row BENCHMARK FIGURE UNIT REFERENCE REF_UNIT NOTE: appends a result with
# ratio = FIGURE / REFERENCE.
row() {
    awk -v b="$1" -v f="$2" -v u="$3" -v r="$4" -v ru="$5" -v n="$6" 'BEGIN {
        ratio = (r + 0 != 0) ? sprintf("%.3f", f / r) : "-"
        printf "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", b, f, u, r, ru, ratio, n }' >>"$BENCH_OUT"
}

# median: the median of the numbers on stdin, one a line (the lower middle
# of an even count). The figures near a target are runs repeated, their
# median reported with the range: a busy spell on this shared VM slows one
# run by up to 30%.
median() { sort -g | awk '{ v[NR] = $1 } END { print v[int((NR + 1) / 2)] }'; }
# range: "min-max" of the numbers on stdin.
range() { sort -g | awk 'NR == 1 { lo = $1 } { hi = $1 } END { print lo "-" hi }'; }

# per_sec COUNT SECONDS: COUNT / SECONDS, rounded.
per_sec() { awk -v c="$1" -v s="$2" 'BEGIN { printf "%.0f", (s > 0) ? c / s : 0 }'; }
