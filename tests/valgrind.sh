#!/bin/sh
# valgrind.sh: the unit test binaries and a small flow of every tool under
# valgrind memcheck (--leak-check=full): a memory error or a definite or
# indirect leak fails. Prints "PASS name" / "FAIL name: why" and ends with
# "N passed, N failed". Slow (minutes): not part of `make test`.
#   make && sh tests/valgrind.sh            (MLR_BIN, MLR_TESTBIN to override)
#   sh tests/valgrind.sh --quick            (the tools only, no unit tests)
set -u
cd "$(dirname "$0")/.."
: "${MLR_BIN:=$PWD/bin}" "${MLR_TESTBIN:=$PWD/build/tests}"
PATH="$MLR_BIN:$PATH"
export PATH
if ! command -v valgrind >/dev/null 2>&1; then
    echo "SKIP valgrind: not installed (make deps)"
    exit 0
fi
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT
# one BLAS thread: valgrind serialises threads anyway, and the pool's
# thread stacks are not ours to free
OPENBLAS_NUM_THREADS=1
export OPENBLAS_NUM_THREADS
passed=0 failed=0
VG="valgrind -q --leak-check=full --errors-for-leak-kinds=definite,indirect --show-leak-kinds=definite,indirect --error-exitcode=99 --log-file=$T/vg.log"

# vg NAME CMD...: CMD under memcheck; exit status 99 or a report is a failure
# (the command's own status is checked too, unless NAME starts with "fails:").
vg() {
    name=$1
    shift
    $VG "$@" >"$T/out" 2>"$T/err" </dev/null
    st=$?
    case $name in fails:*) want_fail=1 ;; *) want_fail=0 ;; esac
    if [ -s "$T/vg.log" ] || [ $st -eq 99 ]; then
        echo "FAIL valgrind $name: $(grep -m3 -E 'definitely|indirectly|Invalid|uninitialised|==[0-9]+== [A-Z]' "$T/vg.log" | tr '\n' ' ' | cut -c1-300)"
        failed=$((failed + 1))
    elif [ $want_fail -eq 0 ] && [ $st -ne 0 ]; then
        echo "FAIL valgrind $name: exit $st: $(head -c 200 "$T/err")"
        failed=$((failed + 1))
    elif [ $want_fail -eq 1 ] && [ $st -eq 0 ]; then
        echo "FAIL valgrind $name: succeeded, a failure was expected"
        failed=$((failed + 1))
    else
        echo "PASS valgrind $name"
        passed=$((passed + 1))
    fi
}

if [ "${1:-}" != --quick ]; then
    for t in "$MLR_TESTBIN"/test_*; do
        [ -x "$t" ] || continue
        vg "$(basename "$t")" "$t"
    done
fi

D=$T/d
mkdir -p "$D"
vg "synth" mlr-synth --n-users 60 --n-items 80 --n-ratings 1200 --seed 3 --output "$D/all.tsv"
vg "ingest tsv" mlr-ingest --format tsv --output "$D/ing.tsv" "$D/all.tsv"
# The tiny MovieLens-shaped fixtures, under their real names (tools/lib.sh's fixture).
for n in ml100k-tiny mllatest-tiny; do
    mkdir -p "$D/$n"
    for f in tests/tools/data/$n/*.fixture; do b=${f##*/}; cp "$f" "$D/$n/${b%.fixture}"; done
done
vg "ingest ml-100k" mlr-ingest --format ml-100k --output "$D/k.tsv" "$D/ml100k-tiny"
vg "ingest ml-latest --tags" mlr-ingest --format ml-latest --tags --output "$D/l.tsv" "$D/mllatest-tiny"
vg "stats" mlr-stats --output "$D/stats.tsv" "$D/all.tsv"
vg "stats top-items" mlr-stats --table top-items --output "$D/top.tsv" "$D/all.tsv"
vg "split" mlr-split --test-output "$D/test.tsv" --output "$D/train.tsv" "$D/all.tsv"
vg "split last-n" mlr-split --by last-n --test-output "$D/t2.tsv" --output "$D/tr2.tsv" "$D/all.tsv"
vg "vocab" mlr-vocab --output "$D/spec" "$D/train.tsv"
vg "encode" mlr-encode --spec "$D/spec" --output "$D/enc" "$D/train.tsv"
vg "encode test" mlr-encode --spec "$D/spec" --output "$D/enct" "$D/test.tsv"
vg "encode --items" mlr-encode --as-catalogue --spec "$D/spec" --output "$D/items" "$D/train.tsv" "$D/test.tsv"
vg "train" mlr-train --rows "$D/enc" --valid "$D/enct" --catalogue "$D/items" --spec "$D/spec" \
    --output "$D/m.st" --log "$D/log.tsv" --dim 8 --layers 8 --rating-layers 8 --epochs 2 -q
vg "train --init" mlr-train --rows "$D/enc" --spec "$D/spec" --init "$D/m.st" \
    --output "$D/m2.st" --dim 8 --layers 8 --rating-layers 8 --epochs 1 -q
vg "embed queries" mlr-embed --model "$D/m.st" --rows "$D/enct" --output "$D/q.npy"
vg "embed items" mlr-embed --model "$D/m.st" --catalogue "$D/items" --output "$D/i.npy"
vg "predict" mlr-predict --model "$D/m.st" --rows "$D/enct" --output "$D/pred.tsv"
vg "topk" mlr-topk --quiet --queries "$D/q.npy" --query-ids "$D/q.ids" --items "$D/i.npy" \
    --exclude "$D/train.tsv" --k 10 --threads 2 --output "$D/topk.tsv"
vg "slice" mlr-slice --range 2:9 --ids "$D/q.ids" --ids-output "$D/s.ids" --output "$D/s.npy" "$D/q.npy"
vg "score embeddings" mlr-score --test "$D/test.tsv" --train "$D/train.tsv" --queries "$D/q.npy" \
    --items "$D/i.npy" --pred "$D/pred.tsv" --threads 2 --output "$D/m1.tsv"
vg "score lists" mlr-score --test "$D/test.tsv" --train "$D/train.tsv" --topk "$D/topk.tsv" --output "$D/m2.tsv"
vg "baseline pop" mlr-baseline --kind pop --train "$D/train.tsv" --test "$D/test.tsv" --k 10 --output "$D/b1.tsv"
vg "baseline ease" mlr-baseline --kind ease --train "$D/train.tsv" --test "$D/test.tsv" --k 10 --output "$D/b2.tsv"
# failures: the path that dies must not trip memcheck either
printf 'user_id\titem_id\n1\n' >"$D/short.tsv"
vg "fails: split on a short row" mlr-split --test-output "$D/x.tsv" "$D/short.tsv"
head -c 999 "$D/m.st" >"$D/bad.st"
vg "fails: embed on a truncated model" mlr-embed --model "$D/bad.st" --rows "$D/enct" --output "$D/x.npy"
echo "$passed passed, $failed failed"
[ "$failed" -eq 0 ]
