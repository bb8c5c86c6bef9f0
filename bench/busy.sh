#!/bin/sh
# busy: mlr-train on a busy machine (issue 17). 10 epochs of ML-100K with
# --threads 2 while the benchmark itself runs a loop of short processes
# (sh -c 'while :; do /bin/true; done': a build or a shell script's
# bursts of preemption), against --threads 1 under the same load
# (target: ratio <= 0.9) and against --threads 2 idle; and 2 threads
# with --no-pin under the load (the threads free to move: the scheduler
# stacks them on one CPU, docs/performance.md). BUSY_REPS rounds (3),
# each: 2 threads idle, then under the load 2 and 1 threads (their order
# alternating by round) and 2 with --no-pin; the figures are medians,
# the runs in the note. Needs MLR_DATA_DIR/ml-100k, else a "skipped" row.
. "$(dirname "$0")/lib.sh"
: "${MLR_DATA_DIR:=$MLR_ROOT/../shared/data}"
if [ ! -f "$MLR_DATA_DIR/ml-100k/u.data" ]; then
    echo "bench: busy: no $MLR_DATA_DIR/ml-100k/u.data: skipped" >&2
    row "mlr-train 10 epochs ML-100K, 2 threads beside a loop of short processes" - s - \
        "s (1 thread, same load)" "skipped: MLR_DATA_DIR/ml-100k missing"
    exit 0
fi
D=$BENCH_TMP/busy
mkdir -p "$D"
mlr-ingest --format ml-100k "$MLR_DATA_DIR/ml-100k" >"$D/all.tsv"
mlr-split --seed 42 --test-fraction 0.2 --output "$D/train.tsv" --test-output "$D/test.tsv" "$D/all.tsv"
mlr-vocab --output "$D/spec" "$D/train.tsv"
mlr-encode --spec "$D/spec" --output "$D/train" "$D/train.tsv"

load=
stop_load() { [ -z "$load" ] || { kill "$load" 2>/dev/null; wait "$load" 2>/dev/null || :; load=; }; }
trap 'stop_load' EXIT
# run NAME THREADS [OPTION]: 10 epochs, the wall seconds appended to $D/NAME
run() {
    timed "busy: $1 round $r" mlr-train --quiet --rows "$D/train" --spec "$D/spec" --epochs 10 \
        --threads "$2" ${3:+"$3"} --output "$D/model.safetensors"
    echo "$SECS" >>"$D/$1"
}
: >"$D/idle2"; : >"$D/busy2"; : >"$D/busy1"; : >"$D/free2"
for r in $(seq "${BUSY_REPS:-3}"); do
    run idle2 2
    sh -c 'while :; do /bin/true; done' &
    load=$!
    if [ $((r % 2)) = 1 ]; then run busy2 2; run busy1 1; else run busy1 1; run busy2 2; fi
    run free2 2 --no-pin
    stop_load
done
runs() { tr '\n' ' ' <"$D/$1" | sed 's/ $//'; }
b2=$(median <"$D/busy2") b1=$(median <"$D/busy1") i2=$(median <"$D/idle2") f2=$(median <"$D/free2")
row "mlr-train 10 epochs ML-100K, 2 threads beside a loop of short processes" "$b2" s "$b1" \
    "s (1 thread, same load)" "medians of $(wc -l <"$D/busy2") alternated runs: 2 threads $(runs busy2), 1 thread $(runs busy1); target ratio <= 0.9"
row "mlr-train 10 epochs ML-100K, 2 threads beside a loop of short processes, against idle" "$b2" s "$i2" \
    "s (2 threads, no load)" "idle runs $(runs idle2); the machine's other load (other users) is not controlled"
row "mlr-train 10 epochs ML-100K, 2 threads beside a loop of short processes, against --no-pin" "$b2" s "$f2" \
    "s (2 threads free to move, same load)" "--no-pin runs $(runs free2): unpinned, the scheduler stacks the threads on one CPU"
rm -rf "$D"
