#!/bin/sh
# mlr-score: figures from embeddings and from lists against an independent
# numpy computation (eval/make_fixtures.py), RMSE/MAE, bad inputs.
. "$(dirname "$0")/lib.sh"
E=$MLR_ROOT/tests/tools/eval

mlr-score --test "$E/test.tsv" --train "$E/train.tsv" --queries "$E/Q.npy" --items "$E/I.npy" \
    --pred "$E/pred.tsv" --at 10,5 >"$T/s.tsv"
same "score from embeddings golden" "$T/s.tsv" "$E/expected_score.tsv"

cat "$E/Q.npy" | mlr-score --test "$E/test.tsv" --train "$E/train.tsv" --queries - \
    --items "$E/I.npy" --item-ids "$E/I.ids" --pred "$E/pred.tsv" --at 10,5 --block 3 --threads 2 >"$T/p.tsv"
same "score from a pipe, small blocks" "$T/p.tsv" "$E/expected_score.tsv"

# Lists of the whole catalogue (30 items) give the accuracies of the
# embeddings (the per-user figures differ: a user's list there is its
# first row's, not its mean query's).
mlr-topk --queries "$E/Q.npy" --items "$E/I.npy" --k 100 >"$T/l.tsv"
mlr-score --test "$E/test.tsv" --train "$E/train.tsv" --topk "$T/l.tsv" --item-ids "$E/I.ids" \
    >"$T/ls.tsv" 2>"$T/err"
grep '^top' "$E/expected_score.tsv" >"$T/want"
grep '^top' "$T/ls.tsv" >"$T/got"
same "score from lists: accuracies as from embeddings" "$T/got" "$T/want"
check "score from lists of the whole catalogue: no warning" test ! -s "$T/err"

# Short lists: top-k for k above the list length is left out; misses count.
mlr-topk --queries "$E/Q.npy" --items "$E/I.npy" --k 5 | mlr-score --topk - --test "$E/test.tsv" \
    2>"$T/err" >"$T/short.tsv"
check "score from lists of 5: a warning about k > 5" grep -q "top-k figures for k > 5 left out" "$T/err"
check "score from lists of 5: no top10" test "$(grep -c '^top10' "$T/short.tsv")" -eq 0
grep -e '^top1	' -e '^top5	' "$E/expected_score.tsv" >"$T/want5"
grep -e '^top1	' -e '^top5	' "$T/short.tsv" >"$T/got5"
same "score from lists of 5: top1, top5" "$T/got5" "$T/want5"

# Predictions alone; joined by (user, item) when not in test order.
mlr-score --test "$E/test.tsv" --pred "$E/pred.tsv" >"$T/r.tsv"
printf 'metric\tvalue\n' >"$T/rw"
grep -e '^rmse' -e '^mae' "$E/expected_score.tsv" >>"$T/rw"
same "score rmse and mae" "$T/r.tsv" "$T/rw"
# In test order (row-aligned): a hand case. Errors 0.5, -1, 0: RMSE sqrt(1.25/3), MAE 0.5.
printf 'user_id\titem_id\trating\na\tx\t4\na\tx\t3\nb\ty\t5\n' >"$T/t3.tsv"
printf 'user_id\titem_id\tprediction\na\tx\t4.5\na\tx\t2\nb\ty\t5\n' >"$T/p3.tsv"
mlr-score --test "$T/t3.tsv" --pred "$T/p3.tsv" >"$T/r3.tsv"
printf 'metric\tvalue\nrmse\t0.645497\nmae\t0.5\n' >"$T/w3.tsv"
same "score predictions in row order, repeated pair" "$T/r3.tsv" "$T/w3.tsv"

{ mlr-score --test "$E/test.tsv" --topk "$T/l.tsv" 2>"$T/e"; echo $? >"$T/status"; } | head -1 >"$T/h"
check "score | head -1 exits 0" test "$(cat "$T/status")" -eq 0 -a -s "$T/h"

# Bad inputs.
head -c 300 "$E/Q.npy" >"$T/trunc.npy"
expect_fail "score truncated npy" 1 "trunc.npy: truncated" \
    mlr-score --test "$E/test.tsv" --queries "$T/trunc.npy" --items "$E/I.npy" --item-ids "$E/I.ids"
head -10 "$E/test.tsv" >"$T/t9.tsv"
expect_fail "score rows of Q and TEST differ" 1 "Q.npy has 24 rows, .*t9.tsv 9" \
    mlr-score --test "$T/t9.tsv" --queries "$E/Q.npy" --items "$E/I.npy"
head -5 "$E/I.ids" >"$T/short.ids"
expect_fail "score catalogue ids with the wrong row count" 1 "short.ids has 4 rows, .*I.npy 30" \
    mlr-score --test "$E/test.tsv" --queries "$E/Q.npy" --items "$E/I.npy" --item-ids "$T/short.ids"
printf 'user_id\trating\nu1\t3\n' >"$T/noitem.tsv"
expect_fail "score test without item_id" 1 "no column 'item_id'" \
    mlr-score --test "$T/noitem.tsv" --queries "$E/Q.npy" --items "$E/I.npy"
cut -f1,2 "$E/test.tsv" >"$T/norating.tsv"
expect_fail "score --pred without rating" 1 "no column 'rating'" \
    mlr-score --test "$T/norating.tsv" --pred "$E/pred.tsv"
head -5 "$E/pred.tsv" >"$T/fewpred.tsv"
expect_fail "score a test row without prediction" 1 "test.tsv:[0-9]*: no prediction" \
    mlr-score --test "$E/test.tsv" --pred "$T/fewpred.tsv"
printf 'query\trank\titem_id\n0\t1\tm01\n0\t3\tm02\n' >"$T/gap.tsv"
expect_fail "score list with a rank gap" 1 "gap.tsv:3: rank 3 where 2" \
    mlr-score --test "$E/test.tsv" --topk "$T/gap.tsv"
printf 'query\trank\titem_id\n0\t1\tm01\n1\t1\tm02\n0\t2\tm02\n' >"$T/split.tsv"
expect_fail "score list with a query split" 1 "split.tsv:4: query 0 appears again" \
    mlr-score --test "$E/test.tsv" --topk "$T/split.tsv"
printf 'query\trank\titem_id\n99\t1\tm01\n' >"$T/far.tsv"
expect_fail "score list query beyond the test rows" 1 "far.tsv:2: query 99" \
    mlr-score --test "$E/test.tsv" --topk "$T/far.tsv"
expect_fail "score nothing to score" 2 "nothing to score" mlr-score --test "$E/test.tsv"
expect_fail "score bad --at" 2 "at" mlr-score --test "$E/test.tsv" --pred "$E/pred.tsv" --at 0
printf 'user_id\titem_id\tprediction\nu1\tm23\t3\nu1\tm23\t4\n' >"$T/dup.tsv"
expect_fail "score two different predictions for one pair" 1 "dup.tsv:3: a second, different prediction" \
    mlr-score --test "$E/test.tsv" --pred "$T/dup.tsv"
check "score prints nothing when it fails" test ! -s "$T/.out"

# Lists are joined to the test rows by their key (user_id, row_item_id:
# mlr-baseline, mlr-topk --query-ids of mlr-embed's ids): the test file in
# another order gives the same figures; lists of another test file, or of
# more or fewer rows, are refused naming both files. Keyless lists go by
# position: query q is row q, whose user must be the list's.
S=$T/join
mkdir -p "$S"
mlr-synth --n-users 15 --n-items 25 --n-ratings 150 --seed 5 >"$S/all.tsv" 2>/dev/null
mlr-split --test-output "$S/test.tsv" --output "$S/train.tsv" "$S/all.tsv" 2>/dev/null
mlr-split --seed 9 --test-output "$S/test2.tsv" --output "$S/train2.tsv" "$S/all.tsv" 2>/dev/null
{ head -1 "$S/test.tsv"; tail -n +2 "$S/test.tsv" | tac; } >"$S/test-rev.tsv"
for f in test test-rev; do
    mlr-baseline --kind pop --train "$S/train.tsv" --test "$S/$f.tsv" --k 30 --output "$S/$f.lists" 2>/dev/null
    mlr-score --test "$S/$f.tsv" --train "$S/train.tsv" --topk "$S/$f.lists" >"$S/$f.score" 2>/dev/null
done
check "score: the test file reversed (its own lists) gives the same figures" cmp -s "$S/test.score" "$S/test-rev.score"
check "score: the figures are there" grep -q "^recall@10" "$S/test.score"
ran -o "$S/cross.score" "score: lists of the test file against it reversed" \
    mlr-score --test "$S/test-rev.tsv" --train "$S/train.tsv" --topk "$S/test.lists" &&
    same "score: lists joined by key: the reversed test file gives the same figures" "$S/cross.score" "$S/test.score"
expect_fail "score: lists from another test file refused" 1 \
    "test.lists:[0-9]*: user '.*' item '.*' has no row left in .*test2.tsv: the lists were made from another test file" \
    mlr-score --test "$S/test2.tsv" --topk "$S/test.lists" --output "$S/o.tsv"
check "score: a refusal writes nothing" test ! -e "$S/o.tsv"
head -n -3 "$S/test.tsv" >"$S/test-short.tsv"
expect_fail "score: keyed lists of more rows than the test file refused" 1 "test.lists:[0-9]*: .*test-short.tsv" \
    mlr-score --test "$S/test-short.tsv" --topk "$S/test.lists"
{ cat "$S/test.tsv"; sed -n 2p "$S/test.tsv"; } >"$S/test-long.tsv"
expect_fail "score: keyed lists of fewer rows than the test file refused" 1 "test.lists holds lists for [0-9]* queries, .*test-long.tsv has [0-9]* rows" \
    mlr-score --test "$S/test-long.tsv" --topk "$S/test.lists"
# keyless lists (mlr-topk without the row's key): by position, user checked
cut -f1,4- "$S/test.lists" >"$S/keyless.lists"
cut -f1,2,4- "$S/test.lists" >"$S/userkey.lists"
expect_fail "score: lists with user_id only, of the test reversed, refused" 1 \
    "userkey.lists:[0-9]*: query 0 is user '.*', row 0 of .*test-rev.tsv is user" \
    mlr-score --test "$S/test-rev.tsv" --topk "$S/userkey.lists" --output "$S/o.tsv"
expect_fail "score: keyless lists of more queries than test rows refused" 1 "query .* is not a row of .*test-short.tsv" \
    mlr-score --test "$S/test-short.tsv" --topk "$S/keyless.lists"
awk -F'\t' '$1 != 0' "$S/keyless.lists" >"$S/keyless-missing.lists"
expect_fail "score: lists missing a query refused, naming both files" 1 \
    "keyless-missing.lists holds lists for [0-9]* queries, .*test.tsv has [0-9]* rows" \
    mlr-score --test "$S/test.tsv" --topk "$S/keyless-missing.lists"
mlr-score --test "$S/test.tsv" --train "$S/train.tsv" --topk "$S/keyless.lists" >"$S/keyless.score" 2>/dev/null
same "score: keyless lists of the same rows give the same figures" "$S/keyless.score" "$S/test.score"

# Embeddings joined by key too: Q.ids with the rows' item_id (mlr-embed
# --rows writes it) lets the test file come in any order.
mkdir -p "$T/qk"
cp "$E/Q.npy" "$T/qk/Q.npy"
cut -f1,2 "$E/test.tsv" | sed '1s/.*/id\titem_id/' >"$T/qk/Q.ids"
{ head -1 "$E/test.tsv"; tail -n +2 "$E/test.tsv" | tac; } >"$T/qk/test-rev.tsv"
grep -v -e '^rmse' -e '^mae' "$E/expected_score.tsv" >"$T/qk/want"
ran -o "$T/qk/rev.score" "score: keyed embeddings against the test file reversed" \
    mlr-score --test "$T/qk/test-rev.tsv" --train "$E/train.tsv" --queries "$T/qk/Q.npy" --items "$E/I.npy" \
    --item-ids "$E/I.ids" --at 10,5 &&
    same "score: keyed embeddings: the reversed test file gives the same figures" "$T/qk/rev.score" "$T/qk/want"
awk -F'\t' -v OFS='\t' 'NR == 3 { $2 = "nothing" } 1' "$T/qk/Q.ids" >"$T/qk/Q2.ids" && mv "$T/qk/Q2.ids" "$T/qk/Q.ids"
expect_fail "score: keyed embeddings of another test file refused" 1 \
    "Q.ids:3: user '.*' item 'nothing' has no row left in .*test-rev.tsv" \
    mlr-score --test "$T/qk/test-rev.tsv" --queries "$T/qk/Q.npy" --items "$E/I.npy" --item-ids "$E/I.ids"

# A metric is named for what was computed: lists made without exclusion,
# scored with --train, give _excl figures only where every list still
# holds k items (or its truth) once the training items are out.
mlr-topk --queries "$E/Q.npy" --query-ids "$E/Q.ids" --items "$E/I.npy" --k 10 >"$T/noex.tsv"
mlr-score --test "$E/test.tsv" --train "$E/train.tsv" --topk "$T/noex.tsv" --item-ids "$E/I.ids" \
    >"$T/noex.score" 2>"$T/err"
check "score: lists without exclusion: no top10_excl" test "$(grep -c '^top10_excl' "$T/noex.score")" -eq 0
check "score: lists without exclusion: no recall@10" test "$(grep -c '^recall@10' "$T/noex.score")" -eq 0
check "score: lists without exclusion: top1_excl, top5_excl kept (exact)" test "$(grep -c -e '^top1_excl' -e '^top5_excl' "$T/noex.score")" -eq 2
check "score: lists without exclusion: one warning saying what was left out" \
    test "$(grep -c "_excl figures for k > 5 .*left out (make the lists with mlr-topk --exclude)" "$T/err")" -eq 1
mlr-topk --queries "$E/Q.npy" --query-ids "$E/Q.ids" --items "$E/I.npy" --k 10 --exclude "$E/train.tsv" >"$T/ex.tsv"
mlr-score --test "$E/test.tsv" --train "$E/train.tsv" --topk "$T/ex.tsv" --item-ids "$E/I.ids" \
    >"$T/ex.score" 2>"$T/err"
check "score: lists made with --exclude TRAIN: top10_excl and recall@10" \
    test "$(grep -c -e '^top10_excl' -e '^recall@10' "$T/ex.score")" -eq 2
{ head -1 "$E/train.tsv"; sed -n '2~2p' "$E/train.tsv"; } >"$T/half.tsv"
expect_fail "score: lists made excluding another table than --train refused" 1 \
    "ex.tsv: made excluding another table (sha256 [0-9a-f]*) than --train .*half.tsv" \
    mlr-score --test "$E/test.tsv" --train "$T/half.tsv" --topk "$T/ex.tsv" --item-ids "$E/I.ids"

# Fingerprints (docs/fingerprint.md): inputs of two models refused in one
# line naming both; unfingerprinted ones (all of the above) accepted.
A=$(printf 'a%.0s' $(seq 64)) B=$(printf 'b%.0s' $(seq 64))
mkdir -p "$T/fp"
cp "$E/Q.npy" "$E/I.npy" "$T/fp/"
{ echo "#mlrec model=$A"; cat "$E/Q.ids"; } >"$T/fp/Q.ids"
{ echo "#mlrec model=$B"; cat "$E/I.ids"; } >"$T/fp/I.ids"
expect_fail "score: queries and items of two models" 1 \
    "I.ids is of model bbbbbbbbbbbb, .*Q.ids of model aaaaaaaaaaaa: outputs of two models" \
    mlr-score --test "$E/test.tsv" --queries "$T/fp/Q.npy" --items "$T/fp/I.npy"
{ echo "#mlrec model=$A"; cat "$E/I.ids"; } >"$T/fp/I.ids"
ran -o "$T/fp/ok.score" "score: queries and items of one model" \
    mlr-score --test "$E/test.tsv" --queries "$T/fp/Q.npy" --items "$T/fp/I.npy"
{ echo "#mlrec model=$B"; cat "$E/pred.tsv"; } >"$T/fp/pred.tsv"
expect_fail "score: predictions of another model than the embeddings" 1 \
    "I.ids is of model aaaaaaaaaaaa, .*pred.tsv of model bbbbbbbbbbbb: outputs of two models" \
    mlr-score --test "$E/test.tsv" --queries "$T/fp/Q.npy" --items "$T/fp/I.npy" --pred "$T/fp/pred.tsv"
mlr-topk --queries "$T/fp/Q.npy" --query-ids "$T/fp/Q.ids" --items "$T/fp/I.npy" --k 30 >"$T/fp/l.tsv"
expect_fail "score: lists of another model than the predictions" 1 \
    "pred.tsv is of model bbbbbbbbbbbb, .*l.tsv of model aaaaaaaaaaaa: outputs of two models" \
    mlr-score --test "$E/test.tsv" --topk "$T/fp/l.tsv" --pred "$T/fp/pred.tsv"
{ echo "#mlrec model=$A"; cat "$E/pred.tsv"; } >"$T/fp/pred.tsv"
ran -o "$T/fp/ok2.score" "score: lists and predictions of one model" \
    mlr-score --test "$E/test.tsv" --topk "$T/fp/l.tsv" --pred "$T/fp/pred.tsv"

# --user-figures: a row per user whose column means are the figures.
mlr-score --test "$E/test.tsv" --train "$E/train.tsv" --queries "$E/Q.npy" --items "$E/I.npy" \
    --pred "$E/pred.tsv" --at 10,5 --user-figures "$T/pu.tsv" --output "$T/pus.tsv"
same "score --user-figures: the figures unchanged" "$T/pus.tsv" "$E/expected_score.tsv"
check "score --user-figures: a row per user" test "$(($(wc -l <"$T/pu.tsv") - 1))" -eq \
    "$(awk -F'\t' '$1 == "users" { print $2 }' "$T/pus.tsv")"
check "score --user-figures: header" test "$(head -1 "$T/pu.tsv")" = "$(printf 'user_id\trecall@10\tprecision@10\tndcg@10\tmap@10\thit_rate@10\trecall@5\tprecision@5\tndcg@5\tmap@5\thit_rate@5')"
awk -F'\t' 'NR == FNR { if (FNR > 1) want[$1] = $2; next }
    FNR == 1 { for (i = 2; i <= NF; i++) name[i] = $i; next }
    { for (i = 2; i <= NF; i++) sum[i] += $i; n++ }
    END { for (i in name) { m = sum[i] / n; d = m - want[name[i]]; if (d < 0) d = -d
              if (!(name[i] in want) || d > 2e-6 * (1 + m)) { print name[i], m, want[name[i]]; bad = 1 } }
          exit bad }' "$T/pus.tsv" "$T/pu.tsv" >"$T/pu.diff"
check "score --user-figures: column means are the figures" test ! -s "$T/pu.diff"
# By hand, k 3: a's list once its training item m3 is out is m2 x m1 (hits
# at 1 and 3 of 2 relevant): recall 1, precision 2/3, nDCG (1 + 1/2) /
# (1 + 1/log2 3), AP (1 + 2/3) / 2; b's is m5 first: 1, 1/3, 1, 1, 1.
printf 'user_id\titem_id\na\tm1\na\tm2\nb\tm5\n' >"$T/h-test.tsv"
printf 'user_id\titem_id\na\tm3\nb\tm4\n' >"$T/h-train.tsv"
{ printf 'query\tuser_id\trow_item_id\trank\titem_id\n'
  for q in 0:m1 1:m2; do r=${q#*:} q=${q%:*}
      printf '%s\ta\t%s\t1\tm3\n%s\ta\t%s\t2\tm2\n%s\ta\t%s\t3\tx\n%s\ta\t%s\t4\tm1\n' \
          $q $r $q $r $q $r $q $r; done
  printf '2\tb\tm5\t1\tm5\n2\tb\tm5\t2\ty\n2\tb\tm5\t3\tz\n'; } >"$T/h-lists.tsv"
mlr-score --test "$T/h-test.tsv" --train "$T/h-train.tsv" --topk "$T/h-lists.tsv" --at 3 \
    --user-figures "$T/h-pu.tsv" >/dev/null 2>"$T/h-err"
printf 'user_id\trecall@3\tprecision@3\tndcg@3\tmap@3\thit_rate@3\na\t1\t0.666667\t0.919721\t0.833333\t1\nb\t1\t0.333333\t1\t1\t1\n' \
    >"$T/h-want.tsv"
same "score --user-figures: a hand case" "$T/h-pu.tsv" "$T/h-want.tsv"
expect_fail "score --user-figures without --train" 2 "user-figures needs --train" \
    mlr-score --test "$E/test.tsv" --queries "$E/Q.npy" --items "$E/I.npy" --user-figures "$T/x.tsv"
expect_fail "score --user-figures with predictions alone" 2 "user-figures needs" \
    mlr-score --test "$E/test.tsv" --train "$E/train.tsv" --pred "$E/pred.tsv" --user-figures "$T/x.tsv"
expect_fail "score --user-figures - with the figures on stdout" 2 "both go to stdout" \
    mlr-score --test "$E/test.tsv" --train "$E/train.tsv" --topk "$T/l.tsv" --user-figures -
mlr-score --test "$E/test.tsv" --train "$E/train.tsv" --queries "$E/Q.npy" --items "$E/I.npy" \
    --at 10,5 --user-figures - --output "$T/pus-file.tsv" >"$T/pu-stdout.tsv"
same "score --user-figures -: the table on stdout" "$T/pu-stdout.tsv" "$T/pu.tsv"
expect_fail "score --user-figures and --output the same file" 2 "name the same file" \
    mlr-score --test "$E/test.tsv" --train "$E/train.tsv" --topk "$T/l.tsv" --user-figures "$T/x.tsv" \
    --output "$T/x.tsv"
cp "$T/pu.tsv" "$T/pu-before.tsv"
cp "$T/pus.tsv" "$T/pus-before.tsv"
expect_fail "score --user-figures: a failing run" 1 "trunc.npy: truncated" \
    mlr-score --test "$E/test.tsv" --train "$E/train.tsv" --queries "$T/trunc.npy" --items "$E/I.npy" \
    --item-ids "$E/I.ids" --user-figures "$T/pu.tsv" --output "$T/pus.tsv"
same "score --user-figures: a failing run leaves the table" "$T/pu.tsv" "$T/pu-before.tsv"
same "score --user-figures: a failing run leaves the figures" "$T/pus.tsv" "$T/pus-before.tsv"
expect_fail "score --user-figures: a table that cannot be written" 1 "nodir" \
    mlr-score --test "$E/test.tsv" --train "$E/train.tsv" --topk "$T/l.tsv" --item-ids "$E/I.ids" \
    --user-figures "$T/nodir/pu.tsv" --output "$T/pus.tsv"
same "score --user-figures: the figures not written without the table" "$T/pus.tsv" "$T/pus-before.tsv"
