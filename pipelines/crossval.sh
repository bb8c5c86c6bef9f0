#!/bin/sh
# crossval.sh [--data DIR] [--jobs J] [--threads T] [--valid-fraction F] [--seeds N]
#             OUTDIR [mlr-train options...]
#
# The five official folds of MovieLens 100K (u1.base/u1.test .. u5), each
# trained and scored in its own OUTDIR/uK by prepare.sh and train-eval.sh,
# J folds at a time through GNU parallel. Each fold cuts its validation
# slice (--valid-fraction of its base rows, random) from its base rows
# only: the epochs and settings are never read off a fold's test rows.
# Leaves in OUTDIR:
#   ratings.tsv    the whole data set as the interaction table (mlr-ingest)
#   uK/            fold K: train.tsv test.tsv, the prepared data, the model,
#                  valid-metrics.tsv and metrics.tsv (its test rows)
#   folds.tsv      one row per fold: fold, then every metric of metrics.tsv
#   summary.tsv    metric, mean, sd (sample deviation over the folds), min, max
#   --data DIR      the ML-100K directory (default $MLR_DATA_DIR/ml-100k,
#                   else data/ml-100k)
#   --jobs J        folds trained at once (default: the number of cores)
#   --threads T     threads of each fold's tools (default 1)
#   --valid-fraction F  validation share of each fold's base rows (default 0.1)
#   --seeds N       each fold N models, seeds S..S+N-1, averaged
#                   (train-eval.sh --seeds; default 5: docs/model.md)
set -eu
me=crossval
. "$(dirname "$0")/lib.sh"
usage() { echo "usage: crossval.sh [--data DIR] [--jobs J] [--threads T] [--valid-fraction F] [--seeds N] OUTDIR [mlr-train options...]" >&2; exit 2; }
bad() { echo "$me: $*" >&2; exit 2; }

# One fold, run by parallel: the names travel in the environment, never
# through a command line that a shell parses.
if [ "${1:-}" = --one-fold ]; then
    k=$2; shift 2
    f=$CV_OUT/u$k
    sh "$mlr_pipelines/prepare.sh" --valid-fraction "$CV_VFRAC" "$f/train.tsv" "$f/test.tsv" "$f" >"$f/log" 2>&1
    sh "$mlr_pipelines/train-eval.sh" --threads "$CV_THREADS" --seeds "$CV_SEEDS" --no-topk "$f" "$f" "$@" >>"$f/log" 2>&1
    exit
fi

data= jobs=$(nproc) threads=1 vfrac=0.1 seeds=5
while [ $# -gt 0 ]; do
    case $1 in
    --data) [ $# -ge 2 ] || bad "option '$1' needs a value"; data=$2; shift 2 ;;
    --jobs) [ $# -ge 2 ] || bad "option '$1' needs a value"; jobs=$2; shift 2 ;;
    --threads) [ $# -ge 2 ] || bad "option '$1' needs a value"; threads=$2; shift 2 ;;
    --valid-fraction) [ $# -ge 2 ] || bad "option '$1' needs a value"; vfrac=$2; shift 2 ;;
    --seeds) [ $# -ge 2 ] || bad "option '$1' needs a value"; seeds=$2; shift 2 ;;
    -h|--help) mlr_help; exit 0 ;;
    --) shift; break ;;
    -*) usage ;;
    *) break ;;
    esac
done
[ $# -ge 1 ] || usage
out=$1; shift
noopt out data
count_opt --jobs "$jobs" 1 256
count_opt --threads "$threads" 1 256 # the tools' range
count_opt --seeds "$seeds" 1 64
decimal_opt --valid-fraction "$vfrac" 0 1 # checked here, not in each fold after the work
if [ -z "$data" ]; then
    for d in "${MLR_DATA_DIR:-}" "$mlr_root/data"; do
        if [ -n "$d" ] && [ -d "$d/ml-100k" ]; then data=$d/ml-100k; break; fi
    done
fi
[ -n "$data" ] || die "no ML-100K: give --data DIR or set MLR_DATA_DIR"
for k in 1 2 3 4 5; do
    [ -f "$data/u$k.base" ] && [ -f "$data/u$k.test" ] || die "$data: no u$k.base and u$k.test"
done
command -v parallel >/dev/null || die "GNU parallel is not installed (make deps)"
mkout "$out"

run_stage ingest mlr-ingest --format ml-100k --output "$out/ratings.tsv" "$data"
# A fold's rows: those of ratings.tsv whose (user, item) the fold's file
# names (each pair is rated once in ML-100K), in ratings.tsv's order.
for k in 1 2 3 4 5; do
    mkdir -p "$out/u$k"
    for part in base:train test:test; do
        awk -F'\t' -v OFS='\t' 'NR == FNR { want[$1 "\t" $2]; n++; next }
            FNR == 1 { print; next } ($1 "\t" $2) in want { print; got++ }
            END { if (got != n) { printf "%d of %d pairs found\n", got, n > "/dev/stderr"; exit 1 } }' \
            "$data/u$k.${part%%:*}" "$out/ratings.tsv" >"$out/u$k/${part#*:}.tsv" ||
            die "$data/u$k.${part%%:*}: its pairs are not all in u.data"
    done
done

echo "$me: 5 folds, $jobs at a time" >&2
CV_OUT=$out CV_THREADS=$threads CV_VFRAC=$vfrac CV_SEEDS=$seeds
export CV_OUT CV_THREADS CV_VFRAC CV_SEEDS
# -q: parallel quotes every word, so this script's path and the mlr-train
# options reach the job as they are, whatever characters they hold.
if ! parallel -q --jobs "$jobs" --halt now,fail=1 sh "$0" --one-fold '{}' "$@" ::: 1 2 3 4 5; then
    for k in 1 2 3 4 5; do
        [ -f "$out/u$k/metrics.tsv" ] || die "fold u$k failed: $(tail -n 1 "$out/u$k/log" 2>/dev/null)"
    done
    die "a fold failed"
fi

# Every fold's metrics side by side, then their mean and spread.
awk -F'\t' -v OFS='\t' 'FNR == 1 { k++; next }
    { if (k == 1) name[++n] = $1; v[k, $1] = $2 }
    END { printf "fold"; for (i = 1; i <= n; i++) printf "\t%s", name[i]; print ""
          for (f = 1; f <= k; f++) { printf "u%d", f; for (i = 1; i <= n; i++) printf "\t%s", v[f, name[i]]; print "" } }' \
    "$out"/u1/metrics.tsv "$out"/u2/metrics.tsv "$out"/u3/metrics.tsv "$out"/u4/metrics.tsv "$out"/u5/metrics.tsv \
    >"$out/folds.tsv"
awk -F'\t' -v OFS='\t' 'NR == 1 { for (i = 2; i <= NF; i++) name[i] = $i; nf = NF; next }
    { k++; for (i = 2; i <= NF; i++) { x[i, k] = $i; s[i] += $i
          if (k == 1 || $i < lo[i]) lo[i] = $i; if (k == 1 || $i > hi[i]) hi[i] = $i } }
    END { print "metric", "mean", "sd", "min", "max"
          for (i = 2; i <= nf; i++) { m = s[i] / k; ss = 0
              for (f = 1; f <= k; f++) ss += (x[i, f] - m) ^ 2
              printf "%s\t%.6g\t%.6g\t%.6g\t%.6g\n", name[i], m, (k > 1 ? sqrt(ss / (k - 1)) : 0), lo[i], hi[i] } }' \
    "$out/folds.tsv" >"$out/summary.tsv"
echo "$me: done: $out/summary.tsv (rmse $(awk -F'\t' '$1 == "rmse" { print $2 " +- " $3 }' "$out/summary.tsv"))" >&2
