#!/bin/sh
# mlr-baseline: popularity and EASE lists against numpy (eval/make_fixtures.py),
# bad inputs, and on MovieLens 100K (MLR_DATA_DIR) popularity's top-100
# accuracy on the seed-42 80/20 split, near 0.30.
. "$(dirname "$0")/lib.sh"
E=$MLR_ROOT/tests/tools/eval

# The lists begin with their fingerprint line and carry each row's key
# (row_item_id) since docs/fingerprint.md: plain FILE is FILE without them,
# what the golden files hold.
plain() { grep -v '^#mlrec ' "$1" | cut -f1,2,4- >"$1.plain"; }
mlr-baseline --kind pop --train "$E/train.tsv" --test "$E/test.tsv" --item-ids "$E/I.ids" --k 5 >"$T/pop.tsv"
check "baseline pop: no exclusion said" test "$(head -1 "$T/pop.tsv")" = "#mlrec exclude=none"
check "baseline pop: the key columns" test "$(sed -n 2p "$T/pop.tsv" | cut -f1-4)" = "query${TAB:=	}user_id${TAB}row_item_id${TAB}rank"
check "baseline pop: each row's key is its test row's" test "$(sed 1,2d "$T/pop.tsv" | cut -f1-3 | awk '!seen[$1]++' | cut -f2,3 | tr '\t\n' ',;')" = "$(sed 1d "$E/test.tsv" | cut -f1,2 | tr '\t\n' ',;')"
plain "$T/pop.tsv"
same "baseline pop golden" "$T/pop.tsv.plain" "$E/expected_pop_k5.tsv"

# EASE: float32 LAPACK against float64 numpy, where exact ties may fall
# either way: rank by rank the score must match, and each listed item must
# really have the score printed (tolerance 1e-4).
mlr-baseline --kind ease --lambda 2 --exclude-train --train "$E/train.tsv" --test "$E/test.tsv" \
    --item-ids "$E/I.ids" --k 5 >"$T/ease.tsv.raw"
check "baseline --exclude-train: the training table's SHA-256 said" \
    test "$(head -1 "$T/ease.tsv.raw")" = "#mlrec exclude=$(sha256sum "$E/train.tsv" | cut -c1-64)"
plain "$T/ease.tsv.raw" && mv "$T/ease.tsv.raw.plain" "$T/ease.tsv"
ease_ok() {
    awk -F'\t' 'FNR == 1 { f++; next }
        function abs(x) { return x < 0 ? -x : x }
        f == 1 { exact[$1 "\t" $2] = $3; next }
        f == 2 { want[$1 "\t" $3] = $5; n++; next }
        f == 3 { got++
                 if (!(($1 "\t" $3) in want) || abs(want[$1 "\t" $3] - $5) > 1e-4) bad++
                 if (abs(exact[$2 "\t" $4] - $5) > 1e-4) bad++ }
        END { exit !(bad == 0 && got == n && n > 0) }' \
        "$E/expected_ease_scores.tsv" "$E/expected_ease_excl_k5.tsv" "$T/ease.tsv"
}
check "baseline ease scores and order (tolerance 1e-4)" ease_ok
cut -f1-3 "$T/ease.tsv" >"$T/ease3"
cut -f1-3 "$E/expected_ease_excl_k5.tsv" >"$T/want3"
same "baseline ease: queries, users, ranks" "$T/ease3" "$T/want3"

# Default catalogue: the training items in bytewise order.
mlr-baseline --kind pop --train "$E/train.tsv" --test "$E/test.tsv" --k 3 >"$T/pop_default.tsv"
check "baseline default catalogue gives lists" test "$(wc -l <"$T/pop_default.tsv")" -eq 74
mlr-baseline --kind pop --train "$E/train.tsv" --test "$E/test.tsv" --items "$E/I.ids" --k 5 \
    >"$T/pop_old.tsv" 2>"$T/old.err"
plain "$T/pop_old.tsv"
same "baseline: the deprecated --items still works" "$T/pop_old.tsv.plain" "$E/expected_pop_k5.tsv"
check "baseline: --items warns" grep -q "^mlr-baseline: warning: --items is deprecated; use --item-ids" "$T/old.err"
mlr-baseline --kind pop --train "$E/train.tsv" --test "$E/test.tsv" --item-ids "$E/I.ids" >"$T/pop_k.tsv"
check "baseline: k is 10 by default" test "$(awk -F'\t' 'NR > 1 && $1 == 0' "$T/pop_k.tsv" | wc -l)" -eq 10

{ mlr-baseline --kind pop --train "$E/train.tsv" --test "$E/test.tsv" --k 5 2>"$T/err"
  echo $? >"$T/status"; } | head -3 >/dev/null
check "baseline | head -3 exits 0" test "$(cat "$T/status")" -eq 0

expect_fail "baseline unknown kind" 2 "pop or ease" \
    mlr-baseline --kind knn --train "$E/train.tsv" --test "$E/test.tsv"
expect_fail "baseline missing --test" 2 "required" mlr-baseline --kind pop --train "$E/train.tsv"
printf 'user_id\trating\nu1\t3\n' >"$T/noitem.tsv"
expect_fail "baseline train without item_id" 1 "no column 'item_id'" \
    mlr-baseline --kind pop --train "$T/noitem.tsv" --test "$E/test.tsv"
printf 'item_id\nm01\n' >"$T/nouser.tsv"
expect_fail "baseline test without user_id" 1 "no column 'user_id'" \
    mlr-baseline --kind pop --train "$E/train.tsv" --test "$T/nouser.tsv"
printf 'user_id\titem_id\nu1\tm01\nu2\n' >"$T/short.tsv"
expect_fail "baseline short training row" 1 "short.tsv:3" \
    mlr-baseline --kind pop --train "$T/short.tsv" --test "$E/test.tsv"
expect_fail "baseline bad --lambda" 2 "lambda" \
    mlr-baseline --kind ease --lambda -1 --train "$E/train.tsv" --test "$E/test.tsv"
awk 'BEGIN { print "user_id\titem_id"; for (i = 0; i < 20001; i++) print "u\ti" i }' >"$T/wide.tsv"
expect_fail "baseline ease over the item cap" 1 "20001 items" \
    mlr-baseline --kind ease --train "$T/wide.tsv" --test "$E/test.tsv"

if have_data ml-100k/u.data; then
    mlr-ingest --format ml-100k "$MLR_DATA_DIR/ml-100k" | mlr-split --seed 42 --test-output "$T/test.tsv" >"$T/train.tsv"
    mlr-baseline --kind pop --train "$T/train.tsv" --test "$T/test.tsv" --k 100 |
        mlr-score --topk - --test "$T/test.tsv" >"$T/m.tsv"
    top100=$(awk -F'\t' '$1 == "top100" { print $2 }' "$T/m.tsv")
    check "baseline pop on ML-100K: top100 $top100 within 0.27..0.33" \
        awk -v v="$top100" 'BEGIN { exit !(v >= 0.27 && v <= 0.33) }'
    mlr-baseline --kind ease --exclude-train --train "$T/train.tsv" --test "$T/test.tsv" --k 10 |
        mlr-score --topk - --test "$T/test.tsv" --train "$T/train.tsv" >"$T/e.tsv" 2>/dev/null
    ndcg=$(awk -F'\t' '$1 == "ndcg@10" { print $2 }' "$T/e.tsv")
    check "baseline ease on ML-100K beats pop: ndcg@10 $ndcg above 0.3" \
        awk -v v="$ndcg" 'BEGIN { exit !(v > 0.3) }'
else
    skip "baseline on ML-100K" "MLR_DATA_DIR unset"
fi
