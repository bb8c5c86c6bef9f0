#!/bin/sh
# Seed averaging (issue 13 point 4): mlr-predict and mlr-embed with several
# --model, and train-eval.sh --seeds N on small synthetic data: N models
# with seeds S..S+N-1; the predictions their mean, the embeddings side by
# side so that a score is the mean of the models' scores; one model is
# bit for bit the single-model run. Fingerprints (docs/fingerprint.md):
# an average names its set of models (SHA-256 of the sorted model
# hashes), whatever the order of --model; mixes are refused.
. "$(dirname "$0")/lib.sh"
P=$MLR_ROOT/pipelines
mlr-synth --n-users 150 --n-items 200 --n-ratings 4000 --seed 2 --output "$T/all.tsv"
mlr-split --seed 42 --test-output "$T/test.tsv" --output "$T/train.tsv" "$T/all.tsv"
sh "$P/prepare.sh" "$T/train.tsv" "$T/test.tsv" "$T/prep" 2>"$T/err" || { fail "prepare.sh" "$(tail -n 1 "$T/err")"; exit 0; }
O="--epochs 2 --dim 8 --layers 8 --rating-layers 8 --quiet --threads 1"

# shellcheck disable=SC2086
if ran "train-eval.sh --seeds 3" sh "$P/train-eval.sh" --threads 1 --seeds 3 --no-topk "$T/prep" "$T/e3" $O --seed 7; then
    check "--seeds 3: three models" test -s "$T/e3/model.safetensors" -a -s "$T/e3/model-seed2.safetensors" -a -s "$T/e3/model-seed3.safetensors"
    check "--seeds 3: seeds 7, 8, 9 (the --seed given, then on)" sh -c \
        'grep -q "seed\\\\\":7[,}]" "$1/model.safetensors" && grep -q "seed\\\\\":8[,}]" "$1/model-seed2.safetensors" &&
         grep -q "seed\\\\\":9[,}]" "$1/model-seed3.safetensors"' sh "$T/e3"
    check "--seeds 3: a log per model" test -s "$T/e3/train-log.tsv" -a -s "$T/e3/train-log-seed3.tsv"
    # The predictions are the mean of the three models' own.
    M="$T/e3/model.safetensors $T/e3/model-seed2.safetensors $T/e3/model-seed3.safetensors"
    k=0
    for m in $M; do k=$((k + 1)); mlr-predict --model "$m" --rows "$T/prep/enc-test" --output "$T/p$k.tsv"; done
    check "--seeds 3: pred.tsv is the mean of the models' predictions" awk -F'\t' '
        /^#mlrec / { next } $3 == "prediction" { f++; next } f < 4 { s[FNR] += $3; next }
        { d = s[FNR] / 3 - $3; if (d < -1e-5 || d > 1e-5) bad = 1; n++ } END { exit bad || !n }' \
        "$T/p1.tsv" "$T/p2.tsv" "$T/p3.tsv" "$T/e3/pred.tsv"
    check "--seeds 3: the rmse is the averaged predictions'" test "$(awk -F'\t' '$1 == "rmse" { print $2 }' "$T/e3/metrics.tsv")" = \
        "$(mlr-score --test "$T/test.tsv" --pred "$T/e3/pred.tsv" | awk -F'\t' '$1 == "rmse" { print $2 }')"
    PY=/usr/bin/python3
    if [ -x "$PY" ] && "$PY" -c 'import numpy' 2>/dev/null; then
        k=0
        for m in $M; do
            k=$((k + 1))
            mlr-embed --model "$m" --catalogue "$T/prep/enc-items" --output "$T/i$k.npy"
            mlr-embed --model "$m" --rows "$T/prep/enc-test" --output "$T/q$k.npy"
        done
        check "--seeds 3: the ensemble's scores are the mean of the models' scores" "$PY" -c '
import sys, numpy as np
d, r = sys.argv[1], sys.argv[2]
mean = sum(np.load(f"{d}/q{k}.npy") @ np.load(f"{d}/i{k}.npy").T for k in (1, 2, 3)) / 3
ens = np.load(f"{r}/query.npy") @ np.load(f"{r}/items.npy").T
assert ens.shape == mean.shape and np.abs(ens - mean).max() < 1e-4, np.abs(ens - mean).max()' "$T" "$T/e3"
        # --mean-by-user: each user's mean of their rows' queries, users
        # in the order of their first row; the per-row queries differ
        # (each row's time and history), so the first row alone fails.
        mlr-embed $(for m in $M; do printf -- '--model %s ' "$m"; done) --rows "$T/prep/enc-train" \
            --output "$T/rows.npy"
        mlr-embed $(for m in $M; do printf -- '--model %s ' "$m"; done) --rows "$T/prep/enc-train" \
            --mean-by-user --output "$T/mean.npy"
        check "mlr-embed --mean-by-user: each user's mean query, in first-row order" "$PY" -c '
import sys, numpy as np
d = sys.argv[1]
rows, mean = np.load(f"{d}/rows.npy"), np.load(f"{d}/mean.npy")
ids = [l.split("\t")[0] for l in open(f"{d}/rows.ids").read().split("\n")[2:] if l]
users = list(dict.fromkeys(ids))
got = [l for l in open(f"{d}/mean.ids").read().split("\n")[1:] if l]
assert got[0] == "id" and got[1:] == users, got[:3]
assert mean.shape == (len(users), rows.shape[1]), mean.shape
want = np.array([rows[[i for i, x in enumerate(ids) if x == u]].mean(0) for u in users])
assert np.abs(want - rows[[ids.index(u) for u in users]]).max() > 1e-3, "rows alike: no test"
assert np.abs(mean - want).max() < 1e-5, np.abs(mean - want).max()' "$T"
        check "--mean-by-user: the ids name the models" test "$(head -n 1 "$T/mean.ids")" = "$(head -n 1 "$T/rows.ids")"
    else
        skip "ensemble scores" "numpy is not installed in /usr/bin/python3"
    fi
    # The set's fingerprint: sha256 over the sorted model hashes, a line each.
    # shellcheck disable=SC2086
    SET=$(sha256sum $M | cut -c1-64 | sort | sha256sum | cut -c1-64)
    for f in pred.tsv query.ids items.ids users.ids; do
        check "--seeds 3: $f names the set of models" test "$(head -n 1 "$T/e3/$f")" = "#mlrec model=$SET"
    done
    # The validation figures are the fit models' (the refit comes after).
    FIT=$(sha256sum "$T/e3/model-fit.safetensors" "$T/e3/model-fit-seed2.safetensors" \
        "$T/e3/model-fit-seed3.safetensors" | cut -c1-64 | sort | sha256sum | cut -c1-64)
    check "--seeds 3: valid-pred.tsv names the set of fit models" \
        test "$(head -n 1 "$T/e3/valid-pred.tsv")" = "#mlrec model=$FIT"
    check "--seeds 3: each seed refitted" test -s "$T/e3/refit-log-seed3.tsv" -a "$FIT" != "$SET"
    # The order of --model changes nothing: not the bits, not the name.
    mlr-predict --model "$T/e3/model-seed3.safetensors" --model "$T/e3/model.safetensors" \
        --model "$T/e3/model-seed2.safetensors" --rows "$T/prep/enc-test" --output "$T/pr.tsv"
    same "mlr-predict: models in another order, the same file" "$T/pr.tsv" "$T/e3/pred.tsv"
    mlr-embed --model "$T/e3/model-seed2.safetensors" --model "$T/e3/model-seed3.safetensors" \
        --model "$T/e3/model.safetensors" --catalogue "$T/prep/enc-items" --output "$T/ir.npy"
    same "mlr-embed: models in another order, the same embeddings" "$T/ir.npy" "$T/e3/items.npy"
    same "mlr-embed: models in another order, the same ids" "$T/ir.ids" "$T/e3/items.ids"
    # Mixes: another set of the same width, or one model beside the set.
    mlr-embed --model "$T/e3/model.safetensors" --model "$T/e3/model-seed2.safetensors" \
        --catalogue "$T/prep/enc-items" --output "$T/i12.npy"
    mlr-embed --model "$T/e3/model.safetensors" --model "$T/e3/model-seed3.safetensors" \
        --rows "$T/prep/enc-test" --output "$T/q13.npy"
    expect_fail "mlr-topk: queries and items of two sets of models, refused" 1 "outputs of two models" \
        mlr-topk --queries "$T/q13.npy" --items "$T/i12.npy" --k 5
    expect_fail "mlr-score: one model's predictions beside the set's, refused" 1 "outputs of two models" \
        mlr-score --test "$T/test.tsv" --pred "$T/p1.tsv" --queries "$T/e3/query.npy" --items "$T/e3/items.npy"
fi

# One model: --model twice is the model itself (predictions bit for bit).
m=$T/e3/model.safetensors
mlr-predict --model "$m" --rows "$T/prep/enc-test" --output "$T/once.tsv"
FP=$(sha256sum "$m" | cut -c1-64)
check "mlr-predict: one model, its own fingerprint" test "$(head -n 1 "$T/once.tsv")" = "#mlrec model=$FP"
if ran "mlr-predict: the same model twice" mlr-predict --model "$m" --model "$m" --rows "$T/prep/enc-test" --output "$T/twice.tsv"; then
    sed 1d "$T/twice.tsv" >"$T/twice.body"; sed 1d "$T/once.tsv" >"$T/once.body"
    same "mlr-predict: the same model twice gives its predictions" "$T/twice.body" "$T/once.body"
    # a pair of one model is a set of two, not the model: its own name
    check "mlr-predict: the same model twice, the pair's fingerprint" test "$(head -n 1 "$T/twice.tsv")" = \
        "#mlrec model=$(printf '%s\n%s\n' "$FP" "$FP" | sha256sum | cut -c1-64)"
fi
if ran "mlr-embed: two models" mlr-embed --model "$m" --model "$T/e3/model-seed2.safetensors" --catalogue "$T/prep/enc-items" --output "$T/two.npy"; then
    check "mlr-embed: two models, the widths side by side (9 + 9: 8 and the popularity prior's column)" \
        test "$(npy_shape "$T/two.npy")" = "$(($(grep -vc '^#mlrec ' "$T/i1.ids") - 1)) 18"
    sed 1d "$T/two.ids" >"$T/two.body"; sed 1d "$T/i1.ids" >"$T/i1.body"
    same "mlr-embed: the ids once" "$T/two.body" "$T/i1.body"
fi
# train-eval.sh --seeds 1 is the single-model run.
# shellcheck disable=SC2086
if ran "train-eval.sh --seeds 1" sh "$P/train-eval.sh" --threads 1 --seeds 1 --no-topk "$T/prep" "$T/e1" $O --seed 7; then
    # shellcheck disable=SC2086
    sh "$P/train-eval.sh" --threads 1 --no-topk "$T/prep" "$T/e0" $O --seed 7 2>/dev/null
    same "--seeds 1: the metrics of the run without --seeds" "$T/e1/metrics.tsv" "$T/e0/metrics.tsv"
    check "--seeds 1: one model" test ! -e "$T/e1/model-seed2.safetensors"
    # --user-time valid: each time's validation nDCG@10, the best kept
    check "user-time.tsv: last, median and mean tried, the best kept" awk -F'\t' '
        NR == 1 { ok = ($0 == "user_time\tndcg@10_valid\tkept"); next }
        { w = w $1 " "; k += $3; if (b == "" || $2 + 0 > bv) { b = $1; bv = $2 + 0 } if ($3 == 1) kept = $1 }
        END { exit !(ok && w == "last median mean " && k == 1 && kept == b) }' "$T/e1/user-time.tsv"
fi
# The teacher (mlr-train --distill) fitted once per rows: train-eval.sh
# gives every mlr-train RUN/.teacher, removed when the run ends; given
# --teacher-cache DIR, the three seeds' fit runs of both kinds of history
# share one file there and their refits another, and the figures are the
# run's without it.
check "RUN/.teacher removed when the run ends" test -s "$T/e3/model.safetensors" -a ! -e "$T/e3/.teacher"
# shellcheck disable=SC2086
if ran "train-eval.sh --seeds 3, --teacher-cache DIR" sh "$P/train-eval.sh" --threads 1 --seeds 3 --no-topk \
    "$T/prep" "$T/tc3" $O --seed 7 --teacher-cache "$T/tcd"; then
    check "--teacher-cache DIR: two teachers, the fit rows' and the training rows'" \
        test "$(ls "$T/tcd" | grep -c '^teacher-.*[.]safetensors$')" -eq 2
    same "--teacher-cache DIR: the metrics of the run without it" "$T/tc3/metrics.tsv" "$T/e3/metrics.tsv"
fi
mkdir -p "$T/tcf" && : >"$T/tcf/.teacher"
# shellcheck disable=SC2086
sh "$P/train-eval.sh" --threads 1 --no-topk "$T/prep" "$T/tcf" $O 2>"$T/err"
check "train-eval.sh trains with --teacher-cache RUN/.teacher (a file there: refused)" \
    grep -q "tcf/.teacher: the teacher's cache is not a directory" "$T/err"
# --user-time mean: the per-user queries are mlr-embed --mean-by-user's
# over the training rows, by the refitted model.
# shellcheck disable=SC2086
if ran "train-eval.sh --user-time mean" sh "$P/train-eval.sh" --threads 1 --user-time mean --history all --no-topk "$T/prep" "$T/em" $O --seed 7; then
    mlr-embed --model "$T/em/model.safetensors" --rows "$T/prep/enc-train" --mean-by-user --output "$T/em-users.npy"
    same "--user-time mean: users.npy is the mean over the training rows" "$T/em-users.npy" "$T/em/users.npy"
    check "--user-time mean: user-time.tsv says so" test "$(awk -F'\t' '$3 == 1 { print $1 }' "$T/em/user-time.tsv")" = mean
fi
sh "$P/train-eval.sh" --user-time soon "$T/prep" "$T/x" >/dev/null 2>"$T/err"
check "--user-time soon: status 2" test $? -eq 2
check "--user-time soon: said so" grep -q "^train-eval: --user-time: last, median, mean or valid, not 'soon'" "$T/err"
# evaluate.sh --seeds 2 serves both models: each item's score is the
# mean of the scores of the two models served alone (each with its own
# item embeddings), its predicted rating the mean of theirs.
# alone K MODEL: a served directory of MODEL alone, the rest as served/
alone() {
    mkdir -p "$T/alone$1" && cp -R "$T/ev/served/spec" "$T/alone$1/" &&
        cp "$T/ev/served/catalogue.tsv" "$T/ev/served/history.tsv" "$T/ev/served/user-time.tsv" "$T/alone$1/" &&
        cp "$2" "$T/alone$1/model.safetensors" &&
        mlr-embed --model "$2" --catalogue "$T/ev/enc-items" --output "$T/alone$1/items.npy" &&
        remanifest "$T/alone$1"
}
# shellcheck disable=SC2086
if ran "evaluate.sh --seeds 2" sh "$P/evaluate.sh" --seeds 2 "$T/train.tsv" "$T/test.tsv" "$T/ev" $O --seed 7; then
    S=$T/ev/served
    check "evaluate.sh --seeds 2: served/ holds both models" cmp -s "$S/model-seed2.safetensors" "$T/ev/model-seed2.safetensors"
    check "evaluate.sh --seeds 2: items.ids names their set" test "$(head -n 1 "$S/items.ids")" = "#mlrec model=$(
        sha256sum "$S/model.safetensors" "$S/model-seed2.safetensors" | cut -c1-64 | LC_ALL=C sort | sha256sum | cut -c1-64)"
    u=$(sed -n 2p "$T/train.tsv" | cut -f1)
    if alone 1 "$S/model.safetensors" && alone 2 "$S/model-seed2.safetensors"; then
        for d in "$S" "$T/alone1" "$T/alone2"; do
            mlr-recommend --served "$d" --k 500 --keep-seen "$u" | sed 1d | cut -f3-5 | sort >"$d.rec"
        done
        check "--seeds 2 served: every item's score and rating the mean of the two models' alone" awk -F'\t' '
            FILENAME == ARGV[1] { s[$1] = $2; r[$1] = $3; n++; next }
            FILENAME == ARGV[2] { s[$1] += $2; r[$1] += $3; next }
            { m++; ds = s[$1] / 2 - $2; dr = r[$1] / 2 - $3
              if (ds < -2e-5 || ds > 2e-5 || dr < -0.0011 || dr > 0.0011) bad++ }
            END { exit bad || m != n || n < 100 }' "$T/alone1.rec" "$T/alone2.rec" "$S.rec"
        check "... and not one model's" sh -c "! cmp -s '$S.rec' '$T/alone1.rec'"
    fi
    # a served directory missing one of the set, or with another model in
    # its place, is refused
    cp -R "$S" "$T/less" && cp -R "$S" "$T/other"
    rm "$T/less/model-seed2.safetensors"
    # (e3's second model is this set's: the same rows, seed and options make
    # the same file in any directory; its third is another)
    cp "$T/e3/model-seed3.safetensors" "$T/other/model-seed2.safetensors"
    remanifest "$T/less" && remanifest "$T/other"
    expect_fail "served: one model of a set of two" 1 "items.npy: shape (.*), the model's items are" \
        mlr-recommend --served "$T/less" "$u"
    expect_fail "served: another model in the set" 1 "items.ids" mlr-recommend --served "$T/other" "$u"
    # package.sh serves the set items.ids names, not a model left by a run of more seeds
    cp -R "$T/ev" "$T/evc"
    cp "$T/e3/model-seed3.safetensors" "$T/evc/"
    sh "$P/package.sh" "$T/evc" "$T/evc" "$T/pkg" 2>"$T/err"
    check "package.sh: not a model-seed3 items.ids does not name" test $? -eq 0 -a -s "$T/pkg/model-seed2.safetensors" \
        -a ! -e "$T/pkg/model-seed3.safetensors"
    cp "$T/e3/items.ids" "$T/evc/items.ids" # three models' items; their third is not here
    rm "$T/evc/model-seed3.safetensors"
    sh "$P/package.sh" "$T/evc" "$T/evc" "$T/pkg2" 2>"$T/err"
    check "package.sh: items.ids of other models: status 1, said so" test $? -eq 1 -a ! -e "$T/pkg2"
    check "... said so" grep -q "items.ids: embeddings of another model" "$T/err"
    # train-eval.sh --model twice scores the set: the run's own test
    # figures from its two served models (the same queries asked), not the
    # first model's.
    ut=$(awk -F'\t' '$NF == 1 { print $1 }' "$T/ev/user-time.tsv")
    hk=$(awk -F'\t' '$NF == 1 { print $1 }' "$T/ev/history-kind.tsv")
    for set in 2 1; do
        ms="--model $S/model.safetensors"; [ "$set" = 1 ] || ms="$ms --model $S/model-seed2.safetensors"
        # shellcheck disable=SC2086 # $ms: plain words
        sh "$P/train-eval.sh" --threads 1 --no-topk $ms --user-time "$ut" --history "$hk" "$T/ev" "$T/tm$set" 2>"$T/err"
    done
    same "train-eval.sh --model twice: the served set's test figures" "$T/tm2/metrics.tsv" "$T/ev/metrics.tsv"
    check "... not its first model's" sh -c "! cmp -s '$T/tm1/metrics.tsv' '$T/ev/metrics.tsv'"
    # --init-set: seed K warm-started from the served set's Kth model
    # (--lr 0: the weights stay as started); the last column, the
    # popularity prior, is counted from the rows trained on.
    # shellcheck disable=SC2086
    if ran "train-eval.sh --init-set SERVED --seeds 3" sh "$P/train-eval.sh" --threads 1 --no-test --seeds 3 \
        --init-set "$S" --user-time last --history all "$T/ev" "$T/wi" $O --lr 0 --epochs 1; then
        for f in model model-seed2 model-seed3; do
            mlr-embed --model "$T/wi/$f.safetensors" --catalogue "$T/ev/enc-items" --output "$T/wi-$f.npy"
        done
        for f in model model-seed2; do
            mlr-embed --model "$S/$f.safetensors" --catalogue "$T/ev/enc-items" --output "$T/sv-$f.npy"
        done
        check "--init-set: seeds 1, 2 from the served models 1, 2; seed 3 from the first" /usr/bin/python3 -c '
import sys, numpy as np
e = lambda n: np.load(sys.argv[1] + n + ".npy")[:, :-1]
w1, w2, w3, s1, s2 = (e(n) for n in ("/wi-model", "/wi-model-seed2", "/wi-model-seed3", "/sv-model", "/sv-model-seed2"))
assert np.abs(s1 - s2).max() > 0.1, "the served models alike: no test"
assert np.abs(w1 - s1).max() == 0 and np.abs(w2 - s2).max() == 0 and np.abs(w3 - s1).max() == 0' "$T"
    fi
    if ran -o "$T/rec.md" "evaluate.sh --seeds 2: recommend.sh serves it" sh "$P/recommend.sh" --run "$T/ev" --user "$u" --k 5; then
        check "evaluate.sh --seeds 2: recommend.sh lists 5 titles" test "$(grep -c '^[0-9]\. ' "$T/rec.md")" -eq 5
    fi
fi
# Refusals.
sh "$P/train-eval.sh" --seeds 0 "$T/prep" "$T/x" >/dev/null 2>"$T/err"
check "--seeds 0: status 2" test $? -eq 2
check "--seeds 0: said so" grep -q "^train-eval: --seeds: '0' is not a whole number" "$T/err"
sh "$P/train-eval.sh" --seeds 2 --model "$m" "$T/prep" "$T/x" >/dev/null 2>"$T/err"
check "--seeds with --model: status 2" test $? -eq 2
sh "$P/train-eval.sh" --init-set "$T/e3" --model "$m" "$T/prep" "$T/x" >/dev/null 2>"$T/err"
check "--init-set with --model: status 2, said so" test $? -eq 2 -a -n "$(grep 'not with --model' "$T/err")"
sh "$P/train-eval.sh" --init-set "$T/nosuch" "$T/prep" "$T/x" >/dev/null 2>"$T/err"
check "--init-set of no served directory: status 1, said so" test $? -eq 1 -a -n "$(grep -- '--init-set: .*nosuch/model.safetensors: no such file' "$T/err")"
expect_fail "mlr-predict: a model of other data among several" 1 "" \
    mlr-predict --model "$m" --model "$T/nosuch.safetensors" --rows "$T/prep/enc-test"
