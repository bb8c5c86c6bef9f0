#!/bin/sh
# hybrid.sh and the hybrid it serves: EASE's lambda and the model's weight
# in the fused lists chosen on the validation slice alone (evaluate.sh
# runs it; the served directory carries hybrid.tsv), and recommend.sh
# --fuse-ease auto serving that choice.
. "$(dirname "$0")/lib.sh"
P=$MLR_ROOT/pipelines
mlr-synth --n-users 200 --n-items 300 --n-ratings 8000 --seed 11 --output "$T/all.tsv"
mlr-split --seed 3 --test-fraction 0.2 --test-output "$T/test.tsv" --output "$T/train.tsv" "$T/all.tsv"
if ! sh "$P/evaluate.sh" --lambdas 10,100,1000 --fuse-weights 0,0.3,0.7,1 "$T/train.tsv" "$T/test.tsv" "$T/run" \
        --epochs 3 --rating-weight 20 --quiet 2>"$T/log"; then
    fail "evaluate.sh makes a run" "$(tail -n 3 "$T/log" | tr '\n' ' ')"
    exit 0
fi
R=$T/run S=$T/run/served
val() { awk -F'\t' -v k="$2" '$1 == k { print $2 }' "$1"; }
# best TSV: the first column of the row of the best column 2, the first on a tie
best() { awk -F'\t' 'NR > 1 && (b == "" || $2 + 0 > bv) { b = $1; bv = $2 + 0 } END { print b }' "$1"; }

# ---- the choice, on the validation slice ----
check "ease-lambda.tsv: one row per lambda" test "$(cut -f1 "$R/ease-lambda.tsv" | tr '\n' ' ')" = "lambda 10 100 1000 "
check "fuse-weight.tsv: one row per weight" test "$(cut -f1 "$R/fuse-weight.tsv" | tr '\n' ' ')" = "model_weight 0 0.3 0.7 1 "
check "hybrid.tsv: its settings" test "$(cut -f1 "$R/hybrid.tsv" | tr '\n' ' ')" = \
    "setting ease_lambda model_weight ndcg@10 recall@10 ease_ndcg@10 "
check "hybrid.tsv: the lambda of the best validation nDCG@10" test "$(val "$R/hybrid.tsv" ease_lambda)" = "$(best "$R/ease-lambda.tsv")"
check "hybrid.tsv: the weight of the best validation nDCG@10" test "$(val "$R/hybrid.tsv" model_weight)" = "$(best "$R/fuse-weight.tsv")"
w=$(val "$R/hybrid.tsv" model_weight)
check "hybrid.tsv: ndcg@10 is the chosen weight's" test "$(val "$R/hybrid.tsv" ndcg@10)" = \
    "$(awk -F'\t' -v w="$w" '$1 == w { print $2 }' "$R/fuse-weight.tsv")"
# The ends are figures computed elsewhere: weight 1 is the model's own list
# (train-eval.sh's validation nDCG@10), weight 0 EASE's at the lambda chosen.
check "weight 1 scores the model's validation nDCG@10" test \
    "$(awk -F'\t' '$1 == 1 { print $2 }' "$R/fuse-weight.tsv")" = "$(val "$R/valid-metrics.tsv" ndcg@10)"
check "weight 0 scores EASE's at the lambda chosen" test \
    "$(awk -F'\t' '$1 == 0 { print $2 }' "$R/fuse-weight.tsv")" = "$(val "$R/hybrid.tsv" ease_ndcg@10)"
check "EASE's figure is its row of ease-lambda.tsv" test "$(val "$R/hybrid.tsv" ease_ndcg@10)" = \
    "$(awk -F'\t' -v l="$(val "$R/hybrid.tsv" ease_lambda)" '$1 == l { print $2 }' "$R/ease-lambda.tsv")"
# EASE on the fit rows, scored on the slice, by hand
l=$(val "$R/hybrid.tsv" ease_lambda)
mlr-baseline --quiet --kind ease --lambda "$l" --exclude-train --train "$R/fit.tsv" --test "$R/valid.tsv" \
    --item-ids "$R/items.ids" --k 100 --output "$T/ease.topk"
mlr-score --quiet --test "$R/valid.tsv" --train "$R/fit.tsv" --topk "$T/ease.topk" --item-ids "$R/items.ids" \
    --output "$T/ease.metrics"
check "EASE's validation nDCG@10 recomputed" test "$(val "$T/ease.metrics" ndcg@10)" = "$(val "$R/hybrid.tsv" ease_ndcg@10)"

# No test row is read: the same choice with the test rows replaced.
mkdir -p "$T/copy"
for f in fit.tsv valid.tsv items.ids items.npy user-time.tsv model-fit.safetensors; do cp "$R/$f" "$T/copy/"; done
cp "$R"/valid-users* "$T/copy/" && cp -R "$R/enc-items" "$T/copy/"
if ran "hybrid.sh on a copy without the test rows" sh "$P/hybrid.sh" --lambdas 10,100,1000 --fuse-weights 0,0.3,0.7,1 \
        "$T/copy" "$T/copy-out"; then
    for f in ease-lambda.tsv fuse-weight.tsv hybrid.tsv; do
        same "without the test rows: the same $f" "$T/copy-out/$f" "$R/$f"
    done
fi

# ---- served ----
check "the served directory holds hybrid.tsv" cmp -s "$S/hybrid.tsv" "$R/hybrid.tsv"
check "MANIFEST lists it" grep -q '  hybrid.tsv$' "$S/MANIFEST"
lam=$(val "$R/hybrid.tsv" ease_lambda)
if ran -o "$T/auto.md" "recommend.sh --fuse-ease auto" sh "$P/recommend.sh" --run "$R" --user 42 --k 10 --fuse-ease auto &&
   ran -o "$T/given.md" "recommend.sh --fuse-ease W --lambda L" sh "$P/recommend.sh" --run "$R" --user 42 --k 10 \
        --fuse-ease "$w" --lambda "$lam"; then
    check "--fuse-ease auto: hybrid.tsv's weight and lambda" \
        test "$(sed 1d "$T/auto.md")" = "$(sed 1d "$T/given.md")"
    check "--fuse-ease auto: says what it chose" \
        grep -q "model weight $w and EASE lambda $lam, chosen on the validation slice" "$T/auto.md"
fi
# --lambda still wins; at the other weights' ends the lists differ
if ran -o "$T/auto-l.md" "--fuse-ease auto --lambda" sh "$P/recommend.sh" --run "$S" --user 42 --k 10 \
        --fuse-ease auto --lambda 5000; then
    check "--fuse-ease auto --lambda 5000: the lambda given" \
        grep -q "model weight $w, chosen on the validation slice; EASE lambda 5000" "$T/auto-l.md"
fi
# A new user: by the movies rated, fused as given by hand; by features
# alone (EASE has no movie to start from), the model's list, said so.
new="--age 30 --gender F --occupation writer"
# shellcheck disable=SC2086 # $new: plain words
if ran -o "$T/na.md" "auto, a new user with rated movies" sh "$P/recommend.sh" --run "$S" $new --rated-items 5,17,60 \
        --k 10 --fuse-ease auto &&
   ran -o "$T/ng.md" "W and L, a new user with rated movies" sh "$P/recommend.sh" --run "$S" $new --rated-items 5,17,60 \
        --k 10 --fuse-ease "$w" --lambda "$lam"; then
    check "auto, a new user with rated movies: hybrid.tsv's weight and lambda" test "$(sed 1d "$T/na.md")" = "$(sed 1d "$T/ng.md")"
fi
# shellcheck disable=SC2086
if ran -o "$T/nf.md" "auto, a new user by features alone" sh "$P/recommend.sh" --run "$S" $new --k 10 --fuse-ease auto &&
   ran -o "$T/nm.md" "the model, a new user by features alone" sh "$P/recommend.sh" --run "$S" $new --k 10 \
        --fuse-ease off; then
    check "auto, features alone: the model's list" test "$(sed 1d "$T/nf.md")" = "$(sed 1d "$T/nm.md")"
    check "auto, features alone: says so" grep -q "the model's list: EASE, which --fuse-ease auto fuses it with, needs rated movies" "$T/nf.md"
fi
# pfail NAME STATUS PATTERN CMD...: CMD exits STATUS with one stderr line
# matching PATTERN
pfail() {
    pf_name=$1 pf_want=$2 pf_pat=$3; shift 3
    "$@" >"$T/.out" 2>"$T/.err"
    pf_got=$?
    if [ "$pf_got" -ne "$pf_want" ] || [ "$(wc -l <"$T/.err")" -ne 1 ] || ! grep -q -- "$pf_pat" "$T/.err"; then
        fail "$pf_name" "status $pf_got: $(head -c 300 "$T/.err" | tr '\n' '|')"
    else pass "$pf_name"; fi
}
# A served directory without hybrid.tsv, and one whose hybrid.tsv is bad.
cp -R "$S" "$T/bare" && rm "$T/bare/hybrid.tsv" && grep -v '  hybrid.tsv$' "$S/MANIFEST" >"$T/bare/MANIFEST"
pfail "--fuse-ease auto without hybrid.tsv: refused" 1 "no hybrid.tsv" \
    sh "$P/recommend.sh" --run "$T/bare" --user 42 --fuse-ease auto
check "... and that directory serves the model" sh "$P/recommend.sh" --run "$T/bare" --user 42
# Unless told, recommend.sh serves what validation chose: the hybrid
# where hybrid.tsv is, else the model; --fuse-ease off the model always.
if ran -o "$T/default.md" "recommend.sh, no --fuse-ease" sh "$P/recommend.sh" --run "$R" --user 42 --k 10 &&
   ran -o "$T/off.md" "recommend.sh --fuse-ease off" sh "$P/recommend.sh" --run "$R" --user 42 --k 10 --fuse-ease off &&
   ran -o "$T/bare-default.md" "no --fuse-ease, no hybrid.tsv" sh "$P/recommend.sh" --run "$T/bare" --user 42 --k 10 &&
   ran -o "$T/bare-off.md" "--fuse-ease off, no hybrid.tsv" sh "$P/recommend.sh" --run "$T/bare" --user 42 --k 10 \
        --fuse-ease off; then
    check "the default is --fuse-ease auto where hybrid.tsv is" cmp -s "$T/default.md" "$T/auto.md"
    check "--fuse-ease off: the model's list, said as no fusion" sh -c '! grep -q "fused" "$1" && grep -q "^### User 42: top 10$" "$1"' - "$T/off.md"
    mlr-recommend --served "$S" --k 10 --output "$T/model.tsv" 42
    sed 1d "$T/model.tsv" | cut -f6 >"$T/model.titles"
    sed -n 's/^[0-9]*\. \(.*\) (score .*/\1/p' "$T/off.md" >"$T/off.titles"
    same "--fuse-ease off: mlr-recommend's titles, in order" "$T/off.titles" "$T/model.titles"
    check "no hybrid.tsv: the default is the model's list" cmp -s "$T/bare-default.md" "$T/bare-off.md"
    same "no hybrid.tsv: the list --fuse-ease off gives where it is" "$T/bare-off.md" "$T/off.md"
fi
pfail "--fuse-ease offx: refused" 1 "not 'offx'" sh "$P/recommend.sh" --run "$R" --user 42 --fuse-ease offx
cp -R "$S" "$T/badw" && sed 's/^model_weight\t.*/model_weight\t1.5/' "$S/hybrid.tsv" >"$T/badw/hybrid.tsv"
(cd "$T/badw" && sha256sum $(awk '{ print $2 }' MANIFEST) >MANIFEST)
pfail "--fuse-ease auto: a weight of 1.5 in hybrid.tsv refused" 1 "not '1.5' in .*hybrid.tsv" \
    sh "$P/recommend.sh" --run "$T/badw" --user 42 --fuse-ease auto
cp -R "$S" "$T/badl" && sed 's/^ease_lambda\t.*/ease_lambda\t-3/' "$S/hybrid.tsv" >"$T/badl/hybrid.tsv"
(cd "$T/badl" && sha256sum $(awk '{ print $2 }' MANIFEST) >MANIFEST)
pfail "--fuse-ease auto: a lambda of -3 in hybrid.tsv refused" 1 "not '-3' in .*hybrid.tsv" \
    sh "$P/recommend.sh" --run "$T/badl" --user 42 --fuse-ease auto
# changed without its MANIFEST: mlr-recommend's check refuses it
cp -R "$S" "$T/tamper" && sed 's/^model_weight\t.*/model_weight\t0.5/' "$S/hybrid.tsv" >"$T/tamper/hybrid.tsv"
if [ "$w" != 0.5 ]; then
    pfail "--fuse-ease auto: a hybrid.tsv changed after MANIFEST refused" 1 "hybrid.tsv" \
        sh "$P/recommend.sh" --run "$T/tamper" --user 42 --fuse-ease auto
fi

# ---- hybrid.sh's own contract ----
pfail "hybrid.sh --lambdas 0: refused" 2 "lambdas: a comma-separated list of positive numbers" \
    sh "$P/hybrid.sh" --lambdas 0 "$R" "$T/x"
pfail "hybrid.sh --fuse-weights 1.2: refused" 2 "fuse-weights: a comma-separated list of numbers in \[0, 1\]" \
    sh "$P/hybrid.sh" --fuse-weights 0,1.2 "$R" "$T/x"
pfail "hybrid.sh --fuse-weights '*': refused" 2 "not '\*'" sh "$P/hybrid.sh" --fuse-weights '*' "$R" "$T/x"
pfail "hybrid.sh --lambdas 10,,20: refused" 2 "not '10,,20'" sh "$P/hybrid.sh" --lambdas 10,,20 "$R" "$T/x"
pfail "hybrid.sh on a folder that is no run: refused" 1 "fit.tsv: no such file" \
    sh "$P/hybrid.sh" "$T/copy-out" "$T/x"
check "... and made nothing" test ! -e "$T/x"
mkdir -p "$T/e1"
if ran "hybrid.sh --ease-only" sh "$P/hybrid.sh" --ease-only --lambdas 10,100,1000 "$R" "$T/e1"; then
    same "--ease-only: the same ease-lambda.tsv" "$T/e1/ease-lambda.tsv" "$R/ease-lambda.tsv"
    check "--ease-only: nothing else" test "$(ls "$T/e1")" = ease-lambda.tsv
fi
# A failing run leaves the old choice: a validation slice mlr-baseline refuses.
cp -R "$T/copy-out" "$T/keep" && cp -R "$T/copy" "$T/broken" && printf 'no\tsuch\n1\n' >"$T/broken/valid.tsv"
sh "$P/hybrid.sh" "$T/broken" "$T/keep" >/dev/null 2>&1
check "a run that fails: status non-zero" test $? -ne 0
for f in ease-lambda.tsv fuse-weight.tsv hybrid.tsv; do
    same "a run that fails leaves the old $f" "$T/keep/$f" "$T/copy-out/$f"
done
check "... and no temporary" test "$(ls "$T/keep" | wc -l)" -eq 3
# Over EASE's 20,000 items: no hybrid, said so, the old one removed.
awk 'NR <= 2 { print; next } { print } END { for (i = 1; i <= 20001; i++) print "x" i }' "$R/items.ids" >"$T/copy/items.ids"
if ran "hybrid.sh over 20,000 items" sh "$P/hybrid.sh" "$T/copy" "$T/keep"; then
    check "over 20,000 items: no hybrid.tsv left" test ! -e "$T/keep/hybrid.tsv"
    check "over 20,000 items: said so" grep -q "over EASE's 20,000" "$T/.ran.err"
fi
# evaluate.sh --no-hybrid: none served
if ran "evaluate.sh --no-hybrid" sh "$P/evaluate.sh" --no-hybrid "$T/train.tsv" "$T/test.tsv" "$T/run2" \
        --epochs 1 --quiet; then
    check "--no-hybrid: no hybrid.tsv" test ! -e "$T/run2/hybrid.tsv" -a ! -e "$T/run2/served/hybrid.tsv"
fi

# evaluate.sh --seeds 2: the run's hybrid is the two models' lists', and
# served/ (which holds both models) serves it.
if ran "evaluate.sh --seeds 2" sh "$P/evaluate.sh" --seeds 2 --lambdas 100 --fuse-weights 0,1 "$T/train.tsv" "$T/test.tsv" \
        "$T/run3" --epochs 2 --rating-weight 20 --quiet; then
    R3=$T/run3
    check "--seeds 2: the run's weight-1 row is the two models' validation nDCG@10" test \
        "$(awk -F'\t' '$1 == 1 { print $2 }' "$R3/fuse-weight.tsv")" = "$(val "$R3/valid-metrics.tsv" ndcg@10)"
    check "--seeds 2: served/hybrid.tsv is listed" grep -q '  hybrid.tsv$' "$R3/served/MANIFEST"
    check "--seeds 2: served/hybrid.tsv is the run's" cmp -s "$R3/served/hybrid.tsv" "$R3/hybrid.tsv"
    check "--seeds 2: ... beside both models" test -s "$R3/served/model-seed2.safetensors"
fi
