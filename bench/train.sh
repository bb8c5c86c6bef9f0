#!/bin/sh
# train: mlr-train's training step (build/bench/bench_train: the default
# model on the MovieLens-100K shape, random ids) in GFLOP/s of the matrix
# products it runs, beside cblas_sgemm's GFLOP/s on the model's largest
# product measured in the same run on as many threads, wall-clock and per
# CPU second; then mlr-train itself, its GFLOP/s over whole epochs (its
# --log) on mlr-synth's default data and on ML-100K beside the same
# reference (target: ratio >= 0.5); and 40 epochs of mlr-train with its
# defaults on ML-100K, validation once and every epoch, beside the 6.8 s of
# the PyTorch version on an NVIDIA H200 (ratio > 1: slower). Needs
# MLR_DATA_DIR/ml-100k (default ../shared/data beside the checkout), else
# that part is skipped with a note. The figures near a target (mlr-train's
# GFLOP/s, the 40 epochs validated once) are the median of BENCH_REPS runs
# (3), their range in the note.
. "$(dirname "$0")/lib.sh"
TH=${TRAIN_THREADS:-$(nproc)}
N=${TRAIN_ROWS:-80000} B=${TRAIN_BATCH:-256} E=${TRAIN_EPOCHS:-3}
"$MLR_ROOT/build/bench/bench_train" "$N" "$B" "$E" "$TH" >"$BENCH_TMP/train.txt"
cat "$BENCH_TMP/train.txt" >&2
field() { awk -v k="$1" -v i="$2" 'index($0, k) == 1 { v = $i; gsub(/[^0-9.]/, "", v); print v }' "$BENCH_TMP/train.txt"; }
ex=$(field "examples/s:" 2) excpu=$(field "examples/s:" 6)
gf=$(field "train GFLOP/s:" 3) gfcpu=$(field "train GFLOP/s:" 7)
sg=$(field "sgemm GFLOP/s:" 3) sgcpu=$(field "sgemm GFLOP/s:" 7)
shape=$(awk '/^sgemm GFLOP\/s:/ { print $8 }' "$BENCH_TMP/train.txt")
row "mlr-train step, ML-100K shape, batch $B, $TH threads (wall)" "$gf" GFLOP/s "$sg" \
    "GFLOP/s (sgemm $shape per thread, same run)" "$ex examples/s; the step alone on random ids (mlr-train on real data below)"
row "mlr-train step, ML-100K shape, batch $B, $TH threads (per CPU second)" "$gfcpu" GFLOP/s "$sgcpu" \
    "GFLOP/s (sgemm $shape per thread, same run)" "$excpu examples per CPU second"

# Memory: the bandwidth Adam over a step's embedding rows streams at, on
# one thread and on TH, measured in the same run
"$MLR_ROOT/build/bench/bench_mem" 256 "$TH" >"$BENCH_TMP/mem.txt"
cat "$BENCH_TMP/mem.txt" >&2
mem1=$(awk '/1 thread:/ { print $NF }' "$BENCH_TMP/mem.txt")
memn=$(awk '/threads:/ { print $NF }' "$BENCH_TMP/mem.txt")
row "memory read-modify-write stream, $TH threads (bench_mem)" "$memn" GB/s "$mem1" \
    "GB/s (1 thread, same run)" "what Adam over a step's embedding rows is: such a phase speeds up this much with $TH threads, not ${TH}x"

# epochs_figs LOG ROWS: "GFLOP/s examples/s epochs" over the log's epochs
# (its seconds and gflops columns: the products run per second of the
# epoch loop, validation left out)
epochs_figs() {
    awk -F'\t' -v n="$2" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        { s += $c["seconds"]; f += $c["gflops"] * $c["seconds"]; e++ }
        END { printf "%.2f %.0f %d\n", f / s, n * e / s, e }' "$1"
}

# epochs_row NAME FIGS: the median of the runs in FIGS (epochs_figs lines)
# beside the sgemm reference
epochs_row() {
    egf=$(cut -d' ' -f1 "$2" | median)
    eex=$(awk -v g="$egf" '$1 == g { print $2; exit }' "$2")
    ne=$(awk '{ print $3; exit }' "$2")
    row "$1, GFLOP/s over its epochs ($TH threads)" "$egf" GFLOP/s "$sg" \
        "GFLOP/s (sgemm $shape per thread, same run)" \
        "median of $(wc -l <"$2") runs ($(cut -d' ' -f1 "$2" | range)); $eex examples/s over $ne epochs; target ratio >= 0.5"
}
REPS=${BENCH_REPS:-3}

# prepare DIR: DIR/all.tsv split 80/20 (seed 42), the specification of
# its training rows and those rows encoded, in DIR
prepare() {
    mlr-split --seed 42 --test-fraction 0.2 --output "$1/train.tsv" --test-output "$1/test.tsv" "$1/all.tsv"
    mlr-vocab --output "$1/spec" "$1/train.tsv"
    mlr-encode --spec "$1/spec" --output "$1/train" "$1/train.tsv"
}

# mlr-synth data: its default shape (943 users, 1,682 items, 100K ratings)
S=$BENCH_TMP/synth
mkdir -p "$S"
mlr-synth --seed 1 --output "$S/all.tsv"
prepare "$S"
: >"$BENCH_TMP/synth.figs"
for r in $(seq "$REPS"); do
    mlr-train --quiet --threads "$TH" --epochs 10 --rows "$S/train" --spec "$S/spec" \
        --log "$S/log.tsv" --output "$S/model.safetensors"
    epochs_figs "$S/log.tsv" "$(($(wc -l <"$S/train.tsv") - 1))" >>"$BENCH_TMP/synth.figs"
done
epochs_row "mlr-train on mlr-synth 100K (10 epochs)" "$BENCH_TMP/synth.figs"
rm -rf "$S"

: "${MLR_DATA_DIR:=$MLR_ROOT/../shared/data}"
if [ ! -f "$MLR_DATA_DIR/ml-100k/u.data" ]; then
    echo "bench: train: no $MLR_DATA_DIR/ml-100k/u.data: the 40-epoch ML-100K time is skipped" >&2
    row "mlr-train 40 epochs ML-100K" - s - "s (PyTorch, NVIDIA H200: 6.8)" "skipped: MLR_DATA_DIR/ml-100k missing"
    exit 0
fi
D=$BENCH_TMP/ml100k
mkdir -p "$D"
mlr-ingest --format ml-100k "$MLR_DATA_DIR/ml-100k" >"$D/all.tsv"
prepare "$D"
mlr-encode --spec "$D/spec" --output "$D/test" "$D/test.tsv"
mlr-encode --as-catalogue --spec "$D/spec" --output "$D/items" "$D/train.tsv" "$D/test.tsv"
# last LOG COLUMN: the value of the log's last row
last() { awk -F'\t' -v n="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == n) c = i } END { print $c }' "$1"; }
# the 40 epochs validated once: REPS runs, the median; every epoch: one
: >"$BENCH_TMP/ml.figs"
for every in 40 1; do
    : >"$BENCH_TMP/runs"
    for r in $(seq "$([ "$every" = 40 ] && echo "$REPS" || echo 1)"); do
        /usr/bin/time -f '%e %U %S %M' -o "$BENCH_TMP/time40" mlr-train --rows "$D/train" \
            --valid "$D/test" --catalogue "$D/items" --spec "$D/spec" --epochs 40 \
            --valid-every "$every" --threads "$TH" --log "$D/log$every.tsv" \
            --output "$D/model.safetensors"
        read -r secs user sys kb <"$BENCH_TMP/time40"
        cpu=$(awk -v u="$user" -v s="$sys" 'BEGIN { printf "%.2f", u + s }')
        echo "bench: mlr-train 40 epochs, validation every $every: ${secs}s wall, ${cpu}s CPU" >&2
        echo "$secs $cpu $kb" >>"$BENCH_TMP/runs"
        [ "$every" = 1 ] || epochs_figs "$D/log40.tsv" "$(($(wc -l <"$D/train.tsv") - 1))" >>"$BENCH_TMP/ml.figs"
    done
    secs=$(cut -d' ' -f1 "$BENCH_TMP/runs" | median)
    awk -v s="$secs" '$1 == s { print; exit }' "$BENCH_TMP/runs" >"$BENCH_TMP/median"
    read -r secs cpu kb <"$BENCH_TMP/median"
    n=$(wc -l <"$BENCH_TMP/runs")
    runs=$([ "$n" = 1 ] && echo "1 run" || echo "median of $n runs ($(cut -d' ' -f1 "$BENCH_TMP/runs" | range) s)")
    what=$([ "$every" = 1 ] && echo "validation every epoch" || echo "validation once")
    row "mlr-train 40 epochs ML-100K, $what" "$secs" s 6.8 "s (PyTorch, NVIDIA H200)" \
        "$runs; $TH threads, ${cpu}s CPU, $((kb / 1024)) MB; at 40: top10 $(last "$D/log$every.tsv" top10) top100 $(last "$D/log$every.tsv" top100) rmse $(last "$D/log$every.tsv" rmse)"
done
# What the default teacher (--distill 0.3: EASE fitted, then read at
# every row's columns) costs: the same 40 epochs with and without it,
# alternated so that a busy spell falls on both.
: >"$BENCH_TMP/with"
: >"$BENCH_TMP/without"
for r in $(seq "$REPS"); do
    for d in 0.3 0; do
        /usr/bin/time -f '%e' -o "$BENCH_TMP/time40" mlr-train --rows "$D/train" --valid "$D/test" \
            --catalogue "$D/items" --spec "$D/spec" --epochs 40 --valid-every 40 --threads "$TH" \
            --distill "$d" --output "$D/model.safetensors"
        cat "$BENCH_TMP/time40" >>"$BENCH_TMP/$([ "$d" = 0 ] && echo without || echo with)"
    done
done
row "mlr-train 40 epochs ML-100K, validation once, with the default teacher" \
    "$(median <"$BENCH_TMP/with")" s "$(median <"$BENCH_TMP/without")" "s (--distill 0, same run)" \
    "medians of $REPS runs each, alternated ($(range <"$BENCH_TMP/with") s with, $(range <"$BENCH_TMP/without") s without)"
epochs_row "mlr-train on ML-100K (the 40 epochs, validation once)" "$BENCH_TMP/ml.figs"
rm -rf "$D"
