#!/bin/sh
# Tests of mlr-synth: golden output on a tiny shape, determinism, the
# schema, no duplicate pairs, per-user increasing time, usage errors.
. "$(dirname "$0")/lib.sh"
D=$MLR_ROOT/tests/tools/data

mlr-synth --n-users 4 --n-items 12 --n-ratings 15 --seed 3 >"$T/small.tsv"
same "synth: golden tiny table" "$T/small.tsv" "$D/synth-small.tsv"
mlr-synth --users 4 --items 12 --ratings 15 --seed 3 >"$T/old.tsv" 2>"$T/old.err"
same "synth: the deprecated --users, --items, --ratings still work" "$T/old.tsv" "$D/synth-small.tsv"
check "synth: a deprecated name warns" grep -q "^mlr-synth: warning: --items is deprecated; use --n-items" "$T/old.err"

mlr-synth >"$T/a.tsv"
check "synth: default shape is ML-100K's (100000 rows + header)" \
    test "$(wc -l <"$T/a.tsv")" -eq 100001
head -n 1 "$T/a.tsv" >"$T/head"
printf 'user_id\titem_id\trating\ttimestamp\tuser_age\tuser_gender\tuser_occupation\tuser_zip\titem_title\titem_genres\n' >"$T/want"
same "synth: the ten interaction-table columns" "$T/head" "$T/want"
mlr-synth --output "$T/b.tsv"
same "synth: deterministic for a seed, --output equals stdout" "$T/a.tsv" "$T/b.tsv"
ran -o "$T/c.tsv" "synth: --seed 2" mlr-synth --seed 2 --n-ratings 1000 &&
    ran -o "$T/d.tsv" "synth: --seed 1" mlr-synth --seed 1 --n-ratings 1000 &&
    check "synth: another seed, another table" sh -c 'test "$(wc -l <"$1")" -eq 1001 && ! cmp -s "$1" "$2"' - "$T/c.tsv" "$T/d.tsv"

check "synth: no duplicate (user, item) pairs" \
    test "$(awk -F'\t' 'NR>1 {print $1, $2}' "$T/a.tsv" | sort | uniq -d | wc -l)" -eq 0
check "synth: ratings are whole numbers 1..5" \
    test "$(awk -F'\t' 'NR>1 && $3 !~ /^[1-5]$/' "$T/a.tsv" | wc -l)" -eq 0
check "synth: 943 users, 1682 items at most" test "$(awk -F'\t' 'NR>1 {u[$1]; i[$2]} END {print length(u), (length(i) <= 1682)}' "$T/a.tsv")" = "943 1"
check "synth: timestamps increase within each user" \
    test "$(awk -F'\t' 'NR>1 { if ($1 == u && $4 <= t) bad++; u = $1; t = $4 } END {print bad + 0}' "$T/a.tsv")" -eq 0
check "synth: 1 to 3 genres per item" \
    test "$(awk -F'\t' 'NR>1 { n = split($10, g, "|"); if (n < 1 || n > 3) bad++ } END {print bad + 0}' "$T/a.tsv")" -eq 0
check "synth: mean rating near MovieLens' 3.5" \
    awk -F'\t' 'NR>1 {s += $3; n++} END {m = s / n; exit !(m > 3.2 && m < 3.9)}' "$T/a.tsv"
# Popularity is long-tailed: the top 10% of items hold far more than 10% of ratings.
check "synth: long-tailed item popularity" sh -c "awk -F'\t' 'NR>1 {c[\$2]++} END {for (i in c) print c[i]}' '$T/a.tsv' | sort -rn |
    awk '{a[NR] = \$1; s += \$1} END {for (i = 1; i <= NR / 10; i++) t += a[i]; exit !(t / s > 0.3)}'"

echo old >"$T/keep.tsv"
expect_fail "synth: more ratings than half the pairs is usage" 2 "ratings" \
    mlr-synth --n-users 2 --n-items 4 --n-ratings 5 --output "$T/keep.tsv"
check "synth: a failed run leaves --output alone" grep -qx old "$T/keep.tsv"
expect_fail "synth: bad --users" 2 "users" mlr-synth --n-users 0
expect_fail "synth: junk in --seed" 2 "seed" mlr-synth --seed 12x
expect_fail "synth: unknown option" 2 "help" mlr-synth --frobnicate
check "synth: --help on stdout, status 0" sh -c 'mlr-synth --help | grep -q "^usage: mlr-synth"'
