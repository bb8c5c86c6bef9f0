#!/bin/sh
# eda.sh TABLE OUTDIR: the exploratory analysis of an interaction table.
# Runs mlr-stats, draws PNG plots with gnuplot and writes OUTDIR/report.md
# showing the plots, the summary figures and the 25 most rated titles.
# Tools come from $MLR_BIN when set, else from PATH.
#   sh pipelines/eda.sh runs/ml100k.tsv runs/eda
set -eu
case ${1:-} in --version) me=eda; . "$(dirname "$0")/lib.sh" ;; esac # it exits
# Descriptors 0, 1, 2 open, as in lib.sh: a closed stdout is /dev/full.
{ true 3<&0; } 2>/dev/null || exec </dev/null
{ true 3>&1; } 2>/dev/null || exec >/dev/full
true 3>&2 || exec 2>/dev/null # (no 2>/dev/null here: it would open what it probes)

# -h, --help: the comment above, on stdout.
case ${1:-} in -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;; esac
usage() { echo "usage: eda.sh TABLE OUTDIR" >&2; exit 2; }
[ $# -eq 2 ] || usage
table=$1 out=$2
# A name starting with - would read as an option to the commands below.
case $table in -*) table=./$table ;; esac
case $out in -*) out=./$out ;; esac
[ -f "$table" ] || { printf '%s\n' "eda: $table: no such file" >&2; exit 1; }
if [ -n "${MLR_BIN:-}" ]; then PATH="$MLR_BIN:$PATH"; export PATH; fi
command -v mlr-stats >/dev/null || { echo "eda: mlr-stats not found (set MLR_BIN or PATH)" >&2; exit 1; }
command -v gnuplot >/dev/null || { echo "eda: gnuplot not found (make deps)" >&2; exit 1; }
mkdir -p -- "$out" 2>/dev/null || { printf '%s\n' "eda: $out: cannot create the folder" >&2; exit 1; }
# The temporaries: made by mktemp in OUTDIR (no fixed name a planted
# symlink could take), with the mode > gives, removed at exit.
tmpfile() {
    t=$(mktemp -- "$out/$1.XXXXXX") || { printf '%s\n' "eda: cannot write in $out" >&2; exit 1; }
    chmod "$(printf '%o' $((0666 & ~0$(umask))))" -- "$t" && printf '%s\n' "$t"
}
plotdata= report=
trap 'rm -f -- "$plotdata" "$report"' EXIT

# Stage 1: the summary and the tables to plot, one mlr-stats run each;
# the rating and time tables only where the table has those columns.
echo "eda: stats" >&2
header=$(head -n 1 "$table")
has_col() { printf '%s\n' "$header" | tr '\t' '\n' | grep -qx "$1"; }
rm -f "$out/rating-hist.tsv" "$out/time.tsv" "$out"/*.png "$out/report.md"
mlr-stats --output "$out/summary.tsv" "$table"
tables="user-counts item-counts"
if has_col rating; then tables="$tables rating-hist"; fi
if has_col timestamp; then tables="$tables time"; fi
for t in $tables; do
    mlr-stats --table "$t" --output "$out/$t.tsv" "$table"
done
mlr-stats --table top-items --top 25 --output "$out/top-items.tsv" "$table"

# Stage 2: the plots. pngcairo draws nicer text; plain png is the fallback.
echo "eda: plots" >&2
if gnuplot -e 'set terminal' 2>&1 | grep -q pngcairo; then term=pngcairo; else term=png; fi
has_rows() { [ -f "$1" ] && [ "$(wc -l <"$1")" -gt 1 ]; }
# gnuplot runs in OUTDIR and names its files relative to it: OUTDIR's name
# never enters a gnuplot script (a quote in it would end a string and the
# rest run as gnuplot commands, `system` included).
plot() { # NAME WIDTH,HEIGHT GNUPLOT-COMMANDS: draws OUTDIR/NAME.png
    (cd -- "$out" && gnuplot -e "set terminal $term size $2; set output '$1.png'; set datafile separator '\t'; set key off; set grid; $3")
}
if has_rows "$out/rating-hist.tsv"; then
    plot rating-hist 900,540 "set title 'Ratings by value'; set xlabel 'rating'; set ylabel 'count'; \
        set style fill solid 0.7; set boxwidth 0.4; plot 'rating-hist.tsv' every ::1 using 1:2 with boxes"
fi
plot user-counts 900,540 "set title 'Ratings per user (users ranked)'; set xlabel 'user rank'; set ylabel 'ratings'; \
    set logscale y; plot 'user-counts.tsv' every ::1 using 1:2 with lines lw 2"
plot item-counts 900,540 "set title 'Ratings per item (items ranked): the long tail'; set xlabel 'item rank'; \
    set ylabel 'ratings'; set logscale y; plot 'item-counts.tsv' every ::1 using 1:2 with lines lw 2"
if has_rows "$out/time.tsv"; then
    plot time 900,540 "set title 'Ratings per month'; set ylabel 'ratings'; set xdata time; set timefmt '%Y-%m'; \
        set format x '%Y-%m'; set xtics rotate by -45; set style fill solid 0.7; \
        plot 'time.tsv' every ::1 using 1:2 with boxes"
fi
# Horizontal bars: one row per title, the most rated at the top; long
# titles are cut to 45 characters so the bars keep their room.
if has_rows "$out/top-items.tsv"; then
    plotdata=$(tmpfile top-items.plot) || exit 1
    awk -F'\t' 'NR > 1 {t = $3; if (length(t) > 45) t = substr(t, 1, 42) "..."; print $1 "\t" t "\t" $4}' \
        "$out/top-items.tsv" >"$plotdata"
    # (its name: letters, digits and dots only, safe in a gnuplot string)
    plot top-items 1000,720 "set title 'The 25 most rated titles'; set xlabel 'ratings'; \
        set style fill solid 0.7; set yrange [*:*] reverse; set ytics font ',9'; set lmargin at screen 0.36; \
        set xrange [0:*]; plot '${plotdata##*/}' using (\$3/2.0):1:(\$3/2.0):(0.4):ytic(2) with boxxyerror"
    rm -f -- "$plotdata"
fi

# Stage 3: the report, Markdown with the figures and the plots.
echo "eda: report" >&2
report=$(tmpfile report.md) || exit 1
{
    printf '# Exploratory analysis of %s\n' "$(basename -- "$table")"
    echo
    printf 'Made by pipelines/eda.sh from `%s` with mlr-stats.\n' "$table"
    echo
    echo "## Figures"
    echo
    echo "| metric | value |"
    echo "|---|---|"
    tail -n +2 "$out/summary.tsv" | awk -F'\t' '{printf "| %s | %s |\n", $1, $2}'
    echo
    for p in rating-hist user-counts item-counts time; do
        [ -f "$out/$p.png" ] && printf '![%s](%s.png)\n\n' "$p" "$p"
    done
    echo "## The 25 most rated titles"
    echo
    [ -f "$out/top-items.png" ] && printf '![top-items](top-items.png)\n\n'
    echo "| rank | item | title | ratings |"
    echo "|---|---|---|---|"
    tail -n +2 "$out/top-items.tsv" | awk -F'\t' '{gsub(/\|/, "\\|", $3); printf "| %s | %s | %s | %s |\n", $1, $2, $3, $4}'
} >"$report"
mv -T -- "$report" "$out/report.md"
printf '%s\n' "eda: wrote $out/report.md" >&2
