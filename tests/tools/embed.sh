#!/bin/sh
# mlr-embed: golden embeddings of a hand-made model with exact weights
# (tests/tools/data/tiny-model.py) on four encoded rows and their catalogue;
# '-' streams the .npy; errors: a tensor missing, another format or
# version, a spec mismatch, a truncated model, a missing model.
. "$(dirname "$0")/lib.sh"
if ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    skip "mlr-embed" "no /usr/bin/python3 with numpy to write the hand-made model"
    exit 0
fi
PY=/usr/bin/python3
TINY=$MLR_ROOT/tests/tools/data/tiny-model.py

printf 'user_id\titem_id\trating\nu1\ti1\t5\nu2\ti2\t3\nu1\ti3\t4\nu3\ti2\t1\n' >"$T/t.tsv"
mlr-vocab --output "$T/spec" "$T/t.tsv" &&
    mlr-encode --spec "$T/spec" --output "$T/enc" "$T/t.tsv" &&
    mlr-encode --as-catalogue --spec "$T/spec" --output "$T/items" "$T/t.tsv" || fail "setup" "vocab/encode failed"
SHA=$(cat "$T/enc/spec.sha256")
$PY "$TINY" "$T/m.safetensors" "$SHA"
# The model's fingerprint (docs/fingerprint.md): the SHA-256 of its file.
FP=$(sha256sum "$T/m.safetensors" | cut -c1-64)

# dump X.npy: the shape and values, one row per line
dump() { $PY -c 'import io, sys, numpy as np
a = np.load(sys.argv[1] if sys.argv[1] != "-" else io.BytesIO(sys.stdin.buffer.read()))
print(a.dtype.str, a.shape)
for r in a: print(" ".join("%g" % v for v in r))' "$1"; }

# u1, u2, u1, u3 have ids 1, 2, 1, 3: q = [k + 0.5, -2k - 1]
mlr-embed --model "$T/m.safetensors" --rows "$T/enc" --output "$T/q.npy"
dump "$T/q.npy" >"$T/q.txt"
printf "<f4 (4, 2)\n1.5 -3\n2.5 -5\n1.5 -3\n3.5 -7\n" >"$T/q.want"
same "query embeddings" "$T/q.txt" "$T/q.want"
printf '#mlrec model=%s\nid\titem_id\nu1\ti1\nu2\ti2\nu1\ti3\nu3\ti2\n' "$FP" >"$T/q.ids.want"
same "query ids beside: the model's fingerprint, each row's key" "$T/q.ids" "$T/q.ids.want"

# catalogue i1, i2, i3 (bytewise); ids by count: i2 = 1, i1 = 2, i3 = 3
mlr-embed --model "$T/m.safetensors" --catalogue "$T/items" --output "$T/i.npy"
dump "$T/i.npy" >"$T/i.txt"
printf "<f4 (3, 2)\n2 0.5\n1 0.5\n3 0.5\n" >"$T/i.want"
same "item embeddings" "$T/i.txt" "$T/i.want"
printf '#mlrec model=%s\nid\ni1\ni2\ni3\n' "$FP" >"$T/i.ids.want"
same "item ids beside, the model's fingerprint first" "$T/i.ids" "$T/i.ids.want"
check "numpy.load reads the .npy beside a fingerprinted .ids" $PY -c 'import sys, numpy; numpy.load(sys.argv[1])' "$T/i.npy"

mlr-embed --model "$T/m.safetensors" --catalogue "$T/items" --output - | dump - >"$T/s.txt"
same "'-' streams the npy" "$T/s.txt" "$T/i.want"

# The popularity prior (weight 0.5, item k's log(1 + count) = k): one
# more column, 1 in a query row, 0.5 k in item k's row.
$PY "$TINY" "$T/pop.safetensors" "$SHA" popularity=0.5
mlr-embed --model "$T/pop.safetensors" --rows "$T/enc" --output "$T/pq.npy"
dump "$T/pq.npy" >"$T/pq.txt"
printf "<f4 (4, 3)\n1.5 -3 1\n2.5 -5 1\n1.5 -3 1\n3.5 -7 1\n" >"$T/pq.want"
same "the prior: a query row ends in 1" "$T/pq.txt" "$T/pq.want"
mlr-embed --model "$T/pop.safetensors" --catalogue "$T/items" --output "$T/pi.npy"
dump "$T/pi.npy" >"$T/pi.txt"
printf "<f4 (3, 3)\n2 0.5 1\n1 0.5 0.5\n3 0.5 1.5\n" >"$T/pi.want"
same "the prior: an item row ends in its weighted log count" "$T/pi.txt" "$T/pi.want"
$PY "$TINY" "$T/nopop.safetensors" "$SHA" popularity=0.5 drop=cand.popularity
expect_fail "the prior's counts missing" 1 "tensor 'cand.popularity' missing" \
    mlr-embed --model "$T/nopop.safetensors" --catalogue "$T/items" --output "$T/pi.npy"

# errors: nothing written, earlier outputs untouched
cp "$T/i.npy" "$T/keep.npy"
$PY "$TINY" "$T/drop.safetensors" "$SHA" drop=query.dense.0.weight
expect_fail "tensor missing" 1 "drop.safetensors: tensor 'query.dense.0.weight' missing" \
    mlr-embed --model "$T/drop.safetensors" --catalogue "$T/items" --output "$T/i.npy"
$PY "$TINY" "$T/v2.safetensors" "$SHA" version=2
mlr-embed --model "$T/v2.safetensors" --catalogue "$T/items" --output "$T/i.npy" 2>"$T/err"
check "version 2: status 1" test $? -eq 1
check "version 2: named, with what to do, on one line" sh -c "grep -q \"model version '2'.*retrain the model\" '$T/err' && test \$(wc -l <'$T/err') -eq 1"
$PY "$TINY" "$T/fmt.safetensors" "$SHA" format=other
expect_fail "another format" 1 "not an mlrec model" \
    mlr-embed --model "$T/fmt.safetensors" --catalogue "$T/items" --output "$T/i.npy"
$PY "$TINY" "$T/sha.safetensors" "$(echo "$SHA" | tr 0-9a-f 1-9a-f0)"
mlr-embed --model "$T/sha.safetensors" --rows "$T/enc" --output "$T/i.npy" 2>"$T/err"
check "spec mismatch: status 1" test $? -eq 1
check "spec mismatch: named" grep -q "spec.sha256: encoded with another feature specification" "$T/err"
head -c 300 "$T/m.safetensors" >"$T/cut.safetensors"
expect_fail "truncated model" 1 "cut.safetensors: safetensors" \
    mlr-embed --model "$T/cut.safetensors" --catalogue "$T/items" --output "$T/i.npy"
expect_fail "missing model" 1 "nothing.safetensors: cannot open" \
    mlr-embed --model "$T/nothing.safetensors" --catalogue "$T/items" --output "$T/i.npy"
expect_fail "both --queries and --items" 2 "one of" \
    mlr-embed --model "$T/m.safetensors" --catalogue "$T/items" --rows "$T/enc" --output "$T/i.npy"
expect_fail "no --output" 2 "required" mlr-embed --model "$T/m.safetensors" --catalogue "$T/items"
same "errors leave the output" "$T/i.npy" "$T/keep.npy"
mlr-embed --help >"$T/help"
check "--help on stdout" grep -q "^usage: mlr-embed" "$T/help"
