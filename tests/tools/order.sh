#!/bin/sh
# mlr-recommend --order FILE: another recommender's per-user lists (EASE's,
# mlr-fuse's) shown as the model's are, with titles, predicted ratings and
# reasons: each user's rows of FILE in its order, less seen, denied or
# repeated items, the first K, the score FILE's.
. "$(dirname "$0")/lib.sh"
P=$MLR_ROOT/pipelines
mlr-synth --n-users 120 --n-items 200 --n-ratings 5000 --seed 4 --output "$T/all.tsv"
mlr-split --seed 3 --test-fraction 0.2 --test-output "$T/test.tsv" --output "$T/train.tsv" "$T/all.tsv"
if ! sh "$P/evaluate.sh" --no-hybrid "$T/train.tsv" "$T/test.tsv" "$T/run" --epochs 2 --quiet 2>"$T/log"; then
    fail "evaluate.sh makes a run" "$(tail -n 3 "$T/log" | tr '\n' ' ')"
    exit 0
fi
S=$T/run/served
printf 'user_id\n3\n7\n42\n' >"$T/users.tsv"

# The model's own lists given back: the same output, byte for byte.
if ran "the model's lists" mlr-recommend --served "$S" --users "$T/users.tsv" --k 8 --output "$T/model.tsv"; then
    awk -F'\t' -v OFS='\t' 'NR == 1 { print "user_id", "item_id", "score"; next } { print $1, $3, $4 }' \
        "$T/model.tsv" >"$T/model.order"
    ran "--order the model's lists" mlr-recommend --served "$S" --users "$T/users.tsv" --k 8 \
        --order "$T/model.order" --output "$T/again.tsv" &&
        same "--order the model's own lists: the same output" "$T/again.tsv" "$T/model.tsv"
fi

# EASE's lists (mlr-baseline's format, a fingerprint line first): its
# items in its order and its scores; predicted ratings the model's.
cut -f1,2 "$S/history.tsv" >"$T/hist.tsv"
mlr-baseline --quiet --kind ease --lambda 100 --exclude-train --train "$T/hist.tsv" --test "$T/users.tsv" \
    --item-ids "$S/items.ids" --k 30 --output "$T/ease.topk"
if ran "--order EASE's lists" mlr-recommend --served "$S" --users "$T/users.tsv" --k 10 --order "$T/ease.topk" \
        --output "$T/ease.tsv"; then
    awk -F'\t' -v OFS='\t' '$1 ~ /^[0-9]+$/ && $3 <= 10 { print $2, $3, $4, $5 }' "$T/ease.topk" >"$T/want"
    awk -F'\t' -v OFS='\t' 'NR > 1 { print $1, $2, $3, $4 }' "$T/ease.tsv" >"$T/got"
    same "EASE's lists: its items, ranks and scores" "$T/got" "$T/want"
    check "EASE's lists: titles and reasons filled" awk -F'\t' 'NR > 1 && ($6 == "" || $7 !~ /^because you rated/) { bad = 1 } END { exit bad }' "$T/ease.tsv"
    # the predicted rating is the model's for the pair: as its own list of
    # every unseen item gives it
    ran "the model's lists of every item" mlr-recommend --served "$S" --users "$T/users.tsv" --k 200 \
        --output "$T/model-all.tsv" &&
        check "EASE's lists: each predicted rating the model's for the pair" awk -F'\t' \
            'NR == FNR { if (FNR > 1) r[$1 SUBSEP $3] = $5; next }
             FNR > 1 { n++; if (!(($1 SUBSEP $3) in r) || r[$1 SUBSEP $3] != $5) bad = 1 } END { exit bad || !n }' \
            "$T/model-all.tsv" "$T/ease.tsv"
fi

# Seen, denied and repeated items are left out; the rest keeps its order.
u=3
seen=$(awk -F'\t' -v u=$u '$1 == u { print $2; exit }' "$T/hist.tsv")
{ printf 'user_id\titem_id\tscore\n'
  awk -F'\t' -v u=$u -v s="$seen" 'NR > 1 && $1 != u && !x[$2]++ && $2 != s { print u "\t" $2 "\t" 1 - NR / 1000; if (++n == 6) exit }' "$T/hist.tsv"
} >"$T/mine.order"
a=$(sed -n 2p "$T/mine.order" | cut -f2) b=$(sed -n 3p "$T/mine.order" | cut -f2)
{ cat "$T/mine.order"; printf '%s\t%s\t0\n' $u "$seen" $u "$a" 7 "$b"; } >"$T/mixed.order"
printf 'item_id\n%s\n' "$b" >"$T/deny.tsv"
if ran "--order with seen, repeated and denied items" mlr-recommend --served "$S" --k 10 --order "$T/mixed.order" \
        --deny "$T/deny.tsv" --output "$T/mixed.tsv" $u; then
    check "the user's own rows, in order, less the denied one" test "$(sed 1d "$T/mixed.tsv" | cut -f3 | tr '\n' ' ')" = \
        "$(sed 1d "$T/mine.order" | cut -f2 | grep -vx "$b" | tr '\n' ' ')"
fi
if ran "--order --keep-seen" mlr-recommend --served "$S" --k 10 --keep-seen --order "$T/mixed.order" \
        --output "$T/kept.tsv" $u; then
    check "--keep-seen: the seen item listed, once" test "$(cut -f3 "$T/kept.tsv" | grep -cx "$seen")" -eq 1
fi
ran -o "$T/json" "--order --format json" mlr-recommend --served "$S" --k 2 --order "$T/ease.topk" --format json 3 &&
    check "--format json: one line, EASE's first item first" grep -q "^{\"user_id\":\"3\",\"items\":\\[{\"rank\":1,\"item_id\":\"$(awk -F'\t' '$2 == 3 && $3 == 1 { print $4 }' "$T/ease.topk")\"" "$T/json"

# Broken lists: one line, status 1, an earlier output left whole.
echo old >"$T/out.tsv"
printf 'user_id\titem_id\n3\t5\n' >"$T/b1"
expect_fail "--order without a score column" 1 "wants the columns user_id, item_id and score" \
    mlr-recommend --served "$S" --order "$T/b1" --output "$T/out.tsv" 3
printf 'user_id\titem_id\tscore\n3\tnosuch\t1\n' >"$T/b2"
expect_fail "--order naming an item not in the catalogue" 1 "b2:2: item 'nosuch' is not in the served catalogue" \
    mlr-recommend --served "$S" --order "$T/b2" --output "$T/out.tsv" 3
for v in abc nan inf ''; do
    printf 'user_id\titem_id\tscore\n3\t%s\t%s\n' "$a" "$v" >"$T/b3"
    expect_fail "--order with a score of '$v'" 1 "b3:2: column 'score'" \
        mlr-recommend --served "$S" --order "$T/b3" --output "$T/out.tsv" 3
done
expect_fail "--order without the user's list" 1 "user '42' has no list (--order)" \
    mlr-recommend --served "$S" --order "$T/mine.order" --output "$T/out.tsv" 3 42
printf 'user_id\titem_id\tscore\n3\t%s\n' "$a" >"$T/b4"
expect_fail "--order with a short row" 1 "b4:2" mlr-recommend --served "$S" --order "$T/b4" --output "$T/out.tsv" 3
: >"$T/b5"
expect_fail "--order of an empty file" 1 "b5" mlr-recommend --served "$S" --order "$T/b5" --output "$T/out.tsv" 3
expect_fail "--order with --similar" 2 "--order lists users' items" mlr-recommend --served "$S" --order "$T/b1" --similar 5
check "the refused runs left the earlier output" test "$(cat "$T/out.tsv")" = old

# docs/serving.md's batch hybrid: every user's fused lists through
# --order, in the order recommend.sh --fuse-ease shows one user's.
mlr-recommend --served "$S" --users "$T/users.tsv" --k 100 |
    awk -F'\t' -v OFS='\t' 'NR == 1 { print "query", "user_id", "rank", "item_id", "score"; next }
        !($1 in q) { q[$1] = n++ } { print q[$1], $1, $2, $3, $4 }' >"$T/model.topk"
mlr-baseline --quiet --kind ease --lambda 100 --exclude-train --train "$T/hist.tsv" --test "$T/users.tsv" \
    --item-ids "$S/items.ids" --k 100 --output "$T/ease100.topk"
mlr-fuse --join user --weights 0.4,0.6 --k 100 --output "$T/fused.topk" "$T/ease100.topk" "$T/model.topk"
if ran "the batch hybrid" mlr-recommend --served "$S" --users "$T/users.tsv" --order "$T/fused.topk" --k 10 \
        --output "$T/hybrid.tsv" &&
   ran -o "$T/one.md" "recommend.sh --fuse-ease 0.6" sh "$P/recommend.sh" --run "$S" --user 42 --k 10 \
        --fuse-ease 0.6 --lambda 100; then
    sed -n '3,12p' "$T/one.md" | sed 's/ (score .*//' >"$T/one.titles"
    awk -F'\t' '$1 == 42 { print $2 ". " $6 }' "$T/hybrid.tsv" >"$T/batch.titles"
    check "the batch hybrid: user 42's list is recommend.sh's" test -s "$T/one.titles"
    same "the batch hybrid: user 42's titles in recommend.sh's order" "$T/batch.titles" "$T/one.titles"
fi
