#!/bin/sh
# Serving a model whose query tower reads user_history (prepare.sh's
# default --history 16): a known user's query is the pipeline's per-user
# query (all their training items, the latest 16), and a new user given by
# the movies they rated gets those as their history (fold-in without
# retraining): their list differs from popularity's, from a user of five
# other movies and from the features alone; 16 movies at most, the latest.
. "$(dirname "$0")/lib.sh"
P=$MLR_ROOT/pipelines
mlr-synth --n-users 200 --n-items 300 --n-ratings 8000 --seed 11 --output "$T/all.tsv"
mlr-split --seed 3 --test-fraction 0.2 --test-output "$T/test.tsv" --output "$T/train.tsv" "$T/all.tsv"
# --rating-weight 20: on 6,400 synthetic rows and 3 epochs the default's
# heavier rating loss (100, chosen on ML-100K and ml-latest-small) leaves
# the towers too little of the history for two 5-movie lists to differ
# (docs/model.md)
if ! sh "$P/evaluate.sh" "$T/train.tsv" "$T/test.tsv" "$T/run" --epochs 3 --rating-weight 20 --quiet 2>"$T/log"; then
    fail "evaluate.sh makes a run" "$(tail -n 3 "$T/log" | tr '\n' ' ')"
    exit 0
fi
S=$T/run/served
check "the model reads user_history" grep -aq 'query.emb.user_history' "$S/model.safetensors"

# Known users: the list (seen items kept) at the time of the pipeline's
# per-user query (users.npy: the user's row at their last or median
# training time, whichever validation kept, with their 16 latest items)
# is mlr-topk's on that query, items and scores.
mlr-topk --quiet --queries "$T/run/users.npy" --query-ids "$T/run/users.ids" --items "$T/run/items.npy" \
    --k 10 --output "$T/users-topk.tsv"
when=$(awk -F'\t' '$3 == 1 { print $1 }' "$T/run/user-time.tsv")
check "the per-user queries' time is one validation kept" test "$when" = last -o "$when" = median -o "$when" = mean
# The mean over the training rows is no one time that serving could ask
# at: then users.npy is mlr-embed --mean-by-user's, and the lists of the
# user at their last time are checked.
if [ "$when" = mean ]; then
    # over the rows of the kind of history the run kept (train-eval.sh --history)
    cut=; [ "$(awk -F'\t' '$4 == 1 { print $1 }' "$T/run/history-kind.tsv")" = all ] || cut=-b
    mlr-embed --model "$T/run/model.safetensors" --rows "$T/run/enc-train$cut" --mean-by-user --output "$T/mean.npy"
    same "the per-user queries: the mean over the training rows" "$T/mean.npy" "$T/run/users.npy"
    mlr-embed --model "$T/run/model.safetensors" --rows "$T/run/enc-users" --output "$T/last.npy"
    mlr-topk --quiet --queries "$T/last.npy" --query-ids "$T/last.ids" --items "$T/run/items.npy" \
        --k 10 --output "$T/users-topk.tsv"
    when=last
fi
for u in 7 42 150; do
    # the user's times, newest first: the first, or the middle (the later of two)
    t=$(awk -F'\t' -v u=$u '$1 == u { print $4 }' "$T/train.tsv" | sort -nr |
        awk -v w="$when" '{ t[NR] = $1 } END { print (w == "last" ? t[1] : t[int((NR + 1) / 2)]) }')
    served_user_list "$S" "$t" $u "$T/users-topk.tsv" &&
        check "known user $u: the list has 10 rows" test "$(wc -l <"$T/got")" -eq 10 &&
        check "known user $u: the per-user query's list and scores (history of their latest 16 items)" \
            same_top10 "$T/got" "$T/want"
done

# New users of five movies each, seen items kept: what differs is the query.
pop=$(by_popularity "$T/train.tsv")
A=$(echo "$pop" | sed -n '30,34p' | paste -sd, -)
B=$(echo "$pop" | sed -n '200,204p' | paste -sd, -)
# list NAME OPTIONS...: the item ids of user 'new''s list into $T/NAME
list() {
    name=$1; shift
    rm -f "$T/$name.tsv"
    ran "new user: $name" mlr-recommend --served "$S" --keep-seen --k 10 --output "$T/$name.tsv" "$@" &&
        sed 1d "$T/$name.tsv" | cut -f3 >"$T/$name"
}
list a --age 30 --rated-items "$A"
list b --age 30 --rated-items "$B"
list none --age 30
echo "$pop" | head -n 10 >"$T/popular"
check "5 rated movies: 10 items" test "$(wc -l <"$T/a")" -eq 10
check "5 rated movies: not popularity's list" sh -c '! cmp -s "$1" "$2"' - "$T/a" "$T/popular"
check "5 rated movies: not the list of 5 other movies" sh -c '! cmp -s "$1" "$2"' - "$T/a" "$T/b"
check "5 rated movies: not the list of the features alone" sh -c '! cmp -s "$1" "$2"' - "$T/a" "$T/none"
# --rated FILE is the same fold-in as --rated-items (every row of it: it
# once read the first row only)
printf 'user_id\titem_id\n' >"$T/rated.tsv"
echo "$A" | tr ',' '\n' | sed 's/^/n1\t/' >>"$T/rated.tsv"
printf 'user_id\tuser_age\nn1\t30\n' >"$T/new.tsv"
rm -f "$T/f.tsv"
ran "--rated FILE" mlr-recommend --served "$S" --keep-seen --k 10 --new "$T/new.tsv" --rated "$T/rated.tsv" \
    --output "$T/f.tsv" && sed 1d "$T/f.tsv" | cut -f3 >"$T/f" && same "--rated FILE = --rated-items" "$T/f" "$T/a"

# The cap: of 20 movies, the last 16 given (the latest) make the history.
M20=$(echo "$pop" | sed -n '40,59p' | paste -sd, -)
L16=$(echo "$pop" | sed -n '44,59p' | paste -sd, -)
F16=$(echo "$pop" | sed -n '40,55p' | paste -sd, -)
list m20 --rated-items "$M20"
list l16 --rated-items "$L16"
list f16 --rated-items "$F16"
same "20 rated movies: the list of their last 16" "$T/m20" "$T/l16"
check "... not of their first 16" sh -c '! cmp -s "$1" "$2"' - "$T/m20" "$T/f16"

# recommend.sh takes the list too (issue 13: fold-in through the
# pipeline): the Markdown lists mlr-recommend's titles for the same new
# user, in order, none of the movies given, and says how many were rated.
if ran -o "$T/rec.md" "recommend.sh --rated-items" sh "$P/recommend.sh" --run "$T/run" --age 30 --rated-items "$A" --k 10 --fuse-ease off; then
    mlr-recommend --served "$S" --age 30 --rated-items "$A" --k 10 --output "$T/rec.tsv"
    sed 1d "$T/rec.tsv" | cut -f6 >"$T/rec.want"
    sed -n 's/^[0-9]*\. \(.*\) (score .*/\1/p' "$T/rec.md" >"$T/rec.got"
    check "recommend.sh --rated-items: 10 titles" test "$(wc -l <"$T/rec.got")" -eq 10
    same "recommend.sh --rated-items: mlr-recommend's titles, in order" "$T/rec.got" "$T/rec.want"
    check "recommend.sh --rated-items: not the list of the features alone" \
        sh -c '! cmp -s "$1" "$2"' - "$T/rec.tsv" "$T/none.tsv"
    check "recommend.sh --rated-items: no movie given is listed" awk -F'\t' -v a=",$A," \
        'NR > 1 && index(a, "," $3 ",") { bad = 1 } END { exit bad }' "$T/rec.tsv"
    check "recommend.sh --rated-items: says 5 movies rated" grep -q "from the features and the 5 movies rated" "$T/rec.md"
fi

# recommend.sh --fuse-ease W: the model's top 100 and EASE's (mlr-baseline
# on the served history) fused by mlr-fuse, the model's weight W. At 1
# the model's own list, at 0 EASE's, in between a third list.
titles() { sed -n 's/^[0-9]*\. \(.*\) (score .*/\1/p' "$1"; }
u=7
for w in 1 0 0.5; do
    ran -o "$T/fz$w.md" "recommend.sh --fuse-ease $w" sh "$P/recommend.sh" --run "$T/run" --user $u --k 10 --fuse-ease $w &&
        titles "$T/fz$w.md" >"$T/fz$w"
done
sh "$P/recommend.sh" --run "$T/run" --user $u --k 10 --fuse-ease off >"$T/plain.md" && titles "$T/plain.md" >"$T/plain"
same "--fuse-ease 1: the model's list" "$T/fz1" "$T/plain"
printf 'user_id\n%s\n' $u >"$T/u.tsv"
mlr-baseline --kind ease --exclude-train --train "$S/history.tsv" --test "$T/u.tsv" --item-ids "$S/items.ids" \
    --k 10 --output "$T/ease.topk"
awk -F'\t' 'NR == FNR { if ($1 ~ /^[0-9]+$/) o[++n] = $4; next } FNR > 1 { t[$1] = $2 }
    END { for (i = 1; i <= n; i++) print t[o[i]] }' "$T/ease.topk" "$S/catalogue.tsv" >"$T/ease"
same "--fuse-ease 0: EASE's list for the user, in its order" "$T/fz0" "$T/ease"
check "--fuse-ease 0.5: 10 titles" test "$(wc -l <"$T/fz0.5")" -eq 10
check "--fuse-ease 0.5: neither the model's list nor EASE's" \
    sh -c '! cmp -s "$1" "$2" && ! cmp -s "$1" "$3"' - "$T/fz0.5" "$T/plain" "$T/ease"
check "--fuse-ease 0.5: says so" grep -q "the model and EASE fused: model weight 0.5, EASE lambda 500" "$T/fz0.5.md"
ran -o "$T/fzn.md" "recommend.sh --fuse-ease with --rated-items" sh "$P/recommend.sh" --run "$T/run" --age 30 \
    --rated-items "$A" --k 10 --fuse-ease 0.5 &&
    check "--fuse-ease, a new user of 5 movies: 10 titles" test "$(titles "$T/fzn.md" | wc -l)" -eq 10
for w in 1.5 -1 x ''; do
    sh "$P/recommend.sh" --run "$T/run" --user $u --fuse-ease "$w" >/dev/null 2>"$T/err"
    st=$?
    check "--fuse-ease '$w': refused in one line" test "$st" -ne 0 -a "$(wc -l <"$T/err")" -eq 1
    check "--fuse-ease '$w': said so" grep -q "^recommend: --fuse-ease: the model's weight, a number in \[0, 1\]" "$T/err"
done
sh "$P/recommend.sh" --run "$T/run" --age 30 --fuse-ease 0.5 >/dev/null 2>"$T/err"
check "--fuse-ease for features alone: refused" grep -q "^recommend: --fuse-ease: EASE needs the user's movies" "$T/err"
