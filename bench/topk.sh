#!/bin/sh
# topk: mlr-topk's core and the tool itself (read Q.npy, write the TSV to
# /dev/null) on the MovieLens-20M shape, each against the bare cblas_sgemm
# of the same sizes measured in the same run (build/bench/bench_topk).
. "$(dirname "$0")/lib.sh"
N=${TOPK_N:-138000} M=${TOPK_M:-27000} D=${TOPK_D:-32} K=${TOPK_K:-100} TH=${TOPK_THREADS:-2}
BENCH_TOPK_DIR=$BENCH_TMP "$MLR_ROOT/build/bench/bench_topk" "$N" "$M" "$D" "$K" "$TH" >"$BENCH_TMP/topk.txt"
cat "$BENCH_TMP/topk.txt" >&2
bare=$(awk '/^bare sgemm:/ { print $3 }' "$BENCH_TMP/topk.txt")
timed "mlr-topk tool" mlr-topk --queries "$BENCH_TMP/Q.npy" --items "$BENCH_TMP/I.npy" --k "$K" \
    --threads "$TH" --output /dev/null
pairs=$(awk -v n="$N" -v m="$M" 'BEGIN { printf "%.0f", n * m }')
row "mlr-topk ${N}x${M}x${D} k=$K (whole tool)" "$(per_sec "$pairs" "$SECS")" pairs/s \
    "$(per_sec "$pairs" "$bare")" "pairs/s (bare sgemm)" "$TH threads, ${RSS_MB} MB peak, output to /dev/null"
rm -f "$BENCH_TMP/Q.npy" "$BENCH_TMP/I.npy" "$BENCH_TMP/I.ids"
