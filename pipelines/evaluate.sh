#!/bin/sh
# evaluate.sh TRAIN.tsv TEST.tsv OUTDIR [mlr-train options...]
#
# Trains the default two-tower model on any pair of interaction tables
# (bring your own split) and scores it on the test rows. Leaves in OUTDIR:
#   spec/                 the feature specification (from TRAIN only)
#   enc-train/ enc-test/  the encoded rows;  enc-items/ the catalogue
#   model.safetensors     the model;  train-log.tsv  one row per epoch
#   query.npy query.ids   one query embedding per TEST row, in TEST's order
#   items.npy items.ids   one embedding per catalogue item (TRAIN + TEST)
#   catalogue.tsv         item_id, item_title, item_genres of every item
#   pred.tsv              predicted rating of each TEST row
#   topk.tsv              the top 100 per TEST row, training items excluded
#   metrics.tsv           top1..top100, rmse, mae and the exclusion metrics
# Extra arguments go to mlr-train (e.g. --epochs 5 --seed 7).
set -eu
[ $# -ge 3 ] || { echo "usage: evaluate.sh TRAIN.tsv TEST.tsv OUTDIR [mlr-train options...]" >&2; exit 2; }
train=$1 test=$2 out=$3
shift 3
me=evaluate
. "$(dirname "$0")/lib.sh"
mkdir -p "$out"

run_stage vocab mlr-vocab --output "$out/spec" "$train"

run_stage encode-train mlr-encode --spec "$out/spec" --output "$out/enc-train" "$train"
run_stage encode-test mlr-encode --spec "$out/spec" --output "$out/enc-test" "$test"
# The catalogue: every item of TRAIN and TEST is a candidate. Its titles
# and genres (first row of each item) are kept for recommend.sh.
awk -F'\t' -v OFS='\t' 'FNR == 1 { ci = ct = cg = 0
        for (i = 1; i <= NF; i++) { if ($i == "item_id") ci = i; if ($i == "item_title") ct = i; if ($i == "item_genres") cg = i }
        if (NR == 1) print "item_id", "item_title", "item_genres"; next }
    !seen[$ci]++ { print $ci, (ct ? $ct : ""), (cg ? $cg : "") }' "$train" "$test" >"$out/catalogue.tsv"
run_stage encode-items mlr-encode --items --spec "$out/spec" --output "$out/enc-items" "$train" "$test"

run_stage train mlr-train --spec "$out/spec" --train "$out/enc-train" --valid "$out/enc-test" \
    --items "$out/enc-items" --log "$out/train-log.tsv" \
    --output "$out/model.safetensors" "$@"

run_stage embed-queries mlr-embed --model "$out/model.safetensors" --queries "$out/enc-test" --output "$out/query.npy"
run_stage embed-items mlr-embed --model "$out/model.safetensors" --items "$out/enc-items" --output "$out/items.npy"

run_stage predict mlr-predict --model "$out/model.safetensors" --output "$out/pred.tsv" "$out/enc-test"

# The lists a user would see: nothing they rated in training.
run_stage topk mlr-topk --quiet --queries "$out/query.npy" --query-ids "$out/query.ids" \
    --items "$out/items.npy" --exclude "$train" --k 100 --output "$out/topk.tsv"

# The seed's top-k accuracies (nothing excluded) straight from the
# embeddings, the exclusion metrics and RMSE beside them.
run_stage score mlr-score --test "$test" --train "$train" --queries "$out/query.npy" \
    --items "$out/items.npy" --pred "$out/pred.tsv" --output "$out/metrics.tsv"
echo "$me: done: $out/metrics.tsv" >&2
