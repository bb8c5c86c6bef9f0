#!/bin/sh
# determinism.sh: the whole flow (synth -> split -> vocab -> encode ->
# train 2 epochs -> embed -> topk -> predict -> score) run twice into two
# directories with the same --seed and --threads: every output file must
# be byte-identical. A different split seed must change the split, and
# mlr-topk's output must not depend on its thread count or blocking. Both
# flows run in the same directory (then moved aside), since the model
# records the absolute path of its specification.
. "$(dirname "$0")/lib.sh"

# flow DIR SPLIT-SEED: the flow inside DIR.
flow() {
    mkdir -p "$1" && cd "$1" &&
    mlr-synth --n-users 150 --n-items 200 --n-ratings 6000 --seed 11 --output all.tsv &&
    mlr-split --seed "$2" --test-output test.tsv --output train.tsv all.tsv &&
    mlr-vocab --output spec train.tsv &&
    mlr-encode --spec spec --output enc/train train.tsv &&
    mlr-encode --spec spec --output enc/test test.tsv &&
    mlr-encode --as-catalogue --spec spec --output enc/items train.tsv test.tsv &&
    mlr-train --rows enc/train --valid enc/test --catalogue enc/items --spec spec \
        --epochs 2 --seed 5 --threads 2 --log train.log --output model.st -q &&
    mlr-embed --model model.st --rows enc/test --output query.npy --threads 2 &&
    mlr-embed --model model.st --catalogue enc/items --output items.npy --threads 2 &&
    mlr-topk --quiet --queries query.npy --query-ids query.ids --items items.npy \
        --exclude train.tsv --k 20 --threads 2 --output topk.tsv &&
    mlr-predict --model model.st --rows enc/test --output pred.tsv --threads 2 &&
    mlr-score --test test.tsv --train train.tsv --queries query.npy --items items.npy \
        --pred pred.tsv --at 10 --threads 2 --output metrics.tsv
}

for d in a b; do
    if ! (flow "$T/run" 42) 2>"$T/$d.err"; then fail "flow $d" "$(head -c 300 "$T/$d.err")"; exit 0; fi
    mv "$T/run" "$T/$d"
done

# train.log has the clock in its seconds and gflops columns: compare it
# without those
for d in a b; do
    awk -F'\t' -v OFS='\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "gflops") g = i }
        { $2 = ""; if (g) $g = ""; print }' "$T/$d/train.log" >"$T/$d.log"
    rm "$T/$d/train.log"
done
same "train.log (seconds and gflops aside)" "$T/a.log" "$T/b.log"
(cd "$T/a" && find . -type f | sort) >"$T/files.a"
(cd "$T/b" && find . -type f | sort) >"$T/files.b"
same "the same files" "$T/files.a" "$T/files.b"
n=0 differ=""
while read -r f; do
    n=$((n + 1))
    cmp -s "$T/a/$f" "$T/b/$f" || differ="$differ $f"
done <"$T/files.a"
if [ -z "$differ" ] && [ $n -ge 40 ]; then pass "all $n outputs byte-identical"
else fail "byte-identical outputs" "of $n files these differ:$differ"; fi

# a different split seed: another split
if ran "another seed's split runs" sh -c 'cd "$1" && mlr-split --seed 43 --test-output test43.tsv --output train43.tsv all.tsv' - "$T/a"; then
    check "another seed, another split" sh -c '! cmp -s "$1/test.tsv" "$1/test43.tsv"' - "$T/a"
    check "another seed, same number of test rows" \
        test "$(wc -l <"$T/a/test.tsv")" -eq "$(wc -l <"$T/a/test43.tsv")"
fi

# topk1 OPTIONS...: mlr-topk of run a into $T/a/topk1.tsv, removed first,
# so that a run that fails leaves nothing for the check to compare.
topk1() {
    rm -f "$T/a/topk1.tsv"
    # shellcheck disable=SC2086
    ran "topk $*" sh -c 'cd "$1" && shift && mlr-topk --quiet --queries query.npy --query-ids query.ids \
        --items items.npy --exclude train.tsv --k 20 "$@" --output topk1.tsv' - "$T/a" "$@"
}
# another thread count or block: the same output, scores to the last bit
# (sgemm always runs on whole tiles aligned to the row number).
for opts in "--threads 1" "--threads 1 --block 7" "--threads 2 --block 100"; do
    # shellcheck disable=SC2086
    topk1 $opts && same "topk output, scores included: $opts = --threads 2" "$T/a/topk1.tsv" "$T/a/topk.tsv"
done
# another tile: the same lists (a score's last digit may change).
cut -f1-4 "$T/a/topk.tsv" >"$T/lists2"
for opts in "--threads 2 --tile 5" "--threads 1 --tile 64"; do
    # shellcheck disable=SC2086
    topk1 $opts && cut -f1-4 "$T/a/topk1.tsv" >"$T/lists1" &&
        same "topk lists: $opts = --threads 2" "$T/lists1" "$T/lists2"
done

# MLR_SIMD=sse reaches the trainer: the exp's lanes fuse multiply-adds
# only on the AVX2 path, so on a CPU with AVX2 and FMA the model's bits
# change. (run.sh runs this whole script again with MLR_SIMD=sse: the
# SSE paths' determinism.)
if [ -n "${MLR_SIMD:-}" ]; then
    : # the SSE run of this script: nothing to compare with here
elif grep -qw avx2 /proc/cpuinfo 2>/dev/null && grep -qw fma /proc/cpuinfo; then
    rm -f "$T/a/model-sse.st"
    if ran "mlr-train with MLR_SIMD=sse" sh -c 'cd "$1" && MLR_SIMD=sse mlr-train --rows enc/train \
            --valid enc/test --catalogue enc/items --spec spec --epochs 2 --seed 5 --threads 2 \
            --output model-sse.st -q' - "$T/a"; then
        check "MLR_SIMD=sse trains another model (the SSE exp)" sh -c '! cmp -s "$1/model.st" "$1/model-sse.st"' - "$T/a"
    fi
else
    skip "MLR_SIMD=sse changes the model" "no AVX2 and FMA here"
fi
