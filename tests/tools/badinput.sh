#!/bin/sh
# badinput.sh: the cross-cutting bad-input suite. Every tool is fed every
# kind of malformed input it reads (tables, .npy, encoded directories,
# feature specifications, model files, id files, options), all generated
# here from one tiny mlr-synth flow. Each refusal must be ONE line (a
# "hint:" line may follow) naming the file and line or tensor, with status
# 1 (bad data) or 2 (bad usage), no crash and no sanitizer report; every
# output file the tool was pointed at keeps its earlier bytes and no
# *.tmp.* temporary is left. Where a tool documents that it accepts
# something (a header alone, unknown ids -> 0, a 1 MB field, CSV's CRLF),
# that behaviour is asserted instead.
. "$(dirname "$0")/lib.sh"
PY=/usr/bin/python3
TAB=$(printf '\t')
O=$T/out          # every output of a failing run points in here
OUTS="out.tsv out.npy out.ids out.st test.tsv train.tsv spec/features.tsv spec/user_id.vocab enc/rows.tsv enc/user_id.npy"

# Earlier outputs with known content ($A), as a failing run must leave
# them: $O starts as a copy and is compared after every run (diff -r also
# sees a new file there, such as a *.tmp.* temporary), re-made if damaged.
A=$T/armed
mkdir -p "$A/spec" "$A/enc"
for f in $OUTS; do echo "earlier $f" >"$A/$f"; done
arm() { rm -rf "$O" && cp -r "$A" "$O"; }
arm

# bad NAME STATUS PATTERN CMD...: CMD must exit with STATUS, print one line
# "mlr-...: " matching PATTERN (plus at most one "hint:" line) and leave the
# armed outputs untouched. stdin is empty unless the command redirects it.
bad() {
    name=$1 want=$2 pattern=$3
    shift 3
    "$@" >"$T/.out" 2>"$T/.err" </dev/null
    got=$?
    shape=$(awk '/^hint: / { h++; next } { n++ } NR == 1 && /^mlr-[a-z]*: / { ok = 1 }
        END { print (n == 1 && h <= 1 ? (ok ? "ok" : "name") : "lines") }' "$T/.err")
    if diff -r "$A" "$O" >"$T/.diff" 2>&1; then why=""
    else why=$(head -2 "$T/.diff" | tr '\n' ' '); arm; fi
    if [ "$got" -ne "$want" ]; then fail "$name" "status $got, wanted $want ($(head -c 300 "$T/.err" | tr '\n' '|'))"
    elif [ "$shape" = lines ]; then fail "$name" "stderr not one line: $(head -c 300 "$T/.err" | tr '\n' '|')"
    elif [ "$shape" = name ]; then fail "$name" "message lacks the tool name: $(head -1 "$T/.err")"
    elif ! grep -q -- "$pattern" "$T/.err"; then fail "$name" "message '$(head -1 "$T/.err")' lacks '$pattern'"
    elif [ -n "$why" ]; then fail "$name" "outputs changed: $why"
    else pass "$name"; fi
}

# good NAME CMD...: the documented acceptance: status 0, stderr empty
# (outputs re-armed after it).
good() {
    name=$1
    shift
    "$@" >"$T/.out" 2>"$T/.err" </dev/null
    got=$?
    arm
    if [ "$got" -ne 0 ]; then fail "$name" "status $got: $(head -c 300 "$T/.err" | tr '\n' '|')"
    elif [ -s "$T/.err" ]; then fail "$name" "stderr: $(head -c 300 "$T/.err" | tr '\n' '|')"
    else pass "$name"; fi
}

# ---------------------------------------------------------------- fixtures
D=$T/d
mkdir -p "$D" "$T/b"
if ! { trained_run "$D" 20 30 120 test 4 --batch-size 16 &&
       mlr-topk --quiet --queries "$D/q.npy" --items "$D/items.npy" --k 5 --output "$D/topk.tsv" &&
       mlr-predict --model "$D/m.st" --rows "$D/enc" --output "$D/pred.tsv"; } 2>"$T/setup.err"; then
    fail "badinput fixtures" "$(head -c 300 "$T/setup.err")"
    exit 0
fi
# The faults below edit numbered lines of these two: without their
# fingerprint lines (docs/fingerprint.md; a file without one is accepted).
sed -i '/^#mlrec /d' "$D/pred.tsv" "$D/items.ids"

# Tables: header, two good rows, the bad one at line 4, one good row.
B=$T/b
H=$(head -1 "$D/all.tsv")
ROW=$(sed -n 5p "$D/all.tsv")
tbl() { # NAME BAD-LINE (printf format, the row in %s)
    { printf '%s\n' "$H"; sed -n 2,3p "$D/all.tsv"; printf "$2" "$ROW"; sed -n 6p "$D/all.tsv"; } >"$B/$1.tsv"
}
# col N VALUE: the row with field N replaced
col() { printf '%s' "$ROW" | awk -F'\t' -v OFS='\t' -v n="$1" -v v="$2" '{ $n = v; print }'; }
tblv() { ROWSAVE=$ROW; ROW=$(col "$2" "$3"); tbl "$1" '%s\n'; ROW=$ROWSAVE; }
tbl short "$(printf '%s' "$ROW" | cut -f1-5)\n"
tbl long '%s\textra\n'
tbl crlf '%s\r\n'
tbl nul '%s\0x\n'
tbl trunc "$(printf '%s' "$ROW" | cut -c1-9)"
tblv rating-text 3 good
tblv rating-nan 3 nan
tblv rating-inf 3 -inf
tblv rating-huge 3 1e400
tblv ts-text 4 yesterday
tblv ts-huge 4 99999999999999999999
tblv ts-nan 4 NaN
tblv age-text 5 old
tblv age-huge 5 1e400
tblv uid-huge 1 99999999999999999999
# the suite's number grammar (docs/numbers.md): decimal only
tblv rating-hex 3 0x5
tblv rating-hexfloat 3 0x1p2
tblv rating-plus 3 +4
tblv rating-blank 3 ' 4'
tblv rating-dot 3 4.
tblv ts-hex 4 0x5
tblv ts-exp 4 1e9
tblv ts-frac 4 881250949.5
tblv ts-plus 4 +881250949
tblv age-hex 5 0x1e
tblv age-frac 5 30.5
tblv utf8 9 "$(printf 'caf\351 (1999)')"
: >"$B/empty.tsv"
printf '%s\n' "$H" >"$B/header.tsv"
sed '1s/user_id/uid/' "$D/test.tsv" >"$B/no-user.tsv"
sed '1s/item_id/iid/' "$D/test.tsv" >"$B/no-item.tsv"
sed '1s/rating/item_id/' "$D/test.tsv" >"$B/dup.tsv"
sed '1s/$/\r/' "$D/test.tsv" >"$B/crlf-head.tsv"
# a 1 MB title: legal TSV, every table reader must take it
awk -F'\t' -v OFS='\t' 'NR == 3 { s = "x"; while (length(s) < 1048576) s = s s; $9 = s } 1' \
    "$D/test.tsv" >"$B/mb.tsv"

# ------------------------------------------------- every table reader
# common faults: (case, line in the message)
COMMON="short:4 long:4 crlf:4 nul:4 trunc:4 utf8:4 crlf-head:1 dup:1"
for tool in ingest stats split vocab encode baseline-train baseline-test score topk-exclude; do
    case $tool in
    ingest) run() { mlr-ingest --format tsv --output "$O/out.tsv" "$1"; } ;;
    stats) run() { mlr-stats --output "$O/out.tsv" "$1"; } ;;
    split) run() { mlr-split --test-output "$O/test.tsv" --output "$O/train.tsv" "$1"; } ;;
    vocab) run() { mlr-vocab --output "$O/spec" "$1"; } ;;
    # (the test rows' times beyond the training rows' are clipped, with a
    # warning that is not what these cases are about)
    encode) run() { mlr-encode --spec "$D/spec" --output "$O/enc" "$1" 2>"$T/encode.err"; st=$?
                    grep -v "warning: values outside the specification's training range" "$T/encode.err" >&2
                    return $st; } ;;
    baseline-train) run() { mlr-baseline --kind pop --train "$1" --test "$D/test.tsv" --output "$O/out.tsv"; } ;;
    baseline-test) run() { mlr-baseline --kind ease --train "$D/train.tsv" --test "$1" --output "$O/out.tsv"; } ;;
    score) run() { mlr-score --test "$1" --topk "$D/topk.tsv" --output "$O/out.tsv"; } ;;
    topk-exclude) run() { mlr-topk --quiet --queries "$D/q.npy" --query-ids "$D/q.ids" --items "$D/items.npy" \
                              --exclude "$1" --output "$O/out.tsv"; } ;;
    esac
    for c in $COMMON; do
        bad "$tool: ${c%:*} row" 1 "${c%:*}.tsv:${c#*:}: " run "$B/${c%:*}.tsv"
    done
    bad "$tool: empty file" 1 "empty.tsv: empty file" run "$B/empty.tsv"
    bad "$tool: missing file" 1 "nothere.tsv: cannot open" run "$B/nothere.tsv"
    case $tool in ingest|stats|vocab|encode|score|baseline-test)
        bad "$tool: no user_id column" 1 "no-user.tsv: no column.*user_id" run "$B/no-user.tsv" ;; esac
    case $tool in ingest|stats|vocab|score|baseline-train|topk-exclude)
        bad "$tool: no item_id column" 1 "no-item.tsv: no column.*item_id" run "$B/no-item.tsv" ;; esac
    # ids are strings (SPEC.md): a 20-digit id is just an id (score: the
    # lists are of the real test rows, so another test table cannot fit)
    [ $tool = score ] && continue
    good "$tool: 20-digit user id accepted" run "$B/uid-huge.tsv"
    good "$tool: 1 MB field accepted" run "$B/mb.tsv"
done
# numbers, where the tool reads them
for tool in ingest stats vocab encode score; do
    case $tool in
    ingest) run() { mlr-ingest --format tsv --output "$O/out.tsv" "$1"; } ;;
    stats) run() { mlr-stats --output "$O/out.tsv" "$1"; } ;;
    vocab) run() { mlr-vocab --output "$O/spec" "$1"; } ;;
    encode) run() { mlr-encode --spec "$D/spec" --output "$O/enc" "$1"; } ;;
    score) run() { mlr-score --test "$1" --pred "$D/pred.tsv" --output "$O/out.tsv"; } ;;
    esac
    for c in rating-text rating-nan rating-inf rating-huge rating-hex rating-hexfloat rating-plus \
             rating-blank rating-dot; do
        bad "$tool: $c" 1 "$c.tsv:4: column 'rating'" run "$B/$c.tsv"
    done
done
for tool in ingest stats split-time vocab encode; do
    case $tool in
    ingest) run() { mlr-ingest --format tsv --output "$O/out.tsv" "$1"; } ;;
    stats) run() { mlr-stats --output "$O/out.tsv" "$1"; } ;;
    split-time) run() { mlr-split --by time --test-output "$O/test.tsv" --output "$O/train.tsv" "$1"; } ;;
    vocab) run() { mlr-vocab --output "$O/spec" "$1"; } ;;
    encode) run() { mlr-encode --spec "$D/spec" --output "$O/enc" "$1"; } ;;
    esac
    bad "$tool: timestamp not a number" 1 "ts-text.tsv:4: column 'timestamp'" run "$B/ts-text.tsv"
    bad "$tool: timestamp NaN" 1 "ts-nan.tsv:4: column 'timestamp'" run "$B/ts-nan.tsv"
    # a timestamp is a whole number of the int64 range for every tool
    # (docs/numbers.md): vocab and encode too, though the feature is a num
    for c in ts-huge ts-hex ts-exp ts-frac ts-plus; do
        bad "$tool: timestamp $c" 1 "$c.tsv:4: column 'timestamp'.* not an integer" run "$B/$c.tsv"
    done
done
for tool in ingest vocab encode; do
    case $tool in
    ingest) run() { mlr-ingest --format tsv --output "$O/out.tsv" "$1"; } ;;
    vocab) run() { mlr-vocab --output "$O/spec" "$1"; } ;;
    encode) run() { mlr-encode --spec "$D/spec" --output "$O/enc" "$1"; } ;;
    esac
    bad "$tool: user_age not a number" 1 "age-text.tsv:4: column 'user_age'" run "$B/age-text.tsv"
    bad "$tool: user_age 1e400" 1 "age-huge.tsv:4: column 'user_age'" run "$B/age-huge.tsv"
    bad "$tool: user_age hex" 1 "age-hex.tsv:4: column 'user_age'" run "$B/age-hex.tsv"
    bad "$tool: user_age 30.5" 1 "age-frac.tsv:4: column 'user_age'" run "$B/age-frac.tsv"
done
bad "split last-n: no user_id column" 1 "no-user.tsv: no column 'user_id'" \
    mlr-split --by last-n --test-output "$O/test.tsv" --output "$O/train.tsv" "$B/no-user.tsv"
bad "split: bad table on stdin named stdin" 1 "stdin:4: " \
    sh -c 'mlr-split --test-output "$1" --output "$2" < "$3"' - "$O/test.tsv" "$O/train.tsv" "$B/short.tsv"
bad "vocab: header only has no vocabulary" 1 "header.tsv: no rows" mlr-vocab --output "$O/spec" "$B/header.tsv"
bad "ingest csv: unclosed quote" 1 "q.csv:2: unclosed quote" \
    sh -c 'printf "user_id,item_id\n1,\"x\n" >"$1" && mlr-ingest --format csv --output "$2" "$1"' - "$T/q.csv" "$O/out.tsv"

# header only: documented as an empty table
mlr-ingest --format tsv --output "$T/h-ingest.tsv" "$B/header.tsv" 2>"$T/.err"
same "ingest: header only gives the header" "$T/h-ingest.tsv" "$B/header.tsv"
mlr-split --test-output "$T/h-test.tsv" --output "$T/h-train.tsv" "$B/header.tsv" 2>"$T/.err"
check "split: header only gives two header-only files" \
    sh -c 'cmp -s "$1" "$3" && cmp -s "$2" "$3"' - "$T/h-test.tsv" "$T/h-train.tsv" "$B/header.tsv"
good "stats: header only" mlr-stats "$B/header.tsv"
check "stats: header only says 0 ratings" grep -q "^ratings${TAB}0$" "$T/.out"
good "encode: header only" mlr-encode --spec "$D/spec" --output "$T/h-enc" "$B/header.tsv"
check "encode: header only gives 0-row tensors" grep -q "'shape': (0," "$T/h-enc/item_title.npy"
good "ingest csv: CRLF accepted (RFC 4180)" sh -c \
    'printf "user_id,item_id\r\n1,2\r\n" | mlr-ingest --format csv'
check "ingest csv: CRLF stripped" test "$(cat "$T/.out")" = "$(printf 'user_id\titem_id\n1\t2')"
# unknown ids encode as 0 (docs/features.md), never an error
{ printf '%s\n' "$H"; col 1 nobody | awk -F'\t' -v OFS='\t' '{ $2 = "nothing"; print }'; } >"$T/unk.tsv"
good "encode: unknown ids accepted" mlr-encode --spec "$D/spec" --output "$T/unk" "$T/unk.tsv"
check "encode: unknown ids are 0" sh -c 'tail -c 4 "$1" | od -An -tx1 | grep -q "00 00 00 00" &&
    tail -c 4 "$2" | od -An -tx1 | grep -q "00 00 00 00"' - "$T/unk/user_id.npy" "$T/unk/item_id.npy"

# ---------------------------------------------------- ingest's raw formats
K=$(fixture ml100k-tiny)
raw100k() { # NAME FILE LINE-TO-APPEND PATTERN
    rm -rf "$T/k"; cp -r "$K" "$T/k"
    printf "$3" >>"$T/k/$2"
    bad "ingest ml-100k: $1" 1 "$4" mlr-ingest --format ml-100k --output "$O/out.tsv" "$T/k"
}
n=$(($(wc -l <"$K/u.data") + 1))
raw100k "short u.data row" u.data '1\t2\t3\n' "u.data:$n: "
raw100k "rating not a number" u.data '1\t2\tx\t5\n' "u.data:$n: .*'x'"
raw100k "rating 1e400" u.data '1\t2\t1e400\t5\n' "u.data:$n: .*'1e400'"
raw100k "20-digit timestamp" u.data '1\t2\t3\t99999999999999999999\n' "u.data:$n: "
raw100k "user never seen" u.data '999\t2\t3\t5\n' "u.data:$n: user 999 not in u.user"
raw100k "item never seen" u.data '1\t999\t3\t5\n' "u.data:$n: item 999 not in u.item"
raw100k "CRLF" u.data '1\t2\t3\t5\r\n' "u.data:$n: CR before LF"
n=$(($(wc -l <"$K/u.user") + 1))
raw100k "short u.user row" u.user '9|24|M|x\n' "u.user:$n: "
raw100k "age 1e400" u.user '9|1e400|M|x|1\n' "u.user:$n: "
raw100k "user twice" u.user '1|24|M|x|1\n' "u.user:$n: user 1 appears twice"
n=$(($(wc -l <"$K/u.item") + 1))
raw100k "genre flag 2" u.item '9|x|01-Jan-1995||u|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|0|2\n' "u.item:$n: genre flag"
rm -rf "$T/k"; cp -r "$K" "$T/k"; rm "$T/k/u.user"
bad "ingest ml-100k: u.user missing" 1 "u.user: cannot open" mlr-ingest --format ml-100k --output "$O/out.tsv" "$T/k"
L=$(fixture mllatest-tiny)
rawlatest() {
    rm -rf "$T/l"; cp -r "$L" "$T/l"
    printf "$3" >>"$T/l/$2"
    bad "ingest ml-latest: $1" 1 "$4" mlr-ingest --format ml-latest --tags --output "$O/out.tsv" "$T/l"
}
n=$(($(wc -l <"$L/ratings.csv") + 1))
rawlatest "short ratings row" ratings.csv '1,10,4.0\n' "ratings.csv:$n: "
rawlatest "rating nan" ratings.csv '1,10,nan,5\n' "ratings.csv:$n: column 'rating'"
rawlatest "timestamp 1e400" ratings.csv '1,10,4,1e400\n' "ratings.csv:$n: column 'timestamp'"
rawlatest "movie never seen" ratings.csv '1,999,4,5\n' "ratings.csv:$n: item 999"
rawlatest "unclosed quote" ratings.csv '1,"10,4,5\n' "ratings.csv:$n: unclosed quote"
n=$(($(wc -l <"$L/movies.csv") + 1))
rawlatest "movie twice" movies.csv '10,Dup,Drama\n' "movies.csv:$n: item 10 appears twice"
rawlatest "invalid UTF-8 title" movies.csv '30,"caf\351",Drama\n' "movies.csv:$n: invalid UTF-8"
n=$(($(wc -l <"$L/tags.csv") + 1))
rawlatest "invalid UTF-8 tag" tags.csv '1,10,caf\351,3\n' "tags.csv:$n: invalid UTF-8"

# ------------------------------------------------------------------ .npy
N=$T/npy
mkdir -p "$N"
if [ -x "$PY" ]; then
    "$PY" - "$D/q.npy" "$N" <<'EOF'
import struct, sys
src, out = sys.argv[1], sys.argv[2]
raw = open(src, 'rb').read()
hl = struct.unpack('<H', raw[8:10])[0]
body = raw[10 + hl:]
n, d = eval(raw[10:10 + hl].decode())['shape']
def npy(name, shape, descr='<f4', data=None, fortran='False'):
    h = "{'descr': '%s', 'fortran_order': %s, 'shape': %s, }" % (descr, fortran, shape)
    h += ' ' * (63 - (10 + len(h)) % 64) + '\n'
    open(out + '/' + name, 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h.encode()
                                       + (body if data is None else data))
open(out + '/trunc.npy', 'wb').write(raw[:-7])
open(out + '/trunc-header.npy', 'wb').write(raw[:30])
open(out + '/empty.npy', 'wb').write(b'')
open(out + '/magic.npy', 'wb').write(b'\x93NUMPX' + raw[6:])
open(out + '/trailing.npy', 'wb').write(raw + b'\0' * 4)
npy('more-rows.npy', '(%d, %d)' % (n + 5, d))
npy('fewer-rows.npy', '(%d, %d)' % (n - 1, d))
npy('huge-shape.npy', '(99999999999999999999, %d)' % d)
npy('overflow.npy', '(4611686018427387904, 4611686018427387904)')
npy('f8.npy', '(%d, %d)' % (n, d), '<f8', body + body)
npy('i4.npy', '(%d, %d)' % (n, d), '<i4')
npy('big-endian.npy', '(%d, %d)' % (n, d), '>f4')
npy('fortran.npy', '(%d, %d)' % (n, d), fortran='True')
npy('1d.npy', '(%d,)' % (n * d))
npy('3d.npy', '(%d, %d, 1)' % (n, d))
npy('nan.npy', '(%d, %d)' % (n, d), data=body[:8] + struct.pack('<f', float('nan')) + body[12:])
npy('inf.npy', '(%d, %d)' % (n, d), data=body[:8] + struct.pack('<f', float('inf')) + body[12:])
npy('wide.npy', '(%d, %d)' % (n, d + 1), data=body + body[:4 * n])
EOF
    for tool in topk-q topk-i score-q slice; do
        case $tool in
        topk-q) run() { mlr-topk --quiet --queries "$1" --items "$D/items.npy" --output "$O/out.tsv"; } ;;
        topk-i) run() { mlr-topk --quiet --queries "$D/q.npy" --items "$1" --item-ids "$N/ids" --output "$O/out.tsv"; } ;;
        score-q) run() { mlr-score --test "$D/test.tsv" --queries "$1" --items "$D/items.npy" --output "$O/out.tsv"; } ;;
        slice) run() { mlr-slice --range 1:3 --output "$O/out.npy" "$1"; } ;;
        esac
        # the query matrix has n rows: ids of that length for the item side
        cp "$D/q.ids" "$N/ids"
        bad "$tool: truncated .npy" 1 "trunc.npy: truncated" run "$N/trunc.npy"
        bad "$tool: truncated .npy header" 1 "trunc-header.npy: truncated .npy header" run "$N/trunc-header.npy"
        bad "$tool: empty .npy" 1 "empty.npy: empty file" run "$N/empty.npy"
        bad "$tool: bad magic" 1 "magic.npy: not a .npy file" run "$N/magic.npy"
        bad "$tool: shape promises more rows than the data" 1 "more-rows.npy[: ]" run "$N/more-rows.npy"
        bad "$tool: 20-digit shape" 1 "huge-shape.npy: " run "$N/huge-shape.npy"
        bad "$tool: shape overflowing size_t" 1 "overflow.npy: shape .* is too large" run "$N/overflow.npy"
        bad "$tool: dtype <f8" 1 "f8.npy: unsupported dtype '<f8'" run "$N/f8.npy"
        bad "$tool: big-endian" 1 "big-endian.npy: unsupported dtype '>f4'" run "$N/big-endian.npy"
        bad "$tool: Fortran order" 1 "fortran.npy: fortran_order" run "$N/fortran.npy"
        bad "$tool: 3-D" 1 "3d.npy: unsupported shape" run "$N/3d.npy"
        if [ $tool = slice ]; then
            bad "$tool: bytes after the data" 1 "trailing.npy: bytes after the last row" run "$N/trailing.npy"
            good "slice: any dtype (<i4) is copied" run "$N/i4.npy"
            continue
        fi
        bad "$tool: shape promises fewer rows than the data" 1 "fewer-rows.npy[: ]" run "$N/fewer-rows.npy"
        bad "$tool: bytes after the data" 1 "trailing.npy: " run "$N/trailing.npy"
        bad "$tool: dtype <i4 for embeddings" 1 "i4.npy: .*<i4" run "$N/i4.npy"
        bad "$tool: 1-D embeddings" 1 "1d.npy: .*2-D" run "$N/1d.npy"
        bad "$tool: NaN embedding" 1 "nan.npy: row 0: non-finite" run "$N/nan.npy"
        bad "$tool: inf embedding" 1 "inf.npy: row 0: non-finite" run "$N/inf.npy"
    done
    # the items' width (the model's, one more with the popularity prior)
    w=$(npy_shape "$D/items.npy" | cut -d' ' -f2)
    bad "topk: query and item widths differ" 1 "wide.npy has $((w + 1)) columns, .*items.npy $w" \
        mlr-topk --quiet --queries "$N/wide.npy" --items "$D/items.npy" --output "$O/out.tsv"
    bad "score: query and item widths differ" 1 "wide.npy has $((w + 1)) columns, .*items.npy $w" \
        mlr-score --test "$D/test.tsv" --queries "$N/wide.npy" --items "$D/items.npy" --output "$O/out.tsv"
    bad "topk: truncated .npy on stdin" 1 "stdin.*truncated" \
        sh -c 'mlr-topk --quiet --queries - --items "$1" --output "$2" < "$3"' - "$D/items.npy" "$O/out.tsv" "$N/trunc.npy"
else
    skip "npy faults" "no $PY"
fi
bad "topk: queries count differs from --query-ids" 1 "ids-short has" sh -c \
    'sed "\$d" "$1" > "$4/ids-short" && mlr-topk --quiet --queries "$2" --items "$3" --query-ids "$4/ids-short" --output "$5"' \
    - "$D/q.ids" "$D/q.npy" "$D/items.npy" "$T" "$O/out.tsv"
sed '1s/id/ident/' "$D/items.ids" >"$T/ids-head"
bad "topk: id file without 'id' column" 1 "ids-head: no column 'id'" \
    mlr-topk --quiet --queries "$D/q.npy" --items "$D/items.npy" --item-ids "$T/ids-head" --output "$O/out.tsv"
{ head -2 "$D/items.ids"; sed -n 2p "$D/items.ids"; sed 1,3d "$D/items.ids"; } >"$T/ids-dup"
bad "topk: duplicate item id" 1 "ids-dup:3: duplicate id" \
    mlr-topk --quiet --queries "$D/q.npy" --items "$D/items.npy" --item-ids "$T/ids-dup" --output "$O/out.tsv"
sed '3s/$/\r/' "$D/items.ids" >"$T/ids-crlf"
bad "topk: CRLF id file" 1 "ids-crlf:3: CR before LF" \
    mlr-topk --quiet --queries "$D/q.npy" --items "$D/items.npy" --item-ids "$T/ids-crlf" --output "$O/out.tsv"

# ------------------------------------------------------- score's lists
lists() { awk -F'\t' -v OFS='\t' -v c="$2" -v v="$3" 'NR == 4 { $c = v } 1' "$D/topk.tsv" >"$T/$1.tsv"; }
lists rank-text 2 x
lists rank-huge 2 99999999999999999999
lists rank-gap 2 7
lists query-huge 1 99999999999999999999
lists query-neg 1 -1
lists query-exp 1 1e3
for c in rank-text rank-huge rank-gap query-huge query-neg query-exp; do
    bad "score --topk: $c" 1 "$c.tsv:4: " mlr-score --test "$D/test.tsv" --topk "$T/$c.tsv" --output "$O/out.tsv"
done
awk 'NR == 4 { NF = 3 } 1' OFS="$TAB" "$D/topk.tsv" >"$T/list-short.tsv"
bad "score --topk: short row" 1 "list-short.tsv:4: expected 4 fields" \
    mlr-score --test "$D/test.tsv" --topk "$T/list-short.tsv" --output "$O/out.tsv"
pred() { awk -F'\t' -v OFS='\t' -v r="$2" -v c="$3" -v v="$4" 'NR == r { $c = v } 1' "$D/pred.tsv" >"$T/$1.tsv"; }
pred pred-nan 4 3 nan
pred pred-huge 4 3 1e400
pred pred-text 4 3 high
for c in pred-nan pred-huge pred-text; do
    bad "score --pred: $c" 1 "$c.tsv:4: column 'prediction'" \
        mlr-score --test "$D/test.tsv" --pred "$T/$c.tsv" --output "$O/out.tsv"
done
pred pred-unseen 5 1 nobody
bad "score --pred: a test row's user never predicted" 1 "test.tsv:5: no prediction in .*pred-unseen.tsv" \
    mlr-score --test "$D/test.tsv" --pred "$T/pred-unseen.tsv" --output "$O/out.tsv"

# ------------------------------------------ feature specification damage
spec() { rm -rf "$T/sp"; cp -r "$D/spec" "$T/sp"; }
fx() { awk -F'\t' -v OFS='\t' -v f="$1" -v c="$2" -v v="$3" '$1 == f { $c = v } 1' "$D/spec/features.tsv" >"$T/sp/features.tsv"; }
for tool in encode train; do
    case $tool in
    encode) run() { mlr-encode --spec "$T/sp" --output "$O/enc" "$D/test.tsv"; } ;;
    train) run() { mlr-train --rows "$D/trainenc" --spec "$T/sp" --output "$O/out.st" --epochs 1 -q; } ;;
    esac
    spec; rm "$T/sp/features.tsv"
    bad "$tool: spec without features.tsv" 1 "sp/features.tsv: cannot open" run
    spec; rm "$T/sp/user_zip.vocab"
    bad "$tool: spec without a vocabulary" 1 "sp/user_zip.vocab: cannot open" run
    spec; sed -i '4s/^2/7/' "$T/sp/item_id.vocab"
    bad "$tool: vocabulary ids out of order" 1 "item_id.vocab:4: id 7" run
    spec; sed -i '2s/\[UNK\]/UNK/' "$T/sp/item_id.vocab"
    bad "$tool: vocabulary id 0 not [UNK]" 1 "item_id.vocab:2: id 0 must be" run
    spec; sed -i '$d' "$T/sp/item_title.vocab"
    bad "$tool: vocabulary shorter than its size" 1 "item_title.vocab: .*rows" run
    spec; printf '99\tcaf\351\t1\n' >>"$T/sp/user_zip.vocab"
    bad "$tool: invalid UTF-8 token" 1 "user_zip.vocab:[0-9]*: invalid UTF-8" run
    spec; fx user_id 2 num
    bad "$tool: feature of another kind" 1 "features.tsv:2: feature 'user_id' has kind" run
    spec; fx user_id 1 user_idx
    bad "$tool: unknown feature" 1 "features.tsv:2: unknown feature" run
    spec; fx user_age 5 nan
    bad "$tool: NaN mean" 1 "features.tsv:[0-9]*: mean 'nan'" run
    spec; fx user_age 6 1e400
    bad "$tool: std 1e400" 1 "features.tsv:[0-9]*: std '1e400'" run
    spec; fx user_id 4 99999999999999999999
    bad "$tool: 20-digit vocabulary size" 1 "features.tsv:2: size" run
    spec; fx timestamp 9 0
    bad "$tool: zero buckets" 1 "features.tsv:[0-9]*: .*buckets" run
    spec; sed -i 's/$/\r/' "$T/sp/features.tsv"
    bad "$tool: CRLF features.tsv" 1 "features.tsv:1: CR before LF" run
    spec; sed -n 2p "$D/spec/features.tsv" >>"$T/sp/features.tsv"
    bad "$tool: feature listed twice" 1 "features.tsv:[0-9]*: feature 'user_id' is listed twice" run
    spec; : >"$T/sp/features.tsv"
    bad "$tool: empty features.tsv" 1 "features.tsv: empty file" run
done

# ------------------------------------------------- encoded directories
enc() { rm -rf "$T/e/$1"; mkdir -p "$T/e"; cp -r "$D/enc" "$T/e/$1"; }
# npyset DIR FILE ROW VALUE DTYPE: one element of a 1-D or 2-D .npy changed
npyset() {
    "$PY" - "$@" <<'EOF'
import struct, sys
path, row, val, fmt = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
raw = bytearray(open(path, 'rb').read())
hl = struct.unpack('<H', raw[8:10])[0]
shape = eval(raw[10:10 + hl].decode())['shape']
w = shape[1] if len(shape) > 1 else 1
off = 10 + hl + 4 * row * w
raw[off:off + 4] = struct.pack(fmt, float(val) if fmt == '<f' else int(val))
open(path, 'wb').write(raw)
EOF
}
if [ -x "$PY" ]; then
    enc ids-big; npyset "$T/e/ids-big/user_id.npy" 3 9999 '<i'
    enc ids-neg; npyset "$T/e/ids-neg/item_genres.npy" 2 -7 '<i'
    enc bucket; npyset "$T/e/bucket/timestamp_bucket.npy" 0 1000 '<i'
    enc nan-age; npyset "$T/e/nan-age/user_age.npy" 1 nan '<f'
    enc inf-rating; npyset "$T/e/inf-rating/rating.npy" 1 inf '<f'
fi
enc missing; rm "$T/e/missing/user_zip.npy"
enc nosha; rm "$T/e/nosha/spec.sha256"
enc norows; rm "$T/e/norows/rows.tsv"
enc sha; echo 0000000000000000000000000000000000000000000000000000000000000000 >"$T/e/sha/spec.sha256"
enc trunc; f=$T/e/trunc/item_title.npy; head -c $(($(wc -c <"$f") - 3)) "$f" >"$T/x" && mv "$T/x" "$f"
enc nrows; f=$T/e/nrows/user_gender.npy; cp "$D/items/item_id.npy" "$f"
enc dtype; cp "$D/enc/rating.npy" "$T/e/dtype/user_id.npy"
# another specification: a vocabulary that does not match the model
ran "another vocabulary built" mlr-vocab --output "$T/spec-other" "$D/test.tsv"
ran "encoded with another vocabulary" mlr-encode --spec "$T/spec-other" --output "$T/e/other" "$D/test.tsv"
for tool in embed predict train; do
    case $tool in
    embed) run() { mlr-embed --model "$D/m.st" --rows "$1" --output "$O/out.npy"; } ;;
    predict) run() { mlr-predict --model "$D/m.st" --rows "$1" --output "$O/out.tsv"; } ;;
    train) run() { mlr-train --rows "$1" --spec "$D/spec" --output "$O/out.st" --epochs 1 -q \
                       --dim 4 --layers 4 --rating-layers 4; } ;;
    esac
    E=$T/e
    if [ -x "$PY" ]; then
        bad "$tool: id never seen by the model" 1 "ids-big/user_id.npy: row 3: id 9999 outside" run "$E/ids-big"
        bad "$tool: bucket past the last" 1 "bucket/timestamp_bucket.npy: row 0: id 1000 outside" run "$E/bucket"
        bad "$tool: NaN numeric feature" 1 "nan-age/user_age.npy: row 1: not a finite" run "$E/nan-age"
        [ $tool = embed ] ||
            bad "$tool: negative list id" 1 "ids-neg/item_genres.npy: row 2: id -7 outside" run "$E/ids-neg"
    fi
    bad "$tool: feature file missing" 1 "missing/user_zip.npy: cannot open" run "$E/missing"
    bad "$tool: spec.sha256 missing" 1 "nosha/spec.sha256: cannot open" run "$E/nosha"
    bad "$tool: encoded with another spec (checksum)" 1 "sha/spec.sha256: encoded with another" run "$E/sha"
    bad "$tool: encoded with another vocabulary" 1 "other/spec.sha256: encoded with another" run "$E/other"
    bad "$tool: row counts disagree" 1 "nrows/user_gender.npy: " run "$E/nrows"
    bad "$tool: wrong dtype" 1 "dtype/user_id.npy: dtype '<f4', expected '<i4'" run "$E/dtype"
    [ $tool = embed ] ||
        bad "$tool: truncated feature .npy" 1 "trunc/item_title.npy: truncated" run "$E/trunc"
    bad "$tool: not a directory" 1 "nothere" run "$T/nothere"
done
[ -x "$PY" ] && bad "train: non-finite rating label" 1 "inf-rating/rating.npy: row 1: rating is not a finite" \
    mlr-train --rows "$T/e/inf-rating" --spec "$D/spec" --output "$O/out.st" --epochs 1 -q
bad "embed --items: the catalogue lacks items.ids" 1 "enc/items.ids: cannot open" \
    mlr-embed --model "$D/m.st" --catalogue "$D/enc" --output "$O/out.npy"
bad "predict: rows.tsv missing" 1 "norows/rows.tsv: cannot open" \
    mlr-predict --model "$D/m.st" --rows "$T/e/norows" --output "$O/out.tsv"
# ids never seen: encoded as 0, so the model still predicts for them
ran "unknown ids encoded" mlr-encode --spec "$D/spec" --output "$T/unk-enc" "$T/unk.tsv"
good "predict: unknown user and item (id 0)" mlr-predict --model "$D/m.st" --rows "$T/unk-enc"
check "predict: one prediction for the unknown pair" test "$(grep -v '^#mlrec ' "$T/.out" | sed 1d | cut -f1,2)" = "nobody${TAB}nothing"

# --------------------------------------------------------- model files
M=$T/m
mkdir -p "$M"
if [ -x "$PY" ]; then
    "$PY" - "$D/m.st" "$M" <<'EOF'
import copy, json, struct, sys
src, out = sys.argv[1], sys.argv[2]
raw = open(src, 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
h, body = json.loads(raw[8:8 + n]), raw[8 + n:]
def write(name, g, b=body):
    j = json.dumps(g, separators=(',', ':'), sort_keys=True).encode()
    j += b' ' * ((8 - (8 + len(j)) % 8) % 8)
    open(out + '/' + name, 'wb').write(struct.pack('<Q', len(j)) + j + b)
def meta(name, key, val):
    g = copy.deepcopy(h)
    if val is None:
        del g['__metadata__'][key]
    else:
        g['__metadata__'][key] = val
    write(name, g)
open(out + '/trunc.st', 'wb').write(raw[:len(raw) // 2])
open(out + '/short.st', 'wb').write(raw[:5])
open(out + '/empty.st', 'wb').write(b'')
open(out + '/hugeheader.st', 'wb').write(struct.pack('<Q', 1 << 62) + raw[8:])
open(out + '/badjson.st', 'wb').write(raw[:8] + b'x' + raw[9:])
meta('v2.st', 'version', '2')
meta('format.st', 'format', 'pytorch')
meta('config.st', 'config', '{"dim": 4}')
meta('noconfig.st', 'config', None)
meta('nosha.st', 'spec_sha256', None)
last = max((k for k in h if k != '__metadata__'), key=lambda k: h[k]['data_offsets'][1])
g = copy.deepcopy(h); b0 = g[last]['data_offsets'][0]; del g[last]; write('missing.st', g, body[:b0])
open(out + '/missing.name', 'w').write(last)
emb = sorted(k for k in h if k.startswith('query.emb.'))[0]
g = copy.deepcopy(h); s = g[emb]['shape']; g[emb]['shape'] = [s[1], s[0]]; write('shape.st', g)
g = copy.deepcopy(h); g[emb]['dtype'] = 'I32'; write('dtype.st', g)
open(out + '/emb.name', 'w').write(emb)
g = copy.deepcopy(h); g[last]['data_offsets'][1] += 4; write('offsets.st', g)
g = copy.deepcopy(h); g['extra.tensor'] = {'dtype': 'F32', 'shape': [1], 'data_offsets': [len(body), len(body) + 4]}
write('extra.st', g, body + b'\0' * 4)
# weights that are not numbers: NaN, +inf, -inf at some element of a
# tensor (the last element of the last tensor, the 3rd of the embedding)
def poke(name, tensor, index, value):
    b = bytearray(body)
    o = h[tensor]['data_offsets'][0] + 4 * index
    b[o:o + 4] = struct.pack('<f', value)
    write(name, h, bytes(b))
nlast = (h[last]['data_offsets'][1] - h[last]['data_offsets'][0]) // 4
poke('nan.st', last, nlast - 1, float('nan'))
poke('inf.st', emb, 2, float('inf'))
poke('ninf.st', emb, 0, float('-inf'))
open(out + '/nlast', 'w').write(str(nlast - 1))
EOF
    last=$(cat "$M/missing.name") emb=$(cat "$M/emb.name")
    for tool in embed predict train-init; do
        case $tool in
        embed) run() { mlr-embed --model "$1" --rows "$D/enc" --output "$O/out.npy"; } ;;
        predict) run() { mlr-predict --model "$1" --rows "$D/enc" --output "$O/out.tsv"; } ;;
        train-init) run() { mlr-train --rows "$D/trainenc" --spec "$D/spec" --init "$1" --init-spec "$D/spec" \
                                --output "$O/out.st" --epochs 1 -q --dim 4 --layers 4 --rating-layers 4; } ;;
        esac
        bad "$tool: truncated model" 1 "trunc.st: safetensors: " run "$M/trunc.st"
        bad "$tool: 5-byte model" 1 "short.st: safetensors: file too short" run "$M/short.st"
        bad "$tool: empty model" 1 "empty.st: safetensors: file too short" run "$M/empty.st"
        bad "$tool: header length 2^62" 1 "hugeheader.st: safetensors: header length" run "$M/hugeheader.st"
        bad "$tool: header not JSON" 1 "badjson.st: safetensors: header is not valid JSON" run "$M/badjson.st"
        bad "$tool: model of another version" 1 "v2.st: model version '2'" run "$M/v2.st"
        bad "$tool: not an mlrec model" 1 "format.st: not an mlrec model" run "$M/format.st"
        bad "$tool: config unusable" 1 "config.st: metadata 'config'" run "$M/config.st"
        bad "$tool: config missing" 1 "noconfig.st: metadata 'config' missing" run "$M/noconfig.st"
        bad "$tool: spec checksum missing" 1 "nosha.st: metadata spec_sha256" run "$M/nosha.st"
        bad "$tool: a tensor missing" 1 "missing.st: tensor '$last' missing" run "$M/missing.st"
        bad "$tool: a tensor of another shape" 1 "shape.st: tensor '$emb' is not F32 of shape" run "$M/shape.st"
        bad "$tool: a tensor of another dtype" 1 "dtype.st: tensor '$emb' is not F32" run "$M/dtype.st"
        bad "$tool: offsets past the buffer" 1 "offsets.st: safetensors: tensor '$last'" run "$M/offsets.st"
        bad "$tool: an unexpected tensor" 1 "extra.st: unexpected tensor 'extra.tensor'" run "$M/extra.st"
        bad "$tool: a NaN weight" 1 "nan.st: tensor '$last': nan at element $(cat "$M/nlast")" run "$M/nan.st"
        bad "$tool: an infinite weight" 1 "inf.st: tensor '$emb': inf at element 2" run "$M/inf.st"
        bad "$tool: a -inf weight" 1 "ninf.st: tensor '$emb': -inf at element 0" run "$M/ninf.st"
        bad "$tool: a table as the model" 1 "test.tsv: safetensors: " run "$D/test.tsv"
        bad "$tool: no model file" 1 "nothere.st: cannot open" run "$M/nothere.st"
    done
else
    skip "model faults" "no $PY"
fi
# A vocabulary of the same size with two tokens swapped: features.tsv is
# unchanged, but the specification's checksum covers the vocabularies too.
spec
awk -F'\t' -v OFS='\t' 'NR == 3 { a = $2 } NR == 4 { b = $2 } { r[NR] = $0; id[NR] = $1; t[NR] = $2; c[NR] = $3 }
    END { t[3] = b; t[4] = a; print r[1]; for (i = 2; i <= NR; i++) print id[i], t[i], c[i] }' \
    "$D/spec/item_id.vocab" >"$T/sp/item_id.vocab"
check "the swapped vocabulary: same size, other tokens" sh -c \
    'test "$(wc -l <"$1")" -eq "$(wc -l <"$2")" && ! cmp -s "$1" "$2"' - "$D/spec/item_id.vocab" "$T/sp/item_id.vocab"
ran "encoded with swapped tokens" mlr-encode --spec "$T/sp" --output "$T/e/swapped" "$D/test.tsv" &&
    bad "embed: same-size vocabulary with swapped tokens refused" 1 "swapped/spec.sha256: encoded with another" \
        mlr-embed --model "$D/m.st" --rows "$T/e/swapped" --output "$O/out.npy"

# ------------------------------------------------------------ bad usage
# every tool words a bad option and a missing value the same way (mlr_opt_rest)
for t in ingest stats split vocab encode train embed predict topk score baseline slice synth; do
    bad "mlr-$t: unknown option is usage" 2 "mlr-$t: unknown option '--no-such-option'" \
        mlr-$t --no-such-option
    opt=--output
    [ "$t" = split ] && opt=--test
    bad "mlr-$t: an option without its value is named" 2 "mlr-$t: option '$opt' needs a value" \
        mlr-$t "$opt"
done
for t in split vocab encode train embed predict topk score baseline slice; do
    bad "mlr-$t: required option missing is usage" 2 "mlr-$t: " mlr-$t
done
bad "ingest: unknown format" 2 "unknown format" mlr-ingest --format parquet --output "$O/out.tsv" "$D/all.tsv"
bad "split: fraction 1" 2 "test-fraction" mlr-split --test-fraction 1 --test-output "$O/test.tsv" --output "$O/train.tsv" "$D/all.tsv"
bad "split: fraction nan" 2 "test-fraction" mlr-split --test-fraction nan --test-output "$O/test.tsv" --output "$O/train.tsv" "$D/all.tsv"
bad "split: unknown mode" 2 "by" mlr-split --by never --test-output "$O/test.tsv" --output "$O/train.tsv" "$D/all.tsv"
bad "topk: --k 20 digits" 2 "\--k" mlr-topk --queries "$D/q.npy" --items "$D/items.npy" --k 99999999999999999999 --output "$O/out.tsv"
bad "topk: --k 0" 2 "\--k" mlr-topk --queries "$D/q.npy" --items "$D/items.npy" --k 0 --output "$O/out.tsv"
bad "train: --lr nan" 2 "\--lr" mlr-train --rows "$D/trainenc" --spec "$D/spec" --output "$O/out.st" --lr nan
bad "train: --dim 0" 2 "\--dim" mlr-train --rows "$D/trainenc" --spec "$D/spec" --output "$O/out.st" --dim 0
bad "train: --epochs 1e400" 2 "\--epochs" mlr-train --rows "$D/trainenc" --spec "$D/spec" --output "$O/out.st" --epochs 1e400
bad "train: --layers empty item" 2 "\--layers" mlr-train --rows "$D/trainenc" --spec "$D/spec" --output "$O/out.st" --layers 4,,4
# widths take the suite's integer grammar (docs/numbers.md), each item
for v in +4 ' 4' '4 ' 4, ,4 4,+4 '4, 4' 0x4 4.0 4e0 0 65537 99999999999999999999; do
    for opt in --layers --rating-layers; do
        bad "train: $opt '$v'" 2 "$opt: '$v' is not a comma list of widths" \
            mlr-train --rows "$D/trainenc" --spec "$D/spec" --output "$O/out.st" $opt "$v"
    done
done
bad "train: feature not in the spec" 1 "nope" mlr-train --rows "$D/trainenc" --spec "$D/spec" --output "$O/out.st" --query-features user_id,nope
bad "slice: TO before FROM" 2 "\--range" mlr-slice --range 3:1 --output "$O/out.npy" "$D/q.npy"
bad "slice: past the end" 1 "q.npy has" mlr-slice --range 1:9999 --output "$O/out.npy" "$D/q.npy"
bad "synth: 20-digit users" 2 "\--n-users" mlr-synth --n-users 99999999999999999999 --output "$O/out.tsv"
bad "synth: more ratings than fit" 2 "\--n-ratings" mlr-synth --n-users 6 --n-items 5 --n-ratings 14 --output "$O/out.tsv"
bad "score: --at 0" 2 "\--at" mlr-score --test "$D/test.tsv" --topk "$D/topk.tsv" --at 0 --output "$O/out.tsv"
bad "baseline: unknown kind" 2 "kind" mlr-baseline --kind magic --train "$D/train.tsv" --test "$D/test.tsv" --output "$O/out.tsv"
# options take the same grammar as the tables (docs/numbers.md)
for v in 0x10 0x1p4 +16 ' 16' '16 ' 16. inf 1e1; do
    bad "topk: --k '$v'" 2 "\--k: '$v' is not an integer" \
        mlr-topk --queries "$D/q.npy" --items "$D/items.npy" --k "$v" --output "$O/out.tsv"
done
for v in 0x1p-4 0x.1 +0.1 .1 ' 0.1' 1. nan -inf; do
    bad "train: --lr '$v'" 2 "\--lr: '$v' is not a number" \
        mlr-train --rows "$D/trainenc" --spec "$D/spec" --output "$O/out.st" --lr "$v"
    bad "split: --test-fraction '$v'" 2 "\--test-fraction: '$v' is not a number" \
        mlr-split --test-fraction "$v" --test-output "$O/test.tsv" --output "$O/train.tsv" "$D/all.tsv"
done
bad "split: --cut hex" 2 "\--cut: '0x5' is not an integer" \
    mlr-split --by time --cut 0x5 --test-output "$O/test.tsv" --output "$O/train.tsv" "$D/all.tsv"
bad "split: --cut 20 digits" 2 "\--cut: '99999999999999999999' is not an integer" \
    mlr-split --by time --cut 99999999999999999999 --test-output "$O/test.tsv" --output "$O/train.tsv" "$D/all.tsv"
bad "synth: --seed +3" 2 "\--seed" mlr-synth --seed +3 --output "$O/out.tsv"
bad "slice: --range 0x1:2" 2 "\--range" mlr-slice --range 0x1:2 --output "$O/out.npy" "$D/q.npy"
bad "score: --at 0x5" 2 "\--at" mlr-score --test "$D/test.tsv" --topk "$D/topk.tsv" --at 0x5 --output "$O/out.tsv"
good "train: --lr 1E-2 (an exponent)" mlr-train --rows "$D/trainenc" --spec "$D/spec" --output "$T/lr.st" \
    --dim 4 --layers 4 --rating-layers 4 --epochs 1 --batch-size 16 -q --lr 1E-2
# a column mapped twice: which one wins would be a guess (it also leaked)
bad "ingest: --map of one column twice" 2 "\--map: 'user_id' is mapped twice" \
    mlr-ingest --format tsv --map user_id=user_id --map user_id=user_id --output "$O/out.tsv" "$D/all.tsv"
bad "ingest: --map of one column twice in one list" 2 "\--map: 'item_id' is mapped twice" \
    mlr-ingest --format tsv --map item_id=a,item_id=b --output "$O/out.tsv" "$D/all.tsv"
# timestamps at the ends of int64: the summary's span is a finite number,
# the month table (one row per month) is refused past 10,000 years
for v in 9223372036854775807 -9223372036854775808; do
    printf 'user_id\titem_id\ttimestamp\nu\ti\t%s\nu\tj\t0\n' "$v" >"$B/ts-end.tsv"
    bad "stats: --table time from 0 to $v" 1 "\--table time: the timestamps span [0-9]* months" \
        timeout 60 mlr-stats --table time --output "$O/out.tsv" "$B/ts-end.tsv" # it wrote forever
    mlr-stats "$B/ts-end.tsv" >"$T/ts-end.out" 2>"$T/.err"
    check "stats: summary from 0 to $v" grep -q "^time_span_days${TAB}106751991167300.6$" "$T/ts-end.out"
done
printf 'user_id\titem_id\ttimestamp\nu\ti\t-62135596800\nu\tj\t253402300799\n' >"$B/ts-years.tsv"
timeout 60 mlr-stats --table time "$B/ts-years.tsv" >"$T/ts-years.out" 2>"$T/.err"
check "stats: --table time from year 1 to 9999 (119988 months)" \
    test "$(sed -n '2p;$p' "$T/ts-years.out" | tr '\n' ' ')" = "0001-01${TAB}1 9999-12${TAB}1 "
# training that diverges keeps no NaN model: status 1, the earlier output
# as it was (bad's check), for a learning rate far too large
for lr in 1e30 1e38; do
    bad "train: diverging at --lr $lr" 1 "out.st: tensor '.*': -\{0,1\}\(nan\|inf\) at element [0-9]*: not saved" \
        mlr-train --rows "$D/trainenc" --spec "$D/spec" --output "$O/out.st" --epochs 2 -q --dim 4 \
            --layers 4 --rating-layers 4 --batch-size 16 --lr $lr
done

# Outputs that cannot be files (issue 16): a directory, a missing folder,
# a dangling link into one, an empty name. One line, status 1 or 2,
# nothing in $O changed (a directory is refused, never renamed over).
mkdir -p "$O/adir"; mkdir -p "$A/adir"
ln -s "$T/nosuch/x" "$T/dangling"
for out in "$O/adir" "$T/nosuch/out" "$T/dangling"; do
    case $out in */adir) why="Is a directory" ;; *) why="No such file or directory" ;; esac
    bad "stats --output ${out##*/}" 1 "$why" mlr-stats --output "$out" "$D/all.tsv"
    bad "synth --output ${out##*/}" 1 "$why" mlr-synth --n-users 5 --n-items 5 --n-ratings 10 --output "$out"
    bad "split --test-output ${out##*/}" 1 "$why" mlr-split --test-output "$out" --output "$O/train.tsv" "$D/all.tsv"
    bad "split --output ${out##*/}" 1 "$why" mlr-split --test-output "$O/test.tsv" --output "$out" "$D/all.tsv"
    bad "topk --output ${out##*/}" 1 "$why" mlr-topk --quiet --queries "$D/q.npy" --items "$D/items.npy" --output "$out"
    bad "predict --output ${out##*/}" 1 "$why" mlr-predict --model "$D/m.st" --rows "$D/enc" --output "$out"
    bad "embed --output ${out##*/}" 1 "$why" mlr-embed --model "$D/m.st" --rows "$D/enc" --output "$out"
    bad "slice --ids-output ${out##*/}" 1 "$why" mlr-slice --range 0:2 --ids "$D/q.ids" --ids-output "$out" \
        --output "$O/out.npy" "$D/q.npy"
    bad "train --log ${out##*/}" 1 "$why" mlr-train --rows "$D/trainenc" --spec "$D/spec" --output "$O/out.st" \
        --log "$out" --dim 4 --layers 4 --rating-layers 4 --epochs 1 -q
    bad "baseline --output ${out##*/}" 1 "$why" mlr-baseline --kind pop --train "$D/train.tsv" --test "$D/test.tsv" --output "$out"
done
bad "stats --output ''" 1 "empty output file name" mlr-stats --output "" "$D/all.tsv"
bad "embed --output ''" 1 "empty output file name" mlr-embed --model "$D/m.st" --rows "$D/enc" --output ""

# temporaries anywhere (the accepted runs wrote outside $O)
tmp=$(find "$T" -name '*.tmp.*' | head -3)
if [ -z "$tmp" ]; then pass "no *.tmp.* temporaries left anywhere"
else fail "no temporaries" "left: $tmp"; fi
