#!/bin/sh
# Tests of mlr-split: golden splits of a tiny table in every mode, exact
# test counts, train + test = input, independence from how the input
# arrives (file, pipe, 7-byte chunks), refusals; ML-100K when MLR_DATA_DIR is set.
. "$(dirname "$0")/lib.sh"
D=$MLR_ROOT/tests/tools/data
IN=$D/split-in.tsv

golden() { # NAME OPTIONS...: compares both outputs with split-NAME-{train,test}.tsv
    name=$1; shift
    mlr-split "$@" --test "$T/test.tsv" "$IN" >"$T/train.tsv"
    same "split: $name train" "$T/train.tsv" "$D/split-$name-train.tsv"
    same "split: $name test" "$T/test.tsv" "$D/split-$name-test.tsv"
}
golden random --seed 7 --test-fraction 0.3
golden time-cut --by time --cut 400
golden time-frac --by time --test-fraction 0.2
golden user-time --by user-time --test-fraction 0.5
golden last-n --by last-n --n 2

# The multiset law and the exact count, on a synthetic table.
mlr-synth --n-ratings 5000 --seed 3 >"$T/s.tsv"
for mode in "--seed 1" "--by time --test-fraction 0.25" "--by user-time --test-fraction 0.3" "--by last-n --n 3"; do
    # shellcheck disable=SC2086
    mlr-split $mode --test "$T/te.tsv" --train "$T/tr.tsv" "$T/s.tsv"
    { tail -n +2 "$T/te.tsv"; tail -n +2 "$T/tr.tsv"; } | sort >"$T/got"
    tail -n +2 "$T/s.tsv" | sort >"$T/want"
    same "split: train + test = input ($mode)" "$T/got" "$T/want"
done
mlr-split --seed 1 --test-fraction 0.3 --test "$T/te.tsv" "$T/s.tsv" >/dev/null
check "split: exactly round(5000 * 0.3) test rows" test "$(tail -n +2 "$T/te.tsv" | wc -l)" -eq 1500
mlr-split --by time --cut 900000000 --test "$T/te.tsv" "$T/s.tsv" >/dev/null
check "split: --cut puts exactly the rows at or after it in test" \
    test "$(tail -n +2 "$T/te.tsv" | awk -F'\t' '$4 < 900000000' | wc -l)" -eq 0

# Same seed, same split, however the bytes arrive.
mlr-split --test "$T/t1" "$T/s.tsv" >"$T/r1"
cat "$T/s.tsv" | mlr-split --test "$T/t2" >"$T/r2"
dd if="$T/s.tsv" bs=7 2>/dev/null | mlr-split --test "$T/t3" >"$T/r3"
same "split: a pipe splits like a file (test)" "$T/t2" "$T/t1"
same "split: 7-byte chunks split like a file (test)" "$T/t3" "$T/t1"
same "split: 7-byte chunks split like a file (train)" "$T/r3" "$T/r1"
mlr-split --seed 2 --test "$T/t4" "$T/s.tsv" >/dev/null
check "split: another seed, another split" test "$(cmp -s "$T/t1" "$T/t4"; echo $?)" -ne 0

# Refusals: one line, the right status, earlier outputs untouched.
echo keep >"$T/keep"
echo keep >"$T/keep2"
expect_fail "split: --test is required" 2 "--test" mlr-split "$IN"
expect_fail "split: --test to stdout is refused" 2 "of its own" mlr-split --test - "$IN"
expect_fail "split: a fraction of 1.5" 2 "between 0 and 1" mlr-split --test-fraction 1.5 --test "$T/keep" "$IN"
expect_fail "split: a fraction of 0" 2 "between 0 and 1" mlr-split --test-fraction 0 --test "$T/keep" "$IN"
expect_fail "split: a fraction that is not a number" 2 "test-fraction" mlr-split --test-fraction 2x --test "$T/keep" "$IN"
expect_fail "split: an unknown mode" 2 "unknown mode 'season'" mlr-split --by season --test "$T/keep" "$IN"
expect_fail "split: --cut without --by time" 2 "--cut goes with --by time" mlr-split --cut 5 --test "$T/keep" "$IN"
expect_fail "split: --n without last-n" 2 "--n goes with" mlr-split --n 3 --test "$T/keep" "$IN"
printf 'user_id\titem_id\n1\t2\n' >"$T/notime.tsv"
expect_fail "split: a temporal split without timestamps" 1 "no column 'timestamp'" \
    mlr-split --by time --cut 3 --test "$T/keep" --train "$T/keep2" "$T/notime.tsv"
printf 'item_id\ttimestamp\n1\t2\n' >"$T/nouser.tsv"
expect_fail "split: a per-user split without user_id" 1 "no column 'user_id'" \
    mlr-split --by last-n --test "$T/keep" "$T/nouser.tsv"
printf 'user_id\titem_id\ttimestamp\n1\t2\t3\n1\t3\tsoon\n' >"$T/badtime.tsv"
expect_fail "split: a timestamp that is not a number" 1 "badtime.tsv:3:.*'soon'" \
    mlr-split --by user-time --test "$T/keep" --train "$T/keep2" "$T/badtime.tsv"
printf 'user_id\titem_id\n1\t2\n3\n' >"$T/short.tsv"
expect_fail "split: a short row" 1 "short.tsv:3" mlr-split --test "$T/keep" --train "$T/keep2" "$T/short.tsv"
check "split: failures left both outputs as they were" sh -c "grep -qx keep '$T/keep' && grep -qx keep '$T/keep2'"
check "split: ... and no temporary file" test "$(ls "$T" | grep -c tmp)" -eq 0
printf 'user_id\titem_id\n' >"$T/hdr.tsv"
mlr-split --test "$T/te.tsv" "$T/hdr.tsv" >"$T/tr.tsv"
check "split: a header-only table gives two header-only tables" \
    sh -c "cmp -s '$T/te.tsv' '$T/hdr.tsv' && cmp -s '$T/tr.tsv' '$T/hdr.tsv'"
check "split: --help on stdout, status 0" sh -c 'mlr-split --help | grep -q "^usage: mlr-split"'

if have_data ml-100k/u.data; then
    mlr-ingest --format ml-100k "$MLR_DATA_DIR/ml-100k" >"$T/m.tsv"
    mlr-split --seed 42 --test-fraction 0.2 --test "$T/mt1" "$T/m.tsv" >"$T/mr1"
    check "split: ML-100K at 0.2 gives exactly 20,000 test rows" test "$(tail -n +2 "$T/mt1" | wc -l)" -eq 20000
    check "split: ... and 80,000 training rows" test "$(tail -n +2 "$T/mr1" | wc -l)" -eq 80000
    cat "$T/m.tsv" | mlr-split --seed 42 --test-fraction 0.2 --test "$T/mt2" >"$T/mr2"
    dd if="$T/m.tsv" bs=7 2>/dev/null | mlr-split --seed 42 --test-fraction 0.2 --test "$T/mt3" >"$T/mr3"
    check "split: ML-100K the same through cat and dd bs=7" \
        sh -c "cmp -s '$T/mt1' '$T/mt2' && cmp -s '$T/mt1' '$T/mt3' && cmp -s '$T/mr1' '$T/mr2' && cmp -s '$T/mr1' '$T/mr3'"
    { tail -n +2 "$T/mt1"; tail -n +2 "$T/mr1"; } | sort >"$T/got"
    tail -n +2 "$T/m.tsv" | sort >"$T/want"
    same "split: ML-100K train + test = input" "$T/got" "$T/want"
else
    skip "split: ML-100K" "MLR_DATA_DIR unset or without ml-100k/"
fi

# Writing to a device must not rename a file over it (the suite may run as root).
mlr-split --test /dev/null "$IN" >/dev/null
check "split: --test /dev/null leaves /dev/null a device" test -c /dev/null
