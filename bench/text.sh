# The text tools (ingest, split, vocab, encode, stats) in rows per second on
# ROWS rows of mlr-synth data (default 2,000,000), beside `cut -f1,2` on the
# same file: the cheapest TSV pass a Unix toolbox offers. Target: 1M rows/s.
. "$(dirname "$0")/lib.sh"
rows=${BENCH_TEXT_ROWS:-2000000}
t=$BENCH_TMP/text.tsv
mlr-synth --n-users $((rows / 100)) --n-items $((rows / 500 + 100)) --n-ratings "$rows" --seed 3 --output "$t"
timed "cut -f1,2 ($rows rows)" sh -c "cut -f1,2 '$t' >/dev/null"
ref=$(per_sec "$rows" "$SECS")
bench_tool() { # NAME CMD...
    name=$1; shift
    timed "$name ($rows rows)" "$@"
    row "$name rows/s" "$(per_sec "$rows" "$SECS")" rows/s "$ref" "cut rows/s" "peak ${RSS_MB} MB; target 1000000 rows/s"
}
bench_tool mlr-ingest sh -c "mlr-ingest --format tsv '$t' >/dev/null"
bench_tool mlr-split mlr-split --seed 1 --test-output "$BENCH_TMP/test.tsv" --output "$BENCH_TMP/train.tsv" "$t"
bench_tool mlr-vocab mlr-vocab --output "$BENCH_TMP/spec" "$t"
bench_tool mlr-encode mlr-encode --spec "$BENCH_TMP/spec" --output "$BENCH_TMP/enc" "$t"
bench_tool mlr-stats sh -c "mlr-stats '$t' >/dev/null"
