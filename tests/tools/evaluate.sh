# evaluate.sh end to end on small synthetic data, and an independent
# evaluator: numpy recomputes the top-k accuracies from query.npy and
# items.npy (every catalogue item, nothing excluded, the rank tie rule of
# docs/features.md) and must agree with mlr-score within 0.001.
. "$(dirname "$0")/lib.sh"
P=$MLR_ROOT/pipelines
mlr-synth --n-users 300 --n-items 400 --n-ratings 12000 --seed 5 --output "$T/all.tsv"
# A split the flow has not seen elsewhere: the last 20% of each user's ratings.
mlr-split --by user-time --test-fraction 0.2 --test-output "$T/test.tsv" --output "$T/train.tsv" "$T/all.tsv"
if sh "$P/evaluate.sh" --valid-by user-time "$T/train.tsv" "$T/test.tsv" "$T/run" --epochs 3 --batch-size 512 --quiet 2>"$T/log"; then
    pass "evaluate.sh runs to the end"
else
    fail "evaluate.sh runs to the end" "$(tail -n 3 "$T/log" | tr '\n' ' ')"
fi
for f in model.safetensors metrics.tsv query.npy query.ids items.npy items.ids train-log.tsv pred.tsv topk.tsv; do
    check "evaluate.sh leaves $f" test -s "$T/run/$f"
done
for m in top1 top5 top10 top50 top100 rmse mae top10_excl recall@10 ndcg@10 coverage@10; do
    check "metrics.tsv has $m" grep -q "^$m	" "$T/run/metrics.tsv"
done
# query.ids: the model's fingerprint line, a header, a row per query
check "query.npy has one row per test row" test "$(($(wc -l <"$T/test.tsv") - 1))" -eq "$(($(wc -l <"$T/run/query.ids") - 2))"
check "query.ids and items.ids name the model (docs/fingerprint.md)" test \
    "$(head -1 "$T/run/query.ids")|$(head -1 "$T/run/items.ids")" = \
    "#mlrec model=$(sha256sum "$T/run/model.safetensors" | cut -c1-64)|#mlrec model=$(sha256sum "$T/run/model.safetensors" | cut -c1-64)"
check "train log has one row per epoch" test "$(wc -l <"$T/run/train-log.tsv")" -eq 4
# mlr-train validates on the slice cut from the training rows, never on
# the test rows: its last figures are mlr-score's on that slice.
check "the validation slice and the fit rows make the training rows" \
    test "$(($(wc -l <"$T/run/fit.tsv") + $(wc -l <"$T/run/valid.tsv") - 2))" -eq "$(($(wc -l <"$T/train.tsv") - 1))"
sed 1d "$T/train.tsv" | sort >"$T/train.sorted"
sed 1d "$T/run/valid.tsv" | sort >"$T/valid.sorted"
check "every validation row is a training row" test "$(comm -13 "$T/train.sorted" "$T/valid.sorted" | wc -l)" -eq 0
check "the validation slice is each user's latest rows (--valid-by user-time)" \
    awk -F'\t' 'NR == FNR { if (FNR > 1 && (!($1 in first) || $4 < first[$1])) first[$1] = $4; next }
        FNR > 1 && ($1 in first) && $4 > first[$1] { bad = 1 } END { exit bad }' "$T/run/valid.tsv" "$T/run/fit.tsv"
for m in top10 top100; do
    a=$(awk -F'\t' -v m="$m" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == m) c = i; next } { v = $c } END { print v }' "$T/run/train-log.tsv")
    b=$(awk -F'\t' -v m="$m" '$1 == m { print $2 }' "$T/run/valid-metrics.tsv")
    check "mlr-train's last $m ($a) equals mlr-score's ($b)" awk -v a="$a" -v b="$b" 'BEGIN { d = a - b; exit !(b != "" && d < 1e-5 && d > -1e-5) }'
done

PY=/usr/bin/python3
if [ -x "$PY" ] && "$PY" -c 'import numpy' 2>/dev/null; then
    "$PY" - "$T/run" "$T/test.tsv" >"$T/numpy.tsv" 2>"$T/numpy.err" <<'PYEOF'
import sys, numpy as np
run, test = sys.argv[1], sys.argv[2]
q = np.load(run + "/query.npy").astype(np.float64)
it = np.load(run + "/items.npy").astype(np.float64)
ids = [l.rstrip("\n") for l in open(run + "/items.ids") if not l.startswith("#mlrec ")][1:]
pos = {s: i for i, s in enumerate(ids)}
lines = [l.rstrip("\n").split("\t") for l in open(test)]
col = lines[0].index("item_id")
truth = [pos.get(r[col], -1) for r in lines[1:]]
s = (q.astype(np.float32) @ it.astype(np.float32).T)
hits = {k: 0 for k in (1, 5, 10, 50, 100)}
for i, t in enumerate(truth):
    if t < 0:
        continue
    row = s[i]
    rank = 1 + np.sum(row > row[t]) + np.sum(row[:t] == row[t])
    for k in hits:
        hits[k] += rank <= k
for k in sorted(hits):
    print("top%d\t%.6f" % (k, hits[k] / len(truth)))
PYEOF
    st=$?
    # five figures or a failure: an empty output must not pass unseen
    if [ "$st" -ne 0 ] || [ "$(cut -f1 "$T/numpy.tsv" | tr '\n' ' ')" != "top1 top5 top10 top50 top100 " ]; then
        fail "numpy recomputes top1..top100" "status $st, printed '$(head -c 200 "$T/numpy.tsv" | tr '\n' ' ')': $(tail -n 2 "$T/numpy.err" | tr '\n' ' ')"
    fi
    while IFS='	' read -r m v; do
        got=$(awk -F'\t' -v m="$m" '$1 == m { print $2 }' "$T/run/metrics.tsv")
        if awk -v a="$v" -v b="$got" 'BEGIN { d = a - b; exit !(b != "" && d < 0.001 && d > -0.001) }'; then
            pass "numpy recomputes $m ($v vs mlr-score $got)"
        else
            fail "numpy recomputes $m" "numpy $v, mlr-score $got"
        fi
    done <"$T/numpy.tsv"
else
    skip "numpy cross-check" "no numpy under /usr/bin/python3"
fi

# recommend.sh never lists a title the user rated in training.
u=$(awk -F'\t' 'NR == 2 { print $1 }' "$T/train.tsv")
sh "$P/recommend.sh" --run "$T/run" --train "$T/train.tsv" --user "$u" --k 20 >"$T/rec.md" 2>"$T/rec.err"
check "recommend.sh lists 20 titles" test "$(grep -c '^[0-9][0-9]*\. ' "$T/rec.md")" -eq 20
awk -F'\t' -v u="$u" 'NR > 1 && $1 == u { print $2 }' "$T/train.tsv" | sort -u >"$T/rated"
awk -F'\t' 'NR > 1 { print $1 "\t" $2 }' "$T/run/catalogue.tsv" | sort -t '	' -k1,1 >"$T/titles"
join -t '	' "$T/rated" "$T/titles" | cut -f2 >"$T/rated-titles"
sed -n 's/^[0-9][0-9]*\. \(.*\) (score [^)]*).*/\1/p' "$T/rec.md" >"$T/rec-titles"
check "recommend.sh lists no rated title" test -z "$(grep -Fxf "$T/rated-titles" "$T/rec-titles")"
check "recommend.sh gives reasons" grep -q "because you rated" "$T/rec.md"
sh "$P/recommend.sh" --run "$T/run" --train "$T/train.tsv" --age 30 --gender M --occupation engineer --k 5 >"$T/cold.md" 2>"$T/cold.err"
check "recommend.sh: a new user gets 5 titles from features" test "$(grep -c '^[0-9]\. ' "$T/cold.md")" -eq 5
expect_fail_sh() { # NAME CMD...: a pipeline's usage error, status 2
    n=$1; shift
    if "$@" >/dev/null 2>"$T/e"; then fail "$n" "succeeded"; else
        st=$?; if [ "$st" -eq 2 ]; then pass "$n"; else fail "$n" "status $st"; fi; fi
}
expect_fail_sh "recommend.sh without --run is a usage error" sh "$P/recommend.sh" --user 1
