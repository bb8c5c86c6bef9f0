#!/bin/sh
# The history cap is the model's: a model trained on histories of at most 4
# items (prepare.sh --history 4) records it (history_max in its training
# options) and is served with 4, not the default 16: a known user's list
# is mlr-topk's on the pipeline's per-user query of 4 items, and of 6
# movies a new user gives, the last 4 make the history.
. "$(dirname "$0")/lib.sh"
P=$MLR_ROOT/pipelines
mlr-synth --n-users 120 --n-items 200 --n-ratings 6000 --seed 13 --output "$T/all.tsv"
mlr-split --seed 3 --test-fraction 0.2 --test-output "$T/test.tsv" --output "$T/train.tsv" "$T/all.tsv"
if ! { sh "$P/prepare.sh" --history 4 "$T/train.tsv" "$T/test.tsv" "$T/prep" &&
       sh "$P/train-eval.sh" --user-time last "$T/prep" "$T/run" --epochs 2 --quiet &&
       sh "$P/package.sh" "$T/prep" "$T/run" "$T/served"; } 2>"$T/log"; then
    fail "prepare.sh --history 4, train-eval.sh, package.sh" "$(tail -n 3 "$T/log" | tr '\n' ' ')"
    exit 0
fi
S=$T/served
# (config is a JSON string inside the header: its quotes escaped)
check "the model records its history cap (history_max 4)" grep -aq '"history_max\\":4[,}]' "$S/model.safetensors"

# Known users, seen items kept, at their last training time (train-eval.sh
# --user-time last): the per-user query's list and scores (users.npy:
# their latest 4 items).
mlr-topk --quiet --queries "$T/run/users.npy" --query-ids "$T/run/users.ids" --items "$T/run/items.npy" \
    --k 10 --output "$T/users-topk.tsv"
for u in 5 60; do
    t=$(awk -F'\t' -v u=$u '$1 == u && $4 > m { m = $4 } END { print m }' "$T/train.tsv")
    n=$(awk -F'\t' -v u=$u '$1 == u' "$T/train.tsv" | wc -l)
    served_user_list "$S" "$t" $u "$T/users-topk.tsv" &&
        check "known user $u ($n ratings): the list and scores of their query of 4 items" \
            same_top10 "$T/got" "$T/want"
done

# A new user of 6 movies: the last 4 given are the history (items and
# scores: a 2-epoch model's top 10 can be one list for any history).
pop=$(by_popularity "$T/train.tsv")
list() {
    name=$1; shift
    rm -f "$T/$name.tsv"
    ran "new user: $name" mlr-recommend --served "$S" --keep-seen --k 10 --output "$T/$name.tsv" \
        --rated-items "$1" && sed 1d "$T/$name.tsv" | cut -f3,4 >"$T/$name"
}
list m6 "$(echo "$pop" | sed -n '20,25p' | paste -sd, -)"
list l4 "$(echo "$pop" | sed -n '22,25p' | paste -sd, -)"
list f4 "$(echo "$pop" | sed -n '20,23p' | paste -sd, -)"
same "6 rated movies: the list of their last 4" "$T/m6" "$T/l4"
check "... not of their first 4" sh -c '! cmp -s "$1" "$2"' - "$T/m6" "$T/f4"

# A model whose recorded cap is not a count is refused in one line.
cp -R "$S" "$T/bad"
LC_ALL=C sed 's/"history_max\\":4,/"history_max\\":0,/' "$S/model.safetensors" >"$T/bad/model.safetensors"
expect_fail "history_max 0 in the model's metadata" 1 "history_max is not a count" \
    mlr-recommend --no-verify --served "$T/bad" 5

# Recency-weighted histories (mlr-train --history-halflife): the model
# records the halflife with its user_history feature, and serving weighs
# a history by position, newest first. The plain mean does not see the
# order of four movies; the weighted mean does.
four=$(echo "$pop" | sed -n '30,33p' | paste -sd, -)
rfour=$(echo "$pop" | sed -n '30,33p' | sort -r | paste -sd, -)
list fwd "$four"
list rev "$rfour"
same "the mean: four movies in either order, one list and scores" "$T/fwd" "$T/rev"
if ran "train-eval.sh, mlr-train --history-halflife 1" sh "$P/train-eval.sh" --user-time last --no-topk \
        "$T/prep" "$T/hl" --epochs 2 --history-halflife 1 --quiet &&
    ran "package.sh of the halflife model" sh "$P/package.sh" "$T/prep" "$T/hl" "$T/hls" 2>"$T/log"; then
    check "the model records the halflife with user_history" \
        grep -aq '{\\"halflife\\":1.0,\\"kind\\":\\"bag\\",\\"name\\":\\"user_history\\"' "$T/hls/model.safetensors"
    S=$T/hls
    list hfwd "$four"
    list hrev "$rfour"
    check "halflife 1: four movies in the other order, other scores" sh -c '! cmp -s "$1" "$2"' - "$T/hfwd" "$T/hrev"
fi
expect_fail "--history-halflife -1: refused" 2 "must not be negative" \
    mlr-train --spec "$T/prep/spec" --rows "$T/prep/enc-fit" --history-halflife -1 --output "$T/x.safetensors"
expect_fail "--history-halflife without user_history: refused" 1 "reads no user_history" \
    mlr-train --spec "$T/prep/spec" --rows "$T/prep/enc-fit" --history-halflife 2 --epochs 1 \
    --query-features user_id,timestamp --output "$T/x.safetensors"
check "... and wrote no model" test ! -e "$T/x.safetensors"
