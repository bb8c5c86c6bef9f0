#!/bin/sh
# recommend: mlr-recommend's top 10 for every user (the whole tool:
# checking MANIFEST, loading the served directory, the queries, the top-k,
# predicted ratings, reasons, TSV out) against mlr-topk alone on the same
# shape and model (a query per user x every item, k = 10, the users' rated
# items excluded), measured in the same run:
#   ML-100K: 943 users x 1,682 items, a 2-epoch model of evaluate.sh; the
#     median of three runs each. Target: under 0.5 s. Needs MLR_DATA_DIR.
#     Also the served hybrid (--fuse-ease) against its composition
#     from four tools (docs/serving.md), the same lists.
#   the MovieLens-20M shape (mlr-synth: 138,493 users, 27,278 items, 20M
#     ratings, all of them the served histories, as retrain.sh serves): a
#     served directory of a model trained one epoch on a 1M-row sample (the
#     serving cost does not depend on how well it learnt); mlr-topk's
#     queries are mlr-history --per-user's, one per user with their latest
#     16 items, the queries mlr-recommend builds. REC_REPS runs each (3),
#     alternated; medians. Target: within 2x of mlr-topk (ratio <= 2).
# Knobs: REC_USERS REC_ITEMS REC_RATINGS (the 20M shape), REC_REPS,
# REC_BIG=0 skips the 20M shape. Runs alone too: sh bench/recommend.sh.
. "$(dirname "$0")/lib.sh"
med() { printf '%s\n' $1 | median; }
rng() { printf '%s\n' $1 | range; }
rows_of() { echo $(($(wc -l <"$1") - 1)); }
ml100k() {
    R=$BENCH_TMP/recommend
    mkdir -p "$R"
    mlr-ingest --format ml-100k "$MLR_DATA_DIR/ml-100k" | mlr-split --seed 42 --test-output "$R/test.tsv" >"$R/train.tsv"
    sh "$MLR_ROOT/pipelines/evaluate.sh" "$R/train.tsv" "$R/test.tsv" "$R/run" --epochs 2 --quiet 2>/dev/null
    users=$(($(cut -f1 "$R/train.tsv" | sed 1d | sort -u | wc -l)))
    { echo user_id; cut -f1 "$R/train.tsv" | sed 1d | sort -u; } >"$R/users.tsv"
    # The reference's queries: the first $users rows of the test queries.
    mlr-slice --range "0:$users" --ids "$R/run/query.ids" --ids-output "$R/q.ids" --output "$R/q.npy" \
        "$R/run/query.npy"
    rec= ref= noverify=
    for i in 1 2 3; do
        timed "mlr-recommend, $users users" mlr-recommend --served "$R/run/served" --users "$R/users.tsv" \
            --k 10 --output /dev/null
        rec="$rec $SECS"
        timed "mlr-topk, $users queries" mlr-topk --quiet --queries "$R/q.npy" --query-ids "$R/q.ids" \
            --items "$R/run/items.npy" --item-ids "$R/run/items.ids" --exclude "$R/train.tsv" --k 10 \
            --output /dev/null
        ref="$ref $SECS"
        timed "mlr-recommend --no-verify" mlr-recommend --no-verify --served "$R/run/served" \
            --users "$R/users.tsv" --k 10 --output /dev/null
        noverify="$noverify $SECS"
    done
    med() { printf '%s\n' $1 | median; }
    rng() { printf '%s\n' $1 | range; }
    row "mlr-recommend, top 10 for all $users ML-100K users (whole tool)" "$(med "$rec")" s \
        "$(med "$ref")" "s (mlr-topk alone, same shape)" \
        "median of 3 ($(rng "$rec") s; --no-verify $(rng "$noverify") s); target < 0.5 s"
    # The hybrid (weight 0.5, whatever validation chose for this quick
    # model; hybrid.tsv's lambda, so the served ease.npy) against its
    # composition from the tools (docs/serving.md): the model's top 100,
    # EASE's by mlr-baseline, mlr-fuse, mlr-recommend --order.
    S=$R/run/served w=0.5
    l=$(awk -F'\t' '$1 == "ease_lambda" { print $2 }' "$S/hybrid.tsv")
    # (a script: /usr/bin/time runs programs, not shell functions)
    cat >"$R/compose.sh" <<'SH'
set -e
S=$1 R=$2 w=$3 l=$4
mlr-recommend --served "$S" --users "$R/users.tsv" --k 100 |
    awk -F'\t' -v OFS='\t' 'NR == 1 { print "query", "user_id", "rank", "item_id", "score"; next }
        !($1 in q) { q[$1] = n++ } { print q[$1], $1, $2, $3, $4 }' >"$R/model.topk"
mlr-baseline --quiet --kind ease --lambda "$l" --exclude-train --train "$S/history.tsv" \
    --test "$R/users.tsv" --item-ids "$S/items.ids" --k 100 --output "$R/ease.topk"
mlr-fuse --join user --weights "$(awk -v w="$w" 'BEGIN { print 1 - w }'),$w" --k 100 \
    --output "$R/fused.topk" "$R/ease.topk" "$R/model.topk"
mlr-recommend --served "$S" --users "$R/users.tsv" --order "$R/fused.topk" --k 10 --output /dev/null
SH
    hyb= comp=
    for i in 1 2 3; do
        timed "mlr-recommend --fuse-ease $w, $users users" mlr-recommend --served "$S" --users "$R/users.tsv" \
            --fuse-ease "$w" --lambda "$l" --k 10 --output /dev/null
        hyb="$hyb $SECS"
        timed "the same composed from four tools" sh "$R/compose.sh" "$S" "$R" "$w" "$l"
        comp="$comp $SECS"
    done
    row "mlr-recommend --fuse-ease, the hybrid's top 10 for all $users users" "$(med "$hyb")" s \
        "$(med "$comp")" "s (composed: mlr-recommend, mlr-baseline, mlr-fuse, mlr-recommend --order)" \
        "median of 3 ($(rng "$hyb") s); weight $w, lambda $l"
}

# The 20M shape. Each stage's output is removed once used: at most the
# table (1.5 GB) and the served directory (its history.tsv, 0.9 GB) at once.
big() {
    U=${REC_USERS:-138493} I=${REC_ITEMS:-27278} N=${REC_RATINGS:-20000263}
    B=$BENCH_TMP/recommend-big
    mkdir -p "$B/prep/spec" "$B/run"
    timed "recommend-big: mlr-synth ${U}x${I}, $N ratings" \
        mlr-synth --n-users "$U" --n-items "$I" --n-ratings "$N" --seed 7 --output "$B/all.tsv"
    # One pass: the catalogue (an item's first row) and a 1M-row sample to train on.
    awk -F'\t' -v OFS='\t' -v C="$B/prep/catalogue.tsv" -v S="$B/sample.tsv" -v p="$(awk -v n="$N" \
        'BEGIN { print (n > 1000000) ? 1000000 / n : 1 }')" 'BEGIN { srand(7) }
        NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i
                  print "item_id", "item_title", "item_genres" >C; print >S; next }
        !($2 in seen) { seen[$2]; print $c["item_id"], $c["item_title"], $c["item_genres"] >C }
        rand() < p { print >S }' "$B/all.tsv"
    timed "recommend-big: mlr-history --per-user (the reference's queries)" \
        mlr-history --train "$B/all.tsv" --per-user --output "$B/users-h.tsv"
    mlr-history --train "$B/sample.tsv" --output "$B/sample-h.tsv" "$B/sample.tsv"
    # Every user in the vocabulary (their query rows), the items the sample has.
    mlr-vocab --output "$B/prep/spec" "$B/sample-h.tsv" "$B/users-h.tsv"
    mlr-encode --spec "$B/prep/spec" --output "$B/enc" "$B/sample-h.tsv"
    timed "recommend-big: mlr-train, 1 epoch of $(rows_of "$B/sample.tsv") rows" \
        mlr-train --quiet --epochs 1 --rows "$B/enc" --spec "$B/prep/spec" --output "$B/run/model.safetensors"
    mlr-encode --as-catalogue --spec "$B/prep/spec" --output "$B/enc-items" "$B/prep/catalogue.tsv"
    mlr-embed --model "$B/run/model.safetensors" --catalogue "$B/enc-items" --output "$B/run/items.npy"
    mlr-encode --spec "$B/prep/spec" --output "$B/enc-users" "$B/users-h.tsv"
    mlr-embed --model "$B/run/model.safetensors" --rows "$B/enc-users" --output "$B/q.npy"
    rm -rf "$B/enc" "$B/enc-items" "$B/enc-users" "$B/sample.tsv" "$B/sample-h.tsv"
    timed "recommend-big: package.sh" sh "$MLR_ROOT/pipelines/package.sh" --history "$B/all.tsv" \
        "$B/prep" "$B/run" "$B/served"
    rm -f "$B/all.tsv"
    { echo user_id; cut -f1 "$B/users-h.tsv" | sed 1d; } >"$B/users.tsv"
    rm -f "$B/users-h.tsv"
    users=$(rows_of "$B/users.tsv") items=$(rows_of "$B/prep/catalogue.tsv")
    rec= ref= mem= refmem= ratios=
    for r in $(seq "${REC_REPS:-3}"); do
        timed "mlr-recommend, $users users" mlr-recommend --served "$B/served" --users "$B/users.tsv" \
            --k 10 --output /dev/null
        rec="$rec $SECS" mem="$mem $RSS_MB" one=$SECS
        timed "mlr-topk, $users queries" mlr-topk --quiet --queries "$B/q.npy" --query-ids "$B/q.ids" \
            --items "$B/served/items.npy" --item-ids "$B/served/items.ids" \
            --exclude "$B/served/history.tsv" --k 10 --output /dev/null
        ref="$ref $SECS" refmem="$refmem $RSS_MB"
        ratios="$ratios $(awk -v a="$one" -v b="$SECS" 'BEGIN { printf "%.2f", a / b }')"
    done
    row "mlr-recommend, top 10 for all $users users of the 20M shape ($items items, $N ratings; whole tool)" \
        "$(med "$rec")" s "$(med "$ref")" "s (mlr-topk alone, same shape, same model)" \
        "median of ${REC_REPS:-3} alternated (ratios$ratios); peak $(printf '%s\n' $mem | sort -g | tail -n 1) MB vs $(printf '%s\n' $refmem | sort -g | tail -n 1) MB; target ratio <= 2"
    rm -rf "$B"
}

if [ -f "${MLR_DATA_DIR:-}/ml-100k/u.data" ]; then
    ml100k
else
    echo "bench: recommend: no \$MLR_DATA_DIR/ml-100k; the ML-100K row skipped" >&2
fi
[ "${REC_BIG:-1}" = 0 ] || big
