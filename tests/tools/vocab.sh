#!/bin/sh
# mlr-vocab: golden SPECDIRs of a tiny hand-made table (tests/tools/data/
# vocab-in.tsv; the expected files were checked by hand: counts, ties
# bytewise, [UNK] counts, numpy's mean/std), options, error cases, and the
# vocabulary sizes of MovieLens 100K when MLR_DATA_DIR is set.
. "$(dirname "$0")/lib.sh"
D=$MLR_ROOT/tests/tools/data
IN=$D/vocab-in.tsv

# same_dir NAME GOT EXPECTED: the same file names and bytes.
same_dir() {
    if [ "$(ls "$2")" != "$(ls "$3")" ]; then
        fail "$1" "files $(ls "$2" | tr '\n' ' ') vs $(ls "$3" | tr '\n' ' ')"; return
    fi
    for f in "$3"/*; do
        if ! cmp -s "$2/${f##*/}" "$f"; then
            fail "$1" "${f##*/}: $(diff "$2/${f##*/}" "$f" | head -3 | tr '\n' ' ')"; return
        fi
    done
    pass "$1"
}

check "defaults: status 0" mlr-vocab --output "$T/spec" <"$IN"
same_dir "defaults: golden SPECDIR" "$T/spec" "$D/vocab-out"
check "FILE argument, nested new directory" mlr-vocab --output "$T/a/b/spec" "$IN"
same_dir "FILE argument: same SPECDIR" "$T/a/b/spec" "$D/vocab-out"
check "options: status 0" mlr-vocab -o "$T/small" --min-count 2 --max-size 4 \
    --timestamp-buckets 5 --age-buckets 3 <"$IN"
same_dir "min-count, max-size, buckets: golden SPECDIR" "$T/small" "$D/vocab-small"

# Two inputs are counted as one table.
head -n 4 "$IN" >"$T/part1.tsv"
{ head -n 1 "$IN"; tail -n +5 "$IN"; } >"$T/part2.tsv"
check "two inputs" mlr-vocab --output "$T/two" "$T/part1.tsv" "$T/part2.tsv"
same_dir "two inputs: same as one" "$T/two" "$D/vocab-out"

# Only the features whose column is present; column order does not matter.
printf 'item_id\trating\tuser_id\ni2\t4\tu9\ni1\t2\tu9\ni2\t5\tu8\n' >"$T/min.tsv"
check "ids and rating only" mlr-vocab --output "$T/min" <"$T/min.tsv"
check "ids and rating only: three features" \
    test "$(cut -f1 "$T/min/features.tsv" | tr '\n' ' ')" = "feature user_id item_id rating "
check "ids and rating only: no other vocab" test "$(ls "$T/min" | tr '\n' ' ')" = \
    "features.tsv item_id.vocab user_id.vocab "
printf 'id\ttoken\tcount\n0\t[UNK]\t0\n1\ti2\t2\n2\ti1\t1\n' >"$T/want"
same "ids and rating only: item_id.vocab" "$T/min/item_id.vocab" "$T/want"

# Determinism: row order changes no id and no mean (a compensated sum);
# std may move by an ulp.
{ head -n 1 "$IN"; tail -n +2 "$IN" | sort -r; } >"$T/rev.tsv"
check "reversed rows" mlr-vocab --output "$T/rev" <"$T/rev.tsv"
for f in "$D"/vocab-out/*.vocab; do
    same "reversed rows: ${f##*/}" "$T/rev/${f##*/}" "$f"
done
cut -f1-5,7- "$T/rev/features.tsv" >"$T/got"
cut -f1-5,7- "$D/vocab-out/features.tsv" >"$T/want"
same "reversed rows: features.tsv but std" "$T/got" "$T/want"

if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    check "mean, population std, min, max agree with numpy" /usr/bin/python3 - "$T/spec" "$IN" <<'PY'
import csv, sys
import numpy as np
spec, table = sys.argv[1:]
rows = list(csv.DictReader(open(table, encoding='utf-8'), delimiter='\t'))
for r in csv.DictReader(open(spec + '/features.tsv'), delimiter='\t'):
    if r['kind'] in ('num', 'label'):
        a = np.array([float(x[r['column']]) for x in rows])
        got = [float(r[k]) for k in ('mean', 'std', 'min', 'max')]
        assert np.allclose(got, [a.mean(), a.std(), a.min(), a.max()], rtol=1e-15, atol=0), r
PY
else
    skip "statistics against numpy" "no numpy under /usr/bin/python3"
fi

# Errors: one line, status, and an existing SPECDIR left as it was.
cp -r "$D/vocab-out" "$T/keep"
expect_fail "missing --output" 2 "output" mlr-vocab <"$IN"
expect_fail "bad --min-count" 2 "min-count" mlr-vocab --output "$T/keep" --min-count 0 <"$IN"
expect_fail "bad --max-size" 2 "max-size" mlr-vocab --output "$T/keep" --max-size x <"$IN"
expect_fail "bad --age-buckets" 2 "age-buckets" mlr-vocab --output "$T/keep" --age-buckets 0 <"$IN"
expect_fail "unknown option" 2 "" mlr-vocab --output "$T/keep" --frobnicate <"$IN"
cut -f2- "$IN" >"$T/nouser.tsv"
expect_fail "missing user_id column" 1 "stdin: no column 'user_id'" \
    mlr-vocab --output "$T/keep" <"$T/nouser.tsv"
sed '3s/\t200\t/\tsoon\t/' "$IN" >"$T/badts.tsv"
expect_fail "non-numeric timestamp" 1 "badts.tsv:3:.*timestamp" \
    mlr-vocab --output "$T/keep" "$T/badts.tsv"
sed '4s/\t40\t/\t\t/' "$IN" >"$T/noage.tsv"
expect_fail "missing age" 1 "stdin:4:.*user_age" mlr-vocab --output "$T/keep" <"$T/noage.tsv"
sed 's/$/\r/' "$IN" >"$T/crlf.tsv"
expect_fail "CRLF input" 1 "stdin:1:" mlr-vocab --output "$T/keep" <"$T/crlf.tsv"
expect_fail "empty input" 1 "stdin" mlr-vocab --output "$T/keep" </dev/null
head -n 1 "$IN" >"$T/header.tsv"
expect_fail "header only" 1 "header.tsv: no rows" mlr-vocab --output "$T/keep" "$T/header.tsv"
sed '5s/\tDrama/\tDrama\textra/' "$IN" >"$T/long.tsv"
expect_fail "row with an extra field" 1 "long.tsv:5:" mlr-vocab --output "$T/keep" "$T/long.tsv"
expect_fail "missing input file" 1 "nonexistent.tsv" mlr-vocab --output "$T/keep" "$T/nonexistent.tsv"
same_dir "failures left the SPECDIR as it was" "$T/keep" "$D/vocab-out"
check "failures created no directory" test ! -e "$T/never" -a -z "$(ls "$T/keep" | grep tmp)"
expect_fail "failure into a new directory" 1 "no rows" mlr-vocab --output "$T/never" "$T/header.tsv"
check "failure created no directory" test ! -e "$T/never"
check "--help on stdout, status 0" sh -c 'mlr-vocab --help | grep -q "^usage: mlr-vocab"'

# MovieLens 100K: 943 users, 1682 items, 21 occupations, 2 genders, 19
# genres (u.genre's 'unknown' included), each + [UNK].
if have_data ml-100k/u.data && [ -x "$MLR_BIN/mlr-ingest" ]; then
    mlr-ingest --format ml-100k "$MLR_DATA_DIR/ml-100k" >"$T/ml.tsv" 2>"$T/ml.err"
    mlr-vocab --output "$T/ml" <"$T/ml.tsv"
    for fs in user_id:944 item_id:1683 user_occupation:22 user_gender:3 item_genres:20; do
        f=${fs%:*} n=${fs#*:}
        got=$(awk -F'\t' -v f="$f" '$1 == f { print $4 }' "$T/ml/features.tsv")
        check "ml-100k: $f size $n (got $got)" test "$got" = "$n"
    done
    check "ml-100k: user_age range 7..73" \
        awk -F'\t' '$1 == "user_age" { exit !($7 == 7 && $8 == 73 && $9 == 10) }' "$T/ml/features.tsv"
    check "ml-100k: rating range 1..5" \
        awk -F'\t' '$1 == "rating" { exit !($7 == 1 && $8 == 5) }' "$T/ml/features.tsv"
else
    skip "ml-100k vocabularies" "MLR_DATA_DIR unset or mlr-ingest not built"
fi
