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
#   train.tsv test.tsv    links to TRAIN and TEST
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
# The data once (prepare.sh), then the model on it (train-eval.sh): the
# same two stages grid.sh and retrain.sh share.
sh "$mlr_pipelines/prepare.sh" "$train" "$test" "$out"
sh "$mlr_pipelines/train-eval.sh" "$out" "$out" "$@"
echo "$me: done: $out/metrics.tsv" >&2
