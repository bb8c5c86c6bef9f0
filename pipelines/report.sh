#!/bin/sh
# report.sh RUNDIR SOURCE SECONDS: writes RUNDIR/report.md from what
# pipeline.sh left there: the EDA plots and figures, the per-epoch curves
# of the training log, the metrics beside the baselines and the figures
# the seed report claims, example recommendations, and the stage timings.
set -eu
me=report
. "$(dirname "$0")/lib.sh"
case ${1:-} in -h|--help) mlr_help; exit 0 ;; esac
[ $# -eq 3 ] || { echo "usage: report.sh RUNDIR SOURCE SECONDS" >&2; exit 2; }
run=$1 source_name=$2 seconds=$3
case $run in -*) run=./$run ;; esac # never an option of the tools it reaches
log=$run/model/train-log.tsv
out=$run/report.md

# col FILE NAME: prints column NAME of a TSV with its header, one per line.
col() { awk -F'\t' -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next } k { print $k }' "$(awkpath "$1")"; }
# metric FILE NAME: the value of a metric/value TSV, or "-".
metric() { [ -f "$1" ] && awk -F'\t' -v m="$2" '$1 == m { v = $2 } END { print (v == "" ? "-" : v) }' "$(awkpath "$1")" || echo -; }

# The per-epoch curves, as the report's charts: top-k accuracy and RMSE.
# gnuplot runs in RUNDIR and names its files relative to it: RUNDIR's name
# never enters a gnuplot command (a quote in it would end a string and the
# rest run as gnuplot code, `system` included; issue 16).
if [ -f "$log" ] && [ "$(wc -l <"$log")" -gt 1 ]; then
    if gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo; then term=pngcairo; else term=png; fi
    (cd -- "$run" && gnuplot -e "set terminal $term size 800,450; set output 'curves-topk.png';
        set datafile separator '\t'; set key autotitle columnhead left top; set grid;
        set xlabel 'epoch'; set ylabel 'accuracy (validation slice, all items)';
        plot for [c in 'top5 top10 top50 top100'] 'model/train-log.tsv' using 'epoch':c with linespoints title c")
    (cd -- "$run" && gnuplot -e "set terminal $term size 800,450; set output 'curves-rmse.png';
        set datafile separator '\t'; set key off; set grid;
        set xlabel 'epoch'; set ylabel 'RMSE (validation slice)';
        plot 'model/train-log.tsv' using 'epoch':'rmse' with linespoints")
fi

tmp=$(beside "$out") || exit 1 # (mktemp: no fixed name a planted link could take)
trap 'rm -f -- "$tmp"' EXIT
m=$run/model/metrics.tsv pop=$run/baseline-pop.tsv ease=$run/baseline-ease.tsv leak=$run/leak/metrics.tsv
# The model of each protocol: the kind of history (train-eval.sh
# --history) kept by per-user nDCG@10 is the served one; pipeline.sh
# trained the other as per-row/ where per-row top-100 preferred it.
kinds=$run/model/history-kind.tsv
served=$(kept_of "$kinds" 2>/dev/null || true)
row=$m rowkind=$served
[ ! -f "$run/per-row/metrics.tsv" ] ||
    { row=$run/per-row/metrics.tsv; rowkind=$(kept_of "$run/per-row/history-kind.tsv"); }
# kind_valid KIND COLUMN: that kind's validation figure
kind_valid() { awk -F'\t' -v k="$1" -v c="$2" '$1 == k { print $c }' "$(awkpath "$kinds")" 2>/dev/null; }
# EASE's lambda: the best validation nDCG@10 of those benchmark.sh
# --baselines tried (the first on a tie, as it chose), and that figure.
lambda=- ease_valid=-
if [ -f "$run/baseline-ease-lambda.tsv" ]; then
    # shellcheck disable=SC2046 # two plain words
    set -- $(awk -F'\t' 'NR > 1 && (b == "" || $2 + 0 > bv) { b = $1; bv = $2 + 0; bs = $2 }
        END { if (b != "") print b, bs }' "$(awkpath "$run/baseline-ease-lambda.tsv")")
    [ $# -ne 2 ] || { lambda=$1 ease_valid=$2; }
fi
# The served hybrid (recommend.sh's default, --fuse-ease auto): the model's weight
# chosen on the validation slice (fuse-weight.tsv), its test figures
# (fused.tsv) and the paired difference to EASE over users (paired.tsv).
fused=$run/fused.tsv weight=-
if [ -f "$run/fuse-weight.tsv" ]; then
    weight=$(best_of "$run/fuse-weight.tsv")
    weight=${weight:--}
fi
# diff_ease METRIC: "+0.0123 +- 0.0040" (fused - EASE, its standard error)
diff_ease() {
    [ -f "$run/paired.tsv" ] && awk -F'\t' -v m="$1" '$1 == "fused-ease" && $2 == m { printf "%+.4f +- %.4f", $3, $4; f = 1 }
        END { if (!f) print "-" }' "$(awkpath "$run/paired.tsv")" || echo -
}
{
    echo "# mlrec run: $(basename -- "$run")"
    echo
    echo "Data: **$source_name**. Made $(date -u '+%Y-%m-%d %H:%M UTC') in ${seconds} s on $(nproc) cores."
    echo "Split: random 80/20, seed 42; every catalogue item a candidate."
    echo
    echo "## Results"
    echo
    echo "### The model beside the baselines"
    echo
    echo "The report's protocol: every catalogue item a candidate, nothing removed. The per-user protocol:"
    echo "the user's training items removed, one query per user (with their training history; at their last or"
    echo "median training time or the mean over their training rows, the best on the validation slice:"
    echo "$(kept_of "$run/model/user-time.tsv" 2>/dev/null)), averaged over the $(metric "$m" users) test users. EASE's lambda ($lambda) was chosen by nDCG@10 on the"
    echo "validation slice carved from the training rows, where the model reached nDCG@10 $(metric "$run/model/valid-metrics.tsv" ndcg@10)"
    echo "and EASE $ease_valid; the test rows were scored once. Targets from issue 13. The rest of this run's"
    echo "figures are below; a temporal split, ml-latest-small and the five official folds: pipelines/benchmark.sh."
    echo
    echo "| protocol | metric | two-tower model (served) | two-tower model (per-row queries) | most popular | EASE | model + EASE fused (served) | target |"
    echo "|---|---|---|---|---|---|---|---|"
    echo "| report's | top-10 | $(metric "$m" top10) | **$(metric "$row" top10)** | $(metric "$pop" top10) | $(metric "$ease" top10) | - | >= 0.10 |"
    echo "| report's | top-100 | $(metric "$m" top100) | **$(metric "$row" top100)** | $(metric "$pop" top100) | $(metric "$ease" top100) | - | >= 0.55 |"
    echo "| per user | nDCG@10 | $(metric "$m" ndcg@10) | $(metric "$row" ndcg@10) | $(metric "$pop" ndcg@10) | $(metric "$ease" ndcg@10) | **$(metric "$fused" ndcg@10)** | >= EASE + 0.01 |"
    echo "| per user | recall@10 | $(metric "$m" recall@10) | $(metric "$row" recall@10) | $(metric "$pop" recall@10) | $(metric "$ease" recall@10) | **$(metric "$fused" recall@10)** | >= EASE + 0.01 |"
    echo
    echo "Each model's user_history is the kind its protocol preferred on the validation slice (train-eval.sh"
    echo "--history; model/history-kind.tsv): the user's latest training items (all) or those rated before"
    echo "the row's time (before-row). Served, by per-user nDCG@10: $served"
    echo "(all $(kind_valid all 2) against before-row $(kind_valid before-row 2)). Per-row queries, by top-100: ${rowkind:--}"
    echo "(all $(kind_valid all 3) against before-row $(kind_valid before-row 3))."
    echo
    echo "The fused lists are the model's and EASE's per-user lists, z-scored and weighted (mlr-fuse), the"
    echo "model's weight ($weight) chosen on the validation slice as EASE's lambda was: what"
    echo "\`recommend.sh\` serves by default (model/served/hybrid.tsv). Fused - EASE over the same users:"
    echo "nDCG@10 $(diff_ease ndcg@10), recall@10 $(diff_ease recall@10) (mean difference +- its standard error)."
    echo
    echo "### Every figure"
    echo
    echo "Top-k accuracy as the seed report computed it (TFRS FactorizedTopK: items the user rated in"
    echo "training are NOT removed), then the usual protocol (training items removed, averaged per user)."
    echo "The seed report fed each test row's own rating to the query tower, which leaks the label into"
    echo "both tasks; the fourth column is our model trained that way, for comparison only."
    echo
    echo "| metric | two-tower model (served) | two-tower model (per-row queries) | most popular | EASE | our model with the seed's rating leak | seed report (with the leak) |"
    echo "|---|---|---|---|---|---|---|"
    for k in top1 top5 top10 top50 top100 rmse mae top10_excl top100_excl recall@10 precision@10 ndcg@10 map@10 hit_rate@10 coverage@10; do
        case $k in top1) c=0.0030 ;; top5) c=0.0535 ;; top10) c=0.1008 ;; top50) c=0.3368 ;; top100) c=0.5095 ;; *) c=- ;; esac
        echo "| $k | $(metric "$m" "$k") | $(metric "$row" "$k") | $(metric "$pop" "$k") | $(metric "$ease" "$k") | $(metric "$leak" "$k") | $c |"
    done
    echo
    if [ -f "$run/curves-topk.png" ]; then
        echo "## Training curves (validation slice: 10% of the training rows, never the test rows)"
        echo
        echo "![top-k accuracy per epoch](curves-topk.png)"
        echo "![RMSE per epoch](curves-rmse.png)"
        echo
        echo "Per-epoch log: \`model/train-log.tsv\`; the last epoch took $(col "$log" seconds | tail -n 1) s."
        echo
    fi
    echo "## Example recommendations"
    echo
    echo "From \`recommend.sh\` on \`model/served\` (docs/serving.md): two known users' lists as it serves"
    echo "them by default (the model and EASE fused as the validation slice chose; the score the fused one),"
    echo "the first user's again from the model alone (\`--fuse-ease off\`), and a new user known by features"
    echo "alone (the model's list). The model's score is the retrieval score, the inner product of the"
    echo "user's and the item's embeddings (their cosine: both have length 1 at the default temperature T):"
    echo "it orders one user's items (exp(score / T) is proportional to the model's chance that the user"
    echo "picks the item) and is not comparable between users; the predicted rating is the rating head's"
    echo "estimate in stars."
    echo
    if [ -s "$run/recommendations.md" ]; then cat "$run/recommendations.md"; else echo "(none made)"; fi
    echo
    for d in eda eda-latest; do
        [ -f "$run/$d/report.md" ] || continue
        case $d in eda) echo "## Exploratory analysis of the model's data" ;;
                   *) echo "## Exploratory analysis of ml-latest-small (the seed report's EDA)" ;; esac
        echo
        # The EDA report's own sections, its image links made relative to here.
        sed -e '1{/^# /d}' -e "s|](\([^)/]*\.png\))|]($d/\1)|g" -e 's/^#/##/' "$run/$d/report.md"
        echo
    done
    echo "## Stages"
    echo
    echo "| stage | seconds | peak RSS (MB) |"
    echo "|---|---|---|"
    sed 1d "$run/stages.tsv" | awk -F'\t' '{ printf "| %s | %s | %s |\n", $1, $2, $3 }'
} >"$tmp"
mv -T -- "$tmp" "$out"
