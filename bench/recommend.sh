#!/bin/sh
# recommend: mlr-recommend's top 10 for every ML-100K user (the whole tool:
# checking MANIFEST, loading the served directory, 943 queries, the top-k,
# predicted ratings, reasons, TSV out) against mlr-topk alone on the same
# shape (943 query rows x 1,682 items, k = 10, training items excluded),
# measured in the same run; the median of three runs each. Target: under
# 0.5 s. Needs MLR_DATA_DIR (ML-100K); a 2-epoch model is enough.
. "$(dirname "$0")/lib.sh"
if [ ! -f "${MLR_DATA_DIR:-}/ml-100k/u.data" ]; then
    echo "bench: recommend: no \$MLR_DATA_DIR/ml-100k; skipped" >&2
    exit 0
fi
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
