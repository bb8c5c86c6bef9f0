#!/bin/sh
# e2e: `make pipeline` on MovieLens 100K (pipelines/pipeline.sh bench-e2e:
# ingest, EDA, split, vocab, encode, 40 training epochs, embed, predict,
# top-k, score, baselines, report), stage by stage from the pipeline's own
# runs/bench-e2e/stages.tsv: seconds and peak resident memory per stage,
# the stage's share of the whole run as its ratio. The total is set
# beside the 5-minute budget. Data: $MLR_DATA_DIR/ml-100k (default
# ../shared/data beside the checkout); skipped, saying so, when absent.
. "$(dirname "$0")/lib.sh"
data=${MLR_DATA_DIR:-$MLR_ROOT/../shared/data}
if [ ! -f "$data/ml-100k/u.data" ]; then
    echo "bench: e2e: SKIP: no ML-100K in $data (set MLR_DATA_DIR)" >&2
    row "e2e make pipeline (ML-100K)" - s - - "skipped: no $data/ml-100k (set MLR_DATA_DIR)"
    exit 0
fi
MLR_DATA_DIR=$(cd "$data" && pwd)
export MLR_DATA_DIR MLR_BIN
run=$MLR_ROOT/runs/bench-e2e
rm -rf "$run"
timed "make pipeline (ML-100K)" sh "$MLR_ROOT/pipelines/pipeline.sh" bench-e2e
total=$SECS total_mb=$RSS_MB
# One row per stage; a stage that runs twice (none today) is summed.
awk -F'\t' 'NR > 1 { if (!($1 in s)) order[n++] = $1; s[$1] += $2; if ($3 > m[$1]) m[$1] = $3 }
    END { for (i = 0; i < n; i++) printf "%s\t%s\t%s\n", order[i], s[order[i]], m[order[i]] }' \
    "$run/stages.tsv" >"$BENCH_TMP/stages"
while IFS="$(printf '\t')" read -r name secs mb; do
    row "e2e stage $name" "$secs" s "$total" "s (the whole run)" "peak ${mb} MB"
done <"$BENCH_TMP/stages"
row "e2e make pipeline (ML-100K), total" "$total" s 300 "s (budget: 5 minutes)" \
    "largest process ${total_mb} MB; ratio < 1 meets the budget; outputs in runs/bench-e2e"
