# mlr-recommend and the served model directory (docs/serving.md), on a
# small synthetic run made by evaluate.sh: the directory's contents and
# MANIFEST, per-user lists (seen items removed, allow and deny lists,
# JSON the same as TSV), new users and fold-in by rated movies, reasons,
# --similar against numpy, serving-time clipping of the query time, and
# refusals. With MLR_DATA_DIR, ML-100K: a request a year after the data.
. "$(dirname "$0")/lib.sh"
P=$MLR_ROOT/pipelines
PY=/usr/bin/python3
mlr-synth --n-users 200 --n-items 300 --n-ratings 8000 --seed 11 --output "$T/all.tsv"
mlr-split --seed 3 --test-fraction 0.2 --test-output "$T/test.tsv" --output "$T/train.tsv" "$T/all.tsv"
# (one kind of history for both runs compared below, not each run's choice)
if sh "$P/evaluate.sh" --history all "$T/train.tsv" "$T/test.tsv" "$T/run" --epochs 2 --quiet 2>"$T/log"; then
    pass "evaluate.sh makes a run"
else
    fail "evaluate.sh makes a run" "$(tail -n 3 "$T/log" | tr '\n' ' ')"
fi
S=$T/run/served
for f in MANIFEST model.safetensors spec/features.tsv items.npy items.ids catalogue.tsv history.tsv; do
    check "served/ holds $f" test -s "$S/$f"
done
check "MANIFEST: sha256sum -c accepts every file" sh -c "cd '$S' && sha256sum -c --quiet --strict MANIFEST"
check "MANIFEST lists every file but itself" test "$(cd "$S" && find . -type f ! -name MANIFEST | wc -l)" -eq "$(wc -l <"$S/MANIFEST")"
check "history.tsv has the training rows" test "$(wc -l <"$S/history.tsv")" -eq "$(wc -l <"$T/train.tsv")"

# ---- known users ----
users=$(cut -f1 "$T/train.tsv" | sed 1d | sort -u | head -n 3 | tr '\n' ' ')
# shellcheck disable=SC2086
mlr-recommend --served "$S" --k 7 $users >"$T/rec.tsv" 2>"$T/err"
check "three users: status 0, nothing on stderr" test $? -eq 0 -a ! -s "$T/err"
printf 'user_id\trank\titem_id\tscore\tpredicted_rating\ttitle\treason\n' >"$T/want"
head -n 1 "$T/rec.tsv" >"$T/got"
same "TSV header" "$T/got" "$T/want"
check "7 rows per user" test "$(sed 1d "$T/rec.tsv" | wc -l)" -eq 21
check "ranks 1..7 with scores descending" awk -F'\t' 'NR > 1 { if ($2 != (p == $1 ? r + 1 : 1)) exit 1
    if (p == $1 && $4 + 0 > s + 0) exit 1; p = $1; r = $2; s = $4 }' "$T/rec.tsv"
awk -F'\t' 'FNR == NR { if (FNR > 1) seen[$1 "\t" $2]; next } FNR > 1 && ($1 "\t" $3) in seen' \
    "$T/train.tsv" "$T/rec.tsv" >"$T/seen"
check "no item the user rated in training" test ! -s "$T/seen"
check "every item has a title from the catalogue" awk -F'\t' 'FNR == NR { t[$1] = $2; next }
    FNR > 1 && t[$3] != $6 { exit 1 }' "$S/catalogue.tsv" "$T/rec.tsv"
check "every row has a reason from the user's history" awk -F'\t' 'NR > 1 && $7 !~ /^because you rated / { exit 1 }' "$T/rec.tsv"
check "predicted ratings on the rating scale" awk -F'\t' 'NR > 1 && ($5 < 0 || $5 > 6) { exit 1 }' "$T/rec.tsv"
u1=$(echo $users | cut -d' ' -f1) u2=$(echo $users | cut -d' ' -f2)
awk -F'\t' -v u="$u1" '$1 == u { print $3 }' "$T/rec.tsv" >"$T/l1"
awk -F'\t' -v u="$u2" '$1 == u { print $3 }' "$T/rec.tsv" >"$T/l2"
check "two users get different lists" sh -c "! cmp -s '$T/l1' '$T/l2'"
printf 'user_id\n%s\n%s\n%s\n' $users >"$T/users.tsv"
mlr-recommend --served "$S" --k 7 --users "$T/users.tsv" --output "$T/rec2.tsv"
same "--users FILE gives the lists of the arguments" "$T/rec2.tsv" "$T/rec.tsv"

# The popularity prior: the same seed with --popularity 0 trains the same
# towers (the prior is not trained), so an item in both lists scores
# 0.04 x log(1 + its training count) more by default (the lists are in
# the order of their scores: checked above).
if sh "$P/evaluate.sh" --history all "$T/train.tsv" "$T/test.tsv" "$T/run0" --epochs 2 --quiet --popularity 0 2>"$T/log0"; then
    mlr-recommend --served "$T/run0/served" --k 30 "$u1" >"$T/rec0.tsv"
    mlr-recommend --served "$S" --k 30 "$u1" >"$T/recp.tsv"
    check "the prior: each item in both lists scores 0.04 log(1 + count) more" awk -F'\t' '
        FILENAME == ARGV[1] { if (FNR > 1) n[$2]++; next }
        FILENAME == ARGV[2] { if (FNR > 1) s0[$3] = $4; next }
        FNR > 1 && ($3 in s0) { k++; d = $4 - s0[$3] - 0.04 * log(1 + n[$3]); if (d > 1e-4 || d < -1e-4) bad++ }
        END { exit !(k >= 5 && !bad) }' "$T/train.tsv" "$T/rec0.tsv" "$T/recp.tsv"
else
    fail "evaluate.sh --popularity 0 makes a run" "$(tail -n 3 "$T/log0" | tr '\n' ' ')"
fi

# --keep-seen: the same ranking with the seen items left in.
mlr-recommend --served "$S" --k 60 --keep-seen "$u1" >"$T/keep.tsv"
mlr-recommend --served "$S" --k 60 "$u1" >"$T/excl.tsv"
awk -F'\t' -v u="$u1" 'FNR == NR { if ($1 == u) seen[$2]; next } FNR > 1 && !($3 in seen) { print $3 }' \
    "$T/train.tsv" "$T/keep.tsv" >"$T/keep-unseen"
n=$(wc -l <"$T/keep-unseen")
sed 1d "$T/excl.tsv" | cut -f3 | head -n "$n" >"$T/excl-head"
check "--keep-seen lists seen items too" test "$n" -lt 60
same "--keep-seen less the seen items is the default list" "$T/keep-unseen" "$T/excl-head"

# Deny and allow lists.
sed 1d "$T/excl.tsv" | cut -f3 | head -n 3 >"$T/top3"
{ echo item_id; cat "$T/top3"; } >"$T/deny.tsv"
mlr-recommend --served "$S" --k 10 --deny "$T/deny.tsv" "$u1" | sed 1d | cut -f3 >"$T/denied"
sed 1d "$T/excl.tsv" | cut -f3 | sed -n '4,13p' >"$T/want"
same "--deny: the list without the denied items" "$T/denied" "$T/want"
{ echo id; sed 1d "$T/excl.tsv" | cut -f3 | sed -n '20,25p'; } >"$T/allow.ids"
mlr-recommend --served "$S" --k 10 --allow "$T/allow.ids" "$u1" | sed 1d | cut -f3 >"$T/allowed"
sed 1d "$T/allow.ids" >"$T/want"
same "--allow: only the allowed items, in the same order" "$T/allowed" "$T/want"

# JSON: the same lists.
mlr-recommend --served "$S" --k 7 --format json $users >"$T/rec.json"
if "$PY" -c 'import json' 2>/dev/null; then
    check "JSON lines: one object per user, the TSV's items and scores" "$PY" - "$T/rec.json" "$T/rec.tsv" <<'PY'
import json, sys
rows = [l.rstrip('\n').split('\t') for l in open(sys.argv[2])][1:]
got = []
for line in open(sys.argv[1]):
    o = json.loads(line)
    for it in o['items']:
        got.append([o['user_id'], str(it['rank']), it['item_id'], it['title'], it['reason']])
        assert abs(it['score'] - float(rows[len(got) - 1][3])) < 1e-4
assert got == [[r[0], r[1], r[2], r[5], r[6]] for r in rows], 'differs'
PY
fi

# ---- new users and fold-in ----
mlr-recommend --served "$S" --k 5 --age 30 --gender F --occupation writer >"$T/new.tsv" 2>"$T/err"
check "a new user from features: 5 items" test "$(sed 1d "$T/new.tsv" | wc -l)" -eq 5
check "... id 'new', no reason without a history" awk -F'\t' 'NR > 1 && ($1 != "new" || $7 != "") { exit 1 }' "$T/new.tsv"
top=$(sed 1d "$T/new.tsv" | head -n 2 | cut -f3 | paste -sd, -)
mlr-recommend --served "$S" --k 5 --age 30 --gender F --occupation writer --rated-items "$top" >"$T/fold.tsv"
check "fold-in: the rated movies are not recommended" sh -c "! sed 1d '$T/fold.tsv' | cut -f3 | grep -qxF -e '$(echo "$top" | cut -d, -f1)' -e '$(echo "$top" | cut -d, -f2)'"
check "fold-in: each reason names a rated movie" awk -F'\t' 'NR > 1 && $7 !~ /^because you rated / { exit 1 }' "$T/fold.tsv"
printf 'user_id\tuser_age\tuser_gender\tuser_occupation\nnew\t30\tF\twriter\n' >"$T/new-users.tsv"
mlr-recommend --served "$S" --k 5 --new "$T/new-users.tsv" >"$T/new2.tsv"
same "--new FILE: the same user as --age/--gender/--occupation" "$T/new2.tsv" "$T/new.tsv"
printf 'user_id\titem_id\trating\n%s\t%s\t5\n' "$u1" "$(sed -n 2p "$T/excl.tsv" | cut -f3)" >"$T/rated.tsv"
mlr-recommend --served "$S" --k 10 --rated "$T/rated.tsv" "$u1" | sed 1d | cut -f3 >"$T/after"
# (the rating also joins the user's history, so the rest may reorder)
check "--rated FILE: a known user's new rating leaves their list" \
    sh -c "test \$(wc -l <'$T/after') -eq 10 && ! grep -qxF '$(sed -n 2p "$T/excl.tsv" | cut -f3)' '$T/after'"

# ---- serving-time clipping: a request a year after the data ----
last=$(awk -F'\t' '$1 == "timestamp" { printf "%d", $8 }' "$S/spec/features.tsv")
mlr-recommend --served "$S" --k 7 --time $((last + 31536000)) $users >"$T/later.tsv" 2>"$T/err"
mlr-recommend --served "$S" --k 7 --time "$last" $users >"$T/atlast.tsv"
same "a year later: the lists and scores of the last training time" "$T/later.tsv" "$T/atlast.tsv"
check "... with one warning line" test "$(grep -c 'warning: query features outside the training range' "$T/err")" -eq 1 -a "$(wc -l <"$T/err")" -eq 1

# ---- a request at a past time: the training rows known then ----
# T is the median time of u1's rows: the rows after it are left out of
# the history, the items removed and the reasons, so the lists are those
# of a served directory whose history.tsv stops at T.
T1=$(awk -F'\t' -v u="$u1" 'NR > 1 && $1 == u { print $4 }' "$T/train.tsv" | sort -n |
    awk '{ t[NR] = $1 } END { print t[int((NR + 1) / 2)] }')
M=$(grep -v "^#mlrec " "$S/items.ids" | sed 1d | wc -l)
mlr-recommend --served "$S" --k "$M" --time "$T1" "$u1" >"$T/past.tsv" 2>"$T/err"
check "--time T (u1's median time): status 0, nothing on stderr" test $? -eq 0 -a ! -s "$T/err"
awk -F'\t' -v u="$u1" -v t="$T1" 'NR > 1 && $1 == u && $4 <= t { print $2 }' "$T/train.tsv" | sort -u >"$T/known"
awk -F'\t' -v u="$u1" -v t="$T1" 'NR > 1 && $1 == u && $4 > t { print $2 }' "$T/train.tsv" | sort -u >"$T/later"
check "--time T: the items rated by T are removed, and only they" \
    test "$(sed 1d "$T/past.tsv" | wc -l)" -eq $((M - $(wc -l <"$T/known")))
sed 1d "$T/past.tsv" | cut -f3 | sort >"$T/past-items"
check "--time T: the items rated after T may be recommended" \
    test "$(comm -12 "$T/past-items" "$T/later" | wc -l)" -eq "$(wc -l <"$T/later")" -a -s "$T/later"
mkdir "$T/asof"
cp -R "$S/." "$T/asof/"
awk -F'\t' -v t="$T1" 'NR == 1 { for (c = 1; c <= NF; c++) if ($c == "timestamp") tc = c; print; next }
    $tc <= t' "$S/history.tsv" >"$T/asof/history.tsv"
remanifest "$T/asof"
check "... (the cut directory is smaller)" test "$(wc -l <"$T/asof/history.tsv")" -lt "$(wc -l <"$S/history.tsv")"
mlr-recommend --served "$T/asof" --k "$M" --time "$T1" "$u1" >"$T/asof.tsv"
same "--time T: the list, scores and reasons of a history.tsv that stops at T" "$T/asof.tsv" "$T/past.tsv"
# (the lists at the last training time are the default ones where the
# directory has no user-time.tsv, below)
first=$(awk -F'\t' 'NR > 1 && (m == "" || $4 < m) { m = $4 } END { print m - 1 }' "$T/train.tsv")
mlr-recommend --served "$S" --k 7 --time "$first" "$u1" >"$T/before.tsv" 2>"$T/err"
check "--time before every training row: a known user without a history is served" \
    awk -F'\t' 'NR > 1 { n++; if ($7 != "") exit 1 } END { exit n != 7 }' "$T/before.tsv"

# ---- when a known user's query is made: user-time.tsv ----
# evaluate.sh serves train-eval.sh's choice; without --time a known
# user's query is made at their last or median training time, or is the
# mean of the queries at each of their training times; a new user's at
# the last training time; without the file, everyone's at the last.
check "served/user-time.tsv is the run's, listed" sh -c "cmp -s '$T/run/user-time.tsv' '$S/user-time.tsv' && grep -q '  user-time.tsv\$' '$S/MANIFEST'"
# rule DIR RULE: a copy of served/ (or of DIR) keeping RULE
rule() {
    rm -rf "$T/rule-$2" && cp -R "$1" "$T/rule-$2" &&
        printf 'user_time\tndcg@10_valid\tkept\nlast\t0.1\t%d\nmedian\t0.2\t%d\nmean\t0.3\t%d\n' \
            "$([ "$2" = last ] && echo 1 || echo 0)" "$([ "$2" = median ] && echo 1 || echo 0)" \
            "$([ "$2" = mean ] && echo 1 || echo 0)" >"$T/rule-$2/user-time.tsv" &&
        remanifest "$T/rule-$2"
}
# user_times U: user U's training times, ascending
user_times() { awk -F'\t' -v u="$1" 'NR > 1 && $1 == u { print $4 }' "$T/train.tsv" | sort -n; }
rule "$S" last && rule "$S" median
for u in $users; do
    at=$(user_times "$u" | tail -n 1)
    mlr-recommend --served "$T/rule-last" --k 7 "$u" >"$T/got"
    mlr-recommend --served "$T/rule-last" --k 7 --time "$at" "$u" >"$T/want"
    same "user-time last: user $u's list is their query at $at" "$T/got" "$T/want"
done
mlr-recommend --served "$T/rule-last" --k 7 "$u1" >"$T/got"
mlr-recommend --served "$T/rule-last" --k 7 --time "$last" "$u1" >"$T/want"
check "... and not at the last training time" sh -c "! cmp -s '$T/got' '$T/want'"
mlr-recommend --served "$T/rule-median" --k 5 --age 30 --gender F --occupation writer >"$T/got"
mlr-recommend --served "$T/rule-median" --k 5 --age 30 --gender F --occupation writer --time "$last" >"$T/want"
same "user-time median: a new user's query at the last training time" "$T/got" "$T/want"
rm "$T/rule-last/user-time.tsv"
remanifest "$T/rule-last"
mlr-recommend --served "$T/rule-last" --k 7 $users >"$T/got"
mlr-recommend --served "$T/rule-last" --k 7 --time "$last" $users >"$T/want"
same "no user-time.tsv: every query at the last training time" "$T/got" "$T/want"
# median, with all of the user's items as history (mlr-history
# --per-user --query-time median), and mean: a model without
# user_history, whose query a past --time changes only by its timestamp:
# the scores at the user's median time (the later middle one); the mean
# query's scores the mean of the scores at each training time
if ran "evaluate.sh without user_history" sh "$P/evaluate.sh" --history all --no-hybrid "$T/train.tsv" "$T/test.tsv" \
        "$T/nohist" --epochs 2 --quiet --query-features user_id,timestamp,user_occupation,user_age,user_gender; then
    rule "$T/nohist/served" mean && rule "$T/nohist/served" median
    M=$(grep -v "^#mlrec " "$S/items.ids" | sed 1d | wc -l)
    for u in $users; do
        n=$(user_times "$u" | wc -l)
        at=$(user_times "$u" | sed -n "$((n / 2 + 1))p")
        mlr-recommend --served "$T/rule-median" --k "$M" --keep-seen "$u" | cut -f3,4 >"$T/got"
        mlr-recommend --served "$T/rule-median" --k "$M" --keep-seen --time "$at" "$u" | cut -f3,4 >"$T/want"
        same "user-time median: user $u's scores are those at $at" "$T/got" "$T/want"
    done
    mlr-recommend --served "$T/rule-mean" --k "$M" --keep-seen "$u1" | sed 1d | cut -f3,4 | sort >"$T/mean.tsv"
    for t in $(user_times "$u1"); do
        mlr-recommend --served "$T/rule-mean" --k "$M" --keep-seen --time "$t" "$u1" | sed 1d | cut -f3,4
    done | sort >"$T/each.tsv"
    check "user-time mean: each item's score is the mean of its scores at the user's $(user_times "$u1" | wc -l) times" \
        awk -F'\t' 'FILENAME == ARGV[1] { s[$1] += $2; k[$1]++; next }
            { m++; d = s[$1] / k[$1] - $2; if (d < -2e-5 || d > 2e-5) bad++ } END { exit bad || m < 100 }' \
        "$T/each.tsv" "$T/mean.tsv"
fi
# mean with histories: each training row's query has that row's history
# (the user's other items; with a before-row model those rated before
# it), as train-eval.sh's mean over the encoded training rows has: the
# scores are those of mlr-embed --mean-by-user's query
# mean_same RUN ENC: for u1, over every item
mean_same() {
    rule "$1/served" mean && M=$(grep -v "^#mlrec " "$1/served/items.ids" | sed 1d | wc -l) &&
        mlr-embed --model "$1/model.safetensors" --rows "$1/$2" --mean-by-user --output "$T/mq.npy" &&
        mlr-topk --quiet --queries "$T/mq.npy" --query-ids "$T/mq.ids" --items "$1/served/items.npy" \
            --item-ids "$1/served/items.ids" --k "$M" --output "$T/mq.topk" &&
        mlr-recommend --served "$T/rule-mean" --k "$M" --keep-seen "$u1" | sed 1d | cut -f3,4 | sort >"$T/mr.tsv" &&
        awk -F'\t' -v u="$u1" '/^#/ { next } !h { h = 1; for (i = 1; i <= NF; i++) c[$i] = i; next }
            $c["user_id"] == u { print $c["item_id"] "\t" $c["score"] }' "$T/mq.topk" | sort >"$T/me.tsv" &&
        join -t "$(printf '\t')" "$T/mr.tsv" "$T/me.tsv" | awk -F'\t' '{ n++; d = $2 - $3; if (d < -2e-6 || d > 2e-6) bad++ }
            END { exit bad || n != '"$M"' }'
}
check "user-time mean, whole histories: u1's scores are the mean query's over the training rows" mean_same "$T/run" enc-train
if ran "evaluate.sh --history before-row" sh "$P/evaluate.sh" --history before-row --no-hybrid "$T/train.tsv" \
        "$T/test.tsv" "$T/brow" --epochs 2 --quiet; then
    check "user-time mean, histories before each row: the same" mean_same "$T/brow" enc-train-b
fi
printf 'user_time\tndcg@10_valid\tkept\nsoon\t0.1\t1\n' >"$T/rule-last/user-time.tsv"
remanifest "$T/rule-last"
expect_fail "user-time.tsv keeping 'soon'" 1 "user-time.tsv:2: user_time 'soon' is not last, median or mean" \
    mlr-recommend --served "$T/rule-last" "$u1"
printf 'user_time\tndcg@10_valid\tkept\nlast\t0.1\t0\n' >"$T/rule-last/user-time.tsv"
remanifest "$T/rule-last"
expect_fail "user-time.tsv keeping no row" 1 "user-time.tsv: no row kept" mlr-recommend --served "$T/rule-last" "$u1"
rm "$T/rule-last/user-time.tsv"
printf 'history\tndcg@10_valid\ttop100_valid\tkept\nsometimes\t0.1\t0.2\t1\n' >"$T/rule-last/history-kind.tsv"
remanifest "$T/rule-last"
expect_fail "history-kind.tsv keeping 'sometimes'" 1 "history-kind.tsv:2: history 'sometimes' is not all or before-row" \
    mlr-recommend --served "$T/rule-last" "$u1"

# ---- --similar ----
item=$(grep -v '^#mlrec ' "$S/items.ids" | sed -n 2p)
mlr-recommend --served "$S" --similar "$item" --k 5 >"$T/sim.tsv"
printf 'item_id\trank\tsimilar_item_id\tscore\ttitle\n' >"$T/want"
head -n 1 "$T/sim.tsv" >"$T/got"
same "--similar: header" "$T/got" "$T/want"
if "$PY" -c 'import numpy' 2>/dev/null; then
    for measure in cosine dot; do
        mlr-recommend --served "$S" --similar "$item" --k 5 --measure "$measure" >"$T/sim.tsv"
        check "--similar --measure $measure: numpy's 5 nearest, the item itself left out" "$PY" - "$S" "$item" "$measure" "$T/sim.tsv" <<'PY'
import sys, numpy as np
d, item, measure, out = sys.argv[1:]
x = np.load(d + '/items.npy').astype(np.float64)
import json, struct  # the last column is the popularity prior's, when the model has one
f = open(d + '/model.safetensors', 'rb')
meta = json.loads(f.read(struct.unpack('<Q', f.read(8))[0]))['__metadata__']
if 'popularity' in json.loads(meta['config']):
    x = x[:, :-1]
ids = [l.rstrip('\n') for l in open(d + '/items.ids') if not l.startswith('#mlrec ')][1:]
if measure == 'cosine':
    x = x / np.linalg.norm(x, axis=1, keepdims=True)
i = ids.index(item)
s = x @ x[i]
s[i] = -np.inf
want = [ids[j] for j in np.argsort(-s, kind='stable')[:5]]
rows = [l.rstrip('\n').split('\t') for l in open(out)][1:]
assert [r[2] for r in rows] == want, (want, rows)
assert all(abs(float(r[3]) - s[ids.index(r[2])]) < 1e-4 for r in rows)
PY
    done
fi

# ---- refusals ----
expect_fail "an unknown user id" 1 "user 'nobody' is not in" mlr-recommend --served "$S" nobody
expect_fail "an unknown item to fold in" 1 "item 'nothing' is not in the served catalogue" \
    mlr-recommend --served "$S" --age 30 --rated-items nothing
# an empty id in the list is a slip (a doubled or trailing comma), not "no movie"
for v in , "$top,,$top" "$top," ",$top"; do
    expect_fail "--rated-items '$v': an empty item id" 1 "--rated-items: an empty item id in '$v'" \
        mlr-recommend --served "$S" --age 30 --rated-items "$v"
done
expect_fail "--similar of an unknown item" 1 "item 'nothing' is not in" mlr-recommend --served "$S" --similar nothing
expect_fail "no users" 2 "give users" mlr-recommend --served "$S"
expect_fail "--format xml" 2 "tsv or json" mlr-recommend --served "$S" --format xml 1
expect_fail "not a served directory" 1 "MANIFEST: cannot open" mlr-recommend --served "$T/run" "$u1"
cp -R "$S" "$T/tampered"
printf '%s\t9999\t5\t0\n' "$u1" | cut -f1-"$(head -n 1 "$S/history.tsv" | awk -F'\t' '{ print NF }')" >>"$T/tampered/history.tsv"
expect_fail "a file changed after MANIFEST" 1 "history.tsv: changed since MANIFEST was written" \
    mlr-recommend --served "$T/tampered" "$u1"
cp -R "$S" "$T/other"
# another vocabulary of the same size: the spec's checksum changes
awk -F'\t' -v OFS='\t' 'NR == 2 { $3 = $3 + 1 } 1' "$S/spec/user_gender.vocab" >"$T/v" && mv "$T/v" "$T/other/spec/user_gender.vocab"
remanifest "$T/other"
expect_fail "a spec that is not the model's" 1 "another specification than the model's" mlr-recommend --served "$T/other" "$u1"
# item embeddings of another model (docs/fingerprint.md): their items.ids
# names another fingerprint than MANIFEST's model.safetensors line
fp=$(awk '$2 == "model.safetensors" { print $1 }' "$S/MANIFEST")
check "items.ids names the served model's fingerprint" test "$(head -n 1 "$S/items.ids")" = "#mlrec model=$fp"
cp -R "$S" "$T/mixed"
{ echo "#mlrec model=$(printf 'b%.0s' $(seq 64))"; sed 1d "$S/items.ids"; } >"$T/mixed/items.ids"
remanifest "$T/mixed"
expect_fail "item embeddings of another model" 1 \
    "mixed/items.ids is of model bbbbbbbbbbbb, .*mixed/model.safetensors of model $(echo "$fp" | cut -c1-12): outputs of two models" \
    mlr-recommend --served "$T/mixed" "$u1"

# ---- ML-100K: a year after the data ----
if have_data ml-100k/u.data && "$PY" -c 'import numpy' 2>/dev/null; then
    mlr-ingest --format ml-100k "$MLR_DATA_DIR/ml-100k" | mlr-split --seed 42 --test-output "$T/mt.tsv" >"$T/mtrain.tsv"
    ran "ML-100K: evaluate.sh" sh "$P/evaluate.sh" "$T/mtrain.tsv" "$T/mt.tsv" "$T/ml" --epochs 3 --quiet
    last=$(awk -F'\t' '$1 == "timestamp" { printf "%d", $8 }' "$T/ml/served/spec/features.tsv")
    if ran -o "$T/year.tsv" "ML-100K: --time a year later" \
            mlr-recommend --served "$T/ml/served" --k 10 --time $((last + 31536000)) 1 42 200 &&
        ran -o "$T/now.tsv" "ML-100K: at the last training time" mlr-recommend --served "$T/ml/served" --k 10 \
            --time "$last" 1 42 200; then
        check "ML-100K: 30 recommendations" test "$(sed 1d "$T/now.tsv" | wc -l)" -eq 30
        same "ML-100K a year later: the lists and scores of the last training time" "$T/year.tsv" "$T/now.tsv"
        check "ML-100K a year later: users 1, 42 and 200 get three different lists" test "$(cut -f1,3 "$T/year.tsv" |
            sed 1d | awk -F'\t' '{ l[$1] = l[$1] " " $2 } END { for (u in l) print l[u] }' | sort -u | wc -l)" -eq 3
        check "ML-100K a year later: scores on the training scale (|score| < 20)" \
            awk -F'\t' 'NR > 1 && ($4 > 20 || $4 < -20) { exit 1 }' "$T/year.tsv"
    fi
else
    skip "ML-100K a year after the data" "MLR_DATA_DIR unset or no numpy"
fi
