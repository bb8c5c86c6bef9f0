#!/bin/sh
# prepare.sh [--spec SPECDIR] [--history N] [--valid-fraction F] [--valid-by MODE] [--valid-seed S]
#            TRAIN.tsv TEST.tsv OUTDIR [mlr-vocab options...]
#
# The data half of evaluate.sh, done once and shared by any number of
# models (grid.sh, retrain.sh): leaves in OUTDIR
#   spec/                 the feature specification (from TRAIN, or a copy of
#                         SPECDIR: rows encoded for an existing model)
#   fit.tsv valid.tsv     TRAIN cut in two by mlr-split: the rows a model is
#                         fitted on and the validation slice that picks its
#                         epoch, its settings and a grid's winner. The test
#                         rows never serve for any choice: they are scored
#                         once, at the end.
#   enc-train/ enc-test/  the encoded rows;  enc-items/ the catalogue
#   enc-fit/ enc-valid/   the encoded fit rows and validation slice
#   enc-train-b/ enc-fit-b/ enc-valid-b/ enc-test-b/  the same rows with
#                         histories cut at each row's time (mlr-history
#                         --before-row): train-eval.sh --history keeps the
#                         kind better on the validation slice
#   users.tsv users-fit.tsv  one query row per user (mlr-history --per-user) of
#                         TRAIN and of the fit rows: the user at their last
#                         training time with all their training items, the
#                         per-user queries (enc-users/, enc-users-fit/)
#   users-median.tsv users-fit-median.tsv  the same at the median of the
#                         user's training times (--query-time median; enc-users-median/,
#                         enc-users-fit-median/): train-eval.sh keeps the one
#                         better on the validation slice
# Every table is encoded with its user_history column (mlr-history: each
# row's user's latest --history N items of the rows the model learns from,
# the row's own item left out; the fit rows' for the fit and validation
# rows, TRAIN's for the test rows). --history 0 leaves the feature out.
#   catalogue.tsv         item_id, item_title, item_genres of every item
#   train.tsv test.tsv    symbolic links to the tables (absolute paths), which
#                         train-eval.sh reads for exclusions and scoring
# then train-eval.sh PREP RUN trains and scores a model on it.
set -eu
me=prepare
. "$(dirname "$0")/lib.sh"
# The validation slice is cut the way the test rows were (--valid-by: random
# for a random split, user-time for each user's latest rows, time for the
# latest rows overall), --valid-fraction F of TRAIN (default 0.1), seeded.
usage() { echo "usage: prepare.sh [--spec SPECDIR] [--history N] [--valid-fraction F] [--valid-by random|user-time|time] [--valid-seed S] TRAIN.tsv TEST.tsv OUTDIR [mlr-vocab options...]" >&2; exit 2; }
spec= vfrac=0.1 vby=random vseed=1 hist=16
while [ $# -gt 0 ]; do
    case $1 in
    --spec) [ $# -ge 2 ] || usage; spec=$2; shift 2 ;;
    --history) [ $# -ge 2 ] || usage; hist=$2; shift 2 ;;
    --valid-fraction) [ $# -ge 2 ] || usage; vfrac=$2; shift 2 ;;
    --valid-by) [ $# -ge 2 ] || usage; vby=$2; shift 2 ;;
    --valid-seed) [ $# -ge 2 ] || usage; vseed=$2; shift 2 ;;
    -h|--help) mlr_help; exit 0 ;;
    *) break ;;
    esac
done
case $vby in random|user-time|time) ;; *) die "--valid-by: random, user-time or time, not '$vby'" ;; esac
count_opt --history "$hist" 0 100000 # 0: none; else mlr-history's --max
decimal_opt --valid-fraction "$vfrac" 0 1 # mlr-split's --test-fraction, checked before any work
count_opt --valid-seed "$vseed" 0 999999999999999999
[ $# -ge 3 ] || usage
train=$1 test=$2 out=$3
shift 3
noopt train test out spec
[ -f "$train" ] || die "$train: no such file"
[ -f "$test" ] || die "$test: no such file"
mkout "$out"
abspath() { (cd "$(dirname -- "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename -- "$1")"); }

# The tables, linked where the run stage expects them (unless OUTDIR
# already holds them under those names).
for t in train test; do
    eval "src=\$$t"
    a=$(abspath "$src")
    [ "$a" = "$(abspath "$out/$t.tsv")" ] || ln -sfn "$a" "$out/$t.tsv"
done

# The validation slice, cut from the training rows only.
run_stage split-valid mlr-split --by "$vby" --seed "$vseed" --test-fraction "$vfrac" \
    --test-output "$out/valid.tsv" --output "$out/fit.tsv" "$train"

# The histories: OUTDIR/h/NAME.tsv is table NAME with its user_history.
mkdir -p "$out/h"
history() { # NAME FROM [--before-row] TABLE | NAME FROM --per-user [--query-time median]
    n=$1 from=$2; shift 2
    if [ "$hist" != 0 ]; then
        run_stage "history-$n" mlr-history --max "$hist" --train "$from" --output "$out/h/$n.tsv" "$@"
    elif [ "$1" != --per-user ]; then
        cp "$1" "$out/h/$n.tsv"
    elif [ $# = 1 ]; then
        per_user_rows "$from" >"$out/h/$n.tsv"
    else # the row mlr-history picks, without the feature (its last column)
        run_stage "history-$n" mlr-history --train "$from" --output "$out/h/$n.full.tsv" "$@" &&
            awk 'BEGIN { FS = OFS = "\t" } { NF--; print }' "$out/h/$n.full.tsv" >"$out/h/$n.tsv"
    fi
}
# Without histories, a user's query row is still their latest training row.
per_user_rows() {
    awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "user_id") cu = i; if ($i == "timestamp") ct = i }
        print; next } !($cu in t) || $ct >= t[$cu] { t[$cu] = $ct; row[$cu] = $0; if (!($cu in seen)) { seen[$cu]; order[++n] = $cu } }
        END { for (i = 1; i <= n; i++) print row[order[i]] }' "$1"
}
history train "$train" "$train"
history fit "$out/fit.tsv" "$out/fit.tsv"
history valid "$out/fit.tsv" "$out/valid.tsv"
history test "$train" "$test"
if [ "$hist" != 0 ]; then
    history train-b "$train" --before-row "$train"
    history fit-b "$out/fit.tsv" --before-row "$out/fit.tsv"
    history valid-b "$out/fit.tsv" --before-row "$out/valid.tsv"
    history test-b "$train" --before-row "$test"
fi
history users "$train" --per-user
history users-fit "$out/fit.tsv" --per-user
history users-median "$train" --per-user --query-time median
history users-fit-median "$out/fit.tsv" --per-user --query-time median
for t in users users-fit users-median users-fit-median; do cp "$out/h/$t.tsv" "$out/$t.tsv"; done

# Vocabularies from the training rows only, or the given model's.
if [ -n "$spec" ]; then
    [ -f "$spec/features.tsv" ] || die "$spec: no features.tsv (not a SPECDIR)"
    st=$(beside -d "$out/spec") || exit 1
    cp -R "$spec/." "$st/" && rm -rf "$out/spec" && mv -T "$st" "$out/spec" || { rm -rf "$st"; exit 1; }
else
    run_stage vocab mlr-vocab --output "$out/spec" "$@" "$out/h/train.tsv"
fi
cut=; [ "$hist" = 0 ] || cut="train-b fit-b valid-b test-b"
for t in train fit valid test $cut users users-fit users-median users-fit-median; do
    run_stage "encode-$t" mlr-encode --spec "$out/spec" --output "$out/enc-$t" "$out/h/$t.tsv"
done
# The catalogue: every item of TRAIN and TEST is a candidate. Its titles
# and genres (first row of each item) are kept for recommend.sh.
awk -F'\t' -v OFS='\t' 'FNR == 1 { ci = ct = cg = 0
        for (i = 1; i <= NF; i++) { if ($i == "item_id") ci = i; if ($i == "item_title") ct = i; if ($i == "item_genres") cg = i }
        if (NR == 1) print "item_id", "item_title", "item_genres"; next }
    !seen[$ci]++ { print $ci, (ct ? $ct : ""), (cg ? $cg : "") }' "$(awkpath "$train")" "$(awkpath "$test")" \
    >"$out/catalogue.tsv"
run_stage encode-items mlr-encode --as-catalogue --spec "$out/spec" --output "$out/enc-items" "$train" "$test"
