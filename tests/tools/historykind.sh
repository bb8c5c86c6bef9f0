# train-eval.sh --history: prepare.sh's second set of rows, histories cut
# at each row's time; the kind chosen on the validation slice (each kind's
# figures those of a run of that kind alone, the better per-user nDCG@10
# kept, the kept run's files this run's), served and read back by
# retrain.sh; refusals.
. "$(dirname "$0")/lib.sh"
P=$MLR_ROOT/pipelines
mlr-synth --n-users 200 --n-items 300 --n-ratings 8000 --seed 9 --output "$T/all.tsv"
mlr-split --seed 3 --test-fraction 0.2 --test-output "$T/test.tsv" --output "$T/train.tsv" "$T/all.tsv"
sh "$P/prepare.sh" "$T/train.tsv" "$T/test.tsv" "$T/prep" 2>"$T/log" || fail "prepare.sh" "$(tail -n 1 "$T/log")"
for t in train fit valid test; do
    check "prepare.sh leaves enc-$t-b" test -s "$T/prep/enc-$t-b/features.npy" -o -d "$T/prep/enc-$t-b"
done
# The wiring: the validation rows' cut histories come from the fit rows,
# the test rows' from the training rows, each strictly before the row.
hcol() { awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "user_history") c = i; print c; exit }' "$1"; }
before_only() { # FROM ROWS: every history item is FROM's item of the user rated before the row
    awk -F'\t' -v h="$(hcol "$2")" 'NR == FNR { if (FNR > 1) t[$1, $2] = $4; next }
        FNR > 1 { k = split($h, a, "|"); for (j = 1; j <= k; j++) if (!(($1, a[j]) in t) || t[$1, a[j]] >= $4) bad = 1; n += k }
        END { exit bad || n == 0 }' "$1" "$2"
}
check "valid-b: histories of fit items rated before the row" before_only "$T/prep/fit.tsv" "$T/prep/h/valid-b.tsv"
check "test-b: histories of training items rated before the row" before_only "$T/prep/train.tsv" "$T/prep/h/test-b.tsv"
check "valid: the uncut histories hold later items" awk -F'\t' -v h="$(hcol "$T/prep/h/valid.tsv")" '
    NR == FNR { if (FNR > 1) t[$1, $2] = $4; next } FNR > 1 { k = split($h, a, "|"); for (j = 1; j <= k; j++) if (t[$1, a[j]] >= $4) late = 1 }
    END { exit !late }' "$T/prep/fit.tsv" "$T/prep/h/valid.tsv"

TE="sh $P/train-eval.sh --threads 1 --no-topk"
O="--epochs 3 --batch-size 512 --quiet"
$TE --no-test --history all "$T/prep" "$T/all" $O 2>"$T/log" || fail "--history all" "$(tail -n 1 "$T/log")"
$TE --no-test --history before-row "$T/prep" "$T/cut" $O 2>"$T/log" || fail "--history before-row" "$(tail -n 1 "$T/log")"
$TE --no-test "$T/prep" "$T/valid" $O 2>"$T/log" || fail "--history valid" "$(tail -n 1 "$T/log")"
fig() { awk -F'\t' -v m="$2" '$1 == m { print $2 }' "$1/valid-metrics.tsv"; }
check "before-row trains on other rows: other validation figures" test "$(fig "$T/all" top100)" != "$(fig "$T/cut" top100)"
check "history-kind.tsv: each kind's figures, those of a run of that kind alone" test \
    "$(sed 1d "$T/valid/history-kind.tsv" | cut -f1-3 | tr '\t\n' '  ')" = \
    "all $(fig "$T/all" ndcg@10) $(fig "$T/all" top100) before-row $(fig "$T/cut" ndcg@10) $(fig "$T/cut" top100) "
kept=$(awk -F'\t' '$4 == 1 { print $1 }' "$T/valid/history-kind.tsv")
best=$(awk -F'\t' 'NR > 1 && (b == "" || $2 + 0 > v) { b = $1; v = $2 + 0 } END { print b }' "$T/valid/history-kind.tsv")
check "the kind kept ($kept) is the better per-user nDCG@10 ($best)" test "$kept" = "$best" -a -n "$kept"
dir=$T/all; [ "$kept" = all ] || dir=$T/cut
same "the kept kind's model and validation figures are this run's" "$T/valid/valid-metrics.tsv" "$dir/valid-metrics.tsv"
check "the kept kind's model, byte for byte" cmp "$T/valid/model.safetensors" "$dir/model.safetensors"
check "no trial folder left behind" test ! -e "$T/valid/history-all" -a ! -e "$T/valid/history-before-row"
# Two seeds: the choice is the two models' (their validation figures),
# each kind's those of a two-seed run of that kind alone.
$TE --no-test --seeds 2 "$T/prep" "$T/valid2" $O 2>"$T/log" || fail "--history valid --seeds 2" "$(tail -n 1 "$T/log")"
for h in all before-row; do
    $TE --no-test --seeds 2 --history "$h" "$T/prep" "$T/$h-2" $O 2>"$T/log" || fail "--seeds 2 --history $h" "$(tail -n 1 "$T/log")"
done
check "--seeds 2: each kind's figures, the two models' of that kind" test \
    "$(sed 1d "$T/valid2/history-kind.tsv" | cut -f1-3 | tr '\t\n' '  ')" = \
    "all $(fig "$T/all-2" ndcg@10) $(fig "$T/all-2" top100) before-row $(fig "$T/before-row-2" ndcg@10) $(fig "$T/before-row-2" top100) "
kept2=$(awk -F'\t' '$4 == 1 { print $1 }' "$T/valid2/history-kind.tsv")
best2=$(awk -F'\t' 'NR > 1 && (b == "" || $2 + 0 > v) { b = $1; v = $2 + 0 } END { print b }' "$T/valid2/history-kind.tsv")
check "--seeds 2: the kind kept ($kept2) is the two models' better ($best2)" test "$kept2" = "$best2" -a -n "$kept2"
check "--seeds 2: the kept kind's second model, byte for byte" \
    cmp "$T/valid2/model-seed2.safetensors" "$T/$kept2-2/model-seed2.safetensors"
same "--seeds 2: its validation figures are the run's" "$T/valid2/valid-metrics.tsv" "$T/$kept2-2/valid-metrics.tsv"

# The whole run: the kept kind's rows reach the refit and the test rows.
$TE --history before-row "$T/prep" "$T/full" $O 2>"$T/log" || fail "--history before-row with the test rows" "$(tail -n 1 "$T/log")"
mlr-embed --model "$T/full/model.safetensors" --rows "$T/prep/enc-test-b" --output "$T/q-b.npy"
check "the test queries are the cut rows'" cmp "$T/q-b.npy" "$T/full/query.npy"
sh "$P/package.sh" "$T/prep" "$T/full" "$T/served" 2>"$T/log" || fail "package.sh" "$(tail -n 1 "$T/log")"
check "package.sh serves history-kind.tsv" cmp "$T/served/history-kind.tsv" "$T/full/history-kind.tsv"
check "MANIFEST lists it" grep -q ' history-kind.tsv$' "$T/served/MANIFEST"
$TE --history before-row --model "$T/full/model.safetensors" "$T/prep" "$T/given" 2>"$T/log" ||
    fail "--model with --history before-row" "$(tail -n 1 "$T/log")"
check "--model --history before-row: the same test figures" cmp "$T/given/metrics.tsv" "$T/full/metrics.tsv"
$TE --model "$T/full/model.safetensors" "$T/prep" "$T/given-all" 2>"$T/log" || fail "--model" "$(tail -n 1 "$T/log")"
check "--model alone: all (other figures)" sh -c "! cmp -s '$T/given-all/metrics.tsv' '$T/full/metrics.tsv'"

# No histories: the one kind there is.
sh "$P/prepare.sh" --history 0 "$T/train.tsv" "$T/test.tsv" "$T/prep0" 2>"$T/log" || fail "prepare.sh --history 0" "$(tail -n 1 "$T/log")"
check "--history 0: no cut rows" test ! -e "$T/prep0/enc-fit-b"
$TE --no-test "$T/prep0" "$T/run0" $O 2>"$T/log" || fail "--history valid without histories" "$(tail -n 1 "$T/log")"
check "without histories: all, kept" test "$(sed 1d "$T/run0/history-kind.tsv" | cut -f1,4)" = "$(printf 'all\t1')"
refused() { # NAME STATUS PATTERN CMD...: one line on stderr naming the script, that status
    n=$1 want=$2 pat=$3; shift 3
    "$@" >/dev/null 2>"$T/e"; st=$?
    if [ "$st" -ne "$want" ]; then fail "$n" "status $st, wanted $want: $(head -c 200 "$T/e")"
    elif [ "$(wc -l <"$T/e")" -ne 1 ] || ! grep -q -- "$pat" "$T/e"; then fail "$n" "stderr: $(head -c 300 "$T/e")"
    else pass "$n"; fi
}
refused "--history before-row without histories" 1 "train-eval: .*no histories cut" $TE --no-test --history before-row "$T/prep0" "$T/x" $O
refused "--history another kind" 2 "train-eval: --history: all, before-row or valid" $TE --no-test --history latest "$T/prep" "$T/x" $O
refused "--history without its value" 2 "usage: train-eval.sh" $TE --history
check "no run left by a refusal" test ! -e "$T/x/model.safetensors"
