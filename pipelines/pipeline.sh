#!/bin/sh
# pipeline.sh [NAME]: the whole flow behind `make pipeline`, from raw files
# to runs/NAME/report.md (NAME defaults to ml-100k, or synthetic).
#
# Data: ML-100K from $MLR_DATA_DIR/ml-100k, else data/ml-100k, else a
# download (make data); where all fail it says so in one line and runs on
# mlr-synth data of the same shape, labelled synthetic everywhere. The
# report's exploratory analysis also runs on ml-latest-small where present.
# Settings from the environment: MLR_TRAIN_OPTS="--epochs 10" (extra
# mlr-train options), MLR_RUNS (where runs go; default runs/),
# MLR_NO_DOWNLOAD=1 (never try the network), MLR_SYNTH_OPTS (mlr-synth
# options for the synthetic fallback).
set -eu
me=pipeline
. "$(dirname "$0")/lib.sh"
root=$mlr_root
case ${1:-} in
-h|--help) mlr_help; exit 0 ;;
-*) echo "usage: pipeline.sh [NAME] (try --help)" >&2; exit 2 ;;
esac
[ $# -le 1 ] || { echo "usage: pipeline.sh [NAME] (try --help)" >&2; exit 2; }

find_data() { # NAME: prints the directory holding data set NAME, if any
    for d in "${MLR_DATA_DIR:-}" "$root/data"; do
        [ -n "$d" ] && [ -d "$d/$1" ] && { echo "$d/$1"; return 0; }
    done
    return 1
}
ml100k=$(find_data ml-100k || true)
if [ -z "$ml100k" ] && [ -z "${MLR_NO_DOWNLOAD:-}" ] && sh "$mlr_pipelines/fetch-data.sh" "$root/data" 2>/dev/null; then
    ml100k=$(find_data ml-100k || true)
fi
if [ -n "$ml100k" ]; then source_name="MovieLens 100K ($ml100k)"; synthetic=0
else
    echo "$me: no ML-100K in \$MLR_DATA_DIR or data/ and no download (make data); running on SYNTHETIC data from mlr-synth" >&2
    source_name="SYNTHETIC data from mlr-synth (not MovieLens)"; synthetic=1
fi
name=${1:-$([ "$synthetic" = 1 ] && echo synthetic || echo ml-100k)}
run=${MLR_RUNS:-$root/runs}/$name
mkdir -p "$run"
MLR_STAGES=$run/stages.tsv
export MLR_STAGES
printf 'stage\tseconds\tpeak_rss_mb\n' >"$MLR_STAGES"
started=$(date +%s)

# Stage 1: the interaction table.
if [ "$synthetic" = 1 ]; then
    # shellcheck disable=SC2086
    run_stage ingest mlr-synth --seed 1 ${MLR_SYNTH_OPTS:-} --output "$run/ratings.tsv"
else
    run_stage ingest mlr-ingest --format ml-100k --output "$run/ratings.tsv" "$ml100k"
fi

# Stage 2: the exploratory analysis, of the model's data and, as the
# report did it, of ml-latest-small.
run_stage eda sh "$mlr_pipelines/eda.sh" "$run/ratings.tsv" "$run/eda" 2>/dev/null
latest=$(find_data ml-latest-small || true)
if [ -n "$latest" ]; then
    run_stage ingest-latest mlr-ingest --format ml-latest --output "$run/latest.tsv" "$latest"
    run_stage eda-latest sh "$mlr_pipelines/eda.sh" "$run/latest.tsv" "$run/eda-latest" 2>/dev/null
fi

# Stage 3: the report's random 80/20 split with a fixed seed.
run_stage split mlr-split --seed 42 --test-fraction 0.2 --test-output "$run/test.tsv" \
    --output "$run/train.tsv" "$run/ratings.tsv"

# Stage 4: vocabularies, encoding, training, embeddings, top-k and scores.
# One model (evaluate.sh's default): five seeds averaged took the whole
# flow from 35 s to 83 s (docs/model.md); benchmark.sh averages five.
# shellcheck disable=SC2086
sh "$mlr_pipelines/evaluate.sh" "$run/train.tsv" "$run/test.tsv" "$run/model" ${MLR_TRAIN_OPTS:-}

# Stage 4b: the seed report's own setting, for comparison only: the rating
# fed to the query tower, a label leak (never the default; mlr-train warns).
# Not refitted: a comparison, never served.
run_stage model-with-leak env MLR_STAGES= sh "$mlr_pipelines/train-eval.sh" --no-topk --no-refit \
    --history all "$run/model" "$run/leak" --quiet ${MLR_TRAIN_OPTS:-} --query-features \
    user_id,timestamp,user_occupation,user_age,user_gender,user_zip,user_occupation_text,rating

# Stage 4c: the report's protocol asks one query per test row, at the
# row's own time: its model is the kind of history (model/history-kind.tsv)
# with the better per-row top-100 on the validation slice, the served
# model where the two agree.
rowkind=$(per_row_kind "$run/model")
rm -rf "$run/per-row"
if [ -n "$rowkind" ]; then
    # shellcheck disable=SC2086
    run_stage model-per-row env MLR_STAGES= sh "$mlr_pipelines/train-eval.sh" --no-topk --history "$rowkind" \
        "$run/model" "$run/per-row" ${MLR_TRAIN_OPTS:-}
fi

# Stage 5: the baselines through the same scorer (benchmark.sh's code):
# EASE's lambda chosen on the model's validation slice; the seed's
# accuracies from lists that keep training items, the per-user metrics
# from lists without them; and the served hybrid (the model and EASE
# fused at the weight evaluate.sh's hybrid.sh chose) on the test rows.
sh "$mlr_pipelines/benchmark.sh" --baselines "$run"

# Stage 6: example recommendations: two known users (the served hybrid,
# recommend.sh's default), the first again from the model alone, and a
# new one.
{
    for u in $(cut -f1 "$run/test.tsv" | sed 1d | sort -n | uniq | head -n 2); do
        sh "$mlr_pipelines/recommend.sh" --run "$run/model" --user "$u" --k 5
    done
    sh "$mlr_pipelines/recommend.sh" --run "$run/model" --user "$(cut -f1 "$run/test.tsv" | sed 1d | sort -n | head -n 1)" \
        --k 5 --fuse-ease off
    sh "$mlr_pipelines/recommend.sh" --run "$run/model" --train "$run/train.tsv" \
        --age 28 --gender F --occupation writer --n 5
} >"$run/recommendations.md" 2>/dev/null || echo "$me: recommendations failed" >&2

# Stage 7: the report.
run_stage report sh "$mlr_pipelines/report.sh" "$run" "$source_name" "$(($(date +%s) - started))"
echo "$me: done in $(($(date +%s) - started)) s: $run/report.md" >&2
