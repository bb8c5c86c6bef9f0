#!/bin/sh
# pipelines/benchmark.sh on small synthetic data sets in ML-100K's and
# ml-latest-small's raw formats (folds of their own): every setup runs, the
# tables have their shape, and every figure in them is the one its run
# wrote (a figure changed in a run's file changes the table, --tables).
. "$(dirname "$0")/lib.sh"
P=$MLR_ROOT/pipelines
command -v parallel >/dev/null 2>&1 || { skip "benchmark.sh" "GNU parallel is not installed"; exit 0; }

# ML-100K's raw files from a synthetic table (as tests/tools/crossval.sh):
# u.data, u.user, u.item, u.genre, and folds uK.base/uK.test.
D=$T/data
mkdir -p "$D/ml-100k" "$D/ml-latest-small"
mlr-synth --n-users 120 --n-items 150 --n-ratings 3000 --seed 3 --output "$T/synth.tsv"
M=$D/ml-100k
awk -F'\t' -v d="$M" 'NR == 1 { next }
    { print $1 "\t" $2 "\t" $3 "\t" $4 > (d "/u.data")
      if (!u[$1]++) print $1 "|" $5 "|" $6 "|" $7 "|" $8 > (d "/u.user.tmp")
      if (!i[$2]++) print $2 "\t" $9 "\t" $10 > (d "/items.tmp") }' "$T/synth.tsv"
printf 'unknown|0\nAction|1\nAdventure|2\nAnimation|3\nChildren'"'"'s|4\nComedy|5\nCrime|6\nDocumentary|7\nDrama|8\nFantasy|9\nFilm-Noir|10\nHorror|11\nMusical|12\nMystery|13\nRomance|14\nSci-Fi|15\nThriller|16\nWar|17\nWestern|18\n' >"$M/u.genre"
sort -n "$M/u.user.tmp" >"$M/u.user"
awk 'BEGIN { FS = "|" } NR == FNR { gname[$2] = $1; next }
    { split($0, a, "\t"); n = split(a[3], have, "|"); flags = ""
      for (k = 0; k <= 18; k++) { f = 0; for (h = 1; h <= n; h++) if (have[h] == gname[k]) f = 1; flags = flags "|" f }
      print a[1] "|" a[2] "|01-Jan-1995||http://x/" flags }' "$M/u.genre" "$M/items.tmp" | sort -t'|' -k1,1n >"$M/u.item"
rm -f "$M/u.user.tmp" "$M/items.tmp"
for k in 1 2 3 4 5; do
    awk -v k="$k" 'NR % 5 == k % 5 { print > "/dev/stderr"; next } { print }' "$M/u.data" \
        >"$M/u$k.base" 2>"$M/u$k.test"
done
# ml-latest-small's: ratings.csv and movies.csv, from another synthetic table.
mlr-synth --n-users 100 --n-items 200 --n-ratings 2500 --seed 5 --output "$T/synth2.tsv"
awk -F'\t' 'NR == 1 { print "userId,movieId,rating,timestamp"; next } { print $1 "," $2 "," $3 "," $4 }' \
    "$T/synth2.tsv" >"$D/ml-latest-small/ratings.csv"
awk -F'\t' 'NR == 1 { print "movieId,title,genres"; next } !s[$2]++ { gsub(/"/, "", $9); print $2 ",\"" $9 "\"," $10 }' \
    "$T/synth2.tsv" >"$D/ml-latest-small/movies.csv"

O=$T/bench
if sh "$P/benchmark.sh" --data "$D" --lambdas 10,100 --fuse-weights 0,0.5,1 --jobs 2 \
    --user-model "--mask-seen --valid-exclude --select ndcg10" "$O" --epochs 3 --dim 8 --layers 8 \
    --rating-layers 8 --quiet >"$T/out" 2>"$T/err"; then
    pass "benchmark.sh runs every setup"
else
    fail "benchmark.sh runs every setup" "$(tail -n 3 "$T/err" | tr '\n' ' ')"
fi

# ---- the shape of the tables ----
# shape FILE ROWS COLS: ROWS lines (header included), each of COLS fields.
shape() { awk -F'\t' -v r="$2" -v c="$3" 'NF != c { bad = 1 } END { exit bad || NR != r }' "$1"; }
check "report.tsv: header and six metrics, six columns" shape "$O/report.tsv" 7 6
check "field.tsv: header and three setups, fourteen columns" shape "$O/field.tsv" 4 14
check "folds.tsv: header, the mean, five folds, three anchors" shape "$O/folds.tsv" 10 3
check "targets.tsv: header and ten targets, four columns" shape "$O/targets.tsv" 11 4
check "paired.tsv: header and two pairs of three setups, seven columns" shape "$O/paired.tsv" 7 7
check "folds-users.tsv: header, five folds, mean and sd, twelve columns" shape "$O/folds-users.tsv" 8 12
check "results.tsv: setup recommender metric value" test "$(head -n 1 "$O/results.tsv")" = "$(printf 'setup\trecommender\tmetric\tvalue')"
for s in "The seed report's protocol" "The field's protocol" "Per user, paired" "five official folds" \
    "Per user on ML-100K's five official folds" "Issue 13's targets"; do
    check "benchmark.md has '$s'" grep -q "^### .*$s" "$O/benchmark.md"
done
# Every TSV row is a row of the Markdown.
for t in report field paired folds folds-users targets; do
    check "benchmark.md holds $t.tsv row for row" sh -c 'awk -F"\t" "{ l = \"|\"; for (i = 1; i <= NF; i++) l = l \" \" \$i \" |\"; print l }" "$1" |
        while IFS= read -r l; do grep -qxF -- "$l" "$2" || exit 1; done' sh "$O/$t.tsv" "$O/benchmark.md"
done

# ---- every figure is its run's ----
# val FILE METRIC: the value of a metric/value TSV.
val() { awk -F'\t' -v m="$2" '$1 == m { print $2 }' "$1"; }
# cell FILE ROW-PREFIX COLUMN: a table's cell.
cell() { awk -F'\t' -v r="$2" -v c="$3" 'index($1, r) == 1 { print $c; exit }' "$1"; }
check "report.tsv: the model's top10 is random/model/metrics.tsv's" \
    test "$(cell "$O/report.tsv" top10 2)" = "$(val "$O/random/model/metrics.tsv" top10)"
check "report.tsv: EASE's top100 is random/ease.tsv's" \
    test "$(cell "$O/report.tsv" top100 5)" = "$(val "$O/random/ease.tsv" top100)"
# The per-row queries' model: random/per-row/ where per-row top-100 on
# validation preferred the other kind of history, else the model.
rowkind=$(awk -F'\t' 'NR > 1 && (b == "" || $3 + 0 > v) { b = $1; v = $3 + 0 } NR > 1 && $4 == 1 { k = $1 }
    END { if (b != k) print b }' "$O/random/model/history-kind.tsv")
rowm=$O/random/model
if [ -n "$rowkind" ]; then
    rowm=$O/random/per-row
    check "random/per-row/: the kind per-row top-100 chose ($rowkind)" \
        test "$(awk -F'\t' '$4 == 1 { print $1 }' "$rowm/history-kind.tsv")" = "$rowkind"
else
    check "no random/per-row/ when the model's kind is per-row top-100's too" test ! -e "$O/random/per-row"
fi
check "report.tsv: the per-row column's top10 is $rowm's" \
    test "$(cell "$O/report.tsv" top10 3)" = "$(val "$rowm/metrics.tsv" top10)"
check "targets.tsv: the report's protocol's top-100 is the per-row column's" \
    test "$(cell "$O/targets.tsv" "report's protocol, top-100" 2)" = "$(val "$rowm/metrics.tsv" top100)"
check "report.tsv: the model's rmse is its test rmse" \
    test "$(cell "$O/report.tsv" rmse 2)" = "$(val "$O/random/model/metrics.tsv" rmse)"
check "field.tsv: the temporal split's EASE nDCG@10 is user-time/ease.tsv's" \
    test "$(cell "$O/field.tsv" "ML-100K, each user" 4)" = "$(val "$O/user-time/ease.tsv" ndcg@10)"
check "field.tsv: ml-latest-small's popular recall@10 is latest/pop.tsv's" \
    test "$(cell "$O/field.tsv" ml-latest-small 10)" = "$(val "$O/latest/pop.tsv" recall@10)"
# With --user-model the per-user columns are the second model's
# (user-model/): trained with --mask-seen, its epoch kept by nDCG@10 with
# the fit items removed; the fused lists stay the default model's.
check "field.tsv: the model's nDCG@10 is the per-user model's" \
    test "$(cell "$O/field.tsv" "ML-100K, random" 3)" = "$(val "$O/random/user-model/metrics.tsv" ndcg@10)"
check "field.tsv: the per-user model's figure is not the report model's" \
    test "$(val "$O/random/user-model/metrics.tsv" ndcg@10)" != "$(val "$O/random/model/metrics.tsv" ndcg@10)"
check "field.tsv: ml-latest-small's model recall@10 is the per-user model's" \
    test "$(cell "$O/field.tsv" ml-latest-small 7)" = "$(val "$O/latest/user-model/metrics.tsv" recall@10)"
check "field.tsv: the model's nDCG@10 on validation is its valid-metrics.tsv's" \
    test "$(cell "$O/field.tsv" "ML-100K, random" 13)" = "$(val "$O/random/user-model/valid-metrics.tsv" ndcg@10)"
check "field.tsv: the model's epoch is the one its log kept, of those run" \
    test "$(cell "$O/field.tsv" "ML-100K, random" 14)" = "$(awk -F'\t' 'END { print $NF "/" $1 }' "$O/random/user-model/train-log.tsv")"
check "targets.tsv: the temporal split's nDCG@10 is the per-user model's" \
    test "$(cell "$O/targets.tsv" "per-user temporal, ndcg@10" 2)" = "$(val "$O/user-time/user-model/metrics.tsv" ndcg@10)"
for st in random user-time latest; do
    check "$st: the per-user model masked the seen items" \
        grep -q 'mask_seen...true' "$O/$st/user-model/model.safetensors"
    check "$st: the per-user model kept its best validation nDCG@10" awk -F'\t' '
        NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "ndcg10") t = i; if ($i == "kept") k = i } next }
        best == "" || $t + 0 > bv { best = $1; bv = $t + 0 } { kept = $k }
        END { exit !(t && k && kept == best) }' "$O/$st/user-model/train-log.tsv"
done
# --patience: the epoch kept is the one of the best validation top100
# (the first of a tie), not the last one run.
for st in random user-time latest; do
    check "$st: the model kept its best epoch on validation" awk -F'\t' '
        NR == 1 { for (i = 1; i <= NF; i++) { if ($i == "top100") t = i; if ($i == "kept") k = i } next }
        best == "" || $t + 0 > bv { best = $1; bv = $t + 0 } { kept = $k }
        END { exit !(t && k && kept == best) }' "$O/$st/model/train-log.tsv"
done
check "field.tsv: users are the test users" \
    test "$(cell "$O/field.tsv" "ML-100K, random" 2)" = "$(cut -f1 "$O/random/test.tsv" | sed 1d | sort -u | wc -l)"
check "folds.tsv: the mean is crossval.sh's" \
    test "$(cell "$O/folds.tsv" "two-tower model (defaults)" 2)" = "$(val "$O/folds/cv/summary.tsv" rmse)"
check "folds.tsv: fold u3 is u3's test rmse" \
    test "$(cell "$O/folds.tsv" "two-tower model, u3" 2)" = "$(val "$O/folds/cv/u3/metrics.tsv" rmse)"
# EASE's lambda: the best validation nDCG@10 of those tried, on the fit rows.
check "ease-lambda.tsv: one row per lambda tried" test "$(cut -f1 "$O/random/ease-lambda.tsv" | tr '\n' ' ')" = "lambda 10 100 "
best=$(sort -t"$(printf '\t')" -k2,2gr -k1,1g "$O/random/ease-lambda.tsv" | sed -n 1p | cut -f1)
[ "$best" != lambda ] || best=$(sed -n 2p "$O/random/ease-lambda.tsv" | cut -f1)
check "field.tsv: EASE's lambda is the one best on validation ($best)" \
    test "$(cell "$O/field.tsv" "ML-100K, random" 11)" = "$best"
# The fused lists: their figures are fused.tsv's, their weight the best
# on validation of those tried; weight 0 is EASE alone (at its lambda), on
# the same validation slice; no list left behind.
check "field.tsv: the fused nDCG@10 is random/fused.tsv's" \
    test "$(cell "$O/field.tsv" "ML-100K, random" 5)" = "$(val "$O/random/fused.tsv" ndcg@10)"
check "field.tsv: ml-latest-small's fused recall@10 is latest/fused.tsv's" \
    test "$(cell "$O/field.tsv" ml-latest-small 9)" = "$(val "$O/latest/fused.tsv" recall@10)"
check "fuse-weight.tsv: one row per weight tried" test "$(cut -f1 "$O/user-time/fuse-weight.tsv" | tr '\n' ' ')" = "model_weight 0 0.5 1 "
wbest=$(awk -F'\t' 'NR > 1 && (b == "" || $2 + 0 > bv) { b = $1; bv = $2 + 0 } END { print b }' "$O/user-time/fuse-weight.tsv")
check "field.tsv: the fused lists' weight is the one best on validation ($wbest)" \
    test "$(cell "$O/field.tsv" "ML-100K, each user" 12)" = "$wbest"
for st in random user-time latest; do
    check "$st: the fused lists at weight 1 are the default model's on validation" \
        test "$(awk -F'\t' '$1 == 1 { print $2 }' "$O/$st/fuse-weight.tsv")" = "$(val "$O/$st/model/valid-metrics.tsv" ndcg@10)"
    check "$st: the fused lists at weight 0 score as EASE on validation" \
        test "$(awk -F'\t' '$1 == 0 { print $2 }' "$O/$st/fuse-weight.tsv")" = \
        "$(awk -F'\t' 'NR > 1 && (b == "" || $2 + 0 > bv) { b = $2; bv = $2 + 0 } END { print b }' "$O/$st/ease-lambda.tsv")"
    check "$st: no list file left" test -z "$(ls "$O/$st" | grep 'topk\|excl')"
done
# The paired differences: each user's figures are the lists' own (their
# means the setup's figures), and the differences are of those.
# near A B: equal within the rounding of 6 significant digits.
near() { awk -v a="$1" -v b="$2" 'BEGIN { d = a - b; exit !(a != "" && b != "" && (d < 0 ? -d : d) <= 2e-6) }'; }
colmean() { awk -F'\t' -v c="$2" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == c) k = i; next } { s += $k; n++ }
    END { if (n) printf "%.8f", s / n }' "$1"; }
pair() { awk -F'\t' -v p="$2" -v m="$3" -v c="$4" '$1 == p && $2 == m { print $c }' "$1"; }
for st in random user-time latest; do
    check "$st: users-ease.tsv's mean nDCG@10 is ease.tsv's" \
        near "$(colmean "$O/$st/users-ease.tsv" ndcg@10)" "$(val "$O/$st/ease.tsv" ndcg@10)"
    check "$st: users-fused.tsv's mean recall@10 is fused.tsv's" \
        near "$(colmean "$O/$st/users-fused.tsv" recall@10)" "$(val "$O/$st/fused.tsv" recall@10)"
    check "$st: users-model.tsv's mean nDCG@10 is the default model's" \
        near "$(colmean "$O/$st/users-model.tsv" ndcg@10)" "$(val "$O/$st/model/metrics.tsv" ndcg@10)"
    check "$st: fused - EASE is the difference of their nDCG@10" \
        near "$(pair "$O/$st/paired.tsv" fused-ease ndcg@10 3)" \
        "$(awk -v a="$(val "$O/$st/fused.tsv" ndcg@10)" -v b="$(val "$O/$st/ease.tsv" ndcg@10)" 'BEGIN { print a - b }')"
    check "$st: model - EASE is the difference of their recall@10" \
        near "$(pair "$O/$st/paired.tsv" model-ease recall@10 3)" \
        "$(awk -v a="$(colmean "$O/$st/users-model.tsv" recall@10)" -v b="$(val "$O/$st/ease.tsv" recall@10)" 'BEGIN { print a - b }')"
    check "$st: the pairs are over every test user" \
        test "$(pair "$O/$st/paired.tsv" fused-ease ndcg@10 5)" = "$(val "$O/$st/ease.tsv" users)"
done
# Each fold's per-user figures: its own baselines and fused lists (its
# model crossval.sh's), their choices on the fold's validation slice.
check "folds-users.tsv: u3's EASE nDCG@10 is folds/u3/ease.tsv's" \
    test "$(cell "$O/folds-users.tsv" u3 3)" = "$(val "$O/folds/u3/ease.tsv" ndcg@10)"
check "folds-users.tsv: u5's model recall@10 is its fold's test figure" \
    test "$(cell "$O/folds-users.tsv" u5 5)" = "$(val "$O/folds/cv/u5/metrics.tsv" recall@10)"
check "folds-users.tsv: u2's fused - EASE is folds/u2/paired.tsv's" \
    test "$(cell "$O/folds-users.tsv" u2 8)" = "$(pair "$O/folds/u2/paired.tsv" fused-ease ndcg@10 3)"
check "folds-users.tsv: u1's weight is the best of its fuse-weight.tsv" \
    test "$(cell "$O/folds-users.tsv" u1 12)" = "$(awk -F'\t' 'NR > 1 && (b == "" || $2 + 0 > bv) { b = $1; bv = $2 + 0 } END { print b }' "$O/folds/u1/fuse-weight.tsv")"
check "folds-users.tsv: the mean of the folds' fused nDCG@10" near "$(cell "$O/folds-users.tsv" mean 4)" \
    "$(for k in 1 2 3 4 5; do val "$O/folds/u$k/fused.tsv" ndcg@10; done | awk '{ s += $1 } END { printf "%.4g", s / 5 }')"
check "fold u1: no list file left" test -z "$(ls "$O/folds/u1" | grep 'topk\|excl')"
check "folds: EASE learnt from each fold's base rows alone" \
    test "$(sed 1d "$O/folds/u4/train.tsv" | wc -l)" = "$(wc -l <"$D/ml-100k/u4.base")"
# The standard error by hand on a planted pair: differences 0.1, 0.3, 0.5
# (sd 0.2) over three users: 0.2 / sqrt(3) = 0.115.
mkdir -p "$T/pp"
printf 'user_id\tndcg@10\trecall@10\na\t0.6\t0\nb\t0.8\t0\nc\t1\t0.5\n' >"$T/pp/a.tsv"
printf 'user_id\trecall@10\tndcg@10\nc\t0\t0.5\na\t0\t0.5\nb\t0\t0.5\n' >"$T/pp/b.tsv"
printf 'pair\tmetric\tmean_difference\tstandard_error\tusers\tbetter\tworse\nx\tndcg@10\t0.3\t0.115\t3\t3\t0\nx\trecall@10\t0.166667\t0.167\t3\t1\t0\n' >"$T/pp/want"
sh -c ". \"$P/lib.sh\"; eval \"\$(sed -n '/^paired() {/,/^}/p' \"$P/benchmark.sh\")\"; paired \"\$1\" \"\$2\" x" sh \
    "$T/pp/a.tsv" "$T/pp/b.tsv" >"$T/pp/got" 2>&1
same "paired: mean, standard error, better and worse by hand" "$T/pp/got" "$T/pp/want"

# The temporal setup holds out each user's latest rows.
check "user-time: no test row is older than its user's training rows" awk -F'\t' \
    'FNR == 1 { f++; next } f == 1 { if ($4 > m[$1]) m[$1] = $4; next } $4 < m[$1] { bad = 1 } END { exit bad }' \
    "$O/user-time/train.tsv" "$O/user-time/test.tsv"
check "user-time: the model's validation slice was cut by user-time" \
    grep -q 'split-valid' "$O/user-time/log"

# A figure changed in a run's file: --tables remakes the tables from it.
awk -F'\t' -v OFS='\t' '$1 == "ndcg@10" { $2 = "0.987654" } { print }' "$O/random/user-model/metrics.tsv" >"$T/m.tsv"
cp "$T/m.tsv" "$O/random/user-model/metrics.tsv"
if ran "--tables remakes the tables" sh "$P/benchmark.sh" --tables "$O"; then
    check "--tables: the changed figure in field.tsv" test "$(cell "$O/field.tsv" "ML-100K, random" 3)" = 0.987654
    check "--tables: the changed figure in benchmark.md" grep -q '| 0.987654 |' "$O/benchmark.md"
    check "--tables: and the target it meets" grep -q '^random 80/20, ndcg@10	0.987654	.*	yes$' "$O/targets.tsv"
fi

# Five seeds by default, in evaluate.sh's setups and crossval.sh's folds;
# --seeds 1 reaches both (crossval.sh's own default is not evaluate.sh's).
check "five seeds by default: the random setup's models 2..5, no more" \
    test -s "$O/random/model/model-seed5.safetensors" -a ! -e "$O/random/model/model-seed6.safetensors"
check "five seeds by default: each fold's" test -s "$O/folds/cv/u4/model-seed5.safetensors"
if ran "--seeds 1 runs" sh "$P/benchmark.sh" --data "$D" --setups random,folds --lambdas 10 --jobs 2 --seeds 1 \
    --fuse-weights 0.5 "$T/one" --epochs 1 --dim 8 --layers 8 --rating-layers 8 --quiet; then
    # One weight, 0.5: the fused lists are not EASE's, and fused - EASE is
    # their difference, in that order.
    check "fused at 0.5: fused - EASE is the difference of their nDCG@10" \
        near "$(pair "$T/one/random/paired.tsv" fused-ease ndcg@10 3)" \
        "$(awk -v a="$(val "$T/one/random/fused.tsv" ndcg@10)" -v b="$(val "$T/one/random/ease.tsv" ndcg@10)" 'BEGIN { print a - b }')"
    check "fused at 0.5: the lists differ from EASE's" \
        test "$(pair "$T/one/random/paired.tsv" fused-ease ndcg@10 3)" != 0
    check "no --user-model: no second model" test ! -e "$T/one/random/user-model"
    check "no --user-model: the per-user figures are the model's" \
        test "$(cell "$T/one/field.tsv" "ML-100K, random" 3)" = "$(val "$T/one/random/model/metrics.tsv" ndcg@10)"
    check "--seeds 1: one model in the random setup" test -s "$T/one/random/model/model.safetensors" -a \
        ! -e "$T/one/random/model/model-seed2.safetensors"
    check "--seeds 1: one model in each fold" test -s "$T/one/folds/cv/u4/model.safetensors" -a \
        ! -e "$T/one/folds/cv/u4/model-seed2.safetensors"
fi

# Bad usage: status 2, one line.
sh "$P/benchmark.sh" --setups nosuch "$T/x" >/dev/null 2>"$T/err"
check "--setups of no setup: status 2" test $? -eq 2
check "--setups of no setup: said so" grep -q "^benchmark: --setups: random, user-time, latest or folds, not 'nosuch'" "$T/err"
sh "$P/benchmark.sh" --user-model '--seed $(id)' "$T/x" >/dev/null 2>"$T/err"
check "--user-model with a shell word: status 2" test $? -eq 2
check "--user-model with a shell word: said so" grep -q "^benchmark: --user-model: mlr-train options" "$T/err"
# No data: every setup skipped, said so, the tables still made.
if ran "no data: status 0" sh "$P/benchmark.sh" --data "$T/none" --setups random,latest "$T/empty"; then
    check "no data: said so" grep -q "^benchmark: random: skipped, no ml-100k" "$T/.ran.err"
    check "no data: the targets say not measured" grep -q 'not measured' "$T/empty/targets.tsv"
fi
# --baselines: one run's directory, no mlr-train options, the files it needs.
sh "$P/benchmark.sh" --baselines "$O/random" --epochs 2 >/dev/null 2>"$T/err"
check "--baselines with mlr-train options: status 2" test $? -eq 2
sh "$P/benchmark.sh" --baselines "$T/nosuch" >/dev/null 2>"$T/err"
check "--baselines of no run: said so" grep -q "^benchmark: $T/nosuch/train.tsv: no such file" "$T/err"

