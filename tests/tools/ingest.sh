#!/bin/sh
# Tests of mlr-ingest: golden tables from tiny hand-made MovieLens-shaped
# directories and a generic CSV, every refusal (one line naming file and
# line, status, --output untouched), and the real data sets when
# MLR_DATA_DIR is set.
. "$(dirname "$0")/lib.sh"
D=$MLR_ROOT/tests/tools/data
K100=$(fixture ml100k-tiny) LATEST=$(fixture mllatest-tiny)

# ---- golden outputs ----
mlr-ingest --format ml-100k "$K100" >"$T/o.tsv"
same "ingest: ml-100k joined, Latin-1 title in UTF-8, genres in u.genre order" "$T/o.tsv" "$D/ingest-ml100k.tsv"
mlr-ingest --format ml-latest "$LATEST" >"$T/o.tsv"
same "ingest: ml-latest, quoted titles, no genres listed -> empty" "$T/o.tsv" "$D/ingest-latest.tsv"
mlr-ingest --format ml-latest --tags "$LATEST" >"$T/o.tsv"
same "ingest: ml-latest --tags, distinct tags in first-seen order" "$T/o.tsv" "$D/ingest-latest-tags.tsv"
mlr-ingest --format csv --map user_id=uid,item_id=movie --map rating=stars,timestamp=when \
    "$D/generic.csv" >"$T/o.tsv"
same "ingest: csv with --map; item_title passes through; newline made a space" "$T/o.tsv" "$D/ingest-generic.tsv"
mlr-ingest --format tsv --output "$T/again.tsv" <"$D/ingest-ml100k.tsv"
same "ingest: tsv from stdin with our names is the identity, --output" "$T/again.tsv" "$D/ingest-ml100k.tsv"
check "ingest: --output leaves no temporary behind" test "$(ls "$T" | grep -c tmp)" -eq 0

# ---- refusals ----
echo keep >"$T/keep.tsv"
bad_dir() { # NAME: a copy of the tiny ml-100k directory to spoil
    rm -rf "$T/$1"; cp -r "$K100" "$T/$1"; chmod -R u+w "$T/$1"
}
bad_dir nofile; rm "$T/nofile/u.user"
expect_fail "ingest: missing u.user" 1 "nofile/u.user: cannot open" \
    mlr-ingest --format ml-100k --output "$T/keep.tsv" "$T/nofile"
check "ingest: a failure leaves --output as it was" grep -qx keep "$T/keep.tsv"
check "ingest: ... and no temporary file" test "$(ls "$T" | grep -c tmp)" -eq 0
bad_dir short; printf '1\t2\t3\n' >>"$T/short/u.data"
expect_fail "ingest: a u.data row with a missing field" 1 "short/u.data:6: expected 4 fields, found 3" \
    mlr-ingest --format ml-100k --output "$T/keep.tsv" "$T/short"
bad_dir nonnum; printf '1\t2\tgood\t881250949\n' >>"$T/nonnum/u.data"
expect_fail "ingest: a non-numeric rating" 1 "nonnum/u.data:6:.*'good' is not a number" \
    mlr-ingest --format ml-100k "$T/nonnum"
bad_dir item; printf '1\t1683\t3\t881250949\n' >>"$T/item/u.data"
expect_fail "ingest: an item absent from u.item" 1 "item/u.data:6: item 1683 not in u.item" \
    mlr-ingest --format ml-100k --output "$T/keep.tsv" "$T/item"
check "ingest: --output still untouched" grep -qx keep "$T/keep.tsv"
bad_dir user; printf '99\t1\t3\t881250949\n' >>"$T/user/u.data"
expect_fail "ingest: a user absent from u.user" 1 "user/u.data:6: user 99 not in u.user" \
    mlr-ingest --format ml-100k "$T/user"
bad_dir dup; printf '2|30|M|writer|12345\n' >>"$T/dup/u.user"
expect_fail "ingest: a user listed twice" 1 "dup/u.user:4: user 2 appears twice" \
    mlr-ingest --format ml-100k "$T/dup"
bad_dir flag; sed '1s/|0|0|0|1|/|0|0|0|7|/' "$K100/u.item" >"$T/flag/u.item"
expect_fail "ingest: a genre flag that is not 0/1" 1 "flag/u.item:1: genre flag '7'" \
    mlr-ingest --format ml-100k "$T/flag"
rm -rf "$T/lat"; cp -r "$LATEST" "$T/lat"; chmod -R u+w "$T/lat"
printf '3,99,4.0,964982703\r\n' >>"$T/lat/ratings.csv"
expect_fail "ingest: a movie absent from movies.csv" 1 "lat/ratings.csv:6: item 99 not in movies.csv" \
    mlr-ingest --format ml-latest "$T/lat"
printf 'a,b\n1,"open\n' >"$T/open.csv"
expect_fail "ingest: an unclosed CSV quote" 1 "open.csv" \
    mlr-ingest --format csv --map user_id=a,item_id=b "$T/open.csv"
expect_fail "ingest: a mapped column absent from the header" 1 "no column 'nope'" \
    mlr-ingest --format csv --map user_id=nope,item_id=movie "$D/generic.csv"
expect_fail "ingest: no user_id column and no mapping" 1 "no column for user_id" \
    mlr-ingest --format csv "$D/generic.csv"
printf 'user_id\titem_id\ttimestamp\n1\t2\tyesterday\n' >"$T/t.tsv"
expect_fail "ingest: a non-numeric timestamp" 1 "t.tsv:2:.*'yesterday' is not an integer" \
    mlr-ingest --format tsv "$T/t.tsv"
printf 'user_id\titem_id\n\t2\n' >"$T/e.tsv"
expect_fail "ingest: an empty user id" 1 "e.tsv:2: empty user_id" mlr-ingest --format tsv "$T/e.tsv"
expect_fail "ingest: no --format is usage" 2 "format" mlr-ingest "$D/generic.csv"
expect_fail "ingest: an unknown format" 2 "unknown format 'xml'" mlr-ingest --format xml x
expect_fail "ingest: a --map that is not OURS=THEIRS" 2 "not OURS=THEIRS" \
    mlr-ingest --format csv --map user_id "$D/generic.csv"
expect_fail "ingest: a --map to a column we do not have" 2 "not one of our columns" \
    mlr-ingest --format csv --map userid=uid "$D/generic.csv"
expect_fail "ingest: ml-100k needs a directory" 2 "directory" mlr-ingest --format ml-100k
check "ingest: --help on stdout, status 0" sh -c 'mlr-ingest --help | grep -q "^usage: mlr-ingest"'

# ---- the real data sets ----
if have_data ml-100k/u.data; then
    mlr-ingest --format ml-100k "$MLR_DATA_DIR/ml-100k" >"$T/m.tsv"
    mlr-stats "$T/m.tsv" >"$T/m.stats" # the reader refuses invalid UTF-8: stats succeeding checks it
    check "ingest: ML-100K has 100,000 ratings" grep -qx 'ratings	100000' "$T/m.stats"
    check "ingest: ML-100K has 943 users" grep -qx 'users	943' "$T/m.stats"
    check "ingest: ML-100K has 1,682 items" grep -qx 'items	1682' "$T/m.stats"
    check "ingest: ML-100K is valid UTF-8 throughout" iconv -f UTF-8 -t UTF-8 "$T/m.tsv" -o /dev/null
    check "ingest: ML-100K ten columns on every row" \
        test "$(awk -F'\t' 'NF != 10' "$T/m.tsv" | wc -l)" -eq 0
    check "ingest: ML-100K rows in u.data order" \
        test "$(tail -n +2 "$T/m.tsv" | cut -f1-4 | cmp - "$MLR_DATA_DIR/ml-100k/u.data" && echo ok)" = ok
    check "ingest: ML-100K Latin-1 title converted" grep -q 'Misérables, Les (1995)' "$T/m.tsv"
else
    skip "ingest: ML-100K" "MLR_DATA_DIR unset or without ml-100k/"
fi
if have_data ml-latest-small/ratings.csv; then
    mlr-ingest --format ml-latest --tags "$MLR_DATA_DIR/ml-latest-small" >"$T/l.tsv"
    mlr-stats "$T/l.tsv" >"$T/l.stats"
    check "ingest: ml-latest-small has 100,836 ratings" grep -qx 'ratings	100836' "$T/l.stats"
    check "ingest: ml-latest-small has 610 users" grep -qx 'users	610' "$T/l.stats"
    check "ingest: ml-latest-small has 9,724 rated movies" grep -qx 'items	9724' "$T/l.stats"
    check "ingest: ml-latest-small 'no genres listed' is gone" \
        test "$(grep -c 'no genres listed' "$T/l.tsv")" -eq 0
else
    skip "ingest: ml-latest-small" "MLR_DATA_DIR unset or without ml-latest-small/"
fi
