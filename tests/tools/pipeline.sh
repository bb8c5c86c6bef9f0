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

# The short table (issue 13 item 7): the model beside popularity and EASE,
# every cell its run's file; EASE's lambda the best on validation.
val() { awk -F'\t' -v m="$2" '$1 == m { print $2 }' "$1"; }
check "report has the model beside the baselines" grep -q '^### The model beside the baselines' "$r/report.md"
# The per-row queries' model: the kind of history with the better per-row
# top-100 on the validation slice (model/history-kind.tsv), per-row/ when
# it is not the served model's kind.
kinds=$r/model/history-kind.tsv
rowkind=$(awk -F'\t' 'NR > 1 && (b == "" || $3 + 0 > v) { b = $1; v = $3 + 0 } END { print b }' "$kinds")
served=$(awk -F'\t' '$4 == 1 { print $1 }' "$kinds")
check "history-kind.tsv: both kinds tried, one kept" test "$(sed 1d "$kinds" | cut -f1 | tr '\n' ' ')$(awk -F'\t' 'NR > 1 { k += $4 } END { print k }' "$kinds")" = "all before-row 1"
row=$r/model/metrics.tsv
if [ "$rowkind" != "$served" ]; then
    row=$r/per-row/metrics.tsv
    check "per-row/: trained with the kind per-row top-100 chose ($rowkind)" \
        test "$(awk -F'\t' '$4 == 1 { print $1 }' "$r/per-row/history-kind.tsv")" = "$rowkind"
else
    check "no per-row/ when the served kind is also per-row top-100's" test ! -e "$r/per-row"
fi
check "the per-user nDCG@10 row: the models', popularity's and EASE's files" grep -qxF \
    "| per user | nDCG@10 | $(val "$r/model/metrics.tsv" ndcg@10) | $(val "$row" ndcg@10) | $(val "$r/baseline-pop.tsv" ndcg@10) | $(val "$r/baseline-ease.tsv" ndcg@10) | **$(val "$r/fused.tsv" ndcg@10)** | >= EASE + 0.01 |" "$r/report.md"
check "the report's top-100 row: the same files" grep -qxF \
    "| report's | top-100 | $(val "$r/model/metrics.tsv" top100) | **$(val "$row" top100)** | $(val "$r/baseline-pop.tsv" top100) | $(val "$r/baseline-ease.tsv" top100) | - | >= 0.55 |" "$r/report.md"
check "the report names the kinds chosen" grep -q "^the row's time (before-row). Served, by per-user nDCG@10: $served\$" "$r/report.md"
# The served hybrid: the weight evaluate.sh's hybrid.sh chose, scored once
# on the test rows at that weight, the difference to EASE over the users.
w=$(val "$r/model/hybrid.tsv" model_weight)
check "the report names the served hybrid's weight ($w)" grep -q "model's weight ($w) chosen on the validation slice" "$r/report.md"
check "the fused figures are mlr-score's at that weight" test -n "$(val "$r/fused.tsv" ndcg@10)"
mlr-baseline --quiet --kind ease --lambda "$(val "$r/model/hybrid.tsv" ease_lambda)" --exclude-train --train "$r/train.tsv" \
    --test "$r/test.tsv" --item-ids "$r/model/items.ids" --k 100 --output "$T/ease.topk"
mlr-topk --quiet --queries "$r/model/users.npy" --query-ids "$r/model/users.ids" --items "$r/model/items.npy" \
    --exclude "$r/train.tsv" --k 100 --output "$T/model.topk"
mlr-fuse --join user --weights "$(awk -v w="$w" 'BEGIN { print 1 - w }'),$w" --k 100 --output "$T/fused.topk" \
    "$T/ease.topk" "$T/model.topk"
mlr-score --quiet --test "$r/test.tsv" --train "$r/train.tsv" --topk "$T/fused.topk" --item-ids "$r/model/items.ids" \
    --output "$T/fused.tsv"
check "the fused row recomputed from the served weight and lambda" test "$(val "$T/fused.tsv" recall@10)" = "$(val "$r/fused.tsv" recall@10)"
d=$(awk -F'\t' '$1 == "fused-ease" && $2 == "ndcg@10" { printf "%+.4f", $3 }' "$r/paired.tsv")
check "the report gives fused - EASE ($d)" grep -q "nDCG@10 $d +- " "$r/report.md"
check "an example list from the served hybrid" grep -q "^### User .*(the model and EASE fused: model weight $w and EASE lambda" "$r/report.md"
check "EASE's lambda: four tried on the validation slice" test "$(cut -f1 "$r/baseline-ease-lambda.tsv" | tr '\n' ' ')" = "lambda 100 250 500 1000 "
best=$(sed 1d "$r/baseline-ease-lambda.tsv" | sort -t"$(printf '\t')" -k2,2gr -s | sed -n 1p | cut -f1)
check "the report names the lambda best on validation ($best)" grep -q "EASE's lambda ($best) was chosen" "$r/report.md"
check "the report says the model's validation nDCG@10" \
    grep -q "the model reached nDCG@10 $(val "$r/model/valid-metrics.tsv" ndcg@10)\$" "$r/report.md"
