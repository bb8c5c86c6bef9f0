#!/bin/sh
# evaluate.sh [--valid-fraction F] [--valid-by MODE] [--valid-seed S] [--seeds N]
#             [--history KIND] [--lambdas LIST] [--fuse-weights LIST] [--no-hybrid]
#             TRAIN.tsv TEST.tsv OUTDIR [mlr-train options...]
#
# Trains the default two-tower model on any pair of interaction tables
# (bring your own split) and scores it on the test rows. A validation
# slice is cut from TRAIN (prepare.sh: --valid-by random, user-time or
# time, the way TEST was cut; --valid-fraction of TRAIN, default 0.1): the
# model is fitted on the rest and validated on it each epoch; the test
# rows are scored once, at the end. Leaves in OUTDIR:
#   spec/                 the feature specification (from TRAIN only)
#   fit.tsv valid.tsv     TRAIN cut into fit rows and validation slice
#   valid-metrics.tsv     the metrics on the validation slice
#   enc-train/ enc-test/  the encoded rows;  enc-items/ the catalogue
#   model.safetensors     the model;  train-log.tsv  one row per epoch
#   query.npy query.ids   one query embedding per TEST row, in TEST's order
#   items.npy items.ids   one embedding per catalogue item (TRAIN + TEST)
#   catalogue.tsv         item_id, item_title, item_genres of every item
#   train.tsv test.tsv    links to TRAIN and TEST
#   pred.tsv              predicted rating of each TEST row
#   topk.tsv              the top 100 per TEST row, training items excluded
#   metrics.tsv           top1..top100, rmse, mae and the exclusion metrics
#   ease-lambda.tsv fuse-weight.tsv hybrid.tsv
#                         the model and EASE fused, chosen on the validation
#                         slice (hybrid.sh: EASE's lambda of --lambdas, the
#                         model's weight of --fuse-weights; not with
#                         --no-hybrid, nor over 20,000 items)
#   served/               the served model directory (docs/serving.md) for
#                         mlr-recommend: model, spec, item embeddings, catalogue,
#                         TRAIN's histories, hybrid.tsv (recommend.sh
#                         --fuse-ease auto), MANIFEST
# --history KIND: the rows' user_history (train-eval.sh --history): all,
# before-row (only the items rated before the row's time) or valid (the
# default: the kind with the better per-user nDCG@10 on the validation
# slice; both kinds' figures in OUTDIR/history-kind.tsv).
# --seeds N: N models (seeds S..S+N-1), their predictions and scores
# averaged (train-eval.sh --seeds); served/ holds the N models, served as
# their mean (what the figures measured), and their hybrid.tsv.
# Extra arguments go to mlr-train (e.g. --epochs 5 --seed 7).
set -eu
case ${1:-} in --version) me=evaluate; . "$(dirname "$0")/lib.sh" ;; esac # it exits
usage() { echo "usage: evaluate.sh [--valid-fraction F] [--valid-by random|user-time|time] [--valid-seed S] [--seeds N] [--history KIND] [--lambdas LIST] [--fuse-weights LIST] [--no-hybrid] TRAIN.tsv TEST.tsv OUTDIR [mlr-train options...]" >&2; exit 2; }
vfrac=0.1 vby=random vseed=1 seeds=1 hybrid=1 lambdas=100,250,500,1000 hist=valid
fweights=0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1
while [ $# -gt 0 ]; do
    case $1 in
    --valid-fraction) [ $# -ge 2 ] || usage; vfrac=$2; shift 2 ;;
    --valid-by) [ $# -ge 2 ] || usage; vby=$2; shift 2 ;;
    --valid-seed) [ $# -ge 2 ] || usage; vseed=$2; shift 2 ;;
    --seeds) [ $# -ge 2 ] || usage; seeds=$2; shift 2 ;;
    --history) [ $# -ge 2 ] || usage; hist=$2; shift 2 ;;
    --lambdas) [ $# -ge 2 ] || usage; lambdas=$2; shift 2 ;;
    --fuse-weights) [ $# -ge 2 ] || usage; fweights=$2; shift 2 ;;
    --no-hybrid) hybrid=0; shift ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    -*) usage ;;
    *) break ;;
    esac
done
[ $# -ge 3 ] || usage
train=$1 test=$2 out=$3
shift 3
me=evaluate
. "$(dirname "$0")/lib.sh"
list_opt --lambdas "$lambdas" lambda
case $hist in all|before-row|valid) ;; *) echo "$me: --history: all, before-row or valid, not '$hist'" >&2; exit 2 ;; esac
list_opt --fuse-weights "$fweights" weight
# The data once (prepare.sh), then the model on it (train-eval.sh): the
# same two stages grid.sh and retrain.sh share.
sh "$mlr_pipelines/prepare.sh" --valid-fraction "$vfrac" --valid-by "$vby" --valid-seed "$vseed" \
    "$train" "$test" "$out"
sh "$mlr_pipelines/train-eval.sh" --seeds "$seeds" --history "$hist" "$out" "$out" "$@"
# The model and EASE fused, chosen on the validation slice: the served
# directory's hybrid.tsv.
rm -f "$out/hybrid.tsv" "$out/ease-lambda.tsv" "$out/fuse-weight.tsv"
[ "$hybrid" = 0 ] || run_stage hybrid sh "$mlr_pipelines/hybrid.sh" --lambdas "$lambdas" \
    --fuse-weights "$fweights" "$out" "$out"
# served/ holds the N models (the run's items.npy is theirs, side by side)
run_stage package sh "$mlr_pipelines/package.sh" "$out" "$out" "$out/served"
echo "$me: done: $out/metrics.tsv" >&2
