#!/bin/sh
# mlr-encode: golden encodings of tests/tools/data/encode-in.tsv (unknown
# users, items, genres, words, occupations; empty values; a 20-word title;
# no user_zip column) with the SPECDIR tests/tools/data/vocab-out, and the
# item catalogue of encode-in.tsv + vocab-in.tsv. The expected dumps
# (encode-rows.txt, encode-items.txt: "FILE DTYPE SHAPE : values") were
# checked by hand against the vocabularies. Values are read with numpy
# where /usr/bin/python3 has it, else the <i4 files with od.
. "$(dirname "$0")/lib.sh"
D=$MLR_ROOT/tests/tools/data
SPEC=$D/vocab-out
IN=$D/encode-in.tsv

if /usr/bin/python3 -c 'import numpy' 2>/dev/null; then HAVE_NUMPY=1; else HAVE_NUMPY=0; fi

# dump DIR: one line per DIR/*.npy, sorted by name.
dump() {
    if [ "$HAVE_NUMPY" = 1 ]; then
        /usr/bin/python3 - "$1" <<'PY'
import os, sys
import numpy as np
d = sys.argv[1]
for f in sorted(os.listdir(d)):
    if f.endswith('.npy'):
        a = np.load(os.path.join(d, f))
        fmt = (lambda v: '%.9g' % v) if a.dtype.kind == 'f' else str
        print(f, a.dtype.str, 'x'.join(map(str, a.shape)),
              ':' + ''.join(' ' + fmt(v) for v in a.ravel()))
PY
    else # od: the <i4 files only
        for f in "$1"/*.npy; do
            hl=$(od -An -j8 -N2 -t u2 "$f" | tr -d ' ')
            off=$((10 + hl))
            dict=$(head -c "$off" "$f" | tail -c +11)
            descr=$(printf '%s' "$dict" | sed -n "s/.*'descr': '\([^']*\)'.*/\1/p")
            shape=$(printf '%s' "$dict" | sed -n "s/.*'shape': (\([^)]*\)).*/\1/p" |
                tr -d ' ' | sed 's/,$//; s/,/x/')
            [ "$descr" = "<i4" ] || continue
            vals=$(od -An -v -t d4 -j "$off" "$f" | awk '{ for (i = 1; i <= NF; i++) printf " %s", $i }')
            echo "${f##*/} $descr $shape :$vals"
        done
    fi
}

# same_dump NAME DIR EXPECTED
same_dump() {
    dump "$2" >"$T/dump"
    if [ "$HAVE_NUMPY" = 1 ]; then cp "$3" "$T/want"; else grep ' <i4 ' "$3" >"$T/want"; fi
    same "$1" "$T/dump" "$T/want"
}

# listing DIR: the file names on one line.
listing() { ls "$1" | tr '\n' ' '; }

# ---- rows ----
check "rows: status 0" mlr-encode --spec "$SPEC" --output "$T/enc" <"$IN"
# Timestamps 2000 and 50 and age 99 lie outside the spec's [100, 1100] and
# [7, 60]: encoded as the range's ends, said once for the run.
mlr-encode --spec "$SPEC" --output "$T/encw" <"$IN" 2>"$T/err"
printf '%s\n' "mlr-encode: warning: values outside the specification's training range clipped to it: timestamp: 1 below 100, 1 above 1100; user_age: 0 below 7, 1 above 60" >"$T/want"
same "rows: one warning line names what was clipped" "$T/err" "$T/want"
mlr-encode --spec "$SPEC" --output "$T/encq" "$D/vocab-in.tsv" 2>"$T/err"
check "rows: no warning when nothing is clipped" test ! -s "$T/err"
same_dump "rows: golden values (unknown -> 0, padding -1, 16-token cap)" "$T/enc" "$D/encode-rows.txt"
check "rows: no user_zip.npy without the column" test ! -e "$T/enc/user_zip.npy"
check "rows: exactly the expected files" test "$(listing "$T/enc")" = "item_genres.npy item_id.npy \
item_title.npy rating.npy rows.tsv spec.sha256 timestamp.npy timestamp_bucket.npy user_age.npy \
user_age_bucket.npy user_gender.npy user_id.npy user_occupation.npy user_occupation_text.npy "
printf 'user_id\titem_id\nu1\ti2\nu9\ti9\nu2\ti10\nu5\ti1\n' >"$T/want"
same "rows: rows.tsv" "$T/enc/rows.tsv" "$T/want"
# The checksum covers features.tsv, then each vocabulary in its order.
(cd "$SPEC" && cat features.tsv $(awk -F'\t' 'NR > 1 && ($2 == "cat" || $2 == "multi" || $2 == "words") { print $1 ".vocab" }' features.tsv)) |
    sha256sum | cut -c1-64 >"$T/want"
same "rows: spec.sha256" "$T/enc/spec.sha256" "$T/want"

if [ "$HAVE_NUMPY" = 1 ]; then
    # The normalised values from features.tsv, computed apart: each value
    # clipped to the recorded [min, max] first.
    check "rows: normalised values match features.tsv" /usr/bin/python3 - "$SPEC" "$IN" "$T/enc" <<'PY'
import csv, sys
import numpy as np
spec, table, enc = sys.argv[1:]
stats = {r['feature']: r for r in csv.DictReader(open(spec + '/features.tsv'), delimiter='\t')}
rows = list(csv.DictReader(open(table, encoding='utf-8'), delimiter='\t'))
for f in ('timestamp', 'user_age'):
    mean, std = float(stats[f]['mean']), float(stats[f]['std'])
    lo, hi = float(stats[f]['min']), float(stats[f]['max'])
    want = np.array([(min(max(float(r[f]), lo), hi) - mean) / std for r in rows], dtype=np.float32)
    assert (np.load(enc + '/' + f + '.npy') == want).all(), f
assert (np.load(enc + '/rating.npy') == np.array([5, 1, 3.5, 2], np.float32)).all()
PY
else
    skip "rows: normalised values" "no numpy under /usr/bin/python3"
fi

check "rows: --max-tokens 2" mlr-encode --spec "$SPEC" --output "$T/enc2" --max-tokens 2 "$IN"
dump "$T/enc2" | grep '^item_title' >"$T/got"
echo "item_title.npy <i4 4x2 : 4 0 0 0 9 7 11 10" >"$T/want"
same "rows: --max-tokens 2 caps the title" "$T/got" "$T/want"

# A later encoding without a column removes the earlier file of it.
check "rows: full table" mlr-encode --spec "$SPEC" --output "$T/enc3" "$D/vocab-in.tsv"
check "rows: full table has user_zip" test -s "$T/enc3/user_zip.npy"
check "rows: re-encode without user_zip" mlr-encode --spec "$SPEC" --output "$T/enc3" "$IN"
check "rows: the stale user_zip.npy is gone" test ! -e "$T/enc3/user_zip.npy"
same_dump "rows: re-encoded values" "$T/enc3" "$D/encode-rows.txt"

# A header alone: zero rows, lists one padding column wide.
head -n 1 "$IN" >"$T/header.tsv"
check "rows: header only" mlr-encode --spec "$SPEC" --output "$T/enc0" "$T/header.tsv"
dump "$T/enc0" | grep -E '^(item_id|item_title)' >"$T/got"
printf 'item_id.npy <i4 0 :\nitem_title.npy <i4 0x1 :\n' >"$T/want"
same "rows: header only shapes" "$T/got" "$T/want"

# ---- the catalogue ----
check "items: status 0" mlr-encode --as-catalogue --spec "$SPEC" --output "$T/items" "$IN" "$D/vocab-in.tsv"
same_dump "items: golden values (first row of each item, bytewise order)" "$T/items" "$D/encode-items.txt"
printf 'id\ni1\ni10\ni2\ni3\ni4\ni9\n' >"$T/want"
same "items: items.ids sorted bytewise" "$T/items/items.ids" "$T/want"
check "items: item features only" test "$(listing "$T/items")" = \
    "item_genres.npy item_id.npy item_title.npy items.ids spec.sha256 "
cut -f1 "$IN" | mlr-encode --as-catalogue -s "$SPEC" -o "$T/items1" >/dev/null 2>&1
check "items: an item_id column alone" test "$(listing "$T/items1")" = "item_id.npy items.ids spec.sha256 "

# ---- errors: one line, the status, ENCDIR untouched ----
cp -r "$T/enc" "$T/keep"
expect_fail "missing --spec" 2 "spec" mlr-encode --output "$T/keep" <"$IN"
expect_fail "missing --output" 2 "output" mlr-encode --spec "$SPEC" <"$IN"
expect_fail "bad --max-tokens" 2 "max-tokens" mlr-encode --spec "$SPEC" --output "$T/keep" --max-tokens 0 <"$IN"
expect_fail "unknown option" 2 "frobnicate" mlr-encode --spec "$SPEC" --output "$T/keep" --frobnicate <"$IN"
expect_fail "SPECDIR missing" 1 "nospec" mlr-encode --spec "$T/nospec" --output "$T/keep" <"$IN"
cp -r "$SPEC" "$T/badspec"
sed -i '3s/\t5\t/\t6\t/' "$T/badspec/features.tsv"
expect_fail "SPECDIR with a wrong size" 1 "item_id.vocab: 5 rows, but features.tsv:3 says size 6" \
    mlr-encode --spec "$T/badspec" --output "$T/keep" <"$IN"
cut -f1,3- "$IN" >"$T/nouser.tsv"
expect_fail "missing user_id column" 1 "nouser.tsv: no column 'user_id'" \
    mlr-encode --spec "$SPEC" --output "$T/keep" "$T/nouser.tsv"
cut -f2- "$IN" >"$T/noitem.tsv"
expect_fail "items: missing item_id column" 1 "stdin: no column 'item_id'" \
    mlr-encode --as-catalogue --spec "$SPEC" --output "$T/keep" <"$T/noitem.tsv"
sed '4s/\t300\t/\t3OO\t/' "$IN" >"$T/badts.tsv"
expect_fail "non-numeric timestamp" 1 "badts.tsv:4:.*timestamp" \
    mlr-encode --spec "$SPEC" --output "$T/keep" "$T/badts.tsv"
sed '2s/\t5\t/\t\t/' "$IN" >"$T/norating.tsv"
expect_fail "missing rating" 1 "stdin:2:.*rating" mlr-encode --spec "$SPEC" --output "$T/keep" <"$T/norating.tsv"
sed 's/$/\r/' "$IN" >"$T/crlf.tsv"
expect_fail "CRLF input" 1 "stdin:1:" mlr-encode --spec "$SPEC" --output "$T/keep" <"$T/crlf.tsv"
expect_fail "empty input" 1 "stdin" mlr-encode --spec "$SPEC" --output "$T/keep" </dev/null
expect_fail "second input lacks a column" 1 "nouser.tsv: no column 'user_id'" \
    mlr-encode --spec "$SPEC" --output "$T/keep" "$IN" "$T/nouser.tsv"
check "failures left ENCDIR as it was" diff -r "$T/keep" "$T/enc"
expect_fail "failure into a new directory" 1 "badts.tsv:4:" \
    mlr-encode --spec "$SPEC" --output "$T/new" "$T/badts.tsv"
check "failure removed the directory it made" test ! -e "$T/new"

# A write that fails on the largest file (a file size limit: writes past
# it fail with EFBIG, as on a full disk) after the smaller ones are done:
# the directory is built beside ENCDIR and swapped in only when complete,
# so ENCDIR keeps every earlier file and nothing is left beside it.
mkdir "$T/w" && cp -r "$T/enc" "$T/w/enc"
{ head -n 1 "$IN"; for i in $(seq 75); do tail -n +2 "$IN"; done; } >"$T/big.tsv" # title (300, 16) <i4: 19 KB
(trap '' XFSZ; ulimit -f 16 && exec mlr-encode --spec "$SPEC" --output "$T/w/enc" "$T/big.tsv") 2>"$T/err"
st=$?
check "largest file fails: status 1" test "$st" = 1
check "largest file fails: one line naming it" grep -q "^mlr-encode: $T/w/enc/item_title.npy: write error" "$T/err"
check "largest file fails: ENCDIR whole, as it was" diff -r "$T/w/enc" "$T/enc"
check "largest file fails: nothing left beside it" test "$(ls "$T/w")" = "enc"
check "the same without the limit: status 0" mlr-encode --spec "$SPEC" --output "$T/w/enc" "$T/big.tsv"
check "  and every file replaced" test "$(wc -c <"$T/w/enc/item_title.npy")" -gt 19000
check "  and nothing left beside it" test "$(ls "$T/w")" = "enc"
# An encoded directory is replaced whole: a directory holding anything
# else is refused, untouched.
mkdir "$T/mixed" && echo notes >"$T/mixed/notes.txt"
expect_fail "a directory with other files" 1 "mixed: holds 'notes.txt'" \
    mlr-encode --spec "$SPEC" --output "$T/mixed" "$IN"
check "  left as it was" test "$(ls "$T/mixed")" = "notes.txt"
ln -s "$T/w/enc" "$T/link"
check "through a symlink: status 0" mlr-encode --spec "$SPEC" --output "$T/link" "$IN"
check "  the link stays, its directory re-encoded" sh -c "test -L '$T/link' && diff -r '$T/w/enc' '$T/enc'"
check "--help on stdout, status 0" sh -c 'mlr-encode --help | grep -q "^usage: mlr-encode"'

# ---- MovieLens 100K ----
if have_data ml-100k/u.data && [ -x "$MLR_BIN/mlr-ingest" ] && [ "$HAVE_NUMPY" = 1 ]; then
    mlr-ingest --format ml-100k "$MLR_DATA_DIR/ml-100k" >"$T/ml.tsv" 2>/dev/null &&
        mlr-vocab --output "$T/mlspec" "$T/ml.tsv" &&
        mlr-encode --spec "$T/mlspec" --output "$T/mlenc" "$T/ml.tsv" &&
        mlr-encode --as-catalogue --spec "$T/mlspec" --output "$T/mlitems" "$T/ml.tsv"
    check "ml-100k: encodes" test -s "$T/mlitems/items.ids"
    check "ml-100k: shapes, no unknown id, buckets in range" /usr/bin/python3 - "$T/mlenc" "$T/mlitems" <<'PY'
import sys
import numpy as np
enc, items = sys.argv[1:]
L = lambda d, f: np.load(d + '/' + f + '.npy')
for f in ('user_id', 'item_id', 'user_occupation', 'user_gender', 'user_zip'):
    a = L(enc, f)
    assert a.shape == (100000,) and a.min() >= 1, f
assert L(enc, 'item_genres').shape[0] == 100000 and L(enc, 'item_genres')[:, 0].min() >= 1
assert 0 <= L(enc, 'user_age_bucket').min() and L(enc, 'user_age_bucket').max() == 9
assert L(enc, 'timestamp_bucket').max() == 999
assert abs(L(enc, 'timestamp').mean()) < 1e-3 and abs(L(enc, 'timestamp').std() - 1) < 1e-3
assert L(items, 'item_id').shape == (1682,) and L(items, 'item_id').min() >= 1
PY
else
    skip "ml-100k encoding" "MLR_DATA_DIR unset, mlr-ingest not built or no numpy"
fi
