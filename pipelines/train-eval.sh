#!/bin/sh
# train-eval.sh [--threads T] [--model MODEL]... [--seeds N] [--init-set SERVED]
#               [--user-time WHEN] [--history KIND] [--no-topk] [--no-test] [--no-refit]
#               PREP RUN [mlr-train options...]
#
# The model half of evaluate.sh: on data prepared by prepare.sh in PREP,
# trains a model on PREP's fit rows, validated after each epoch on its
# validation slice (or takes MODEL, trained on PREP's specification;
# --model given N times: a set of N models, scored as their average),
# scores it on the validation slice; then trains it again on all of PREP's
# training rows for the epochs the fit run kept (the refit; not with
# --no-refit, --no-test or --model) and scores that once on PREP's test
# rows. Leaves in RUN (which may be PREP):
#   model.safetensors     the model (not with --model): the refit, or the fit
#                         model without one
#   model-fit.safetensors the fit model, when there is a refit
#   train-log.tsv         one row per epoch of the fit run (its kept column:
#                         the epoch kept);  refit-log.tsv the refit's
#   users.npy users.ids   one query per user (the user with their training
#                         items at their last training time, at the median
#                         of their training times, or the mean of their
#                         training rows' queries: --user-time): the per-user
#                         metrics' queries
#   valid-metrics.tsv     the metrics on the validation slice (fit rows excluded):
#                         what grid.sh ranks by and any choice is made on
#   valid-metrics-last.tsv valid-metrics-median.tsv valid-metrics-mean.tsv
#                         the same with each time's per-user queries (the
#                         one asked for alone without valid)
#   user-time.tsv         each time tried, its validation nDCG@10, the one kept
#   history-kind.tsv      each kind of history tried (--history), its
#                         validation nDCG@10 and top-100, the one kept
#   query.npy query.ids   one query embedding per test row, in test order
#   items.npy items.ids   one embedding per catalogue item
#   pred.tsv              predicted rating of each test row
#   topk.tsv              the top 100 per test row, training items excluded (not with --no-topk)
#   metrics.tsv           top1..top100, rmse, mae and the exclusion metrics on
#                         the test rows (not with --no-test: a grid scores
#                         only its winner on them)
# --seeds N trains N models, seeds S..S+N-1 (S: the --seed given, else
# 42), and scores their average: the mean of their predicted ratings
# (mlr-predict) and of their retrieval scores (mlr-embed with every model:
# the embeddings side by side). model.safetensors and train-log.tsv are
# seed S's; the others are model-seedK.safetensors
# (model-fit-seedK.safetensors) and train-log-seedK.tsv (refit-log-seedK.tsv),
# K = 2..N.
# --init-set SERVED warm-starts each model from a served directory's
# (docs/serving.md): seed K from its Kth model (model.safetensors, then
# model-seedK.safetensors), from its first where it has fewer; the
# specification SERVED/spec (mlr-train --init, --init-spec; retrain.sh).
# --user-time WHEN: the time of the per-user queries: last, median, mean
# (the mean of the queries at each of the user's training rows: mlr-embed
# --mean-by-user), or valid (the default: the one with the best per-user
# nDCG@10 on the validation slice; median left out with a PREP made before
# the median queries).
# --history KIND: the rows' user_history: all (the user's latest training
# items, whatever the row's time), before-row (those rated before the
# row's time: prepare.sh's enc-*-b), or valid (the default: the fit
# models trained both ways, the kind whose N models have the better
# per-user nDCG@10 on the validation slice kept). A PREP
# without histories has all; a given --model all unless told (package.sh
# serves history-kind.tsv, which retrain.sh reads).
# --threads T pins every tool (and OpenBLAS) to T threads, so that several
# runs side by side share the cores without oversubscribing them; without
# it each tool takes its own default.
# The teacher (mlr-train --distill: EASE of the rows it trains on) is
# fitted once for every model trained on the same rows (the N seeds, both
# kinds of history) and once for the refit's: mlr-train --teacher-cache
# RUN/.teacher, removed when the run ends; an mlr-train --teacher-cache
# DIR among the options keeps it in DIR instead (grid.sh: one for the grid).
set -eu
me=train-eval
. "$(dirname "$0")/lib.sh"
usage() { echo "usage: train-eval.sh [--threads T] [--model MODEL]... [--seeds N] [--init-set SERVED] [--user-time WHEN] [--history KIND] [--no-topk] [--no-test] [--no-refit] PREP RUN [mlr-train options...]" >&2; exit 2; }
threads= model= topk=1 test=1 seeds=1 utime=valid refit=1 hist=valid initset=
nl='
'
while [ $# -gt 0 ]; do
    case $1 in
    --threads) [ $# -ge 2 ] || usage; threads=$2; shift 2 ;;
    --model) # the models, one a line (a path may hold a space)
        [ $# -ge 2 ] || usage
        m=$2
        case $m in *"$nl"*) echo "$me: --model: a path with a newline" >&2; exit 2 ;; -*) m=./$m ;; esac
        model=$model${model:+$nl}$m; shift 2 ;;
    --init-set) [ $# -ge 2 ] || usage; initset=$2; shift 2 ;;
    --seeds) [ $# -ge 2 ] || usage; seeds=$2; shift 2 ;;
    --user-time) [ $# -ge 2 ] || usage; utime=$2; shift 2 ;;
    --history) [ $# -ge 2 ] || usage; hist=$2; shift 2 ;;
    --no-topk) topk=0; shift ;;
    --no-test) test=0; shift ;;
    --no-refit) refit=0; shift ;;
    -h|--help) mlr_help; exit 0 ;;
    --*) usage ;;
    *) break ;;
    esac
done
[ $# -ge 2 ] || usage
prep=$1 run=$2
shift 2
noopt prep run initset
tt= # the --threads option of every tool, when pinned
if [ -n "$threads" ]; then
    count_opt --threads "$threads" 1 256 # the tools' range
    tt="--threads $threads"
fi
[ -d "$prep/enc-fit" ] || die "$prep: not prepared (run prepare.sh first)"
case $utime in
last|median|mean|valid) ;;
*) echo "$me: --user-time: last, median, mean or valid, not '$utime'" >&2; exit 2 ;;
esac
# a PREP made before the median queries has no median ones
[ -d "$prep/enc-users-fit-median" ] || [ "$utime" != median ] ||
    die "$prep: no median per-user queries (prepare.sh again)"
times=last,median,mean # what --user-time valid chooses from
[ -d "$prep/enc-users-fit-median" ] || times=last,mean
case $hist in
all|before-row|valid) ;;
*) echo "$me: --history: all, before-row or valid, not '$hist'" >&2; exit 2 ;;
esac
if [ ! -d "$prep/enc-fit-b" ]; then
    [ "$hist" != before-row ] || die "$prep: no histories cut at each row's time (prepare.sh again, with --history N > 0)"
    hist=all
fi
[ -z "$model" ] || [ "$hist" != valid ] || hist=all # a given model: all unless told
count_opt --seeds "$seeds" 1 64 # mlr-embed's and mlr-predict's --model at most
[ "$seeds" = 1 ] || [ -z "$model" ] || { echo "$me: --seeds trains its models: not with --model" >&2; exit 2; }
[ -z "$initset" ] || [ -z "$model" ] || { echo "$me: --init-set starts the models it trains: not with --model" >&2; exit 2; }
[ -z "$model" ] || [ "$(printf '%s\n' "$model" | wc -l)" -le 64 ] || { echo "$me: --model: at most 64 (mlr-embed's and mlr-predict's)" >&2; exit 2; }
if [ -n "$initset" ]; then
    for f in "$initset/model.safetensors" "$initset/spec/features.tsv"; do
        [ -f "$f" ] || die "--init-set: $f: no such file (a served directory, docs/serving.md)"
    done
fi
# warm K CMD...: CMD with seed K's warm start (--init-set) at its end
warm() {
    wk=$1; shift
    if [ -n "$initset" ]; then
        wm=$initset/model-seed$wk.safetensors
        [ "$wk" != 1 ] && [ -f "$wm" ] || wm=$initset/model.safetensors
        set -- "$@" --init "$wm" --init-spec "$initset/spec"
    fi
    "$@"
}
mkout "$run"
tcache=$run/.teacher # mlr-train --teacher-cache: an option given after it wins

# Training on the fit rows, validated after each epoch on the validation
# slice, never on the test rows (mlr-train's own --threads in the extra
# options wins over ours: it comes last). With the test rows to score
# (and no --no-refit), these are the fit models, model-fit*.safetensors:
# the refit below makes the ones the test rows and serving see.
refit=$([ "$refit" = 1 ] && [ "$test" = 1 ] && [ -z "$model" ] && echo 1 || echo 0)
msfx= # the models' names: model$msfx.safetensors, model$msfx-seedK.safetensors
[ "$refit" = 0 ] || msfx=-fit
base=42 prev= # the first seed: the options as given, then --seed (the last wins)
for a in "$@"; do [ "$prev" != --seed ] || base=$a; prev=$a; done

# --history valid: the fit models trained on each kind of history (this
# script, without the test rows, into RUN/history-KIND), the kind whose
# models (all N, as every other choice here: one seed's figure can turn
# a tie either way) have the better per-user nDCG@10 on the validation
# slice kept, its models and files made this run's; both kinds' figures
# and per-row top-100 (what the seed report's protocol asks) in
# history-kind.tsv.
chosen=0 # the kept kind's trial trained and validated this run's models
if [ "$hist" = valid ]; then
    topt=; [ -z "$threads" ] || topt="--threads $threads"
    printf 'history\tndcg@10\ttop100\n' >"$run/history-kind.tried"
    for h in all before-row; do
        # shellcheck disable=SC2086 # $topt is empty or two plain words
        run_stage "history-$h" env MLR_STAGES= sh "$0" $topt --seeds "$seeds" ${initset:+--init-set "$initset"} \
            --history "$h" --user-time "$utime" --no-test --no-topk "$prep" "$run/history-$h" \
            --teacher-cache "$tcache" "$@"
        m=$run/history-$h/valid-metrics.tsv
        printf '%s\t%s\t%s\n' "$h" "$(awk -F'\t' '$1 == "ndcg@10" { print $2 }' "$m")" \
            "$(awk -F'\t' '$1 == "top100" { print $2 }' "$m")"
    done >>"$run/history-kind.tried"
    hist=$(best_of "$run/history-kind.tried")
    awk -F'\t' -v OFS='\t' -v k="$hist" 'NR == 1 { print "history", "ndcg@10_valid", "top100_valid", "kept"; next }
        { print $1, $2, $3, ($1 == k) }' "$(awkpath "$run/history-kind.tried")" >"$run/history-kind.tsv"
    d=$run/history-$hist # its models (fit models where a refit follows) and validation figures
    mv "$d/model.safetensors" "$run/model$msfx.safetensors"
    k=2
    while [ "$k" -le "$seeds" ]; do mv "$d/model-seed$k.safetensors" "$run/model$msfx-seed$k.safetensors"; k=$((k + 1)); done
    rm -f "$d/history-kind.tsv"
    for f in "$d"/*; do mv -f "$f" "$run/"; done
    rm -rf "$run/history-kind.tried" "$run/history-all" "$run/history-before-row"
    chosen=1
else
    printf 'history\tndcg@10_valid\ttop100_valid\tkept\n%s\t\t\t1\n' "$hist" >"$run/history-kind.tsv"
fi
hs= # the encoded rows of that kind: enc-NAME$hs
[ "$hist" = all ] || hs=-b
if [ -z "$model" ] && [ "$chosen" = 0 ]; then
    case $base in ''|*[!0-9]*) die "--seed '$base': --seeds needs a number" ;; esac
    # shellcheck disable=SC2086 # $tt is empty or two words
    warm 1 run_stage train mlr-train $tt --spec "$prep/spec" --rows "$prep/enc-fit$hs" \
        --valid "$prep/enc-valid$hs" --catalogue "$prep/enc-items" --log "$run/train-log.tsv" \
        --output "$run/model$msfx.safetensors" --teacher-cache "$tcache" "$@"
    k=2
    while [ "$k" -le "$seeds" ]; do
        # shellcheck disable=SC2086
        warm "$k" run_stage "train-seed$k" mlr-train $tt --spec "$prep/spec" --rows "$prep/enc-fit$hs" \
            --valid "$prep/enc-valid$hs" --catalogue "$prep/enc-items" --log "$run/train-log-seed$k.tsv" \
            --output "$run/model$msfx-seed$k.safetensors" --teacher-cache "$tcache" "$@" \
            --seed $((base + k - 1))
        k=$((k + 1))
    done
fi
# models STAGE CMD...: run_stage STAGE CMD --model M for every model (the
# tools average them: mlr-predict's mean, mlr-embed's side by side).
models() {
    st=$1; shift
    if [ -n "$model" ]; then
        set -f; ms_ifs=$IFS IFS=$nl
        for m in $model; do set -- "$@" --model "$m"; done
        IFS=$ms_ifs; set +f
    else
        set -- "$@" --model "$run/model$msfx.safetensors"
    fi
    k=2
    while [ "$k" -le "$seeds" ]; do set -- "$@" --model "$run/model$msfx-seed$k.safetensors"; k=$((k + 1)); done
    run_stage "$st" "$@"
}

# The validation slice's figures, with the fit rows excluded: what every
# choice (epochs, settings, a grid's winner) is made on.
valid_rows() {
    # shellcheck disable=SC2086
    models embed-valid mlr-embed $tt --rows "$prep/enc-valid$hs" --output "$run/valid-query.npy"
    # shellcheck disable=SC2086
    models embed-items mlr-embed $tt --catalogue "$prep/enc-items" --output "$run/items.npy"
    # shellcheck disable=SC2086
    models predict-valid mlr-predict $tt --output "$run/valid-pred.tsv" "$prep/enc-valid$hs"
}
# The per-user metrics ask one query per user, made from what is known
# before the held-out rows: the user with their fit items (mlr-history
# --per-user) at their last fit time or at the median of their fit times,
# never the held-out rows themselves. --user-time valid (the default)
# keeps the time whose queries score the better nDCG@10 on the validation
# slice: a random split's held-out rows are spread over a user's stay, a
# temporal split's come after it (docs/model.md).
# user_queries STAGE WHEN ROWS OUT: the per-user queries at WHEN of the
# users of ROWS (fit or train) into OUT
user_queries() {
    if [ "$2" = mean ]; then
        # shellcheck disable=SC2086
        models "$1" mlr-embed $tt --rows "$prep/enc-$3$hs" --mean-by-user --output "$4"
    else
        usfx=; [ "$2" = last ] || usfx=-$2
        u=users-fit; [ "$3" = fit ] || u=users
        # shellcheck disable=SC2086
        models "$1" mlr-embed $tt --rows "$prep/enc-$u$usfx" --output "$4"
    fi
}
# valid_users WHEN: the validation figures with the queries at WHEN
valid_users() {
    sfx=; [ "$1" = last ] || sfx=-$1
    user_queries "embed-valid-users$sfx" "$1" fit "$run/valid-users$sfx.npy"
    # shellcheck disable=SC2086
    run_stage "score-valid$sfx" mlr-score $tt --test "$prep/valid.tsv" --train "$prep/fit.tsv" \
        --queries "$run/valid-query.npy" --items "$run/items.npy" --pred "$run/valid-pred.tsv" \
        --user-queries "$run/valid-users$sfx.npy" --output "$run/valid-metrics-$1.tsv"
}
ndcg() { awk -F'\t' '$1 == "ndcg@10" { print $2 }' "$run/valid-metrics-$1.tsv"; }
if [ "$chosen" = 1 ]; then # by the --history trial of the kind kept
    utime=$(kept_of "$run/user-time.tsv")
elif [ "$utime" = valid ]; then
    valid_rows
    # each time's figure; the best kept, the first listed on a tie
    printf 'user_time\tndcg@10\n' >"$run/user-time.tried"
    for w in $(echo "$times" | tr ',' ' '); do
        valid_users "$w"
        printf '%s\t%s\n' "$w" "$(ndcg "$w")"
    done >>"$run/user-time.tried"
    utime=$(best_of "$run/user-time.tried")
    awk -F'\t' -v OFS='\t' -v k="$utime" 'NR == 1 { print "user_time", "ndcg@10_valid", "kept"; next }
        { print $1, $2, ($1 == k) }' "$(awkpath "$run/user-time.tried")" >"$run/user-time.tsv"
    rm -f "$run/user-time.tried"
else
    valid_rows
    valid_users "$utime"
    printf 'user_time\tndcg@10_valid\tkept\n%s\t%s\t1\n' "$utime" "$(ndcg "$utime")" >"$run/user-time.tsv"
fi
cp "$run/valid-metrics-$utime.tsv" "$run/valid-metrics.tsv"
if [ "$test" = 0 ]; then rm -rf "$tcache"; exit 0; fi

# The refit: each seed's model trained again on all the training rows
# (fit and validation slice) for the epochs its fit run kept, the options
# as given (--epochs and --patience overridden), as EASE's lambda is
# chosen on the slice and EASE refitted on the training rows.
# kept LOG: the epoch the fit run kept (the last row's kept column)
kept() { awk -F'\t' 'NR > 1 { k = $NF } END { print k }' "$1"; }
if [ "$refit" = 1 ]; then
    # No validation slice here: --valid-exclude, a setting of one, goes.
    n=$#
    while [ "$n" -gt 0 ]; do
        a=$1; shift; n=$((n - 1))
        [ "$a" = --valid-exclude ] || set -- "$@" "$a"
    done
    k=1
    while [ "$k" -le "$seeds" ]; do
        ks=; [ "$k" = 1 ] || ks=-seed$k
        ep=$(kept "$run/train-log$ks.tsv")
        case $ep in ''|*[!0-9]*|0) die "train-log$ks.tsv: no kept epoch to refit with" ;; esac
        seedopt=; [ "$k" = 1 ] || seedopt="--seed $((base + k - 1))"
        # shellcheck disable=SC2086 # $tt, $seedopt: empty or two plain words
        warm "$k" run_stage "refit$ks" mlr-train $tt --spec "$prep/spec" --rows "$prep/enc-train$hs" \
            --catalogue "$prep/enc-items" --log "$run/refit-log$ks.tsv" \
            --output "$run/model$ks.safetensors" --teacher-cache "$tcache" "$@" $seedopt \
            --epochs "$ep" --patience 0
        k=$((k + 1))
    done
    msfx=
    # shellcheck disable=SC2086
    models embed-items-refit mlr-embed $tt --catalogue "$prep/enc-items" --output "$run/items.npy"
fi
rm -rf "$tcache" # every model of the run is trained

# The test rows, scored once.
# shellcheck disable=SC2086
models embed-queries mlr-embed $tt --rows "$prep/enc-test$hs" --output "$run/query.npy"
# shellcheck disable=SC2086
models predict mlr-predict $tt --output "$run/pred.tsv" "$prep/enc-test$hs"

# The lists a user would see: nothing they rated in training.
if [ "$topk" = 1 ]; then
    # shellcheck disable=SC2086
    run_stage topk mlr-topk $tt --quiet --queries "$run/query.npy" --query-ids "$run/query.ids" \
        --items "$run/items.npy" --exclude "$prep/train.tsv" --k 100 --output "$run/topk.tsv"
fi

# The seed's top-k accuracies (nothing excluded) straight from the
# embeddings, the exclusion metrics and RMSE beside them.
# shellcheck disable=SC2086
user_queries embed-users "$utime" train "$run/users.npy"
# shellcheck disable=SC2086
run_stage score mlr-score $tt --test "$prep/test.tsv" --train "$prep/train.tsv" --queries "$run/query.npy" \
    --items "$run/items.npy" --pred "$run/pred.tsv" --user-queries "$run/users.npy" --output "$run/metrics.tsv"
