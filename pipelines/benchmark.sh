#!/bin/sh
# benchmark.sh [--data DIR] [--setups LIST] [--lambdas LIST] [--fuse-weights LIST]
#              [--jobs J] [--seeds N] [--user-model OPTIONS] OUTDIR [mlr-train options...]
# benchmark.sh --tables OUTDIR
# benchmark.sh [--lambdas LIST] [--fuse-weights LIST] --baselines DIR
#
# The model beside most-popular, EASE (mlr-baseline) and the model and EASE
# fused (mlr-fuse) on the protocols of issue 13, every figure from a run in
# OUTDIR, made with one command:
#   random     ML-100K, random 80/20 split, seed 42, every item a candidate:
#              the seed report's top-k accuracies (nothing removed) and the
#              field's per-user metrics (training items removed)
#   user-time  ML-100K, each user's latest 20% of rows held out (mlr-split
#              --by user-time), validation slice cut the same way
#   latest     ml-latest-small, random 80/20 split, seed 42
#   folds      ML-100K's five official folds u1..u5 (crossval.sh): the RMSE
#              beside libFM 0.8907, LIBMF 0.911 and SVD++ 0.919, and on each
#              fold the per-user figures of the model, EASE and the fused
#              lists (chosen on the fold's own validation slice): five
#              80/20 splits beside seed 42's, their test rows disjoint
# Every choice is made on validation slices cut from the training rows: the
# model's epoch (evaluate.sh's slice, cut the way the test rows were:
# mlr-train --epochs 40 --patience 5 keeps the epoch best on it; options
# given here come after, and the last wins) and EASE's lambda (each of
# --lambdas fitted on the fit rows and scored on the validation slice by
# nDCG@10; the best refitted on the training rows) and the fused lists'
# weight (the model's per-user lists and EASE's at that lambda, fused by
# mlr-fuse --join user with each model weight of --fuse-weights, EASE's
# 1 - w, scored on the validation slice by nDCG@10; 0 is EASE alone, 1 the
# model alone). The test rows are scored once, at the end. The
# per-user metrics query each user once, with their training history, at
# their last training time, the median of their training times or as the
# mean of the queries at each of their training rows, which train-eval.sh
# keeps on the validation slice (mlr-score --user-queries), and remove the
# user's training items.
# --user-model OPTIONS trains a second model for the per-user figures
# (e.g. "--mask-seen --valid-exclude --select ndcg10": each user's other
# training items out of a row's softmax, the epoch kept by the per-user
# nDCG@10 on validation); the report's figures and the fused lists stay
# the default model's. Off by default: replayed inside the training rows
# it did not beat the default model, and fused worse (docs/model.md,
# "Masking the user's seen items").
# Leaves in OUTDIR:
#   SETUP/             train.tsv test.tsv, model/ (evaluate.sh's folder),
#                      per-row/ (random only: the model of the other kind of
#                      history, train-eval.sh --history, where per-row
#                      top-100 on validation preferred it: the seed
#                      report's protocol's figures),
#                      user-model/ (the same for --user-model's model),
#                      pop.tsv ease.tsv (the baselines' metrics on the test
#                      rows), ease-lambda.tsv (lambda, its validation nDCG@10
#                      and recall@10: the choice), fused.tsv and
#                      fuse-weight.tsv (the same for the fused lists, by the
#                      model's weight), folds/cv (crossval.sh),
#                      folds/uK (fold K as a SETUP/: its model/ is cv/uK),
#                      users-model.tsv users-ease.tsv users-fused.tsv (each
#                      user's figures on the test rows: mlr-score
#                      --user-figures; the model's lists are the default
#                      model's) and paired.tsv (fused - EASE and model -
#                      EASE over the same users: the mean difference of
#                      nDCG@10 and recall@10, its standard error, how many
#                      users each served better)
#   results.tsv        setup, recommender, metric, value: every figure, long
#   report.tsv field.tsv paired.tsv folds.tsv folds-users.tsv targets.tsv
#                      the tables, as TSV
#   benchmark.md       the same tables as Markdown
#   --data DIR      holds ml-100k/ and ml-latest-small/ (default
#                   $MLR_DATA_DIR, else data/); a setup whose data is
#                   absent is skipped, and said so
#   --setups LIST   which setups (default random,user-time,latest,folds)
#   --lambdas LIST  EASE's lambdas to choose from (default 100,250,500,1000)
#   --fuse-weights LIST  the model's weights in the fused lists to choose from,
#                   each in [0, 1] (default 0,0.1,0.2,...,1)
#   --jobs J        crossval.sh's folds at once (default: the cores)
#   --seeds N       evaluate.sh's --seeds: N models averaged (default 5:
#                   better on every validation slice, docs/model.md)
#   --user-model O  mlr-train options of a second model for the per-user
#                   figures, before those given after OUTDIR (default
#                   none: the default model's per-user figures)
#   --tables        only remake the tables from the runs already in OUTDIR
#   --baselines     only the baselines of one run DIR (pipeline.sh's): DIR
#                   holds train.tsv, test.tsv and model/ (evaluate.sh's);
#                   writes DIR/baseline-pop.tsv, baseline-ease.tsv and
#                   baseline-ease-lambda.tsv, EASE's lambda chosen as here,
#                   and the fused lists' (the served hybrid's) figures:
#                   fuse-weight.tsv, fused.tsv, users-*.tsv, paired.tsv
# Extra arguments go to mlr-train in every setup, after --epochs 40
# --patience 5 (e.g. --epochs 5 --patience 0: five epochs, the last kept).
set -eu
me=benchmark
. "$(dirname "$0")/lib.sh"
usage() { echo "usage: benchmark.sh [--data DIR] [--setups LIST] [--lambdas LIST] [--fuse-weights LIST] [--jobs J] [--seeds N] [--user-model OPTIONS] OUTDIR [mlr-train options...] | --tables OUTDIR | [--lambdas LIST] [--fuse-weights LIST] --baselines DIR" >&2; exit 2; }
bad() { echo "$me: $*" >&2; exit 2; }
data= setups=random,user-time,latest,folds lambdas=100,250,500,1000 jobs=$(nproc) seeds=5 tables=0 only_baselines=0
fweights=0,0.1,0.2,0.3,0.4,0.5,0.6,0.7,0.8,0.9,1
umodel=none
while [ $# -gt 0 ]; do
    case $1 in
    --data) [ $# -ge 2 ] || bad "option '$1' needs a value"; data=$2; shift 2 ;;
    --setups) [ $# -ge 2 ] || bad "option '$1' needs a value"; setups=$2; shift 2 ;;
    --lambdas) [ $# -ge 2 ] || bad "option '$1' needs a value"; lambdas=$2; shift 2 ;;
    --fuse-weights) [ $# -ge 2 ] || bad "option '$1' needs a value"; fweights=$2; shift 2 ;;
    --jobs) [ $# -ge 2 ] || bad "option '$1' needs a value"; jobs=$2; shift 2 ;;
    --seeds) [ $# -ge 2 ] || bad "option '$1' needs a value"; seeds=$2; shift 2 ;;
    --user-model) [ $# -ge 2 ] || bad "option '$1' needs a value"; umodel=$2; shift 2 ;;
    --tables) tables=1; shift ;;
    --baselines) only_baselines=1; shift ;;
    -h|--help) mlr_help; exit 0 ;;
    --) shift; break ;;
    -*) usage ;;
    *) break ;;
    esac
done
[ $# -ge 1 ] || usage
out=$1; shift
[ "$only_baselines" = 0 ] || [ $# -eq 0 ] || usage # no mlr-train options
# The model's epoch chosen on its validation slice (options given win).
set -- --epochs 40 --patience 5 "$@"
case $out in -*) out=./$out ;; esac
count_opt --jobs "$jobs" 1 256
count_opt --seeds "$seeds" 1 64
for s in $(echo "$setups" | tr ',' ' '); do
    case $s in random|user-time|latest|folds) ;; *) bad "--setups: random, user-time, latest or folds, not '$s'" ;; esac
done
list_opt --lambdas "$lambdas" lambda
list_opt --fuse-weights "$fweights" weight
# Plain words, split unquoted below: no glob, no quote to misread.
case $umodel in *[!A-Za-z0-9_.,:=@\ +-]*|'') bad "--user-model: mlr-train options (letters, digits, . , : = @ + - and spaces) or none, not '$umodel'" ;; esac
if [ -z "$data" ]; then
    for d in "${MLR_DATA_DIR:-}" "$mlr_pipelines/../data"; do
        if [ -n "$d" ] && [ -d "$d" ]; then data=$d; break; fi
    done
fi

# ---- the runs ----

# choose LABEL DIR PREFIX [--ease-only]: EASE's lambda and the fused
# lists' weight chosen on the validation slice of DIR/model by hybrid.sh
# (the code that makes a served directory's hybrid.tsv; evaluate.sh runs
# it with this run's lists), into DIR/PREFIXease-lambda.tsv and
# DIR/fuse-weight.tsv. DIR/model's own are taken when they tried the same
# lambdas and weights; else hybrid.sh runs again into DIR/choice.
choose() {
    cs=$2/model
    if [ "$(tried "$cs/ease-lambda.tsv")" != "$lambdas" ] ||
        { [ -z "${4:-}" ] && [ "$(tried "$cs/fuse-weight.tsv")" != "$fweights" ]; }; then
        cs=$2/choice
        # shellcheck disable=SC2086 # ${4:-}: empty or one plain word
        run_stage "$1-choose" sh "$mlr_pipelines/hybrid.sh" --lambdas "$lambdas" --fuse-weights "$fweights" \
            ${4:-} "$2/model" "$cs" 2>"$2/choose.log" || die "$1: hybrid.sh failed: $(tail -n 1 "$2/choose.log")"
        rm -f "$2/choose.log"
    fi
    cp "$cs/ease-lambda.tsv" "$2/$3ease-lambda.tsv"
    [ -n "${4:-}" ] || cp "$cs/fuse-weight.tsv" "$2/fuse-weight.tsv"
    rm -rf "$2/choice"
}
# tried TSV: TSV's first column below its header, comma-separated
tried() { awk 'NR > 1 { printf "%s%s", (NR > 2 ? "," : ""), $1 }' "$(awkpath "$1")" 2>/dev/null || true; }

# baselines LABEL DIR PREFIX: most-popular and EASE through mlr-score on
# DIR's test rows, EASE at the lambda of DIR/PREFIXease-lambda.tsv (choose);
# into DIR/PREFIXpop.tsv, PREFIXease.tsv.
baselines() {
    b=$1 s=$2 pre=$3 m=$2/model
    best=$(best_of "$s/${pre}ease-lambda.tsv")
    for kind in pop ease; do
        lopt=
        [ "$kind" = pop ] || lopt="--lambda $best"
        # shellcheck disable=SC2086 # $lopt: empty or two plain words
        run_stage "$b-$kind" mlr-baseline --kind "$kind" $lopt --train "$s/train.tsv" --test "$s/test.tsv" \
            --item-ids "$m/items.ids" --k 100 --output "$s/$kind.topk.tsv"
        # shellcheck disable=SC2086
        run_stage "$b-$kind-excl" mlr-baseline --kind "$kind" $lopt --exclude-train --train "$s/train.tsv" \
            --test "$s/test.tsv" --item-ids "$m/items.ids" --k 100 --output "$s/$kind.excl.tsv"
        # The seed's accuracies from the lists that keep training items, the
        # rest from the lists without them.
        mlr-score --test "$s/test.tsv" --topk "$s/$kind.topk.tsv" --output "$s/$kind.all.tsv"
        mlr-score --test "$s/test.tsv" --train "$s/train.tsv" --topk "$s/$kind.excl.tsv" \
            --item-ids "$m/items.ids" --output "$s/$kind.excl-metrics.tsv"
        awk -F'\t' 'FNR == 1 { if (NR == 1) print; next }
            FILENAME == ARGV[1] { if ($1 ~ /^top[0-9]+$/) { print; kept[$1] } next }
            !($1 in kept)' "$(awkpath "$s/$kind.all.tsv")" "$(awkpath "$s/$kind.excl-metrics.tsv")" >"$s/$pre$kind.tsv"
        rm -f "$s/$kind.all.tsv" "$s/$kind.excl-metrics.tsv" "$s/$kind.topk.tsv"
        [ "$kind" = ease ] || rm -f "$s/$kind.excl.tsv"
    done
}

# fused LABEL DIR: the model's per-user lists and EASE's (baselines' lists
# of 100 at the lambda chosen), fused by mlr-fuse at the model's weight w
# (EASE's 1 - w) of DIR/fuse-weight.tsv (choose); the test rows scored once
# into DIR/fused.tsv. The model is the default one (DIR/model), with or
# without --user-model, its per-user queries at the time train-eval.sh
# kept (users.npy, the training rows excluded).
fused() {
    b=$1 s=$2 m=$2/model
    w=$(best_of "$s/fuse-weight.tsv")
    run_stage "$b-model-users" mlr-topk --quiet --queries "$m/users.npy" --query-ids "$m/users.ids" \
        --items "$m/items.npy" --exclude "$s/train.tsv" --k 100 --output "$s/model-users.topk.tsv"
    run_stage "$b-fused" mlr-fuse --join user --weights "$(awk -v w="$w" 'BEGIN { print 1 - w }'),$w" --k 100 \
        --output "$s/fused.excl.tsv" "$s/ease.excl.tsv" "$s/model-users.topk.tsv"
    mlr-score --quiet --test "$s/test.tsv" --train "$s/train.tsv" --topk "$s/fused.excl.tsv" \
        --item-ids "$m/items.ids" --output "$s/fused.tsv" --user-figures "$s/users-fused.tsv"
    # Each user's figures of the three, for the paired differences.
    mlr-score --quiet --test "$s/test.tsv" --train "$s/train.tsv" --topk "$s/ease.excl.tsv" \
        --item-ids "$m/items.ids" --output /dev/null --user-figures "$s/users-ease.tsv"
    run_stage "$b-model-lists" mlr-fuse --join user --weights 0,1 --k 100 \
        --output "$s/fused.excl.tsv" "$s/ease.excl.tsv" "$s/model-users.topk.tsv"
    mlr-score --quiet --test "$s/test.tsv" --train "$s/train.tsv" --topk "$s/fused.excl.tsv" \
        --item-ids "$m/items.ids" --output /dev/null --user-figures "$s/users-model.tsv"
    paired "$s/users-fused.tsv" "$s/users-ease.tsv" fused-ease >"$s/paired.tsv"
    paired "$s/users-model.tsv" "$s/users-ease.tsv" model-ease | tail -n +2 >>"$s/paired.tsv"
    rm -f "$s/model-users.topk.tsv" "$s/fused.excl.tsv" "$s/ease.excl.tsv"
}

# paired A B LABEL: the mean over users of A's figure minus B's (each
# user's, mlr-score --user-figures; the same users), its standard error
# (the sd of the differences / sqrt(users)) and how many users each list
# served better, for nDCG@10 and recall@10.
paired() {
    awk -F'\t' -v OFS='\t' -v pair="$3" 'FNR == 1 { for (i = 2; i <= NF; i++) col[FILENAME, $i] = i; next }
        FILENAME == ARGV[1] { for (j = 1; j <= 2; j++) a[$1, j] = $(col[ARGV[1], m[j]]); next }
        { n++; for (j = 1; j <= 2; j++) { d = a[$1, j] - $(col[ARGV[2], m[j]]); s[j] += d; ss[j] += d * d
              if (d > 0) up[j]++; else if (d < 0) down[j]++ } }
        BEGIN { m[1] = "ndcg@10"; m[2] = "recall@10" }
        END { print "pair", "metric", "mean_difference", "standard_error", "users", "better", "worse"
              for (j = 1; j <= 2; j++) { mean = s[j] / n; var = n > 1 ? (ss[j] - n * mean * mean) / (n - 1) : 0
                  print pair, m[j], sprintf("%.6g", mean), sprintf("%.3g", sqrt(var > 0 ? var : 0) / sqrt(n)), n,
                        up[j] + 0, down[j] + 0 } }' "$(awkpath "$1")" "$(awkpath "$2")"
}

if [ "$only_baselines" = 1 ]; then
    for f in train.tsv test.tsv model/fit.tsv model/valid.tsv model/items.ids model/items.npy model/users.npy \
             model/user-time.tsv; do
        [ -f "$out/$f" ] || die "$out/$f: no such file (--baselines wants a run of pipeline.sh)"
    done
    choose baseline "$out" baseline-
    baselines baseline "$out" baseline-
    fused baseline "$out"
    exit 0
fi
mkout "$out"

# (run_stage sets $name: the functions here use other names.)
# setup NAME TABLE "SPLIT OPTIONS" [mlr-train options...]: the split, the
# model (its validation slice cut the way the test rows were), the baselines.
setup() {
    sname=$1 table=$2 split=$3; shift 3
    s=$out/$sname
    mkdir -p "$s"
    # shellcheck disable=SC2086 # $split: plain words of this script's
    run_stage "$sname-split" mlr-split $split --test-output "$s/test.tsv" --output "$s/train.tsv" "$table"
    case $split in *user-time*) vby=user-time ;; *) vby=random ;; esac
    # shellcheck disable=SC2086 # $seedopt: empty or two plain words
    sh "$mlr_pipelines/evaluate.sh" --valid-by "$vby" $seedopt --lambdas "$lambdas" --fuse-weights "$fweights" \
        "$s/train.tsv" "$s/test.tsv" "$s/model" "$@" 2>"$s/log" || die "$sname: evaluate.sh failed: $(tail -n 1 "$s/log")"
    if [ "$umodel" != none ]; then
        # shellcheck disable=SC2086 # $umodel: plain words (checked)
        sh "$mlr_pipelines/evaluate.sh" --valid-by "$vby" $seedopt --no-hybrid "$s/train.tsv" "$s/test.tsv" "$s/user-model" \
            $umodel "$@" 2>"$s/user-model.log" ||
            die "$sname: evaluate.sh of the per-user model failed: $(tail -n 1 "$s/user-model.log")"
    fi
    # The seed report's protocol asks a query per test row, at its time:
    # where per-row top-100 on the validation slice preferred the other
    # kind of history, that kind's model too (as pipeline.sh does).
    rowkind=$(per_row_kind "$s/model")
    if [ "$sname" = random ] && [ -n "$rowkind" ]; then
        # shellcheck disable=SC2086 # $seedopt: two plain words
        sh "$mlr_pipelines/train-eval.sh" $seedopt --history "$rowkind" --no-topk "$s/model" "$s/per-row" "$@" \
            2>"$s/per-row.log" || die "$sname: the per-row model failed: $(tail -n 1 "$s/per-row.log")"
    fi
    choose "$sname" "$s" ""
    baselines "$sname" "$s" ""
    fused "$sname" "$s"
}

# fold_lists uK: the baselines and the fused lists on official fold K, as
# setup() makes them, beside the model crossval.sh trained there (its
# fold folder is an evaluate.sh folder: prepare.sh, then train-eval.sh).
fold_lists() {
    s=$out/folds/$1
    mkdir -p "$s"
    ln -s "../cv/$1" "$s/model"
    ln -s "../cv/$1/train.tsv" "$s/train.tsv"
    ln -s "../cv/$1/test.tsv" "$s/test.tsv"
    choose "fold-$1" "$s" ""
    baselines "fold-$1" "$s" ""
    fused "fold-$1" "$s"
}

if [ "$tables" = 0 ]; then
    seedopt="--seeds $seeds" # always: crossval.sh's default is not evaluate.sh's
    ml100k= latest=
    if [ -n "$data" ] && [ -f "$data/ml-100k/u.data" ]; then ml100k=$data/ml-100k; fi
    if [ -n "$data" ] && [ -f "$data/ml-latest-small/ratings.csv" ]; then latest=$data/ml-latest-small; fi
    for st in $(echo "$setups" | tr ',' ' '); do
        case $st in
        latest) [ -n "$latest" ] || { echo "$me: latest: skipped, no ml-latest-small in '$data'" >&2; continue; } ;;
        *) [ -n "$ml100k" ] || { echo "$me: $st: skipped, no ml-100k in '$data'" >&2; continue; } ;;
        esac
        rm -rf "${out:?}/$st"
        echo "$me: $st" >&2
        case $st in
        random|user-time) [ -f "$out/ml-100k.tsv" ] ||
            run_stage ingest mlr-ingest --format ml-100k --output "$out/ml-100k.tsv" "$ml100k" ;;
        latest) [ -f "$out/latest.tsv" ] ||
            run_stage ingest-latest mlr-ingest --format ml-latest --output "$out/latest.tsv" "$latest" ;;
        esac
        case $st in
        random) setup random "$out/ml-100k.tsv" "--by random --seed 42 --test-fraction 0.2" "$@" ;;
        user-time) setup user-time "$out/ml-100k.tsv" "--by user-time --test-fraction 0.2" "$@" ;;
        latest) setup latest "$out/latest.tsv" "--by random --seed 42 --test-fraction 0.2" "$@" ;;
        folds)
            mkdir -p "$out/folds"
            # shellcheck disable=SC2086
            sh "$mlr_pipelines/crossval.sh" --data "$ml100k" --jobs "$jobs" $seedopt "$out/folds/cv" "$@" \
                2>"$out/folds/log" || die "folds: crossval.sh failed: $(tail -n 1 "$out/folds/log")"
            for k in 1 2 3 4 5; do fold_lists "u$k"; done ;;
        esac
    done
fi
[ -d "$out" ] || die "$out: no such directory"

# ---- every figure, long: setup, recommender, metric, value ----
# From the runs' own files only: the model's test metrics (model) and
# validation metrics (model-valid), the baselines', EASE's lambda, the
# folds' RMSE and their mean.
# temporaries by mktemp beside their file (no fixed name a planted link could take)
tmp=$(beside "$out/results.tsv") || exit 1
trap 'rm -f -- "$tmp"' EXIT
{
    printf 'setup\trecommender\tmetric\tvalue\n'
    for st in random user-time latest fold-u1 fold-u2 fold-u3 fold-u4 fold-u5; do
        case $st in fold-*) s=$out/folds/${st#fold-} ;; *) s=$out/$st ;; esac
        [ -f "$s/model/metrics.tsv" ] || continue
        for f in model:model/metrics.tsv model-valid:model/valid-metrics.tsv pop:pop.tsv ease:ease.tsv fused:fused.tsv \
            user-model:user-model/metrics.tsv user-model-valid:user-model/valid-metrics.tsv \
            per-row:per-row/metrics.tsv per-row-valid:per-row/valid-metrics.tsv; do
            [ -f "$s/${f#*:}" ] || continue
            awk -F'\t' -v OFS='\t' -v s="$st" -v r="${f%%:*}" 'NR > 1 { print s, r, $1, $2 }' "$(awkpath "$s/${f#*:}")"
        done
        [ ! -f "$s/ease-lambda.tsv" ] || awk -F'\t' -v OFS='\t' -v s="$st" 'NR > 1 && (b == "" || $2 + 0 > bv) { b = $1; bv = $2 + 0 }
            END { if (b != "") print s, "ease", "lambda", b }' "$(awkpath "$s/ease-lambda.tsv")"
        [ ! -f "$s/fuse-weight.tsv" ] || awk -F'\t' -v OFS='\t' -v s="$st" 'NR > 1 && (b == "" || $2 + 0 > bv) { b = $1; bv = $2 + 0 }
            END { if (b != "") print s, "fused", "model_weight", b }' "$(awkpath "$s/fuse-weight.tsv")"
        # The paired differences over users (fused and model against EASE).
        [ ! -f "$s/paired.tsv" ] || awk -F'\t' -v OFS='\t' -v s="$st" 'NR > 1 {
                print s, $1, $2 "_diff", $3; print s, $1, $2 "_diff_se", $4
                print s, $1, $2 "_better", $6; print s, $1, $2 "_worse", $7 }' "$(awkpath "$s/paired.tsv")"
        # The epoch each model kept (the log's last "kept": its best on validation).
        for r in model user-model; do
            [ ! -f "$s/$r/train-log.tsv" ] || awk -F'\t' -v OFS='\t' -v s="$st" -v r="$r" '
                NR == 1 { for (i = 1; i <= NF; i++) if ($i == "kept") c = i; next } c { k = $c; n = $1 }
                END { if (k != "") { print s, r, "epoch_kept", k; print s, r, "epochs_run", n } }' \
                "$(awkpath "$s/$r/train-log.tsv")"
        done
        # The median epoch's seconds of the model's training log.
        [ ! -f "$s/model/train-log.tsv" ] || awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "seconds") c = i; next }
            c { print $c }' "$(awkpath "$s/model/train-log.tsv")" | sort -g |
            awk -v OFS='\t' -v s="$st" '{ x[NR] = $1 } END { if (NR) print s, "model", "epoch_seconds",
                (NR % 2 ? x[(NR + 1) / 2] : (x[NR / 2] + x[NR / 2 + 1]) / 2) }'
    done
    cv=$out/folds/cv
    if [ -f "$cv/folds.tsv" ] && [ -f "$cv/summary.tsv" ]; then
        awk -F'\t' -v OFS='\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "rmse") c = i; next }
            c { print "folds", "model", "rmse_" $1, $c }' "$(awkpath "$cv/folds.tsv")"
        awk -F'\t' -v OFS='\t' '$1 == "rmse" { print "folds", "model", "rmse", $2; print "folds", "model", "rmse_sd", $3 }' \
            "$(awkpath "$cv/summary.tsv")"
    fi
} >"$tmp"
mv -T "$tmp" "$out/results.tsv"

# ---- the tables, as TSV, from results.tsv alone ----
R=$(awkpath "$out/results.tsv")
# The seed report's protocol: top-k over all items, nothing removed.
awk -F'\t' -v OFS='\t' 'NR > 1 { v[$1, $2, $3] = $4 }
    END { if (!(("random", "model", "top10") in v)) exit
          print "metric", "two-tower model", "two-tower model (per-row queries)", "most popular", "EASE", "seed report (with the leak)"
          split("top1 top5 top10 top50 top100 rmse", m, " "); split("0.0030 0.0535 0.1008 0.3368 0.5095 -", c, " ")
          r = (("random", "per-row", "top10") in v) ? "per-row" : "model"
          for (i = 1; i <= 6; i++) print m[i], g("model", m[i]), g(r, m[i]), g("pop", m[i]), g("ease", m[i]), c[i] }
    function g(r, k) { return (("random", r, k) in v) ? v["random", r, k] : "-" }' "$R" >"$out/report.tsv"
# The field's protocol: per user, training items removed.
awk -F'\t' -v OFS='\t' 'NR > 1 { v[$1, $2, $3] = $4 }
    END { print "data and split", "users", "model nDCG@10", "EASE nDCG@10", "model+EASE fused nDCG@10", "popular nDCG@10",
                "model recall@10", "EASE recall@10", "model+EASE fused recall@10", "popular recall@10",
                "EASE lambda (validation)", "fused: model weight (validation)", "model nDCG@10 (validation)",
                "model epoch (validation)"
          n = split("random user-time latest", s, " ")
          d["random"] = "ML-100K, random 80/20 (seed 42)"; d["user-time"] = "ML-100K, each user'"'"'s latest 20%"
          d["latest"] = "ml-latest-small, random 80/20 (seed 42)"
          for (i = 1; i <= n; i++) { if (!((s[i], "model", "ndcg@10") in v)) continue
              # the per-user model where there is one
              u = ((s[i], "user-model", "ndcg@10") in v) ? "user-model" : "model"
              print d[s[i]], g(s[i], u, "users"), g(s[i], u, "ndcg@10"), g(s[i], "ease", "ndcg@10"),
                    g(s[i], "fused", "ndcg@10"), g(s[i], "pop", "ndcg@10"),
                    g(s[i], u, "recall@10"), g(s[i], "ease", "recall@10"), g(s[i], "fused", "recall@10"), g(s[i], "pop", "recall@10"),
                    g(s[i], "ease", "lambda"), g(s[i], "fused", "model_weight"), g(s[i], u "-valid", "ndcg@10"),
                    g(s[i], u, "epoch_kept") "/" g(s[i], u, "epochs_run") } }
    function g(s, r, k) { return ((s, r, k) in v) ? v[s, r, k] : "-" }' "$R" >"$out/field.tsv"
# The paired differences per user: is a gap over EASE more than noise?
awk -F'\t' -v OFS='\t' 'NR > 1 { v[$1, $2, $3] = $4 }
    END { print "data and split", "lists", "nDCG@10 difference", "its standard error", "recall@10 difference",
                "its standard error", "users better / worse (nDCG@10)"
          n = split("random user-time latest", s, " ")
          d["random"] = "ML-100K, random 80/20"; d["user-time"] = "ML-100K, each user'"'"'s latest 20%"
          d["latest"] = "ml-latest-small, random 80/20"
          np = split("fused-ease model-ease", ps, " "); l["fused-ease"] = "fused - EASE"; l["model-ease"] = "model - EASE"
          for (i = 1; i <= n; i++) for (j = 1; j <= np; j++) { p = ps[j]; if (!((s[i], p, "ndcg@10_diff") in v)) continue
              print d[s[i]], l[p], v[s[i], p, "ndcg@10_diff"], v[s[i], p, "ndcg@10_diff_se"],
                    v[s[i], p, "recall@10_diff"], v[s[i], p, "recall@10_diff_se"],
                    v[s[i], p, "ndcg@10_better"] " / " v[s[i], p, "ndcg@10_worse"] } }' "$R" >"$out/paired.tsv"
# The five official folds: RMSE beside the published anchors.
awk -F'\t' -v OFS='\t' 'NR > 1 { v[$1, $2, $3] = $4 }
    END { print "model", "RMSE", "note"
          if (("folds", "model", "rmse") in v) {
              print "two-tower model (defaults), mean of u1..u5", v["folds", "model", "rmse"], "sd " v["folds", "model", "rmse_sd"]
              for (k = 1; k <= 5; k++) print "two-tower model, u" k, v["folds", "model", "rmse_u" k], "fold u" k }
          print "libFM (user and item features)", "0.8907", "published"
          print "LIBMF", "0.911", "published"
          print "SVD++", "0.919", "published" }' "$R" >"$out/folds.tsv"
# The five folds per user: each fold's figures, then their mean and sd
# over the folds (the differences are each fold's paired means).
awk -F'\t' -v OFS='\t' 'NR > 1 { v[$1, $2, $3] = $4 }
    END { if (!(("fold-u1", "model", "ndcg@10") in v)) exit
          print "fold", "model nDCG@10", "EASE nDCG@10", "fused nDCG@10", "model recall@10", "EASE recall@10",
                "fused recall@10", "fused - EASE nDCG@10", "model - EASE nDCG@10", "fused - EASE recall@10",
                "EASE lambda", "fused: model weight"
          split("model:ndcg@10 ease:ndcg@10 fused:ndcg@10 model:recall@10 ease:recall@10 fused:recall@10 " \
                "fused-ease:ndcg@10_diff model-ease:ndcg@10_diff fused-ease:recall@10_diff", c, " ")
          for (k = 1; k <= 5; k++) { f = "fold-u" k; if (!((f, "model", "ndcg@10") in v)) exit
              l = "u" k; for (j = 1; j <= 9; j++) { split(c[j], rm, ":"); x[k, j] = v[f, rm[1], rm[2]]; l = l OFS x[k, j] }
              print l, v[f, "ease", "lambda"], v[f, "fused", "model_weight"] }
          m = "mean"; d = "sd"
          for (j = 1; j <= 9; j++) { s = 0; for (k = 1; k <= 5; k++) s += x[k, j]; mu = s / 5
              ss = 0; for (k = 1; k <= 5; k++) ss += (x[k, j] - mu) ^ 2
              m = m OFS sprintf("%.4g", mu); d = d OFS sprintf("%.2g", sqrt(ss / 4)) }
          print m, "-", "-"; print d, "-", "-" }' "$R" >"$out/folds-users.tsv"
# Issue 13's targets, each measured or said not measured.
awk -F'\t' -v OFS='\t' 'NR > 1 { v[$1, $2, $3] = $4 }
    END { print "measure", "measured", "target", "met"
          t("ML-100K, u1..u5, mean RMSE", h("folds", "model", "rmse"), "<= 0.900", le("folds", "model", "rmse", 0.900))
          r = (("random", "per-row", "top10") in v) ? "per-row" : "model" # the model of per-row queries
          t("report'"'"'s protocol, top-100", h("random", r, "top100"), ">= 0.55", ge("random", r, "top100", 0.55))
          t("report'"'"'s protocol, top-10", h("random", r, "top10"), ">= 0.10", ge("random", r, "top10", 0.10))
          split("random user-time latest", s, " "); split("0.01 0 0", plus, " ")
          d["random"] = "random 80/20"; d["user-time"] = "per-user temporal"; d["latest"] = "ml-latest-small"
          for (i = 1; i <= 3; i++) for (j = 1; j <= 2; j++) {
              k = j == 1 ? "ndcg@10" : "recall@10"
              e = h(s[i], "ease", k)
              u = ((s[i], "user-model", k) in v) ? "user-model" : "model"
              t(d[s[i]] ", " k, h(s[i], u, k), e == "-" ? ">= EASE" (plus[i] > 0 ? " + " plus[i] : "") : ">= " sprintf("%.4f", e + plus[i]) " (EASE " e (plus[i] > 0 ? " + " plus[i] : "") ")",
                (s[i], u, k) in v && e != "-" ? (v[s[i], u, k] + 0 >= e + plus[i] - 1e-12 ? "yes" : "no") : "not measured") }
          t("training seconds per epoch (median), ML-100K", h("random", "model", "epoch_seconds"), "within 1.2x of 0.15 (bench/, not here)", "see make bench") }
    function h(s, r, k) { return ((s, r, k) in v) ? v[s, r, k] : "-" }
    function le(s, r, k, x) { return ((s, r, k) in v) ? (v[s, r, k] + 0 <= x ? "yes" : "no") : "not measured" }
    function ge(s, r, k, x) { return ((s, r, k) in v) ? (v[s, r, k] + 0 >= x ? "yes" : "no") : "not measured" }
    function t(a, b, c, d) { print a, b, c, d }' "$R" >"$out/targets.tsv"

# ---- the same tables as Markdown ----
md() { # TSV: a Markdown table of it
    awk -F'\t' '{ l = "|"; for (i = 1; i <= NF; i++) l = l " " $i " |"; print l
        if (NR == 1) { l = "|"; for (i = 1; i <= NF; i++) l = l "---|"; print l } }' "$(awkpath "$1")"
}
tmp=$(beside "$out/benchmark.md") || exit 1
{
    echo "## The model beside the baselines (benchmark.sh)"
    echo
    echo "Every choice made on validation slices cut from the training rows (the model's epoch by"
    echo "\`mlr-train --patience\`, EASE's lambda, the fused lists' model weight); the test rows scored once."
    echo "Figures from \`results.tsv\`. \"model+EASE fused\": mlr-fuse of the model's per-user lists and EASE's."
    if [ "$(wc -l <"$out/report.tsv")" -gt 1 ]; then
        echo
        echo "### The seed report's protocol (ML-100K, random 80/20, seed 42, every item a candidate, nothing removed)"
        echo
        md "$out/report.tsv"
    fi
    if [ "$(wc -l <"$out/field.tsv")" -gt 1 ]; then
        echo
        echo "### The field's protocol (per user, training items removed; one query per user with their training history, at their last or median training time or the mean over their training rows, as the validation slice chose)"
        echo
        if grep -q '	user-model	' "$out/results.tsv"; then
            echo "The model's columns are those of \`--user-model\`'s model; the fused lists are the default model's."
            echo
        fi
        md "$out/field.tsv"
    fi
    if [ "$(wc -l <"$out/paired.tsv")" -gt 1 ]; then
        echo
        echo "### Per user, paired: the same users' figures subtracted (mean and standard error over users)"
        echo
        echo "A difference within two standard errors of 0 is not evidence of one list over the other."
        echo
        md "$out/paired.tsv"
    fi
    echo
    echo "### Rating prediction on ML-100K's five official folds"
    echo
    md "$out/folds.tsv"
    if [ "$(wc -l <"$out/folds-users.tsv")" -gt 1 ]; then
        echo
        echo "### Per user on ML-100K's five official folds (training items removed; each fold's choices on its own validation slice)"
        echo
        echo "The random split's figures above are one split; these are five, with their spread."
        echo
        md "$out/folds-users.tsv"
    fi
    echo
    echo "### Issue 13's targets"
    echo
    md "$out/targets.tsv"
} >"$tmp"
mv -T "$tmp" "$out/benchmark.md"
echo "$me: done: $out/benchmark.md" >&2
