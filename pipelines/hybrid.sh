#!/bin/sh
# hybrid.sh [--lambdas LIST] [--fuse-weights LIST] [--ease-only] RUN OUT
#
# Chooses, on RUN's validation slice alone, what the model and EASE fused
# need: EASE's lambda, then the model's weight in the fused lists. RUN is
# an evaluate.sh folder (prepare.sh and train-eval.sh in one: fit.tsv,
# valid.tsv, items.ids, the fit model's per-user validation queries).
#   1. EASE (mlr-baseline --exclude-train) fitted on the fit rows with each
#      of --lambdas (default 100,250,500,1000), its top 100 per user scored
#      on the validation slice (mlr-score, the fit rows excluded); the best
#      nDCG@10 wins, the first listed on a tie.
#   2. The model's per-user lists on the validation slice (the queries at
#      the time train-eval.sh kept, user-time.tsv; the fit models' items)
#      and EASE's at that lambda, fused by mlr-fuse --join user with each
#      model weight w of --fuse-weights (default 0,0.1,...,1; EASE's 1 - w;
#      0 is EASE alone, 1 the model alone), scored the same way.
# Writes in OUT:
#   ease-lambda.tsv   lambda, ndcg@10, recall@10: one row per lambda
#   fuse-weight.tsv   model_weight, ndcg@10, recall@10: one row per weight
#   hybrid.tsv        setting, value: ease_lambda, model_weight (the
#                     choices), ndcg@10 and recall@10 (the fused lists at
#                     them on the validation slice), ease_ndcg@10 (EASE's
#                     alone): what recommend.sh --fuse-ease auto serves
#                     (docs/serving.md)
# --ease-only stops after step 1 (ease-lambda.tsv alone). With
# train-eval.sh --seeds N the model's lists are the N models' (what a
# served directory serves). A catalogue over mlr-baseline's 20,000 items has no EASE:
# hybrid.sh says so, removes the three from OUT and exits 0. The files are
# made aside and renamed into OUT at the end: a run that fails leaves
# OUT's old ones.
set -eu
me=hybrid
. "$(dirname "$0")/lib.sh"
usage() { echo "usage: hybrid.sh [--lambdas LIST] [--fuse-weights LIST] [--ease-only] RUN OUT" >&2; exit 2; }
lambdas=100,250,500,1000 fweights=0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1 ease_only=0
while [ $# -gt 0 ]; do
    case $1 in
    --lambdas) [ $# -ge 2 ] || usage; lambdas=$2; shift 2 ;;
    --fuse-weights) [ $# -ge 2 ] || usage; fweights=$2; shift 2 ;;
    --ease-only) ease_only=1; shift ;;
    -h|--help) mlr_help; exit 0 ;;
    -*) usage ;;
    *) break ;;
    esac
done
[ $# -eq 2 ] || usage
m=$1 out=$2
noopt m out
list_opt --lambdas "$lambdas" lambda
list_opt --fuse-weights "$fweights" weight
for f in fit.tsv valid.tsv items.ids items.npy user-time.tsv; do
    [ -f "$m/$f" ] || die "$m/$f: no such file (hybrid.sh wants an evaluate.sh folder)"
done
mkout "$out"
items=$(grep -vc '^#mlrec ' "$m/items.ids" || true)
if [ "$((items - 1))" -gt 20000 ]; then
    echo "$me: $((items - 1)) items: over EASE's 20,000 (mlr-baseline); no hybrid" >&2
    rm -f -- "$out/hybrid.tsv" "$out/ease-lambda.tsv" "$out/fuse-weight.tsv"
    exit 0
fi
tmp=$(beside -d "$out/hybrid.tsv") || exit 1
trap 'rm -rf -- "$tmp"' EXIT

# scored SETTING LIST IDS: SETTING, then LIST's nDCG@10 and recall@10 on
# the validation slice (the fit rows excluded), as one TSV row.
scored() {
    mlr-score --quiet --test "$m/valid.tsv" --train "$m/fit.tsv" --topk "$2" --item-ids "$3" \
        --output "$tmp/scored.tsv"
    awk -F'\t' -v OFS='\t' -v s="$1" '{ v[$1] = $2 } END { print s, v["ndcg@10"], v["recall@10"] }' \
        "$(awkpath "$tmp/scored.tsv")"
}

# ---- 1. EASE's lambda ----
printf 'lambda\tndcg@10\trecall@10\n' >"$tmp/ease-lambda.tsv"
for l in $(echo "$lambdas" | tr ',' ' '); do
    run_stage "ease-valid-$l" mlr-baseline --kind ease --lambda "$l" --exclude-train --train "$m/fit.tsv" \
        --test "$m/valid.tsv" --item-ids "$m/items.ids" --k 100 --output "$tmp/ease.topk.tsv"
    scored "$l" "$tmp/ease.topk.tsv" "$m/items.ids" >>"$tmp/ease-lambda.tsv"
    [ "$(best_of "$tmp/ease-lambda.tsv")" != "$l" ] || mv -f "$tmp/ease.topk.tsv" "$tmp/ease-best.topk.tsv"
done
lambda=$(best_of "$tmp/ease-lambda.tsv")
if [ "$ease_only" = 1 ]; then mv -T -- "$tmp/ease-lambda.tsv" "$out/ease-lambda.tsv"; exit 0; fi

# ---- 2. the model's weight ----
# The model's lists are those of its per-user queries at the time
# train-eval.sh kept, with the fit models' items: after a refit,
# items.npy is the refit models', so the fit models' are embedded again.
vu=$m/valid-users
kept=$(kept_of "$m/user-time.tsv")
case $kept in median|mean) vu=$m/valid-users-$kept ;; esac
vitems=$m/items.npy
if [ -f "$m/model-fit.safetensors" ]; then
    set -- --model "$m/model-fit.safetensors"
    for f in "$m"/model-fit-seed*.safetensors; do [ ! -f "$f" ] || set -- "$@" --model "$f"; done
    run_stage embed-fit-items mlr-embed "$@" --catalogue "$m/enc-items" --output "$tmp/fit-items.npy"
    vitems=$tmp/fit-items.npy
fi
run_stage model-valid-users mlr-topk --quiet --queries "$vu.npy" --query-ids "$vu.ids" \
    --items "$vitems" --exclude "$m/fit.tsv" --k 100 --output "$tmp/model.topk.tsv"
printf 'model_weight\tndcg@10\trecall@10\n' >"$tmp/fuse-weight.tsv"
for w in $(echo "$fweights" | tr ',' ' '); do
    run_stage "fuse-valid-$w" mlr-fuse --join user --weights "$(awk -v w="$w" 'BEGIN { print 1 - w }'),$w" \
        --k 100 --output "$tmp/fused.topk.tsv" "$tmp/ease-best.topk.tsv" "$tmp/model.topk.tsv"
    scored "$w" "$tmp/fused.topk.tsv" "${vitems%.npy}.ids" >>"$tmp/fuse-weight.tsv"
done
w=$(best_of "$tmp/fuse-weight.tsv")
awk -F'\t' -v OFS='\t' -v l="$lambda" -v w="$w" '
    FILENAME == ARGV[1] { if (FNR > 1 && $1 == l) e = $2; next }
    FNR > 1 && $1 == w && !done { done = 1
        print "setting", "value"; print "ease_lambda", l; print "model_weight", w
        print "ndcg@10", $2; print "recall@10", $3; print "ease_ndcg@10", e }' \
    "$(awkpath "$tmp/ease-lambda.tsv")" "$(awkpath "$tmp/fuse-weight.tsv")" >"$tmp/hybrid.tsv"
# the three renamed at the end, the choice last: a run that fails leaves
# the old ones
for f in ease-lambda.tsv fuse-weight.tsv hybrid.tsv; do mv -T -- "$tmp/$f" "$out/$f"; done
