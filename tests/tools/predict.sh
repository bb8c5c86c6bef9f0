#!/bin/sh
# mlr-predict: golden predictions of the hand-made model of
# tests/tools/data/tiny-model.py (rating = q0 + c0 + 0.25, exact in float);
# unknown users and items (id 0); errors: a tensor missing, a spec
# mismatch, a truncated model, rows.tsv disagreeing with the tensors.
. "$(dirname "$0")/lib.sh"
if ! /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    skip "mlr-predict" "no /usr/bin/python3 with numpy to write the hand-made model"
    exit 0
fi
PY=/usr/bin/python3
TINY=$MLR_ROOT/tests/tools/data/tiny-model.py

printf 'user_id\titem_id\trating\nu1\ti1\t5\nu2\ti2\t3\nu1\ti3\t4\nu3\ti2\t1\n' >"$T/t.tsv"
printf 'user_id\titem_id\nu1\ti1\nu9\ti2\nu3\ti9\n' >"$T/new.tsv"
mlr-vocab --output "$T/spec" "$T/t.tsv" &&
    mlr-encode --spec "$T/spec" --output "$T/enc" "$T/t.tsv" &&
    mlr-encode --spec "$T/spec" --output "$T/new" "$T/new.tsv" || fail "setup" "vocab/encode failed"
SHA=$(cat "$T/enc/spec.sha256")
$PY "$TINY" "$T/m.safetensors" "$SHA"
FP=$(sha256sum "$T/m.safetensors" | cut -c1-64) # the fingerprint: docs/fingerprint.md

# user ids u1 1, u2 2, u3 3 -> q0 = k + 0.5; item ids i2 1, i1 2, i3 3 -> c0 = k
mlr-predict --model "$T/m.safetensors" --rows "$T/enc" >"$T/p.tsv"
printf '#mlrec model=%s\nuser_id\titem_id\tprediction\nu1\ti1\t3.75\nu2\ti2\t3.75\nu1\ti3\t4.75\nu3\ti2\t4.75\n' "$FP" >"$T/p.want"
same "predictions, after the model's fingerprint" "$T/p.tsv" "$T/p.want"
# unknown ids are row 0: u9 -> 0.5, i9 -> 0
mlr-predict --model "$T/m.safetensors" "$T/new" --output "$T/n.tsv"
printf '#mlrec model=%s\nuser_id\titem_id\tprediction\nu1\ti1\t3.75\nu9\ti2\t1.75\nu3\ti9\t3.75\n' "$FP" >"$T/n.want"
same "unknown users and items" "$T/n.tsv" "$T/n.want"

cp "$T/n.tsv" "$T/keep.tsv"
$PY "$TINY" "$T/drop.safetensors" "$SHA" drop=rating.dense.0.bias
expect_fail "tensor missing" 1 "tensor 'rating.dense.0.bias' missing" \
    mlr-predict --model "$T/drop.safetensors" "$T/enc" --output "$T/n.tsv"
$PY "$TINY" "$T/sha.safetensors" "$(echo "$SHA" | tr 0-9a-f 1-9a-f0)"
mlr-predict --model "$T/sha.safetensors" "$T/enc" --output "$T/n.tsv" 2>"$T/err"
check "spec mismatch: status 1" test $? -eq 1
check "spec mismatch: named, with what to rerun, on one line" sh -c "grep -q 'enc/spec.sha256: encoded with another.*rerun mlr-encode' '$T/err' && test \$(wc -l <'$T/err') -eq 1"
head -c 100 "$T/m.safetensors" >"$T/cut.safetensors"
expect_fail "truncated model" 1 "cut.safetensors: safetensors" \
    mlr-predict --model "$T/cut.safetensors" "$T/enc" --output "$T/n.tsv"
printf 'user_id\titem_id\nu1\ti1\n' >"$T/new/rows.tsv"
expect_fail "rows.tsv shorter than the tensors" 1 "rows.tsv: 1 rows, the encoded tensors have 3" \
    mlr-predict --model "$T/m.safetensors" "$T/new" --output "$T/n.tsv"
expect_fail "no --model" 2 "required" mlr-predict "$T/enc"
same "errors leave the output" "$T/n.tsv" "$T/keep.tsv"
mlr-predict --model "$T/m.safetensors" "$T/enc" | head -2 >"$T/head"
check "closed pipe is fine" grep -q prediction "$T/head"
