#!/bin/sh
# mlr-topk: golden lists on integer embeddings full of ties (expected files
# made independently by eval/make_fixtures.py with numpy), streaming from a
# pipe, blocks/tiles/threads giving the same bytes, exclusion, bad inputs.
. "$(dirname "$0")/lib.sh"
E=$MLR_ROOT/tests/tools/eval

# npy_zeros ROWS COLS FILE: a (ROWS, COLS) <f4 .npy of zeros, no numpy needed.
npy_zeros() {
    h="{'descr': '<f4', 'fortran_order': False, 'shape': ($1, $2), }"
    while [ $(( (10 + ${#h} + 1) % 64 )) -ne 0 ]; do h="$h "; done
    { printf '\223NUMPY\001\000'; printf "\\$(printf %03o $(( ${#h} + 1 )))\\000"
      printf '%s\n' "$h"; head -c $(( $1 * $2 * 4 )) /dev/zero; } >"$3"
}

# The lists begin with their fingerprint line (docs/fingerprint.md): the
# golden files hold what follows it. body FILE: FILE without that line.
body() { sed 1d "$1" >"$1.body"; }
mlr-topk --queries "$E/Q.npy" --items "$E/I.npy" --k 5 >"$T/k5.tsv" 2>"$T/err"
check "topk: the fingerprint line of unfingerprinted embeddings, no exclusion" \
    test "$(head -1 "$T/k5.tsv")" = "#mlrec exclude=none"
body "$T/k5.tsv"
same "topk k=5 golden" "$T/k5.tsv.body" "$E/expected_topk_k5.tsv"
check "topk quiet on stderr" test ! -s "$T/err"

cat "$E/Q.npy" | mlr-topk --queries - --items "$E/I.npy" --item-ids "$E/I.ids" --k 5 \
    --block 5 --tile 2 --threads 3 >"$T/pipe.tsv"
body "$T/pipe.tsv"
same "topk from a pipe, small blocks, 3 threads" "$T/pipe.tsv.body" "$E/expected_topk_k5.tsv"

mlr-topk --queries "$E/Q.npy" --query-ids "$E/Q.ids" --items "$E/I.npy" --k 40 \
    --exclude "$E/train.tsv" --threads 1 >"$T/x.tsv"
check "topk --exclude: the lists name the excluded table's SHA-256" \
    test "$(head -1 "$T/x.tsv")" = "#mlrec exclude=$(sha256sum "$E/train.tsv" | cut -c1-64)"
body "$T/x.tsv"
same "topk --exclude, k above the catalogue" "$T/x.tsv.body" "$E/expected_topk_excl_k40.tsv"

mlr-topk --queries "$E/Q.npy" --items "$E/I.npy" --k 5 --output "$T/o.tsv" >"$T/stdout"
body "$T/o.tsv"
same "topk --output" "$T/o.tsv.body" "$E/expected_topk_k5.tsv"
check "topk --output leaves stdout empty" test ! -s "$T/stdout"

# Enough rows (2 MB) that the writer meets the closed pipe.
npy_zeros 20000 4 "$T/zeros.npy"
{ mlr-topk --queries "$T/zeros.npy" --items "$E/I.npy" --k 5 2>"$T/err"; echo $? >"$T/status"; } |
    head -3 >"$T/head"
check "topk | head -3 exits 0" test "$(cat "$T/status")" -eq 0
check "topk | head -3 says nothing" test ! -s "$T/err"
printf '#mlrec exclude=none\nquery\trank\titem_id\tscore\n0\t1\tm00\t0\n' >"$T/head3"
same "topk | head -3 output" "$T/head" "$T/head3"

mlr-topk --help >"$T/help"
check "topk --help on stdout" grep -q "^usage: mlr-topk" "$T/help"

# Bad inputs: one line naming the file, status 1; usage errors status 2.
head -c 200 "$E/Q.npy" >"$T/trunc.npy"
expect_fail "topk truncated npy" 1 "trunc.npy: truncated" \
    mlr-topk --queries "$T/trunc.npy" --items "$E/I.npy"
npy_zeros 3 16 "$T/q16.npy"
expect_fail "topk dims mismatch" 1 "q16.npy has 16 columns, .*I.npy 4" \
    mlr-topk --queries "$T/q16.npy" --items "$E/I.npy"
head -5 "$E/I.ids" >"$T/short.ids"
expect_fail "topk ids with the wrong row count" 1 "short.ids has 4 rows, .*I.npy 30" \
    mlr-topk --queries "$E/Q.npy" --items "$E/I.npy" --item-ids "$T/short.ids"
printf 'name\nx\n' >"$T/nocol.ids"
expect_fail "topk ids without an id column" 1 "no column 'id'" \
    mlr-topk --queries "$E/Q.npy" --items "$E/I.npy" --item-ids "$T/nocol.ids"
head -5 "$E/Q.ids" >"$T/qshort.ids"
expect_fail "topk query ids with the wrong row count" 1 "qshort.ids has 4 rows" \
    mlr-topk --queries "$E/Q.npy" --items "$E/I.npy" --query-ids "$T/qshort.ids"
printf 'user_id\tgenre\nu1\tx\n' >"$T/bad.tsv"
expect_fail "topk --exclude without item_id" 1 "no column 'item_id'" \
    mlr-topk --queries "$E/Q.npy" --items "$E/I.npy" --query-ids "$E/Q.ids" --exclude "$T/bad.tsv"
expect_fail "topk --exclude without --query-ids" 2 "needs --query-ids" \
    mlr-topk --queries "$E/Q.npy" --items "$E/I.npy" --exclude "$E/train.tsv"
expect_fail "topk without --items" 2 "required" mlr-topk --queries "$E/Q.npy"
expect_fail "topk bad --k" 2 "k" mlr-topk --queries "$E/Q.npy" --items "$E/I.npy" --k 0
printf 'not an npy file at all, not at all\n' >"$T/junk.npy"
expect_fail "topk bad magic" 1 "junk.npy" mlr-topk --queries "$T/junk.npy" --items "$E/I.npy"

# A failing run leaves an earlier --output as it was.
cp "$E/expected_topk_k5.tsv" "$T/keep.tsv"
expect_fail "topk truncated queries into --output" 1 "trunc.npy" \
    mlr-topk --queries "$T/trunc.npy" --items "$E/I.npy" --output "$T/keep.tsv"
same "topk failure keeps the old output" "$T/keep.tsv" "$E/expected_topk_k5.tsv"

# More data than the header says; a NaN in the queries.
{ cat "$E/Q.npy"; printf 'xxxx'; } >"$T/long.npy"
expect_fail "topk data beyond the header's rows" 1 "long.npy: data beyond the 24 rows" \
    mlr-topk --queries "$T/long.npy" --items "$E/I.npy"
npy_zeros 2 4 "$T/nan.npy"
{ head -c $(( $(wc -c <"$T/nan.npy") - 4 )) "$T/nan.npy"; printf '\000\000\300\177'; } >"$T/nan2.npy"
expect_fail "topk a NaN in the queries" 1 "nan2.npy: row 1: non-finite value" \
    mlr-topk --queries "$T/nan2.npy" --items "$E/I.npy"

# Fingerprints (docs/fingerprint.md): queries and items of one model pass
# and the lists carry it; of two models, one line names both.
A=$(printf 'a%.0s' $(seq 64)) B=$(printf 'b%.0s' $(seq 64))
mkdir -p "$T/fp"
cp "$E/Q.npy" "$E/I.npy" "$T/fp/"
{ echo "#mlrec model=$A"; cat "$E/Q.ids"; } >"$T/fp/Q.ids"
{ echo "#mlrec model=$A"; cat "$E/I.ids"; } >"$T/fp/I.ids"
{ echo "#mlrec model=$B"; cat "$E/I.ids"; } >"$T/fp/I2.ids"
ran -o "$T/fp/l.tsv" "topk: queries and items of one model" \
    mlr-topk --queries "$T/fp/Q.npy" --query-ids "$T/fp/Q.ids" --items "$T/fp/I.npy" --k 5 &&
    check "topk: the lists carry the model's fingerprint" test "$(head -1 "$T/fp/l.tsv")" = "#mlrec model=$A exclude=none"
expect_fail "topk: queries and items of two models" 1 \
    "Q.ids is of model aaaaaaaaaaaa, .*I2.ids of model bbbbbbbbbbbb: outputs of two models" \
    mlr-topk --queries "$T/fp/Q.npy" --query-ids "$T/fp/Q.ids" --items "$T/fp/I.npy" --item-ids "$T/fp/I2.ids"
# Without --query-ids, Q.ids beside Q.npy still names Q's model.
cp "$T/fp/I2.ids" "$T/fp/I.ids"
expect_fail "topk: two models, the queries' Q.ids found beside Q.npy" 1 "Q.ids is of model aaaaaaaaaaaa" \
    mlr-topk --queries "$T/fp/Q.npy" --items "$T/fp/I.npy"
# Query ids with the row's own item_id: the lists carry the row's key.
{ echo "#mlrec model=$B"; printf 'id\titem_id\n'; sed 1d "$E/Q.ids" | awk '{ print $0 "\tm" NR }'; } >"$T/fp/Qk.ids"
ran -o "$T/fp/k.tsv" "topk: keyed query ids" \
    mlr-topk --queries "$T/fp/Q.npy" --query-ids "$T/fp/Qk.ids" --items "$T/fp/I.npy" --k 2 &&
    check "topk: keyed query ids give user_id and row_item_id" \
        test "$(sed -n '2p;3p' "$T/fp/k.tsv" | cut -f1-4 | tr '\t\n' ',;')" = "query,user_id,row_item_id,rank;0,$(sed -n 2p "$E/Q.ids"),m1,1;"
