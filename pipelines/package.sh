#!/bin/sh
# package.sh [--history TABLE] PREP RUN SERVED
#
# Makes SERVED, the served model directory of docs/serving.md, from the
# data prepare.sh left in PREP (spec/, catalogue.tsv, train.tsv) and the
# model train-eval.sh left in RUN (model.safetensors, items.npy, items.ids,
# and metrics.tsv, train-log.tsv, replaced-metrics.tsv, hybrid.tsv,
# history-kind.tsv, user-time.tsv where present: the last, the time of a
# known user's query that mlr-recommend makes when the request names none):
#   model.safetensors spec/ items.npy items.ids catalogue.tsv
#   model-seedK.safetensors  the other models of train-eval.sh --seeds N
#                     (K = 2..N): those whose set items.ids names
#                     (docs/fingerprint.md), served as their mean
#   history.tsv       the users' ratings (user_id item_id rating timestamp
#                     and the user columns) of TABLE (default PREP/train.tsv)
#   ease.npy          with hybrid.tsv: EASE's item-item weights on history.tsv
#                     at its lambda (mlr-baseline --weights-output), what
#                     mlr-recommend --fuse-ease reads
#   MANIFEST          "SHA256  PATH" of every other file (sha256sum -c reads it)
# SERVED is built beside itself and renamed into place: a reader sees the
# old directory or the new one, never half of one. mlr-recommend serves it.
set -eu
me=package
. "$(dirname "$0")/lib.sh"
usage() { echo "usage: package.sh [--history TABLE] PREP RUN SERVED" >&2; exit 2; }
history=
case ${1:-} in -h|--help) mlr_help; exit 0 ;; esac
if [ "${1:-}" = --history ]; then
    [ $# -ge 2 ] || usage
    history=$2; shift 2
fi
[ $# -eq 3 ] || usage
prep=$1 run=$2 served=$3
[ -n "$history" ] || history=$prep/train.tsv
for f in "$prep/spec/features.tsv" "$prep/catalogue.tsv" "$history" "$run/model.safetensors" \
         "$run/items.npy" "$run/items.ids"; do
    [ -f "$f" ] || die "$f: no such file (run prepare.sh and train-eval.sh first)"
done
noopt prep run served history
# The models items.ids names: model.safetensors, then model-seed2.. up to
# the first set whose fingerprint it is (a file left by an earlier run
# with more seeds is not taken); an items.ids without the line, one.
want=$(sed -n '1s/^#mlrec model=\([0-9a-f]\{64\}\).*/\1/p' "$run/items.ids")
models=model.safetensors shas=$(sha256sum <"$run/model.safetensors" | cut -c1-64) k=2
fp=$shas
while [ -n "$want" ] && [ "$fp" != "$want" ] && [ -f "$run/model-seed$k.safetensors" ]; do
    models="$models model-seed$k.safetensors"
    shas=$(printf '%s\n%s\n' "$shas" "$(sha256sum <"$run/model-seed$k.safetensors" | cut -c1-64)")
    fp=$(printf '%s\n' "$shas" | LC_ALL=C sort | sha256sum | cut -c1-64)
    k=$((k + 1))
done
[ -z "$want" ] || [ "$fp" = "$want" ] ||
    die "$run/items.ids: embeddings of another model than $run/model.safetensors (or of it and model-seed2..)"
mkout "$(dirname -- "$served")"
# Built in a folder made by mktemp beside SERVED (no fixed or PID name a
# planted symlink could take), the old one set aside the same way.
tmp=$(beside -d "$served") || exit 1
old=
trap 'rm -rf -- "$tmp" ${old:+"$old"}' EXIT
for f in $models; do cp "$run/$f" "$tmp/"; done
cp "$run/items.npy" "$run/items.ids" "$prep/catalogue.tsv" "$tmp/"
for f in metrics.tsv train-log.tsv replaced-metrics.tsv hybrid.tsv history-kind.tsv user-time.tsv; do
    [ ! -f "$run/$f" ] || cp "$run/$f" "$tmp/"
done
cp -R "$prep/spec" "$tmp/spec"
# The histories: the rating rows with the user columns that make a query.
awk -F'\t' -v OFS='\t' 'NR == 1 {
        n = split("user_id item_id rating timestamp user_age user_gender user_occupation user_zip", want, " ")
        for (i = 1; i <= NF; i++) at[$i] = i
        for (j = 1; j <= n; j++) if (want[j] in at) keep[++k] = at[want[j]]
    }
    { for (j = 1; j <= k; j++) printf "%s%s", $keep[j], (j < k ? OFS : ORS) }' "$(awkpath "$history")" >"$tmp/history.tsv"
# The hybrid's EASE fitted once (mlr-recommend --fuse-ease reads it
# instead of fitting it on every call): B at hybrid.tsv's lambda on
# every history row, rows and columns in items.ids order.
if [ -f "$tmp/hybrid.tsv" ]; then
    lambda=$(awk -F'\t' '$1 == "ease_lambda" { print $2 }' "$(awkpath "$tmp/hybrid.tsv")")
    [ -n "$lambda" ] || die "$run/hybrid.tsv: no ease_lambda row"
    mlr-baseline --quiet --kind ease --lambda "$lambda" --train "$tmp/history.tsv" --item-ids "$tmp/items.ids" \
        --weights-output "$tmp/ease.npy"
fi
# (the list is made before MANIFEST exists, so that it never lists itself)
list=$(cd "$tmp" && find . -type f | sed 's|^\./||' | LC_ALL=C sort)
(cd "$tmp" && printf '%s\n' "$list" | while IFS= read -r f; do sha256sum "$f"; done) >"$tmp/MANIFEST"
if [ -e "$served" ] || [ -L "$served" ]; then
    old=$(beside -d "$served") || exit 1
    mv -T -- "$served" "$old/served"
fi
mv -T -- "$tmp" "$served"
