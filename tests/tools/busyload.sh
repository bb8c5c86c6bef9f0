#!/bin/sh
# mlr-train on a busy machine (issue 17): the same seed gives the same
# model bytes on 1, 2 and 3 threads, idle and beside a loop of short
# processes (the load that preempts threads in bursts), pinned to their
# CPUs or not (--no-pin), at batch sizes that cut a step into 2, 4 and 8
# pieces. mlr-embed (12 chunks of rows)
# and mlr-topk (their tiles) give the same bytes on 3 threads under the
# load as on 1 idle.
. "$(dirname "$0")/lib.sh"

D=$T/syn
mkdir -p "$D"
if ! { mlr-synth --n-users 200 --n-items 300 --n-ratings 12000 --seed 5 --taste 20 >"$D/all.tsv" &&
    mlr-vocab --output "$D/spec" "$D/all.tsv" &&
    mlr-encode --spec "$D/spec" --output "$D/enc" "$D/all.tsv" &&
    mlr-encode --as-catalogue --spec "$D/spec" --output "$D/items" "$D/all.tsv"; } 2>"$T/setup.err"; then
    fail "synthetic data" "$(head -c 300 "$T/setup.err")"
    exit 0
fi

# train OUT THREADS BATCH [OPTION]: 2 epochs, seed 9
train() {
    mlr-train --quiet --rows "$D/enc" --spec "$D/spec" --epochs 2 --seed 9 \
        --threads "$2" --batch-size "$3" ${4:+"$4"} --output "$1" 2>"$T/train.err" ||
        fail "mlr-train --threads $2 --batch-size $3" "$(head -c 300 "$T/train.err")"
}

# the idle runs first, then the same beside the load
for batch in 200 512 1024; do
    train "$T/idle1-$batch" 1 "$batch"
    train "$T/idle2-$batch" 2 "$batch"
done
sh -c 'while :; do /bin/true; done' &
load=$!
trap 'kill "$load" 2>/dev/null; rm -rf "$T"' EXIT
for batch in 200 512 1024; do
    train "$T/busy2-$batch" 2 "$batch"
    train "$T/busy3-$batch" 3 "$batch"
done
train "$T/free2-512" 2 512 --no-pin
# embed ENCDIR OUT THREADS; topk Q OUT THREADS
embed() { mlr-embed --model "$T/idle1-512" --rows "$1" --threads "$3" --output "$2" 2>"$T/embed.err" ||
    fail "mlr-embed --threads $3" "$(head -c 300 "$T/embed.err")"; }
topk() { mlr-topk --quiet --queries "$1" --items "$T/items.npy" --k 5 --block 2048 --tile 64 \
    --threads "$3" --output "$2" 2>"$T/topk.err" || fail "mlr-topk --threads $3" "$(head -c 300 "$T/topk.err")"; }
embed "$D/enc" "$T/q3.npy" 3
mlr-embed --model "$T/idle1-512" --catalogue "$D/items" --output "$T/items.npy" 2>"$T/embed.err" ||
    fail "mlr-embed --catalogue" "$(head -c 300 "$T/embed.err")"
topk "$T/q3.npy" "$T/top3.tsv" 3
kill "$load"
embed "$D/enc" "$T/q1.npy" 1
topk "$T/q1.npy" "$T/top1.tsv" 1
same "mlr-embed: 3 threads under load = 1 thread idle" "$T/q3.npy" "$T/q1.npy"
same "mlr-topk: 3 threads under load = 1 thread idle" "$T/top3.tsv" "$T/top1.tsv"
for batch in 200 512 1024; do
    same "batch $batch: 2 threads idle = 1 thread" "$T/idle2-$batch" "$T/idle1-$batch"
    same "batch $batch: 2 threads under load = 1 thread idle" "$T/busy2-$batch" "$T/idle1-$batch"
    same "batch $batch: 3 threads under load = 1 thread idle" "$T/busy3-$batch" "$T/idle1-$batch"
done
same "--no-pin: 2 threads under load = 1 thread idle" "$T/free2-512" "$T/idle1-512"
check "another batch size, another model" sh -c "! cmp -s '$T/idle1-512' '$T/idle1-1024'"
