# make pipeline's script, start to end, on the synthetic fallback (no data
# set, no download), small and short: the report shows every section and
# says everywhere that the data are synthetic.
. "$(dirname "$0")/lib.sh"
MLR_DATA_DIR=$T/none MLR_NO_DOWNLOAD=1 MLR_RUNS=$T/runs \
MLR_SYNTH_OPTS="--users 200 --items 300 --ratings 8000" MLR_TRAIN_OPTS="--epochs 2 --batch-size 512" \
    sh "$MLR_ROOT/pipelines/pipeline.sh" >"$T/out" 2>"$T/err"
st=$?
if [ "$st" -eq 0 ]; then pass "pipeline.sh runs on synthetic data"
else fail "pipeline.sh runs on synthetic data" "status $st: $(tail -n 3 "$T/err" | tr '\n' ' ')"; fi
r=$T/runs/synthetic
check "the fallback is said in one line" test "$(grep -c 'running on SYNTHETIC data' "$T/err")" -eq 1
check "report.md exists" test -s "$r/report.md"
check "report labels the data synthetic" grep -q 'SYNTHETIC data from mlr-synth' "$r/report.md"
for s in "## Results" "## Training curves" "## Example recommendations" "## Exploratory analysis" "## Stages"; do
    check "report has '$s'" grep -q "^$s" "$r/report.md"
done
for m in top1 top5 top10 top50 top100 rmse ndcg@10; do
    check "report's table has a row for $m" \
        grep -Eq "^\| $m \| [0-9.e-]+ \| [0-9.e-]+ \| [0-9.e-]+ \|" "$r/report.md"
done
for p in curves-topk.png curves-rmse.png eda/rating-hist.png eda/top-items.png; do
    check "plot $p drawn" test -s "$r/$p"
done
check "report links images that exist" sh -c "grep -o '([^)]*\.png)' '$r/report.md' | tr -d '()' | while read -r f; do test -f '$r/'\"\$f\" || exit 1; done"
check "a new user's recommendations in the report" grep -q "^### New user" "$r/report.md"
