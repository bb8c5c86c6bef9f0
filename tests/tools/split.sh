#!/bin/sh
# Tests of mlr-split: golden splits of a tiny table in every mode, exact
# test counts, train + test = input, independence from how the input
# arrives (file, pipe, 7-byte chunks), refusals; ML-100K when MLR_DATA_DIR is set.
. "$(dirname "$0")/lib.sh"
D=$MLR_ROOT/tests/tools/data
IN=$D/split-in.tsv

golden() { # NAME OPTIONS...: compares both outputs with split-NAME-{train,test}.tsv
    name=$1; shift
    rm -f "$T/test.tsv" "$T/train.tsv"
    ran -o "$T/train.tsv" "split: $name runs" mlr-split "$@" --test-output "$T/test.tsv" "$IN" || return
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
tail -n +2 "$T/s.tsv" | sort >"$T/want"
check "split: the synthetic table has 5000 rows" test "$(wc -l <"$T/want")" -eq 5000
for mode in "--seed 1" "--by time --test-fraction 0.25" "--by user-time --test-fraction 0.3" "--by last-n --n 3"; do
    rm -f "$T/te.tsv" "$T/tr.tsv"
    # shellcheck disable=SC2086
    ran "split: $mode runs" mlr-split $mode --test-output "$T/te.tsv" --output "$T/tr.tsv" "$T/s.tsv" || continue
    { tail -n +2 "$T/te.tsv"; tail -n +2 "$T/tr.tsv"; } | sort >"$T/got"
    same "split: train + test = input ($mode)" "$T/got" "$T/want"
done
rm -f "$T/te.tsv"
ran -o /dev/null "split: --test-fraction 0.3 runs" mlr-split --seed 1 --test-fraction 0.3 --test-output "$T/te.tsv" "$T/s.tsv" &&
    check "split: exactly round(5000 * 0.3) test rows" test "$(tail -n +2 "$T/te.tsv" | wc -l)" -eq 1500
rm -f "$T/te.tsv"
if ran -o "$T/tr.tsv" "split: --cut runs" mlr-split --by time --cut 900000000 --test-output "$T/te.tsv" "$T/s.tsv"; then
    check "split: --cut puts no row before it in test" \
        test "$(tail -n +2 "$T/te.tsv" | awk -F'\t' '$4 < 900000000' | wc -l)" -eq 0
    check "split: --cut puts every row at or after it in test" \
        test "$(tail -n +2 "$T/te.tsv" | wc -l)" -eq "$(tail -n +2 "$T/s.tsv" | awk -F'\t' '$4 >= 900000000' | wc -l)"
    check "split: --cut's test is neither empty nor everything" \
        test "$(tail -n +2 "$T/te.tsv" | wc -l)" -gt 0 -a "$(tail -n +2 "$T/tr.tsv" | wc -l)" -gt 0
fi

# Same seed, same split, however the bytes arrive.
ran -o "$T/r1" "split: a file" mlr-split --test-output "$T/t1" "$T/s.tsv"
check "split: a file gives test rows" test "$(wc -l <"$T/t1")" -gt 1
ran -o "$T/r2" "split: a pipe" sh -c 'cat "$1" | mlr-split --test-output "$2"' - "$T/s.tsv" "$T/t2"
ran -o "$T/r3" "split: 7-byte chunks" sh -c 'dd if="$1" bs=7 2>/dev/null | mlr-split --test-output "$2"' - "$T/s.tsv" "$T/t3"
same "split: a pipe splits like a file (test)" "$T/t2" "$T/t1"
same "split: 7-byte chunks split like a file (test)" "$T/t3" "$T/t1"
same "split: 7-byte chunks split like a file (train)" "$T/r3" "$T/r1"
ran -o /dev/null "split: --seed 2" mlr-split --seed 2 --test-output "$T/t4" "$T/s.tsv" &&
    check "split: another seed, another split" sh -c 'test -s "$2" && ! cmp -s "$1" "$2"' - "$T/t1" "$T/t4"

# Refusals: one line, the right status, earlier outputs untouched.
echo keep >"$T/keep"
echo keep >"$T/keep2"
expect_fail "split: --test is required" 2 "--test" mlr-split "$IN"
expect_fail "split: --test to stdout is refused" 2 "of its own" mlr-split --test-output - "$IN"
expect_fail "split: a fraction of 1.5" 2 "between 0 and 1" mlr-split --test-fraction 1.5 --test-output "$T/keep" "$IN"
expect_fail "split: a fraction of 0" 2 "between 0 and 1" mlr-split --test-fraction 0 --test-output "$T/keep" "$IN"
expect_fail "split: a fraction that is not a number" 2 "test-fraction" mlr-split --test-fraction 2x --test-output "$T/keep" "$IN"
expect_fail "split: an unknown mode" 2 "unknown mode 'season'" mlr-split --by season --test-output "$T/keep" "$IN"
expect_fail "split: --cut without --by time" 2 "--cut goes with --by time" mlr-split --cut 5 --test-output "$T/keep" "$IN"
expect_fail "split: --n without last-n" 2 "--n goes with" mlr-split --n 3 --test-output "$T/keep" "$IN"
printf 'user_id\titem_id\n1\t2\n' >"$T/notime.tsv"
expect_fail "split: a temporal split without timestamps" 1 "no column 'timestamp'" \
    mlr-split --by time --cut 3 --test-output "$T/keep" --output "$T/keep2" "$T/notime.tsv"
printf 'item_id\ttimestamp\n1\t2\n' >"$T/nouser.tsv"
expect_fail "split: a per-user split without user_id" 1 "no column 'user_id'" \
    mlr-split --by last-n --test-output "$T/keep" "$T/nouser.tsv"
printf 'user_id\titem_id\ttimestamp\n1\t2\t3\n1\t3\tsoon\n' >"$T/badtime.tsv"
expect_fail "split: a timestamp that is not a number" 1 "badtime.tsv:3:.*'soon'" \
    mlr-split --by user-time --test-output "$T/keep" --output "$T/keep2" "$T/badtime.tsv"
printf 'user_id\titem_id\n1\t2\n3\n' >"$T/short.tsv"
expect_fail "split: a short row" 1 "short.tsv:3" mlr-split --test-output "$T/keep" --output "$T/keep2" "$T/short.tsv"
check "split: failures left both outputs as they were" sh -c "grep -qx keep '$T/keep' && grep -qx keep '$T/keep2'"
check "split: ... and no temporary file" test "$(ls "$T" | grep -c tmp)" -eq 0
printf 'user_id\titem_id\n' >"$T/hdr.tsv"
rm -f "$T/te.tsv"
ran -o "$T/tr.tsv" "split: a header-only table" mlr-split --test-output "$T/te.tsv" "$T/hdr.tsv"
check "split: a header-only table gives two header-only tables" \
    sh -c "cmp -s '$T/te.tsv' '$T/hdr.tsv' && cmp -s '$T/tr.tsv' '$T/hdr.tsv'"
check "split: --help on stdout, status 0" sh -c 'mlr-split --help | grep -q "^usage: mlr-split"'

if have_data ml-100k/u.data; then
    ran -o "$T/m.tsv" "split: ML-100K ingested" mlr-ingest --format ml-100k "$MLR_DATA_DIR/ml-100k"
    ran -o "$T/mr1" "split: ML-100K" mlr-split --seed 42 --test-fraction 0.2 --test-output "$T/mt1" "$T/m.tsv"
    check "split: ML-100K at 0.2 gives exactly 20,000 test rows" test "$(tail -n +2 "$T/mt1" | wc -l)" -eq 20000
    check "split: ... and 80,000 training rows" test "$(tail -n +2 "$T/mr1" | wc -l)" -eq 80000
    ran -o "$T/mr2" "split: ML-100K through cat" sh -c 'cat "$1" | mlr-split --seed 42 --test-fraction 0.2 --test-output "$2"' \
        - "$T/m.tsv" "$T/mt2"
    ran -o "$T/mr3" "split: ML-100K through dd bs=7" sh -c 'dd if="$1" bs=7 2>/dev/null | mlr-split --seed 42 --test-fraction 0.2 --test-output "$2"' \
        - "$T/m.tsv" "$T/mt3"
    check "split: ML-100K the same through cat and dd bs=7" \
        sh -c "cmp -s '$T/mt1' '$T/mt2' && cmp -s '$T/mt1' '$T/mt3' && cmp -s '$T/mr1' '$T/mr2' && cmp -s '$T/mr1' '$T/mr3'"
    { tail -n +2 "$T/mt1"; tail -n +2 "$T/mr1"; } | sort >"$T/got"
    tail -n +2 "$T/m.tsv" | sort >"$T/want"
    same "split: ML-100K train + test = input" "$T/got" "$T/want"
else
    skip "split: ML-100K" "MLR_DATA_DIR unset or without ml-100k/"
fi

# Writing to a device must not rename a file over it (the suite may run as root).
ran -o /dev/null "split: --test /dev/null runs" mlr-split --test-output /dev/null "$IN"
check "split: --test /dev/null leaves /dev/null a device" test -c /dev/null

# The deprecated --test and --train (now --test-output and --output).
mlr-split --seed 3 --test-output "$T/new-te" --output "$T/new-tr" "$IN"
mlr-split --seed 3 --test "$T/old-te" --train "$T/old-tr" "$IN" 2>"$T/old.err"
same "split: the deprecated --test still works" "$T/old-te" "$T/new-te"
same "split: the deprecated --train still works" "$T/old-tr" "$T/new-tr"
check "split: --test warns" grep -q "^mlr-split: warning: --test is deprecated; use --test-output" "$T/old.err"
