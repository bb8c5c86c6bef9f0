#!/bin/sh
# scale: the whole flow on the MovieLens-20M shape from mlr-synth (138,000
# users, 27,000 items, 20M ratings), stage by stage, each with seconds and
# peak resident memory (target: every stage under 4 GB):
#   synth, ingest (--format tsv of the synth output), split (random 80/20),
#   vocab and encode of the 16M training rows,
#   train: ONE epoch; by default on a random sample of the ratings (the
#     test rows, 4M, a random 20%: a full 16M-row epoch does not fit the
#     10-minute `make bench`); SCALE_TRAIN=full trains on the training rows.
#     Examples/s beside the same command on ML-100K (or on mlr-synth's
#     default 100K shape when MLR_DATA_DIR has no ml-100k) in the same run:
#     target within 1.2x, i.e. ratio >= 0.83, for the epochs alone (the
#     seconds of mlr-train's --log); the whole command is shown too, whose
#     loading, input hashing and saving one epoch here carries alone and
#     ten epochs there share; the two alternate, BENCH_REPS times (3),
#     and the figures are the medians,
#   embed + top-k for every user: one query per user (each user's last
#     training row), k=100 over the whole catalogue, lists to /dev/null.
# Knobs: SCALE_USERS SCALE_ITEMS SCALE_RATINGS SCALE_TRAIN=sample|full
# SCALE_THREADS (default: nproc). Everything lives in a temporary
# directory under $BENCH_TMP (/tmp), removed stage by stage.
. "$(dirname "$0")/lib.sh"
U=${SCALE_USERS:-138000} I=${SCALE_ITEMS:-27000} R=${SCALE_RATINGS:-20000000}
TH=${SCALE_THREADS:-$(nproc)} MODE=${SCALE_TRAIN:-sample}
d=$BENCH_TMP/scale
mkdir -p "$d"
MAX_MB=0

# stage NAME COUNT UNIT REF REF_UNIT CMD...: times CMD, appends a row with
# COUNT / seconds, and keeps the largest peak.
stage() {
    name=$1 count=$2 unit=$3 ref=$4 ref_unit=$5; shift 5
    timed "scale $name" "$@"
    row "scale $name" "$(per_sec "$count" "$SECS")" "$unit" "$ref" "$ref_unit" \
        "${SECS}s, peak ${RSS_MB} MB (target < 4096 MB)"
    MAX_MB=$(awk -v a="$MAX_MB" -v b="$RSS_MB" 'BEGIN { print (b > a) ? b : a }')
}
rows_of() { echo $(($(wc -l <"$1") - 1)); }
target=1000000
stage "synth ${U}x${I}, $R ratings" "$R" rows/s "$target" "rows/s (target)" \
    mlr-synth --n-users "$U" --n-items "$I" --n-ratings "$R" --seed 7 --output "$d/synth.tsv"
stage ingest "$R" rows/s "$target" "rows/s (target)" \
    mlr-ingest --format tsv --output "$d/ratings.tsv" "$d/synth.tsv"
rm -f "$d/synth.tsv"
stage split "$R" rows/s "$target" "rows/s (target)" \
    mlr-split --seed 42 --test-output "$d/test.tsv" --output "$d/train.tsv" "$d/ratings.tsv"
rm -f "$d/ratings.tsv"
ntrain=$(rows_of "$d/train.tsv") ntest=$(rows_of "$d/test.tsv")
stage "vocab (train)" "$ntrain" rows/s "$target" "rows/s (target)" \
    mlr-vocab --output "$d/spec" "$d/train.tsv"
stage "encode (train)" "$ntrain" rows/s "$target" "rows/s (target)" \
    mlr-encode --spec "$d/spec" --output "$d/enc-train" "$d/train.tsv"

# One query row per user (the user's last training row; the table is in
# user order) and one row per item, for the catalogue.
awk -F'\t' -v U="$d/users.tsv" -v I="$d/items.tsv" '
    NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "user_id") u = i; if ($i == "item_id") it = i }
              print >U; print >I; next }
    $u != prev && NR > 2 { print last >U }
    !($it in seen) { seen[$it]; print >I }
    { prev = $u; last = $0 }
    END { if (NR > 1) print last >U }' "$d/train.tsv"
nusers=$(rows_of "$d/users.tsv")
mlr-encode --spec "$d/spec" --output "$d/enc-users" "$d/users.tsv"
mlr-encode --as-catalogue --spec "$d/spec" --output "$d/enc-items" "$d/items.tsv"
rm -f "$d/train.tsv" "$d/users.tsv" "$d/items.tsv"

# The reference: the same training command, one epoch... on ML-100K, whose
# epoch is too short to time alone: 10 epochs, examples counted as such.
refdir=$d/ref
mkdir -p "$refdir"
dataset=${MLR_DATA_DIR:-$MLR_ROOT/../shared/data}/ml-100k
if [ -f "$dataset/u.data" ]; then
    mlr-ingest --format ml-100k --output "$refdir/all.tsv" "$dataset"; refname=ML-100K
else
    mlr-synth --seed 1 --output "$refdir/all.tsv"; refname="mlr-synth 100K (no ML-100K)"
fi
mlr-split --seed 42 --test-output "$refdir/test.tsv" --output "$refdir/train.tsv" "$refdir/all.tsv"
mlr-vocab --output "$refdir/spec" "$refdir/train.tsv"
mlr-encode --spec "$refdir/spec" --output "$refdir/enc" "$refdir/train.tsv"
refrows=$(rows_of "$refdir/train.tsv")
# loop_eps LOG ROWS: examples per second of the epochs alone (the log's
# seconds column), without loading, hashing the inputs and saving
loop_eps() { awk -F'\t' -v n="$2" 'NR > 1 { s += $2; e++ } END { printf "%.0f", n * e / s }' "$1"; }

if [ "$MODE" = full ]; then
    enc=$d/enc-train n=$ntrain what="the $ntrain training rows"
else
    stage "encode (test, the training sample)" "$ntest" rows/s "$target" "rows/s (target)" \
        mlr-encode --spec "$d/spec" --output "$d/enc-test" "$d/test.tsv"
    enc=$d/enc-test n=$ntest what="a random $ntest-row sample (the test rows)"
fi
rm -f "$d/test.tsv"
# The two trainings alternate, REPS times each, so that a busy spell
# weighs on both; each figure is the median of its runs.
: >"$d/ref.runs"
: >"$d/big.runs"
for r in $(seq "${BENCH_REPS:-3}"); do
    timed "train reference ($refname, 10 epochs)" mlr-train --quiet --threads "$TH" --epochs 10 \
        --rows "$refdir/enc" --spec "$refdir/spec" --output "$refdir/model.safetensors" --log "$refdir/log.tsv"
    echo "$(loop_eps "$refdir/log.tsv" "$refrows") $(per_sec $((refrows * 10)) "$SECS")" >>"$d/ref.runs"
    timed "scale train" mlr-train --quiet --threads "$TH" --epochs 1 --rows "$enc" \
        --spec "$d/spec" --output "$d/model.safetensors" --log "$d/log.tsv"
    echo "$(loop_eps "$d/log.tsv" "$n") $(per_sec "$n" "$SECS") $SECS $RSS_MB" >>"$d/big.runs"
done
col() { cut -d' ' -f"$1" "$2" | median; }
ref_loop=$(col 1 "$d/ref.runs") ref_eps=$(col 2 "$d/ref.runs")
loop=$(col 1 "$d/big.runs") eps=$(col 2 "$d/big.runs") SECS=$(col 3 "$d/big.runs")
RSS_MB=$(cut -d' ' -f4 "$d/big.runs" | sort -g | tail -n 1)
runs="median of $(wc -l <"$d/big.runs") runs each"
ratios=$(paste -d' ' "$d/big.runs" "$d/ref.runs" | awk '{ printf "%s%.3f", (NR > 1 ? " " : ""), $1 / $5 }')
us() { awk -v a="$1" -v b="$2" 'BEGIN { printf "%.2f us/example vs %.2f", 1e6 / a, 1e6 / b }'; }
row "scale train 1 epoch on $what (the epoch)" "$loop" examples/s "$ref_loop" \
    "examples/s ($refname, 10 epochs, same options)" \
    "$(us "$loop" "$ref_loop"); $runs (ratios $ratios); target ratio >= 0.83"
row "scale train 1 epoch on $what (the whole command)" "$eps" examples/s "$ref_eps" \
    "examples/s ($refname, 10 epochs, same options)" \
    "$(us "$eps" "$ref_eps"), with loading, hashing and saving (spread over 1 epoch here, 10 there); $runs; ${SECS}s, peak ${RSS_MB} MB (target < 4096 MB)"
MAX_MB=$(awk -v a="$MAX_MB" -v b="$RSS_MB" 'BEGIN { print (b > a) ? b : a }')
rm -rf "$d/enc-train" "$d/enc-test"
stage "embed $nusers users" "$nusers" queries/s - - \
    mlr-embed --threads "$TH" --model "$d/model.safetensors" --rows "$d/enc-users" --output "$d/q.npy"
mlr-embed --threads "$TH" --model "$d/model.safetensors" --catalogue "$d/enc-items" --output "$d/items.npy"
nitems=$(rows_of "$d/items.ids")
stage "top-100 of $nitems items for $nusers users" "$nusers" queries/s - - \
    mlr-topk --quiet --threads "$TH" --queries "$d/q.npy" --query-ids "$d/q.ids" \
    --items "$d/items.npy" --k 100 --output /dev/null
row "scale peak memory (largest stage)" "$MAX_MB" MB 4096 "MB (target)" "$TH threads; ratio < 1 meets the target"
rm -rf "$d"
