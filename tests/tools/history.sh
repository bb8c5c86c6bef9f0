# mlr-history: no row's history holds its own item (the label), a history
# is the user's latest training items newest first and capped, --per-user
# gives each user's last (or median) training row with all their items; mlr-score's
# --user-queries joins per-user queries by user id; broken input.
. "$(dirname "$0")/lib.sh"

mlr-synth --n-users 80 --n-items 120 --n-ratings 3000 --seed 4 --output "$T/all.tsv"
mlr-split --seed 1 --test-fraction 0.2 --test-output "$T/test.tsv" --output "$T/train.tsv" "$T/all.tsv"
mlr-history --train "$T/train.tsv" --max 1000 --output "$T/train-h.tsv" "$T/train.tsv"
mlr-history --train "$T/train.tsv" --max 1000 --output "$T/test-h.tsv" "$T/test.tsv"
hcol() { awk -F'\t' 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == "user_history") c = i; print c; exit }' "$1"; }
check "a user_history column is added last" test "$(hcol "$T/train-h.tsv")" -eq "$(($(head -1 "$T/train.tsv" | tr '\t' '\n' | wc -l) + 1))"
check "every row kept, in order" test "$(cut -f1-10 "$T/train-h.tsv" | cmp - "$T/train.tsv" && echo same)" = same
# The label never leaks: no row's history holds its own item.
check "no training row's history holds its own item" awk -F'\t' -v h="$(hcol "$T/train-h.tsv")" \
    'NR > 1 { n = split($h, a, "|"); for (i = 1; i <= n; i++) if (a[i] == $2) bad = 1 } END { exit bad }' "$T/train-h.tsv"
# A training row's history is all its user's other training items; a test
# row's is all its user's training items (none is the test item).
awk -F'\t' 'NR > 1 { items[$1] = items[$1] " " $2 } END { for (u in items) print u "\t" items[u] }' "$T/train.tsv" >"$T/items-of"
check "a training row's history: every other training item of its user" awk -F'\t' -v h="$(hcol "$T/train-h.tsv")" \
    'NR == FNR { n[$1] = split($2, x, " "); next } FNR > 1 { if (split($h, a, "|") != n[$1] - 1) bad = 1 } END { exit bad }' \
    "$T/items-of" "$T/train-h.tsv"
check "a test row's history: every training item of its user" awk -F'\t' -v h="$(hcol "$T/test-h.tsv")" \
    'NR == FNR { n[$1] = split($2, x, " "); next } FNR > 1 { if (split($h, a, "|") != n[$1] + 0) bad = 1 } END { exit bad }' \
    "$T/items-of" "$T/test-h.tsv"

# The latest first, capped: a hand-made table.
printf 'user_id\titem_id\trating\ttimestamp\n' >"$T/t.tsv"
printf 'u\ta\t5\t30\nu\tb\t4\t10\nu\tc\t3\t20\nu\td\t3\t20\nv\te\t1\t5\nu\ta\t2\t40\n' >>"$T/t.tsv"
printf 'user_id\titem_id\trating\ttimestamp\nu\tb\t1\t50\nw\tz\t1\t50\n' >"$T/q.tsv"
mlr-history --train "$T/t.tsv" --max 3 "$T/q.tsv" >"$T/q-h.tsv"
check "newest first, ties by row order, own item left out, capped at --max" \
    test "$(sed -n 2p "$T/q-h.tsv" | cut -f5)" = "a|a|d"
check "a user absent from --train: an empty history" test "$(sed -n 3p "$T/q-h.tsv" | cut -f5)" = ""
mlr-history --train "$T/t.tsv" --max 10 "$T/t.tsv" >"$T/t-h.tsv"
check "every copy of the own item left out" test "$(sed -n 2p "$T/t-h.tsv" | cut -f5)" = "d|c|b"

# --before-row: only what was rated strictly before the row's time. u's
# rows by time: b 10, c 20, d 20, a 30, a 40.
printf 'user_id\titem_id\trating\ttimestamp\nu\tz\t1\t20\nu\tz\t1\t31\nu\tz\t1\t5\nu\ta\t1\t35\nw\tz\t1\t50\n' >"$T/qt.tsv"
mlr-history --train "$T/t.tsv" --max 10 --before-row "$T/qt.tsv" >"$T/qt-h.tsv"
check "--before-row: items strictly before the row's time, newest first" \
    test "$(sed 1d "$T/qt-h.tsv" | cut -f5 | tr '\n' ' ')" = "b a|d|c|b  d|c|b  "
mlr-history --train "$T/t.tsv" --max 2 --before-row "$T/qt.tsv" >"$T/qt-h2.tsv"
check "--before-row: capped at --max, the latest kept" test "$(sed -n 3p "$T/qt-h2.tsv" | cut -f5)" = "a|d"
# Every row of a real split, checked against the training table by awk:
# no history item rated at or after the row's time, nor its own item, and
# as many as the user rated before it (uncapped).
mlr-history --train "$T/train.tsv" --max 1000 --before-row --output "$T/train-b.tsv" "$T/train.tsv"
mlr-history --train "$T/train.tsv" --max 1000 --before-row --output "$T/test-b.tsv" "$T/test.tsv"
for t in train test; do
    check "--before-row, $t rows: each history is its user's training items rated before the row, own item left out" \
        awk -F'\t' -v h="$(hcol "$T/$t-b.tsv")" 'NR == FNR { if (FNR > 1) { n[$1]++; it[$1, n[$1]] = $2; ts[$1, n[$1]] = $4 }; next }
            FNR > 1 { want = 0; for (i = 1; i <= n[$1]; i++) if (ts[$1, i] < $4 && it[$1, i] != $2) want++
                k = split($h, a, "|"); if (k != want) bad = 1
                for (j = 1; j <= k; j++) { ok = 0; for (i = 1; i <= n[$1]; i++) if (it[$1, i] == a[j] && ts[$1, i] < $4) ok = 1; if (!ok || a[j] == $2) bad = 1 } }
            END { exit bad }' "$T/train.tsv" "$T/$t-b.tsv"
done
check "--before-row: some histories shorter than the user's whole" test "$(cut -f11 "$T/test-b.tsv" | cmp -s - "$(cut -f11 "$T/test-h.tsv" >"$T/th"; echo "$T/th")" || echo differ)" = differ
printf 'user_id\titem_id\tr\nu\tb\t1\n' >"$T/nots.tsv"
expect_fail "--before-row on rows without a timestamp" 1 "timestamp" mlr-history --train "$T/t.tsv" --before-row --output "$T/o.tsv" "$T/nots.tsv"
printf 'user_id\titem_id\ttimestamp\nu\tb\tlater\n' >"$T/badts.tsv"
expect_fail "--before-row on a row whose timestamp is not a number" 1 "timestamp" mlr-history --train "$T/t.tsv" --before-row --output "$T/o.tsv" "$T/badts.tsv"
expect_fail "--before-row with --per-user" 2 "--before-row" mlr-history --train "$T/t.tsv" --before-row --per-user --output "$T/o.tsv"

# --per-user: one row per user, their latest row, all their items.
mlr-history --train "$T/t.tsv" --per-user --max 10 >"$T/users.tsv"
check "--per-user: one row per user" test "$(sed 1d "$T/users.tsv" | cut -f1 | sort | tr '\n' ' ')" = "u v "
check "--per-user: the user's latest row, all items kept" \
    test "$(grep '^u	' "$T/users.tsv")" = "$(printf 'u\ta\t2\t40\ta|a|d|c|b')"
# --query-time median: u's times 40 30 20 20 10, the middle one the later of the
# two rows at 20 (d, row 4); v's only row.
mlr-history --train "$T/t.tsv" --per-user --query-time median --max 10 >"$T/users-med.tsv"
check "--query-time median: the row at the user's median time, all items kept" \
    test "$(grep '^u	' "$T/users-med.tsv")" = "$(printf 'u\td\t3\t20\ta|a|d|c|b')"
check "--query-time median: a user of one row gets it" test "$(grep '^v	' "$T/users-med.tsv" | cut -f2,4)" = "$(printf 'e\t5')"
printf 'user_id\titem_id\ttimestamp\nw\tx\t1\nw\ty\t3\nw\tz\t2\nw\tq\t4\n' >"$T/even.tsv"
check "--query-time median of an even count: the later of the middle two" \
    test "$(mlr-history --train "$T/even.tsv" --per-user --query-time median | sed 1d | cut -f2,3)" = "$(printf 'y\t3')"
mlr-history --train "$T/t.tsv" --per-user --query-time last --max 10 >"$T/users-last.tsv"
check "--query-time last is the default" cmp "$T/users-last.tsv" "$T/users.tsv"

# Broken input: one line, status 1 or 2, no output file.
printf 'user_id\titem_id\ttimestamp\nu\ta\tsoon\n' >"$T/bad.tsv"
expect_fail "a timestamp that is not a number" 1 "timestamp" mlr-history --train "$T/bad.tsv" --output "$T/o.tsv" "$T/q.tsv"
printf 'user_id\ttimestamp\nu\t1\n' >"$T/noitem.tsv"
expect_fail "no item_id column" 1 "item_id" mlr-history --train "$T/noitem.tsv" --output "$T/o.tsv" "$T/q.tsv"
printf 'user_id\titem_id\ttimestamp\nu\ta|b\t1\n' >"$T/pipe.tsv"
expect_fail "an item id holding '|'" 1 "holds '|'" mlr-history --train "$T/pipe.tsv" --output "$T/o.tsv" "$T/q.tsv"
expect_fail "a table that has a history already" 1 "already has a user_history" \
    mlr-history --train "$T/t.tsv" --output "$T/o.tsv" "$T/t-h.tsv"
expect_fail "missing --train" 2 "--train" mlr-history "$T/q.tsv"
expect_fail "--max 0" 2 "--max" mlr-history --train "$T/t.tsv" --max 0 "$T/q.tsv"
expect_fail "--query-time another time" 2 "--query-time" mlr-history --train "$T/t.tsv" --per-user --query-time first --output "$T/o.tsv"
expect_fail "--query-time without --per-user" 2 "--query-time" mlr-history --train "$T/t.tsv" --query-time median --output "$T/o.tsv" "$T/q.tsv"
check "no output file after a failure" test ! -e "$T/o.tsv"

# mlr-score --user-queries: when every user has one test row, the mean of
# the user's test-row queries is that row, so U = Q with the test rows'
# user ids gives the same figures, in any row order; a user without a row
# in U is refused.
mlr-split --by last-n --n 1 --test-output "$T/t1.tsv" --output "$T/tr1.tsv" "$T/all.tsv"
mlr-vocab --output "$T/spec" "$T/tr1.tsv"
mlr-encode --spec "$T/spec" --output "$T/enc-tr" "$T/tr1.tsv"
mlr-encode --spec "$T/spec" --output "$T/enc-t" "$T/t1.tsv" 2>"$T/clip.err"
mlr-encode --as-catalogue --spec "$T/spec" --output "$T/enc-items" "$T/tr1.tsv" "$T/t1.tsv"
mlr-train --rows "$T/enc-tr" --spec "$T/spec" --epochs 1 --quiet --output "$T/m.safetensors"
mlr-embed --model "$T/m.safetensors" --rows "$T/enc-t" --output "$T/q.npy"
mlr-embed --model "$T/m.safetensors" --catalogue "$T/enc-items" --output "$T/i.npy"
S="mlr-score --test $T/t1.tsv --train $T/tr1.tsv --queries $T/q.npy --items $T/i.npy"
$S --output "$T/mean.tsv"
cp "$T/q.npy" "$T/u.npy" && cp "$T/q.ids" "$T/u.ids"
$S --user-queries "$T/u.npy" --output "$T/given.tsv"
same "--user-queries of the same rows: the same figures" "$T/given.tsv" "$T/mean.tsv"
n=$(($(grep -vc '^#mlrec ' "$T/q.ids") - 1)) # no fingerprint line, no header
mlr-slice --range "$((n / 2)):" --ids "$T/q.ids" --ids-output "$T/b.ids" --output "$T/b.npy" "$T/q.npy"
mlr-slice --range "0:$((n / 2))" --ids "$T/q.ids" --ids-output "$T/a.ids" --output "$T/a.npy" "$T/q.npy"
{ cat "$T/b.ids"; grep -v '^#mlrec ' "$T/a.ids" | sed 1d; } >"$T/r.ids"
# The two halves swapped: the .npy's rows follow the ids.
{ head -c 128 "$T/q.npy"; tail -c +129 "$T/b.npy"; tail -c +129 "$T/a.npy"; } >"$T/r.npy"
$S --user-queries "$T/r.npy" --output "$T/reordered.tsv"
same "--user-queries joins by user id, not position" "$T/reordered.tsv" "$T/mean.tsv"
expect_fail "--user-queries missing a user" 1 "no query for user" $S --user-queries "$T/a.npy"
