#!/bin/sh
# pipelines/retrain.sh on small mlr-synth data (200 users, 300 items, 8000
# ratings, then 5% more, 2 epochs): the first model is promoted; with 5%
# more rows the second is promoted or refused by the metric and the log
# says which and why (tolerance huge / negative, top100 and rmse); a run
# killed (SIGKILL, SIGTERM) during training leaves the served model
# byte-identical; a second run while one trains skips; old models pruned;
# refusals of bad usage and bad data; the per-user model (--mask-seen,
# --select ndcg10) trained, refit and served; --seeds 2 served and scored
# as the set.
. "$(dirname "$0")/lib.sh"
R=$MLR_ROOT/pipelines/retrain.sh
for t in mlr-train mlr-embed mlr-predict; do
    command -v "$t" >/dev/null 2>&1 || { skip "retrain" "$t is not built yet"; exit 0; }
done

mlr-synth --n-users 200 --n-items 300 --n-ratings 8800 --seed 1 >"$T/all.tsv"
head -n 8001 "$T/all.tsv" >"$T/d1.tsv"
{ head -n 1 "$T/all.tsv"; sed -n '8002,8401p' "$T/all.tsv"; } >"$T/new1.tsv" # 5% more
{ head -n 1 "$T/all.tsv"; sed -n '8402,8801p' "$T/all.tsv"; } >"$T/new2.tsv"
E="-- --epochs 2"
lastline() { tail -n 1 "$1/retrain.log"; }
field() { lastline "$1" | cut -f"$2"; }
served() { readlink "$1/current"; }
# training PID DIR: until the run PID (setsid: its own group) has trained
# an epoch (mlr-train's log in its work folder DIR/work.PID has a row),
# true; false when the run ends first (lib.sh's wait_rows: no time limit).
training() { wait_rows "$2/work.$1/new/train-log.tsv" 1 "$1"; }

# ---- the first model ----
# shellcheck disable=SC2086
sh "$R" --dir "$T/s" --data "$T/d1.tsv" $E 2>"$T/err"
check "first run: status 0" test $? -eq 0
check "first run: promoted, said why" test "$(field "$T/s" 2)" = promoted -a -n "$(lastline "$T/s" | grep 'first model')"
check "first run: current -> models/<time>" test -f "$T/s/current/model.safetensors" -a -d "$T/s/current/spec"
check "first run: log header + one line" test "$(wc -l <"$T/s/retrain.log")" = 2
check "stages on stderr" grep -q '^retrain: training' "$T/err"
# What is promoted is a served model directory (docs/serving.md).
check "first run: current is a served directory, MANIFEST checks" sh -c "cd '$T/s/current' && sha256sum -c --quiet --strict MANIFEST"
check "first run: the hybrid chosen on the new model's validation slice, listed" \
    sh -c "grep -q '^model_weight	' '$T/s/current/hybrid.tsv' && grep -q '  hybrid.tsv\$' '$T/s/current/MANIFEST'"
check "first run: --fuse-ease auto serves it" sh "$MLR_ROOT/pipelines/recommend.sh" --run "$T/s/current" --user 1 --fuse-ease auto
check "first run: its histories are all the data" test "$(wc -l <"$T/s/current/history.tsv")" -eq 8001
u=$(sed -n 2p "$T/d1.tsv" | cut -f1)
check "first run: mlr-recommend serves current" mlr-recommend --served "$T/s/current" --k 3 "$u"
check "first run: recommend.sh --run DIR/current" sh -c "sh '$MLR_ROOT/pipelines/recommend.sh' --run '$T/s/current' --user '$u' --k 3 | grep -q '^3\. '"
cp -R "$T/s" "$T/s2" && ln -sfn "$(served "$T/s")" "$T/s2/current"

# ---- 5% more rows: promoted (huge tolerance) ----
first=$(served "$T/s")
# shellcheck disable=SC2086
sh "$R" --dir "$T/s" --append "$T/new1.tsv" --tolerance 1000 $E 2>"$T/err"
check "5% more, tolerance 1000: status 0" test $? -eq 0
check "5% more, tolerance 1000: promoted" test "$(field "$T/s" 2)" = promoted
check "5% more, tolerance 1000: the log gives old -> new and why" \
    test -n "$(lastline "$T/s" | awk -F'\t' '$3 == "top100" && $4 != "-" && $5 != "-" && $7 ~ / >= .* - 1000 on 840 held-out rows of 8400/')"
check "5% more: warm start carried rows over" grep -q 'warm start: [1-9][0-9]* embedding rows carried over' "$T/s/retrain.log"
check "5% more: the new model served" test "$(served "$T/s")" != "$first" -a -f "$T/s/current/model.safetensors"
check "5% more: the data grew to 8400 rows" test "$(wc -l <"$T/s/data.tsv")" = 8401

# ---- 5% more rows: refused (negative tolerance: a gain of 1000 demanded) ----
cp "$T/s2/current/model.safetensors" "$T/served.safetensors"
# shellcheck disable=SC2086
sh "$R" --dir "$T/s2" --append "$T/new1.tsv" --tolerance -1000 $E 2>"$T/err"
check "5% more, tolerance -1000: status 0" test $? -eq 0
check "5% more, tolerance -1000: refused" test "$(field "$T/s2" 2)" = refused
check "5% more, tolerance -1000: the log says why" \
    test -n "$(lastline "$T/s2" | awk -F'\t' '$7 ~ /new top100 .* < .* - -1000/')"
same "refused: the served model unchanged" "$T/s2/current/model.safetensors" "$T/served.safetensors"
check "refused: still the first model" test "$(served "$T/s2")" = "$first"
# shellcheck disable=SC2086
sh "$R" --dir "$T/s2" --append "$T/new2.tsv" --metric rmse --tolerance 1000 $E 2>/dev/null
check "rmse, tolerance 1000: status 0" test $? -eq 0
check "rmse, tolerance 1000: promoted, lower is better" \
    test -n "$(lastline "$T/s2" | awk -F'\t' '$2 == "promoted" && $3 == "rmse" && $7 ~ / <= .* \+ 1000/')"
# shellcheck disable=SC2086
sh "$R" --dir "$T/s2" --data "$T/all.tsv" --metric rmse --tolerance -1000 $E 2>/dev/null
check "rmse, tolerance -1000: status 0" test $? -eq 0
check "rmse, tolerance -1000: refused" test "$(field "$T/s2" 2)" = refused

# wait_unlocked DIR: until no process holds DIR/lock. A killed run's
# shell is reaped first; its mlr-train, which holds the lock too, goes
# later: after SIGTERM it ends the epoch in progress and writes the model
# (seconds on a loaded machine), after SIGKILL an ASan build unmaps its
# shadow. flock waits for exactly that; its bound only stops a hang.
wait_unlocked() {
    flock -w 1200 "$1/lock" true || fail "$2" "$1/lock still held after 20 minutes"
}

# ---- a run killed with SIGKILL during training; a second run meanwhile ----
cp "$T/s/current/model.safetensors" "$T/served.safetensors"
was=$(served "$T/s")
lines=$(wc -l <"$T/s/retrain.log")
setsid sh "$R" --dir "$T/s" --data "$T/all.tsv" -- --epochs 500 2>"$T/kerr" &
pid=$!
if training "$pid" "$T/s"; then
    # shellcheck disable=SC2086
    sh "$R" --dir "$T/s" --data "$T/all.tsv" $E 2>"$T/err2"
    st=$?
    check "a second run while one trains: status 0" test "$st" -eq 0
    check "a second run while one trains: says it skips" grep -q 'another run holds the lock; skipping' "$T/err2"
    check "a second run while one trains: one 'skipped' line" test "$(field "$T/s" 2)" = skipped
    check "a second run while one trains: it did not train" test -z "$(grep 'retrain: training' "$T/err2")"
    kill -KILL "-$pid"
    wait "$pid" 2>/dev/null
    wait_unlocked "$T/s" "SIGKILL during training"
    same "SIGKILL during training: the served model byte-identical" "$T/s/current/model.safetensors" "$T/served.safetensors"
    check "SIGKILL during training: current still points at it" test "$(served "$T/s")" = "$was"
    check "SIGKILL during training: no line (only the skip)" test "$(wc -l <"$T/s/retrain.log")" = $((lines + 1))
else
    fail "SIGKILL during training" "the run ended before an epoch: $(tail -n 2 "$T/kerr")"
fi
# The next run takes the lock again and cleans up after the dead one.
# shellcheck disable=SC2086
sh "$R" --dir "$T/s" --data "$T/all.tsv" --tolerance 1000 $E 2>/dev/null
check "after the killed run: status 0" test $? -eq 0
check "after the killed run: the next one runs" test "$(field "$T/s" 2)" = promoted
check "after the killed run: its work removed, and said" \
    test -z "$(ls -d "$T"/s/work.* 2>/dev/null)" -a -n "$(lastline "$T/s" | grep 'removed the work of a run that died')"

# ---- SIGTERM during training: a failed line, the served model kept ----
cp "$T/s/current/model.safetensors" "$T/served.safetensors"
setsid sh "$R" --dir "$T/s" --data "$T/all.tsv" -- --epochs 500 2>"$T/terr" &
pid=$!
if training "$pid" "$T/s"; then
    kill -TERM "-$pid"
    wait "$pid"
    st=$?
    wait_unlocked "$T/s" "SIGTERM during training"
    check "SIGTERM during training: status non-zero" test "$st" -ne 0
    # retrain's own words: the reason also quotes mlr-train's last message,
    # which names SIGTERM whatever retrain.sh says
    if [ -n "$(lastline "$T/s" | awk -F'\t' '$2 == "failed" && $7 ~ /^training.*\(killed by SIGTERM\) failed/')" ]; then
        pass "SIGTERM during training: a 'failed' line naming the signal"
    else
        fail "SIGTERM during training: a 'failed' line naming the signal" "the last line: $(lastline "$T/s")"
    fi
    same "SIGTERM during training: the served model byte-identical" "$T/s/current/model.safetensors" "$T/served.safetensors"
    check "SIGTERM during training: its work kept in last-failed" test -f "$T/s/last-failed/log"
else
    fail "SIGTERM during training" "the run ended before an epoch: $(tail -n 2 "$T/terr")"
fi

# ---- --keep ----
# shellcheck disable=SC2086
sh "$R" --dir "$T/s" --data "$T/all.tsv" --tolerance 1000 --keep 2 $E 2>/dev/null
check "--keep 2: status 0" test $? -eq 0
check "--keep 2: two models left, the served one among them" \
    test "$(ls "$T/s/models" | wc -l)" = 2 -a -d "$T/s/$(served "$T/s")"

# ---- bad data: failed, logged, nothing served changes ----
cp "$T/s/current/model.safetensors" "$T/served.safetensors"
printf 'user_id\titem_id\n1\t2\n' >"$T/other.tsv"
# shellcheck disable=SC2086
sh "$R" --dir "$T/s" --append "$T/other.tsv" $E 2>"$T/err"
check "another header: status 1" test $? -eq 1
check "another header: a 'failed' line saying why" \
    test -n "$(lastline "$T/s" | awk -F'\t' '$2 == "failed" && $7 ~ /header differs/')"
same "another header: the served model unchanged" "$T/s/current/model.safetensors" "$T/served.safetensors"
check "another header: the data unchanged" test "$(wc -l <"$T/s/data.tsv")" = 8801

# ---- bad usage ----
sh "$R" --dir "$T/u" >/dev/null 2>&1
check "neither --data nor --append: status 2" test $? -eq 2
sh "$R" --dir "$T/u" --data "$T/d1.tsv" --append "$T/new1.tsv" >/dev/null 2>&1
check "both --data and --append: status 2" test $? -eq 2
sh "$R" --dir "$T/u" --data "$T/d1.tsv" --metric nosuch >/dev/null 2>&1
check "an unknown metric: status 2" test $? -eq 2
sh "$R" --dir "$T/u" --data "$T/d1.tsv" --tolerance abc >/dev/null 2>&1
check "a tolerance that is no number: status 2" test $? -eq 2

# ---- the data (issue 16): validated before it is touched, rows never
# merged, the same --append file appended once, stale temporaries ----
# A table without its final newline; refused runs (bad --seed, a fraction
# of 2, a bad mlr-train option) leave it byte for byte; the corrected run
# appends the new rows as rows of their own; the same file again: skipped.
N=$T/n
head -c -1 "$T/d1.tsv" >"$T/d1-nonl.tsv"
# shellcheck disable=SC2086
sh "$R" --dir "$N" --data "$T/d1-nonl.tsv" $E 2>/dev/null
check "a table without its final newline: the first run promoted" test "$(field "$N" 2)" = promoted
cp "$N/data.tsv" "$T/n-data.tsv"
for bad_opt in "--seed abc" "--seed -1" "--test-fraction 2" "--test-fraction 0" "--test-fraction x"; do
    # shellcheck disable=SC2086
    sh "$R" --dir "$N" --append "$T/new1.tsv" $bad_opt $E >/dev/null 2>"$T/err"
    st=$?
    check "--append with $bad_opt: status 2, one line" test "$st" -eq 2 -a "$(wc -l <"$T/err")" -eq 1
    same "--append with $bad_opt: the data unchanged" "$N/data.tsv" "$T/n-data.tsv"
done
sh "$R" --dir "$N" --append "$T/new1.tsv" -- --epochs abc >/dev/null 2>&1
check "--append with a bad mlr-train option: a 'failed' line, status non-zero" \
    test $? -ne 0 -a "$(field "$N" 2)" = failed
same "--append with a bad mlr-train option: the data unchanged" "$N/data.tsv" "$T/n-data.tsv"
# stale temporaries: a dead process's (removed), a symlink at the old
# fixed name data.tsv.tmp (never followed)
sh -c 'exit 0' &
dead=$!
wait "$dead"
host=$(hostname | sed 's/[^A-Za-z0-9]/-/g' | cut -c1-32)
echo stale >"$N/data.tsv.tmp.$dead.$host.abcdef"
echo victim >"$T/victim"
cp "$T/victim" "$T/victim.orig"
ln -s "$T/victim" "$N/data.tsv.tmp"
# shellcheck disable=SC2086
sh "$R" --dir "$N" --append "$T/new1.tsv" --tolerance 1000 $E 2>"$T/err"
check "the corrected run: status 0, promoted" test $? -eq 0 -a "$(field "$N" 2)" = promoted
check "the corrected run: 8000 + 400 rows, each row whole (10 fields)" \
    test "$(awk 'END { print NR }' "$N/data.tsv")" = 8401 -a -z "$(awk -F'\t' 'NF != 10' "$N/data.tsv")"
check "a dead run's data temporary removed" test ! -e "$N/data.tsv.tmp.$dead.$host.abcdef"
same "a symlink at data.tsv.tmp not followed" "$T/victim" "$T/victim.orig"
check "no data temporary left" test -z "$(ls "$N" | grep '\.tmp')"
cp "$N/data.tsv" "$T/n-data.tsv"
# shellcheck disable=SC2086
sh "$R" --dir "$N" --append "$T/new1.tsv" --tolerance 1000 $E 2>"$T/err"
check "the same --append file again: status 0, a 'skipped' line saying so" \
    test $? -eq 0 -a -n "$(lastline "$N" | awk -F'\t' '$2 == "skipped" && $7 ~ /appended on .* already/')"
same "the same --append file again: the data unchanged (appended once)" "$N/data.tsv" "$T/n-data.tsv"

# The per-user model served (docs/serving.md): --mask-seen, the epoch kept
# by the per-user nDCG@10; the refit (no slice) leaves --valid-exclude out.
sh "$R" --dir "$T/pu" --data "$T/d1.tsv" --metric ndcg@10 -- --epochs 3 --patience 1 \
    --mask-seen --valid-exclude --select ndcg10 2>"$T/err"
check "the per-user model: status 0, promoted on ndcg@10" test $? -eq 0 -a "$(field "$T/pu" 2)/$(field "$T/pu" 3)" = promoted/ndcg@10
check "the per-user model: served with its seen items masked" grep -q 'mask_seen...true' "$T/pu/current/model.safetensors"
check "the per-user model: served" mlr-recommend --served "$T/pu/current" --k 3 "$u"

# --seeds 2: the served set is two models, and the next run scores the
# set it serves (the log's old figure is the two models' on the run's
# held-out rows, remade here; the first model alone scores otherwise).
sh "$R" --dir "$T/sd" --data "$T/d1.tsv" --seeds 2 --metric ndcg@10 $E 2>"$T/err"
check "--seeds 2: promoted, both models served" \
    test $? -eq 0 -a "$(field "$T/sd" 2)" = promoted -a -f "$T/sd/current/model-seed2.safetensors"
check "--seeds 2: items.ids names the set" test "$(head -n 1 "$T/sd/current/items.ids")" = "#mlrec model=$(
    sha256sum "$T/sd/current/model.safetensors" "$T/sd/current/model-seed2.safetensors" | cut -c1-64 | LC_ALL=C sort | sha256sum | cut -c1-64)"
old=$(cd "$T/sd" && pwd)/$(served "$T/sd")
sh "$R" --dir "$T/sd" --append "$T/new1.tsv" --seeds 2 --metric ndcg@10 --tolerance -1000 $E 2>"$T/err"
check "--seeds 2, 5% more: refused, warm-started" test $? -eq 0 -a "$(field "$T/sd" 2)" = refused -a \
    -n "$(lastline "$T/sd" | grep 'warm start: [1-9][0-9]* embedding rows carried over')"
mlr-split --by random --seed 42 --test-fraction 0.1 --test-output "$T/sd-held.tsv" --output "$T/sd-train.tsv" "$T/sd/data.tsv"
if ran "the served set's held-out rows prepared" sh "$MLR_ROOT/pipelines/prepare.sh" --spec "$old/spec" \
    "$T/sd-train.tsv" "$T/sd-held.tsv" "$T/sd-prep"; then
    kind=$(awk -F'\t' '$NF == 1 { print $1 }' "$old/history-kind.tsv")
    for set in 1 2; do
        ms="--model $old/model.safetensors"; [ "$set" = 1 ] || ms="$ms --model $old/model-seed2.safetensors"
        # shellcheck disable=SC2086 # $ms: plain words
        sh "$MLR_ROOT/pipelines/train-eval.sh" --threads 2 --no-topk $ms --history "$kind" "$T/sd-prep" "$T/sd-old$set" 2>"$T/err"
    done
    got=$(field "$T/sd" 4)
    check "--seeds 2: the served set scored, both models ($got)" \
        test "$got" = "$(awk -F'\t' '$1 == "ndcg@10" { print $2 }' "$T/sd-old2/metrics.tsv")"
    check "... not the first model alone" \
        test "$got" != "$(awk -F'\t' '$1 == "ndcg@10" { print $2 }' "$T/sd-old1/metrics.tsv")"
fi
sh "$R" --dir "$T/sd0" --data "$T/d1.tsv" --seeds 0 2>"$T/err"
check "--seeds 0: status 2, said so" test $? -eq 2 -a -n "$(grep "^retrain: --seeds: '0'" "$T/err")"
