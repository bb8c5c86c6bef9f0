#!/bin/sh
# prepare.sh [--spec SPECDIR] TRAIN.tsv TEST.tsv OUTDIR [mlr-vocab options...]
#
# The data half of evaluate.sh, done once and shared by any number of
# models (grid.sh, retrain.sh): leaves in OUTDIR
#   spec/                 the feature specification (from TRAIN, or a copy of
#                         SPECDIR: rows encoded for an existing model)
#   enc-train/ enc-test/  the encoded rows;  enc-items/ the catalogue
#   catalogue.tsv         item_id, item_title, item_genres of every item
#   train.tsv test.tsv    symbolic links to the tables (absolute paths), which
#                         train-eval.sh reads for exclusions and scoring
# then train-eval.sh PREP RUN trains and scores a model on it.
set -eu
me=prepare
. "$(dirname "$0")/lib.sh"
usage() { echo "usage: prepare.sh [--spec SPECDIR] TRAIN.tsv TEST.tsv OUTDIR [mlr-vocab options...]" >&2; exit 2; }
spec=
if [ "${1:-}" = --spec ]; then
    [ $# -ge 2 ] || usage
    spec=$2; shift 2
fi
[ $# -ge 3 ] || usage
train=$1 test=$2 out=$3
shift 3
[ -f "$train" ] || die "$train: no such file"
[ -f "$test" ] || die "$test: no such file"
mkdir -p "$out"
abspath() { (cd "$(dirname "$1")" && echo "$(pwd)/$(basename "$1")"); }

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

run_stage encode-train mlr-encode --spec "$out/spec" --output "$out/enc-train" "$train"
run_stage encode-test mlr-encode --spec "$out/spec" --output "$out/enc-test" "$test"
# The catalogue: every item of TRAIN and TEST is a candidate. Its titles
# and genres (first row of each item) are kept for recommend.sh.
awk -F'\t' -v OFS='\t' 'FNR == 1 { ci = ct = cg = 0
        for (i = 1; i <= NF; i++) { if ($i == "item_id") ci = i; if ($i == "item_title") ct = i; if ($i == "item_genres") cg = i }
        if (NR == 1) print "item_id", "item_title", "item_genres"; next }
    !seen[$ci]++ { print $ci, (ct ? $ct : ""), (cg ? $cg : "") }' "$train" "$test" >"$out/catalogue.tsv"
run_stage encode-items mlr-encode --items --spec "$out/spec" --output "$out/enc-items" "$train" "$test"
