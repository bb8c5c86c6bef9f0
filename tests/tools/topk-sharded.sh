#!/bin/sh
# pipelines/topk-sharded.sh: the merged shards equal one mlr-topk run byte
# for byte (ids, exclusions, several shard counts, blocks and threads, a
# file and stdout, parallel's ':' sshlogin), and a failing shard fails the
# whole run leaving the earlier output untouched.
. "$(dirname "$0")/lib.sh"
S=$MLR_ROOT/pipelines/topk-sharded.sh
command -v parallel >/dev/null 2>&1 || { skip "topk-sharded" "GNU parallel is not installed"; exit 0; }

f4 1000 8 1 >"$T/q.npy"
f4 300 8 2 >"$T/i.npy"
awk 'BEGIN { print "id"; for (i = 0; i < 1000; i++) print "u" (i * 7) % 61 }' >"$T/q.ids"
awk 'BEGIN { print "id"; for (i = 0; i < 300; i++) print "m" i }' >"$T/i.ids"
# Exclusions: 4000 (user, item) pairs, some repeated.
awk 'BEGIN { srand(3); print "user_id\titem_id\trating"
    for (i = 0; i < 4000; i++) print "u" int(rand() * 61) "\tm" int(rand() * 300) "\t4" }' >"$T/train.tsv"
check "the hand-made queries read back (1000 rows)" test "$(mlr-slice --count "$T/q.npy")" = 1000

# same_as_single NAME SHARDED-OPTIONS -- TOPK-OPTIONS
same_as_single() {
    name=$1; shift
    sopts=
    while [ "$1" != -- ]; do sopts="$sopts $1"; shift; done; shift
    mlr-topk --quiet --queries "$T/q.npy" --items "$T/i.npy" "$@" --output "$T/single.tsv"
    # shellcheck disable=SC2086
    if sh "$S" $sopts --queries "$T/q.npy" --items "$T/i.npy" "$@" --quiet --output "$T/sharded.tsv" 2>"$T/err"; then
        same "$name" "$T/sharded.tsv" "$T/single.tsv"
    else fail "$name" "status $?: $(head -c 300 "$T/err")"; fi
}
same_as_single "4 shards, ids and exclusions, k 20, block 64" --shards 4 --jobs 2 -- \
    --query-ids "$T/q.ids" --exclude "$T/train.tsv" --k 20 --block 64 --threads 1
same_as_single "7 shards, 2 threads each, block 50" --shards 7 --jobs 2 -- \
    --query-ids "$T/q.ids" --k 10 --block 50 --threads 2
same_as_single "no query ids, k 100, default block (1 shard)" --shards 3 -- --k 100 --threads 2
same_as_single "more shards than blocks, k larger than the catalogue" --shards 40 --jobs 2 -- \
    --k 500 --block 100 --threads 1
same_as_single "parallel's ':' sshlogin (this machine through the ssh path)" --shards 3 --jobs 1 \
    --sshlogin : -- --query-ids "$T/q.ids" --k 5 --block 128 --threads 1

# Standard output, and the stage lines on stderr.
mlr-topk --quiet --queries "$T/q.npy" --items "$T/i.npy" --k 3 --block 100 --threads 1 >"$T/single.tsv"
mkdir "$T/tmpd" # a TMPDIR of its own: other runs may share /tmp
TMPDIR=$T/tmpd sh "$S" --shards 5 --queries "$T/q.npy" --items "$T/i.npy" --k 3 --block 100 --threads 1 --quiet \
    >"$T/stdout.tsv" 2>"$T/err"
same "to stdout" "$T/stdout.tsv" "$T/single.tsv"
check "stages on stderr" grep -q '^topk-sharded: 1000 queries in 5 shards' "$T/err"
check "no work directory left in TMPDIR" test -z "$(ls -A "$T/tmpd")"

# Failures: a missing catalogue, a bad option; the earlier output stays.
cp "$T/single.tsv" "$T/keep.tsv"
sh "$S" --shards 2 --queries "$T/q.npy" --items "$T/i.npy" --item-ids "$T/nope.ids" --k 3 \
    --output "$T/keep.tsv" >/dev/null 2>"$T/err"
check "a failing shard: status 1" test $? -eq 1
check "a failing shard: mlr-topk's message shown" grep -q 'nope.ids' "$T/err"
same "a failing shard: the earlier output untouched" "$T/keep.tsv" "$T/single.tsv"
check "a failing shard: no work directory left beside the output" test -z "$(ls "$T" | grep '^topk-sharded\.')"
sh "$S" --items "$T/i.npy" >/dev/null 2>&1
check "no --queries: status 2" test $? -eq 2
sh "$S" --jobs 0 --queries "$T/q.npy" --items "$T/i.npy" >/dev/null 2>&1
check "--jobs 0: status 2" test $? -eq 2

# Names travel as data (issue 16): every file named with quotes, $(...),
# backquotes, a space, a newline (queries, ids, items, exclusions, output,
# --tmpdir), here and through parallel's ssh path, and the same names with
# a leading dash and a backslash: nothing in them runs (no canary),
# the output is the single run's.
cd "$T" || exit 1
N1="n'\"\$(touch canary)\"'b \`touch canary\` \$(touch canary); touch canary
\$(touch canary) #x"
mlr-topk --quiet --queries "$T/q.npy" --query-ids "$T/q.ids" --items "$T/i.npy" --exclude "$T/train.tsv" \
    --k 5 --block 128 --threads 1 --output "$T/single.tsv"
for via in here : -dash; do
    N=$N1
    if [ "$via" = : ]; then set -- --sshlogin :; else set --; fi
    [ "$via" != -dash ] || N="-$N1 \\n"
    mkdir -p -- "$N.d"
    for f in q.npy q.ids i.npy i.ids train.tsv; do cp -- "$T/$f" "$N.$f"; done
    rm -f -- "$N.out"
    sh "$S" --shards 3 --jobs 2 "$@" --queries "$N.q.npy" --query-ids "$N.q.ids" --items "$N.i.npy" \
        --item-ids "$N.i.ids" --exclude "$N.train.tsv" --k 5 --block 128 --threads 1 --quiet \
        --tmpdir "$N.d" --output "$N.out" 2>"$T/err"
    st=$?
    check "a hostile name ($via): status 0" test $st -eq 0
    [ "$st" -eq 0 ] || head -c 300 "$T/err" | sed 's/^/    /'
    same "a hostile name ($via): the single run's output" "$T/$N.out" "$T/single.tsv"
    check "a hostile name ($via): nothing in the names ran" test -z "$(find "$T" -name canary)"
    check "a hostile name ($via): no work directory left in --tmpdir" test -z "$(ls -A -- "$N.d")"
done
sh "$S" --queries "$T/q.npy" --items "$T/i.npy" --k 5 "--quiet;touch canary" >/dev/null 2>"$T/err"
check "a hostile mlr-topk option: status 2" test $? -eq 2
check "a hostile mlr-topk option: said so" grep -q 'not an option of mlr-topk' "$T/err"
check "a hostile mlr-topk option: nothing ran" test -z "$(find "$T" -name canary)"
