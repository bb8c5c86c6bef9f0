#!/bin/sh
# pipelines/report.sh on a hand-made run folder: the report and its curves
# are made whatever the folder is called, and a name holding a quote, a
# shell substitution or gnuplot code is data, never code (issue 16).
. "$(dirname "$0")/lib.sh"
command -v gnuplot >/dev/null 2>&1 || { skip "report" "gnuplot is not installed"; exit 0; }
R=$MLR_ROOT/pipelines/report.sh

# mkrun DIR: the files pipeline.sh leaves that report.sh reads.
mkrun() {
    mkdir -p "$1/model"
    printf 'epoch\tseconds\tloss\ttop5\ttop10\ttop50\ttop100\trmse\n' >"$1/model/train-log.tsv"
    printf '%s\t0.1\t5\t0.0%s\t0.0%s\t0.2%s\t0.4%s\t0.9%s\n' 1 1 2 3 4 5 2 2 3 4 5 6 >>"$1/model/train-log.tsv"
    printf 'metric\tvalue\ntop10\t0.0671\nrmse\t0.917\n' >"$1/model/metrics.tsv"
    printf 'metric\tvalue\ntop10\t0.0503\n' >"$1/baseline-pop.tsv"
    printf 'stage\tseconds\tpeak_rss_mb\ntrain\t1.5\t20.0\n' >"$1/stages.tsv"
}

# A plain name first: the report, its figures and both curves.
mkrun "$T/plain"
if ran "report.sh: a plain run folder" sh "$R" "$T/plain" "test data" 3; then
    check "report.md written" test -s "$T/plain/report.md"
    # (no per-row/ model: the per-row queries' column is the served model's)
    check "the model's top10 read from its metrics" grep -q '^| top10 | 0.0671 | 0.0671 | 0.0503 | - |' "$T/plain/report.md"
    check "curves-topk.png drawn" test -s "$T/plain/curves-topk.png"
    check "curves-rmse.png drawn" test -s "$T/plain/curves-rmse.png"
fi

# Hostile names: each must give the same report, and run nothing.
mkdir -p "$T/cwd"
n=0
for dir in "q'\$(touch pwned1)" "x'; system('touch pwned2'); print '" "-d\"; system(\"touch pwned3\") #" 'a`touch pwned4`b'; do
    n=$((n + 1))
    mkrun "$T/cwd/$dir"
    if (cd "$T/cwd" && ran "report.sh: run folder $n ($dir)" sh "$R" "$dir" "test data" 3); then
        check "folder $n: report.md written" test -s "$T/cwd/$dir/report.md"
        check "folder $n: curves-topk.png drawn" test -s "$T/cwd/$dir/curves-topk.png"
        check "folder $n: curves-rmse.png drawn" test -s "$T/cwd/$dir/curves-rmse.png"
    fi
done
check "no hostile name was run as code (no pwned file anywhere)" \
    test -z "$(find "$T" -name 'pwned*' -type f)"
