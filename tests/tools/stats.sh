#!/bin/sh
# Tests of mlr-stats: the summary and every plot table on a tiny table with
# ties, reordered genre sets, an empty genre list and an empty month;
# refusals; ml-latest-small's known figures when MLR_DATA_DIR is set.
. "$(dirname "$0")/lib.sh"
D=$MLR_ROOT/tests/tools/data

mlr-stats "$D/stats-in.tsv" >"$T/o.tsv"
same "stats: summary (genre sets ignore order, medians of even counts)" "$T/o.tsv" "$D/stats-summary.tsv"
mlr-stats <"$D/stats-in.tsv" >"$T/o.tsv"
same "stats: the same from stdin" "$T/o.tsv" "$D/stats-summary.tsv"
for t in rating-hist user-counts item-counts time top-items; do
    mlr-stats --table $t "$D/stats-in.tsv" >"$T/$t.tsv"
    same "stats: --table $t" "$T/$t.tsv" "$D/stats-$t.tsv"
done
mlr-stats --table top-items --top 2 --output "$T/top2.tsv" "$D/stats-in.tsv"
head -n 3 "$D/stats-top-items.tsv" >"$T/want"
same "stats: --top 2 --output" "$T/top2.tsv" "$T/want"

printf 'user_id\titem_id\n1\t2\n1\t3\n' >"$T/min.tsv"
printf 'metric\tvalue\nratings\t2\nusers\t1\nitems\t2\nuser_ratings_min\t2\nuser_ratings_median\t2\nuser_ratings_max\t2\nitem_ratings_min\t1\nitem_ratings_median\t1\nitem_ratings_max\t1\n' >"$T/want"
mlr-stats "$T/min.tsv" >"$T/o.tsv"
same "stats: only the metrics whose columns are there" "$T/o.tsv" "$T/want"
printf 'user_id\titem_id\trating\n' >"$T/empty.tsv"
printf 'metric\tvalue\nratings\t0\nusers\t0\nitems\t0\n' >"$T/want"
mlr-stats "$T/empty.tsv" >"$T/o.tsv"
same "stats: a header-only table" "$T/o.tsv" "$T/want"

echo keep >"$T/keep.tsv"
printf 'user_id\titem_id\trating\n1\t2\tfive\n' >"$T/bad.tsv"
expect_fail "stats: a non-numeric rating" 1 "bad.tsv:2:.*'five'" mlr-stats --output "$T/keep.tsv" "$T/bad.tsv"
check "stats: a failure leaves --output as it was" grep -qx keep "$T/keep.tsv"
printf 'user_id\trating\n1\t2\n' >"$T/noitem.tsv"
expect_fail "stats: no item_id column" 1 "no column 'item_id'" mlr-stats "$T/noitem.tsv"
expect_fail "stats: --table time without timestamps" 1 "no column 'timestamp'" \
    mlr-stats --table time "$T/min.tsv"
printf 'user_id\titem_id\n1\t2\t3\n' >"$T/short.tsv"
expect_fail "stats: a row with too many fields" 1 "short.tsv:2" mlr-stats "$T/short.tsv"
expect_fail "stats: an empty input" 1 "empty" mlr-stats </dev/null
expect_fail "stats: an unknown table" 2 "unknown table 'pie'" mlr-stats --table pie
expect_fail "stats: a bad --top" 2 "top" mlr-stats --top 0
check "stats: --help on stdout, status 0" sh -c 'mlr-stats --help | grep -q "^usage: mlr-stats"'

if have_data ml-latest-small/ratings.csv; then
    mlr-ingest --format ml-latest "$MLR_DATA_DIR/ml-latest-small" >"$T/l.tsv"
    mlr-stats "$T/l.tsv" >"$T/l.stats"
    check "stats: ml-latest-small rating_min 0.5" grep -qx 'rating_min	0.5' "$T/l.stats"
    check "stats: ml-latest-small rating_max 5.0" awk -F'\t' '$1 == "rating_max" && $2 == 5.0 {ok = 1} END {exit !ok}' "$T/l.stats"
    check "stats: ml-latest-small 100,836 ratings, 610 users, 9,724 items" \
        test "$(grep -E '^(ratings|users|items)	' "$T/l.stats" | cut -f2 | tr '\n' ' ')" = "100836 610 9724 "
    mlr-stats --table top-items --top 1 "$T/l.tsv" >"$T/top"
    check "stats: ml-latest-small's most rated is Forrest Gump (1994), 329" \
        grep -qx '1	356	Forrest Gump (1994)	329' "$T/top"
    mlr-stats --table rating-hist "$T/l.tsv" >"$T/hist"
    check "stats: the histogram adds up to the ratings" \
        test "$(awk 'NR > 1 {s += $2} END {print s}' "$T/hist")" -eq 100836
else
    skip "stats: ml-latest-small" "MLR_DATA_DIR unset or without ml-latest-small/"
fi
