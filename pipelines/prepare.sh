#!/bin/sh
# prepare.sh [--spec SPECDIR] [--valid-fraction F] [--valid-by MODE] [--valid-seed S]
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
usage() { echo "usage: prepare.sh [--spec SPECDIR] [--valid-fraction F] [--valid-by random|user-time|time] [--valid-seed S] TRAIN.tsv TEST.tsv OUTDIR [mlr-vocab options...]" >&2; exit 2; }
spec= vfrac=0.1 vby=random vseed=1
while [ $# -gt 0 ]; do
    case $1 in
    --spec) [ $# -ge 2 ] || usage; spec=$2; shift 2 ;;
    --valid-fraction) [ $# -ge 2 ] || usage; vfrac=$2; shift 2 ;;
    --valid-by) [ $# -ge 2 ] || usage; vby=$2; shift 2 ;;
    --valid-seed) [ $# -ge 2 ] || usage; vseed=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    *) break ;;
    esac
done
case $vby in random|user-time|time) ;; *) die "--valid-by: random, user-time or time, not '$vby'" ;; esac
[ $# -ge 3 ] || usage
train=$1 test=$2 out=$3
shift 3
[ -f "$train" ] || die "$train: no such file"
[ -f "$test" ] || die "$test: no such file"
mkdir -p "$out"
abspath() { (cd "$(dirname -- "$1")" && printf '%s/%s\n' "$(pwd)" "$(basename -- "$1")"); }

# The tables, linked where the run stage expects them (unless OUTDIR
# already holds them under those names).
for t in train test; do
    eval "src=\$$t"
    a=$(abspath "$src")
    [ "$a" = "$(abspath "$out/$t.tsv")" ] || ln -sfn "$a" "$out/$t.tsv"
done

# Vocabularies from the training rows only, or the given model's.
if [ -n "$spec" ]; then
    [ -f "$spec/features.tsv" ] || die "$spec: no features.tsv (not a SPECDIR)"
    rm -rf "$out/spec.tmp" && cp -R "$spec" "$out/spec.tmp" && rm -rf "$out/spec" && mv "$out/spec.tmp" "$out/spec"
else
    run_stage vocab mlr-vocab --output "$out/spec" "$@" "$train"
fi

# The validation slice, cut from the training rows only.
run_stage split-valid mlr-split --by "$vby" --seed "$vseed" --test-fraction "$vfrac" \
    --test-output "$out/valid.tsv" --output "$out/fit.tsv" "$train"
run_stage encode-train mlr-encode --spec "$out/spec" --output "$out/enc-train" "$train"
run_stage encode-fit mlr-encode --spec "$out/spec" --output "$out/enc-fit" "$out/fit.tsv"
run_stage encode-valid mlr-encode --spec "$out/spec" --output "$out/enc-valid" "$out/valid.tsv"
run_stage encode-test mlr-encode --spec "$out/spec" --output "$out/enc-test" "$test"
# The catalogue: every item of TRAIN and TEST is a candidate. Its titles
# and genres (first row of each item) are kept for recommend.sh.
awk -F'\t' -v OFS='\t' 'FNR == 1 { ci = ct = cg = 0
        for (i = 1; i <= NF; i++) { if ($i == "item_id") ci = i; if ($i == "item_title") ct = i; if ($i == "item_genres") cg = i }
        if (NR == 1) print "item_id", "item_title", "item_genres"; next }
    !seen[$ci]++ { print $ci, (ct ? $ct : ""), (cg ? $cg : "") }' "$(awkpath "$train")" "$(awkpath "$test")" \
    >"$out/catalogue.tsv"
run_stage encode-items mlr-encode --as-catalogue --spec "$out/spec" --output "$out/enc-items" "$train" "$test"
