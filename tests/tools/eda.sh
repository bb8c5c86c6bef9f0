#!/bin/sh
# Tests of pipelines/eda.sh: on a small table it writes every plot as a PNG
# and a report with the figures and the top titles; bad calls fail.
. "$(dirname "$0")/lib.sh"
D=$MLR_ROOT/tests/tools/data
EDA=$MLR_ROOT/pipelines/eda.sh

if ! command -v gnuplot >/dev/null 2>&1; then
    skip "eda" "gnuplot is not installed (make deps)"
    exit 0
fi
mlr-synth --n-users 50 --n-items 80 --n-ratings 1000 --seed 5 >"$T/s.tsv"
if sh "$EDA" "$T/s.tsv" "$T/out" 2>"$T/err"; then pass "eda: runs on a synthetic table"
else fail "eda: runs on a synthetic table" "$(tail -n 3 "$T/err")"; fi
check "eda: names its stages on stderr" sh -c "grep -q '^eda: stats' '$T/err' && grep -q '^eda: plots' '$T/err' && grep -q '^eda: report' '$T/err'"
for p in rating-hist user-counts item-counts time top-items; do
    check "eda: $p.png is a PNG" sh -c "head -c 8 '$T/out/$p.png' | od -An -c | grep -q 'P   N   G'"
    check "eda: the report shows $p.png" grep -q "($p.png)" "$T/out/report.md"
done
check "eda: the report holds the figures" grep -q '^| ratings | 1000 |$' "$T/out/report.md"
check "eda: the report lists 25 top titles" \
    test "$(grep -c '^| [0-9]* | [0-9]* | .* | [0-9]* |$' "$T/out/report.md")" -eq 25
check "eda: no temporary left in OUTDIR" test "$(ls "$T/out" | grep -c tmp)" -eq 0
# Headerless of rating and timestamp: the plots of absent columns are left out.
cut -f1,2 "$T/s.tsv" >"$T/ids.tsv"
ran "eda: a table of ids only runs" sh "$EDA" "$T/ids.tsv" "$T/ids"
check "eda: a table of ids only still gets a report" grep -q 'item-counts.png' "$T/ids/report.md"
check "eda: ... without a rating histogram" test ! -e "$T/ids/rating-hist.png"

sh "$EDA" "$T/s.tsv" >/dev/null 2>&1
check "eda: one argument is usage (status 2)" test $? -eq 2
sh "$EDA" "$T/none.tsv" "$T/x" >/dev/null 2>&1
check "eda: a missing table fails (status 1)" test $? -eq 1
printf 'user_id\titem_id\n1\n' >"$T/bad.tsv"
sh "$EDA" "$T/bad.tsv" "$T/bad" >/dev/null 2>"$T/err2"
check "eda: a bad table is status 1" test $? -eq 1
check "eda: a bad table fails with the tool's message" grep -q 'bad.tsv:2' "$T/err2"
check "eda: ... and writes no report" test ! -e "$T/bad/report.md"

# Names travel as data (issue 16): an output folder or a table named with
# quotes, $(...), backquotes, a backslash, a space, a newline, a leading
# dash, or a gnuplot command after a quote: nothing in them runs (no
# canary, by the shell or by gnuplot's `system`), and the report is made.
cd "$T" || exit 1
A="-a'\"\$(touch canary)\"'b \`touch canary\` \$(touch canary); touch canary \\n
x"
B="b'; system \"touch canary\"; print '"
C="c\"; system \"touch canary\"; print \""
cp -- "$T/s.tsv" "$A.tsv"
for o in "$A" "$B" "$C"; do
    tab=$T/s.tsv; [ "$o" != "$A" ] || tab=$A.tsv
    sh "$EDA" "$tab" "$o" 2>"$T/err"
    check "eda: a hostile name ($(printf '%.12s' "$o" | tr '\n' ' ')...): status 0" test $? -eq 0
    check "eda: a hostile name ($(printf '%.12s' "$o" | tr '\n' ' ')...): all five plots" \
        test "$(ls -- "$o" | grep -c '\.png$')" -eq 5
    check "eda: a hostile name ($(printf '%.12s' "$o" | tr '\n' ' ')...): nothing ran" test -z "$(find "$T" -name canary)"
done
check "eda: a hostile table name: the report names it as it is" grep -qF -e "b \`touch canary\`" -- "$A/report.md"
