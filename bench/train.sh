#!/bin/sh
# train: mlr-train's inner loop (build/bench/bench_train: the default model
# on the MovieLens-100K shape, random ids) in examples/s and GFLOP/s of its
# matrix products, against cblas_sgemm on the model's largest product
# measured in the same run.
. "$(dirname "$0")/lib.sh"
N=${TRAIN_ROWS:-80000} B=${TRAIN_BATCH:-256} E=${TRAIN_EPOCHS:-3} TH=${TRAIN_THREADS:-1}
"$MLR_ROOT/build/bench/bench_train" "$N" "$B" "$E" "$TH" >"$BENCH_TMP/train.txt"
cat "$BENCH_TMP/train.txt" >&2
ex=$(awk '/^examples\/s:/ { print $2 }' "$BENCH_TMP/train.txt")
gf=$(awk '/^train GFLOP\/s:/ { print $3 }' "$BENCH_TMP/train.txt")
sg=$(awk '/^sgemm GFLOP\/s:/ { print $3 }' "$BENCH_TMP/train.txt")
s40=$(awk '/^seconds per 40 epochs/ { print $NF }' "$BENCH_TMP/train.txt")
row "mlr-train inner loop, ML-100K shape, batch $B" "$gf" GFLOP/s "$sg" "GFLOP/s (sgemm, same run)" \
    "$ex examples/s, ${s40}s per 40 epochs, $TH thread(s)"
