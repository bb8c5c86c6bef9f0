# crossval.sh on a synthetic data set in ML-100K's raw format, with five
# folds of its own: each fold's metrics, the summary's mean, validation
# slices cut from each fold's base rows only, names that travel as data.
. "$(dirname "$0")/lib.sh"
P=$MLR_ROOT/pipelines
if ! command -v parallel >/dev/null; then
    skip "crossval.sh" "GNU parallel is not installed"
    exit 0
fi

# ML-100K's raw files from a synthetic table: u.data, u.user, u.item, u.genre,
# and folds uK.base/uK.test: each rating in the test of fold (its line % 5).
D="$T/ml \$(touch $T/canary)"
mkdir -p "$D"
mlr-synth --n-users 120 --n-items 150 --n-ratings 3000 --seed 3 --output "$T/synth.tsv"
awk -F'\t' -v d="$D" 'NR == 1 { next }
    { print $1 "\t" $2 "\t" $3 "\t" $4 > (d "/u.data")
      if (!u[$1]++) print $1 "|" $5 "|" $6 "|" $7 "|" $8 > (d "/u.user.tmp")
      if (!i[$2]++) print $2 "\t" $9 "\t" $10 > (d "/items.tmp") }' "$T/synth.tsv"
printf 'unknown|0\nAction|1\nAdventure|2\nAnimation|3\nChildren'"'"'s|4\nComedy|5\nCrime|6\nDocumentary|7\nDrama|8\nFantasy|9\nFilm-Noir|10\nHorror|11\nMusical|12\nMystery|13\nRomance|14\nSci-Fi|15\nThriller|16\nWar|17\nWestern|18\n' >"$D/u.genre"
sort -n "$D/u.user.tmp" >"$D/u.user"
awk 'BEGIN { FS = "|" } NR == FNR { gname[$2] = $1; next }
    { split($0, a, "\t"); n = split(a[3], have, "|"); flags = ""
      for (k = 0; k <= 18; k++) { f = 0; for (h = 1; h <= n; h++) if (have[h] == gname[k]) f = 1; flags = flags "|" f }
      print a[1] "|" a[2] "|01-Jan-1995||http://x/" flags }' "$D/u.genre" "$D/items.tmp" | sort -t'|' -k1,1n >"$D/u.item"
rm -f "$D/u.user.tmp" "$D/items.tmp"
for k in 1 2 3 4 5; do
    awk -v k="$k" 'NR % 5 == k % 5 { print > "/dev/stderr"; next } { print }' "$D/u.data" \
        >"$D/u$k.base" 2>"$D/u$k.test"
done

out="$T/cv \$(touch $T/canary2)"
if sh "$P/crossval.sh" --data "$D" --jobs 2 --threads 1 "$out" --epochs 1 --dim 8 --layers 8 \
    --rating-layers 8 --quiet 2>"$T/log"; then
    pass "crossval.sh runs the five folds"
else
    fail "crossval.sh runs the five folds" "$(tail -n 3 "$T/log" | tr '\n' ' ')"
fi
check "no name was run as a command" test ! -e "$T/canary" -a ! -e "$T/canary2"
for k in 1 2 3 4 5; do
    check "fold u$k has its test metrics" grep -q '^rmse	' "$out/u$k/metrics.tsv"
    check "fold u$k has its validation metrics" grep -q '^rmse	' "$out/u$k/valid-metrics.tsv"
    check "fold u$k's test rows are its uK.test" \
        test "$(($(wc -l <"$out/u$k/test.tsv") - 1))" -eq "$(wc -l <"$D/u$k.test")"
    # The validation slice comes from the base rows: none of it is a test pair.
    check "fold u$k's validation slice holds no test pair" awk -F'\t' \
        'NR == FNR { t[$1 "\t" $2]; next } FNR > 1 && ($1 "\t" $2) in t { bad = 1 } END { exit bad }' \
        "$D/u$k.test" "$out/u$k/valid.tsv"
done
check "the model trained with the options given" grep -q 'dim\\":8' "$out/u3/model.safetensors"
# Five seeds by default (docs/model.md: better on every validation slice).
check "five seeds by default: u2 holds the models of seeds 2..5, no more" \
    test -s "$out/u2/model-seed5.safetensors" -a ! -e "$out/u2/model-seed6.safetensors"
check "folds.tsv has a row per fold" test "$(wc -l <"$out/folds.tsv")" -eq 6
mean=$(awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "rmse") c = i; next } { s += $c } END { printf "%.6g", s / 5 }' "$out/folds.tsv")
got=$(awk -F'\t' '$1 == "rmse" { print $2 }' "$out/summary.tsv")
check "summary's rmse is the mean of the folds' ($mean, $got)" test "$mean" = "$got"

# Broken input: a missing fold file, one line and status 1.
rm "$D/u4.test"
sh "$P/crossval.sh" --data "$D" "$T/cv2" --epochs 1 >/dev/null 2>"$T/err"
st=$?
check "a missing fold file is refused with status 1" test "$st" -eq 1
check "...in one line naming it" grep -q 'u4.test' "$T/err"
check "...before any work" test ! -e "$T/cv2/ratings.tsv"
sh "$P/crossval.sh" --jobs 0 "$T/cv3" >/dev/null 2>"$T/err"
check "--jobs 0 is bad usage (status 2)" test $? -eq 2
sh "$P/crossval.sh" -h >"$T/help" 2>&1
check "-h prints the help on stdout, status 0" grep -q 'five official folds' "$T/help"
