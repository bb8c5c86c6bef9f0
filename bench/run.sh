#!/bin/sh
# make bench: runs every benchmark and writes bench/results/results.tsv
# (benchmark, figure, unit, reference, ref_unit, ratio, note) and a
# Markdown copy, results.md, for the README. A benchmark's reference is
# measured in the same run on the same machine. Benchmarks never fail on a
# time; they fail only when a tool fails.
#   sh bench/run.sh [NAME...]      NAME: a bench/NAME.sh script
set -eu
cd "$(dirname "$0")/.."
MLR_ROOT=$PWD
MLR_BIN=${MLR_BIN:-$PWD/bin}
BENCH_DIR=bench/results
mkdir -p "$BENCH_DIR"
BENCH_TMP=$(mktemp -d)
trap 'rm -rf "$BENCH_TMP"' EXIT
BENCH_OUT=$BENCH_TMP/results.tsv
export MLR_ROOT MLR_BIN BENCH_TMP BENCH_OUT
: >"$BENCH_OUT"

names=${*:-$(ls bench/*.sh | sed 's|bench/||; s|\.sh$||' | grep -v -e '^lib$' -e '^run$')}
for n in $names; do
    echo "bench: == $n" >&2
    sh "bench/$n.sh"
done

{
    printf 'benchmark\tfigure\tunit\treference\tref_unit\tratio\tnote\n'
    cat "$BENCH_OUT"
} >"$BENCH_DIR/results.tsv"
{
    echo "Measured $(date -u +%Y-%m-%d) on $(nproc) cores of $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2 | sed 's/^ //'), $(free -g | awk '/Mem/ {print $2}') GB."
    echo
    echo "| benchmark | figure | reference (same run) | ratio | note |"
    echo "|---|---|---|---|---|"
    awk -F'\t' '{ printf "| %s | %s %s | %s %s | %s | %s |\n", $1, $2, $3, $4, $5, $6, $7 }' "$BENCH_OUT"
} >"$BENCH_DIR/results.md"
cat "$BENCH_DIR/results.md"
