#!/bin/sh
# mlr-slice: row ranges of hand-made .npy files (built byte by byte below,
# so the expected files are written independently of lib/npy.c), a file
# and a pipe giving the same, shards that concatenate to the whole, the
# matching ids, and every refusal leaving earlier outputs as they were.
. "$(dirname "$0")/lib.sh"

# npy DTYPE SHAPE V...: an .npy whose values are bytes 0..255 (each <i4 or
# <f4 element is the little-endian int V; f4 values only need to be bits).
npy() {
    dict="{'descr': '$1', 'fortran_order': False, 'shape': $2, }"
    shift 2
    len=${#dict}
    hlen=$(( (10 + len + 1 + 63) / 64 * 64 - 10 ))
    printf '\223NUMPY\001\000'
    printf "\\$(printf %03o $((hlen % 256)))\\$(printf %03o $((hlen / 256)))"
    printf '%s' "$dict"
    i=$((len + 1)); while [ "$i" -lt "$hlen" ]; do printf ' '; i=$((i + 1)); done
    printf '\n'
    for v in "$@"; do printf "\\$(printf %03o "$v")\\000\\000\\000"; done
}
ids() { echo id; for v in "$@"; do echo "u$v"; done; }

npy '<i4' '(4, 3)' 0 1 2 3 4 5 6 7 8 9 10 11 >"$T/m.npy"
ids 0 1 2 3 >"$T/m.ids"
npy '<i4' '(2, 3)' 3 4 5 6 7 8 >"$T/want-1-3.npy"
ids 1 2 >"$T/want-1-3.ids"
npy '<i4' '(0, 3)' >"$T/want-empty.npy"
npy '<i4' '(5,)' 10 20 30 40 50 >"$T/v.npy"
npy '<i4' '(2,)' 40 50 >"$T/want-v.npy"

# ---- golden ranges ----
check "rows 1:3: status 0" mlr-slice --range 1:3 --ids "$T/m.ids" --ids-output "$T/o.ids" \
    --output "$T/o.npy" "$T/m.npy"
same "rows 1:3: the matrix rows" "$T/o.npy" "$T/want-1-3.npy"
same "rows 1:3: the ids" "$T/o.ids" "$T/want-1-3.ids"
mlr-slice --range 1:3 <"$T/m.npy" >"$T/pipe.npy" 2>"$T/err"
same "a pipe gives the same as a file" "$T/pipe.npy" "$T/want-1-3.npy"
mlr-slice --range 3:3 "$T/m.npy" >"$T/e.npy"
mlr-slice --range 1:3 "$T/m.npy" >"$T/new.npy"
mlr-slice --rows 1:3 "$T/m.npy" >"$T/old.npy" 2>"$T/old.err"
same "the deprecated --rows still works" "$T/old.npy" "$T/new.npy"
check "--rows warns" grep -q "^mlr-slice: warning: --rows is deprecated; use --range" "$T/old.err"
same "an empty range: (0, 3)" "$T/e.npy" "$T/want-empty.npy"
mlr-slice --range 3: "$T/v.npy" >"$T/v3.npy"
same "1-D, FROM: to the end" "$T/v3.npy" "$T/want-v.npy"
check "--count" test "$(mlr-slice --count "$T/m.npy")" = 4
check "--count of a pipe" test "$(mlr-slice --count <"$T/v.npy")" = 5

# ---- shards of a real encoded matrix concatenate to the whole ----
mlr-synth --n-users 30 --n-items 40 --n-ratings 300 --seed 3 >"$T/s.tsv"
ran "a synthetic table's vocabularies" mlr-vocab --output "$T/spec" "$T/s.tsv"
ran "a synthetic table encoded" mlr-encode --spec "$T/spec" --output "$T/enc" "$T/s.tsv"
X=$T/enc/item_title.npy # (300, L) <i4
# body FILE: the bytes after the header (the header length is bytes 8-9).
body() { hl=$(od -An -j8 -N2 -t u2 "$1" | tr -d ' '); tail -c +$((11 + hl)) "$1"; }
n=$(mlr-slice --count "$X")
check "--count of an encoded matrix" test "$n" = 300
: >"$T/cat"
for r in 0:1 1:77 77:200 200:299 299:300; do
    mlr-slice --range "$r" "$X" >"$T/part" && body "$T/part" >>"$T/cat"
done
body "$X" >"$T/whole"
same "five shards concatenate to the whole" "$T/cat" "$T/whole"
if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then
    mlr-slice --range 17:250 --output "$T/n.npy" "$X"
    check "numpy reads a slice equal to a[17:250]" /usr/bin/python3 -c "
import numpy as np, sys
a = np.load('$X'); b = np.load('$T/n.npy')
sys.exit(0 if b.dtype == a.dtype and b.shape == a[17:250].shape and (b == a[17:250]).all() else 1)"
else
    skip "numpy cross-check" "/usr/bin/python3 has no numpy"
fi

# ---- refusals: one line, status, earlier outputs untouched ----
cp "$T/want-1-3.npy" "$T/keep.npy"; cp "$T/want-1-3.ids" "$T/keep.ids"
expect_fail "past the end" 1 "has 4 rows: --range 2:5 goes past the end" \
    mlr-slice --range 2:5 --output "$T/keep.npy" "$T/m.npy"
expect_fail "TO before FROM" 2 "TO (1) is before FROM (2)" mlr-slice --range 2:1 "$T/m.npy"
expect_fail "not a range" 2 "expected FROM:TO" mlr-slice --range 7 "$T/m.npy"
expect_fail "a negative row" 2 "is not a row number" mlr-slice --range -1:2 "$T/m.npy"
expect_fail "no --range" 2 "--range FROM:TO is required" mlr-slice "$T/m.npy"
expect_fail "--ids alone" 2 "go together" mlr-slice --range 0:1 --ids "$T/m.ids" "$T/m.npy"
ids 0 1 2 >"$T/short.ids"
expect_fail "ids of another length" 1 "short.ids has 3 rows, the matrix 4" \
    mlr-slice --range 0:2 --ids "$T/short.ids" --ids-output "$T/keep.ids" --output "$T/keep.npy" "$T/m.npy"
# The ids' fingerprint line and every column (the key's item_id) travel.
printf '#mlrec model=%064d\nid\titem_id\nu0\ta\nu1\tb\nu2\tc\nu3\td\n' 0 >"$T/two.ids"
printf '#mlrec model=%064d\nid\titem_id\nu1\tb\nu2\tc\n' 0 >"$T/two.want"
mlr-slice --range 1:3 --ids "$T/two.ids" --ids-output "$T/two.out" --output "$T/two.npy" "$T/m.npy"
same "ids: the fingerprint line and both columns of rows 1..2" "$T/two.out" "$T/two.want"
head -c 150 "$T/m.npy" >"$T/trunc.npy"
expect_fail "a truncated file" 1 "trunc.npy: truncated" mlr-slice --range 0:1 --output "$T/keep.npy" "$T/trunc.npy"
head -c 150 "$T/m.npy" | expect_fail "a truncated pipe" 1 "stdin: truncated" mlr-slice --range 0:4
{ cat "$T/m.npy"; printf 'x'; } >"$T/long.npy"
expect_fail "bytes after the last row" 1 "bytes after the last row" mlr-slice --range 0:1 "$T/long.npy"
printf 'not an npy file at all, just text\n' >"$T/bad.npy"
expect_fail "bad magic" 1 "bad.npy" mlr-slice --range 0:1 --output "$T/keep.npy" "$T/bad.npy"
expect_fail "a missing file" 1 "nope.npy" mlr-slice --count "$T/nope.npy"
same "refusals left the earlier .npy" "$T/keep.npy" "$T/want-1-3.npy"
same "refusals left the earlier .ids" "$T/keep.ids" "$T/want-1-3.ids"
check "no temporary left behind" test -z "$(ls "$T" | grep '\.tmp\.')"
{ npy '<i4' '(1000000,)'; head -c 4000000 /dev/zero; } >"$T/big.npy"
{ mlr-slice --range 0: "$T/big.npy" 2>"$T/pipe-err"; echo $? >"$T/pipe-st"; } | head -c 1 >/dev/null
check "a closed pipe ends quietly: status 0" test "$(cat "$T/pipe-st")" = 0
check "a closed pipe ends quietly: nothing on stderr" test ! -s "$T/pipe-err"
