#!/bin/sh
# hostile.sh: hostile sizes and endless inputs (issue 16). Each case either
# works or is refused in one line, within a time limit far above its
# linear cost (a quadratic or endless run hits it), and, except under the
# sanitizers (whose shadow memory is not the tool's), below a peak
# resident size measured by /usr/bin/time.
. "$(dirname "$0")/lib.sh"
TAB=$(printf '\t')
SAN=${MLR_SANITIZED:-0}
LIMIT=${MLR_HOSTILE_LIMIT:-60} # seconds: the linear runs below take 0.01-3 s on an idle machine
[ "$SAN" = 1 ] && LIMIT=${MLR_HOSTILE_LIMIT:-300} # libcsv under ASan: ~1 min for the 16 MiB row

# bounded NAME MAX-MB STATUS PATTERN CMD...: CMD ends with STATUS within
# LIMIT seconds, its stderr is empty (STATUS 0) or one "mlr-" line matching
# PATTERN, and its peak resident size stays under MAX-MB.
bounded() {
    name=$1 maxmb=$2 want=$3 pattern=$4
    shift 4
    timeout $LIMIT /usr/bin/time -f '%M' -o "$T/.mem" "$@" >"$T/.out" 2>"$T/.err" </dev/null
    got=$?
    kb=$(tail -1 "$T/.mem" 2>/dev/null)
    case $kb in ''|*[!0-9]*) kb=0 ;; esac
    lines=$(wc -l <"$T/.err")
    if [ "$got" -eq 124 ]; then fail "$name" "still running after $LIMIT s"
    elif [ "$got" -ne "$want" ]; then fail "$name" "status $got, wanted $want ($(head -c 200 "$T/.err"))"
    elif [ "$want" -eq 0 ] && [ "$lines" -ne 0 ]; then fail "$name" "stderr: $(head -c 200 "$T/.err")"
    elif [ "$want" -ne 0 ] && { [ "$lines" -ne 1 ] || ! grep -q "^mlr-[a-z]*: .*$pattern" "$T/.err"; }; then
        fail "$name" "message '$(head -c 300 "$T/.err" | tr '\n' '|')' lacks '$pattern'"
    elif [ "$SAN" != 1 ] && [ "$kb" -gt $((maxmb * 1024)) ]; then
        fail "$name" "peak resident size $((kb / 1024)) MB, bound $maxmb MB"
    else pass "$name"; fi
}

# ---------------------------------------------------------------- fixtures
D=$T/d
mkdir -p "$D"
if ! { trained_run "$D" 20 30 120 test 4 --batch-size 16; } 2>"$T/setup.err"; then
    fail "hostile fixtures" "$(head -c 300 "$T/setup.err")"
    exit 0
fi

# Every table reader, given FILE: sh "$RUN" NAME FILE (a script, so that
# /usr/bin/time can run it; exec makes it the tool it measures)
RUN=$T/run.sh
cat >"$RUN" <<'EOF_RUN'
case $1 in
ingest) exec mlr-ingest --format tsv --output "$T/o.tsv" "$2" ;;
ingest-csv) exec mlr-ingest --format csv --map user_id=a,item_id=b --output "$T/o.tsv" "$2" ;;
stats) exec mlr-stats --output "$T/o.tsv" "$2" ;;
split) exec mlr-split --test-output "$T/te.tsv" --output "$T/tr.tsv" "$2" ;;
vocab) exec mlr-vocab --output "$T/spec" "$2" ;;
encode) exec mlr-encode --spec "$D/spec" --output "$T/enc" "$2" ;;
baseline) exec mlr-baseline --kind pop --train "$2" --test "$D/test.tsv" --output "$T/o.tsv" ;;
score) exec mlr-score --test "$2" --topk "$D/all.tsv" --output "$T/o.tsv" ;;
topk-exclude) exec mlr-topk --quiet --queries "$D/q.npy" --query-ids "$D/q.ids" --items "$D/items.npy" \
                  --exclude "$2" --output "$T/o.tsv" ;;
esac
EOF_RUN
export D T
run() { sh "$RUN" "$@"; }
READERS="ingest stats split vocab encode baseline score topk-exclude"

# ---- 10^6 columns: a header of a million names was quadratic (the
# duplicate check); it is linear, so each reader goes on to its own verdict
awk 'BEGIN { OFS = "\t"; printf "user_id\titem_id\trating\ttimestamp"
    for (i = 0; i < 1000000; i++) printf "\tc%d", i; printf "\n1\t2\t3\t4"
    for (i = 0; i < 1000000; i++) printf "\tx"; printf "\n" }' >"$T/wide.tsv"
for t in ingest stats split vocab baseline topk-exclude; do
    bounded "$t: a header of 10^6 columns in linear time" 400 0 "" sh "$RUN" $t "$T/wide.tsv"
done
# the same with every name the same: refused at the second one
awk 'BEGIN { for (i = 0; i < 1000000; i++) printf "c\t"; printf "c\n" }' >"$T/wide-dup.tsv"
for t in $READERS; do
    bounded "$t: 10^6 duplicate column names refused" 400 1 "wide-dup.tsv:1: duplicate column 'c'" \
        sh "$RUN" $t "$T/wide-dup.tsv"
done
# a row of 10^6 fields under a 4-column header
{ echo "user_id${TAB}item_id${TAB}rating${TAB}timestamp"
  awk 'BEGIN { printf "1"; for (i = 0; i < 1000000; i++) printf "\tx"; printf "\n" }'; } >"$T/wide-row.tsv"
for t in $READERS; do
    bounded "$t: a row of 10^6 fields refused" 200 1 "wide-row.tsv:2: expected 4 fields, found 1000001" \
        sh "$RUN" $t "$T/wide-row.tsv"
done

# ---- endless inputs: /dev/zero (NUL bytes, no line end) and a 100 MB
# line are refused at once, in bounded memory
for t in $READERS ingest-csv; do
    bounded "$t: /dev/zero refused" 100 1 "/dev/zero:1: NUL byte in line" sh "$RUN" $t /dev/zero
done
for t in stats vocab ingest-csv; do
    case $t in
    stats) set -- mlr-stats --output "$T/o.tsv" ;;
    vocab) set -- mlr-vocab --output "$T/spec" ;;
    ingest-csv) set -- mlr-ingest --format csv --map user_id=a,item_id=b --output "$T/o.tsv" ;;
    esac
    bounded "$t: a 100 MB line refused" 100 1 "stdin:1: line longer than 16777216 bytes" \
        sh -c 'head -c 100000000 /dev/zero | tr "\0" a | "$@" -' - "$@"
done
# a CSV quote that never closes: the row, over all its lines, is bounded
# (20 lines of 1 MB: few lines, so that it is quick under the sanitizers)
bounded "ingest csv: an unclosed quote over 20 MB of lines refused" 100 1 \
    "stdin:2: row longer than 16777216 bytes" \
    sh -c '{ printf "a,b\n\""; head -c 20000000 /dev/zero | tr "\0" a | fold -w 1000000; } |
        mlr-ingest --format csv --map user_id=a,item_id=b -'
# a 1 MB line is a line (badinput.sh asserts the 1 MB field); 16 MiB - 1 too
awk 'BEGIN { printf "user_id\titem_id\n1\t"; for (i = 0; i < 16777200; i += 100) printf "%0100d", 0; printf "\n" }' \
    >"$T/long-ok.tsv"
bounded "stats: a line just under the bound is read" 200 0 "" sh "$RUN" stats "$T/long-ok.tsv"

# ---- models from endless or random files: refused on the first 8 bytes
for src in /dev/urandom /dev/zero; do
    bounded "embed: $src as a model refused" 100 1 "$src: safetensors" \
        mlr-embed --model $src --rows "$D/enc" --output "$T/o.npy"
    bounded "predict: $src as a model refused" 100 1 "$src: safetensors" \
        mlr-predict --model $src --rows "$D/enc" --output "$T/o.tsv"
    bounded "train: $src as --init refused" 100 1 "$src: safetensors" \
        mlr-train --rows "$D/trainenc" --spec "$D/spec" --init $src --output "$T/o.st" -q
done
# a real model followed by endless bytes: read up to what the header claims
bounded "embed: a model followed by endless bytes refused" 100 1 "m.st\\|stdin\\|/dev/fd" \
    sh -c 'cat "$1" /dev/zero | mlr-embed --model /dev/stdin --rows "$2" --output "$3"' - \
    "$D/m.st" "$D/enc" "$T/o.npy"
# the same model from a pipe is a model
bounded "embed: a model from a pipe is read" 100 0 "" \
    sh -c 'cat "$1" | mlr-embed --model /dev/stdin --rows "$2" --output "$3"' - \
    "$D/m.st" "$D/enc" "$T/o.npy"

# ---- .npy files that claim 10^12 rows: refused before allocating them
# (as wide as the model's items: one more column with the popularity prior)
/usr/bin/python3 - "$T/huge.npy" "$T/huge-i4.npy" "$(npy_shape "$D/items.npy" | cut -d' ' -f2)" <<'PY'
import struct, sys
for path, descr, cols in ((sys.argv[1], '<f4', int(sys.argv[3])), (sys.argv[2], '<i4', None)):
    shape = '(1000000000000, %d)' % cols if cols else '(1000000000000,)'
    d = "{'descr': '%s', 'fortran_order': False, 'shape': %s, }" % (descr, shape)
    h = d + ' ' * (128 - 10 - len(d) - 1) + '\n'
    open(path, 'wb').write(b'\x93NUMPY\x01\x00' + struct.pack('<H', len(h)) + h.encode() + b'\0' * 64)
PY
bounded "topk: queries claiming 10^12 rows" 100 1 "huge.npy: truncated" \
    mlr-topk --queries "$T/huge.npy" --items "$D/items.npy" --k 5 --output "$T/o.tsv"
bounded "topk: items claiming 10^12 rows" 100 1 "huge.npy: truncated" \
    mlr-topk --queries "$D/q.npy" --items "$T/huge.npy" --k 5 --output "$T/o.tsv"
bounded "slice: 10^12 rows" 100 1 "huge.npy: truncated" mlr-slice --range 0:2 --output "$T/o.npy" "$T/huge.npy"
cp -r "$D/enc" "$T/enc-huge" && cp "$T/huge-i4.npy" "$T/enc-huge/user_id.npy"
bounded "embed: an encoded tensor claiming 10^12 rows" 100 1 "user_id.npy" \
    mlr-embed --model "$D/m.st" --rows "$T/enc-huge" --output "$T/o.npy"
bounded "predict: an encoded tensor claiming 10^12 rows" 100 1 "user_id.npy" \
    mlr-predict --model "$D/m.st" --rows "$T/enc-huge" --output "$T/o.tsv"

# ---- sizes in options: refused in one line before any allocation
for k in 1e12 1000000000000 99999999999999999999; do
    bounded "topk: --k $k refused" 50 2 "\\--k" \
        mlr-topk --queries "$D/q.npy" --items "$D/items.npy" --k $k --output "$T/o.tsv"
    bounded "baseline: --k $k refused" 50 2 "\\--k" \
        mlr-baseline --kind pop --train "$D/train.tsv" --test "$D/test.tsv" --k $k --output "$T/o.tsv"
done
bounded "score: --at 1e12 refused" 50 2 "\\--at" mlr-score --test "$D/test.tsv" --topk "$D/all.tsv" --at 1000000000000
for tool in topk baseline score embed predict train; do
    case $tool in
    topk) set -- mlr-topk --queries "$D/q.npy" --items "$D/items.npy" --output "$T/o.tsv" ;;
    baseline) set -- mlr-baseline --kind pop --train "$D/train.tsv" --test "$D/test.tsv" --output "$T/o.tsv" ;;
    score) set -- mlr-score --test "$D/test.tsv" --topk "$D/all.tsv" --output "$T/o.tsv" ;;
    embed) set -- mlr-embed --model "$D/m.st" --rows "$D/enc" --output "$T/o.npy" ;;
    predict) set -- mlr-predict --model "$D/m.st" --rows "$D/enc" --output "$T/o.tsv" ;;
    train) set -- mlr-train --rows "$D/trainenc" --spec "$D/spec" --output "$T/o.st" ;;
    esac
    bounded "$tool: --threads 100000 refused" 50 2 "\\--threads: 100000 is out of range" "$@" --threads 100000
done
bounded "synth: --n-users 10^12 refused" 50 2 "\\--n-users" mlr-synth --n-users 1000000000000 --output "$T/o.tsv"
bounded "encode: --max-tokens 10^12 refused" 50 2 "\\--max-tokens" \
    mlr-encode --spec "$D/spec" --max-tokens 1000000000000 --output "$T/enc2" "$D/test.tsv"
bounded "recommend: --k 1e12 refused" 50 2 "\\--k: '1e12' is not an integer" mlr-recommend --served "$T/none" --k 1e12 1
bounded "recommend: --k 10^12 refused" 50 2 "\\--k: 1000000000000 is out of range" \
    mlr-recommend --served "$T/none" --k 1000000000000 1
bounded "recommend: --threads 100000 refused" 50 2 "\\--threads: 100000 is out of range" \
    mlr-recommend --served "$T/none" --threads 100000 1

# ---- the pipelines' counts: checked before the shell's arithmetic (which
# wraps past 19 digits) and before any work, in one line, status 2
P=$MLR_ROOT/pipelines
for v in 1e12 100000 1000000000000 99999999999999999999 +4 ' 4' 0x4 0; do
    for c in "recommend.sh --run $T/none --user 1 --k" "train-eval.sh $T/none $T/run --threads" \
             "crossval.sh $T/cv --threads" "crossval.sh $T/cv --jobs" \
             "grid.sh --train $D/train.tsv --test $D/test.tsv --out $T/g --threads" \
             "grid.sh --train $D/train.tsv --test $D/test.tsv --out $T/g --jobs" \
             "retrain.sh --dir $T/r --data $D/all.tsv --threads" "retrain.sh --dir $T/r --data $D/all.tsv --keep" \
             "topk-sharded.sh --queries $D/q.npy --items $D/items.npy --k" \
             "topk-sharded.sh --queries $D/q.npy --items $D/items.npy --shards" \
             "topk-sharded.sh --queries $D/q.npy --items $D/items.npy --jobs" \
             "prepare.sh --history"; do
        case "$c$v" in *--k100000|*--keep100000|*--shards100000|*--history0|*--history100000) continue ;; esac
        opt=${c##* }
        # shellcheck disable=SC2086 # $c is words without blanks
        set -- $c "$v"
        [ "${c%% *}" = train-eval.sh ] && set -- train-eval.sh --threads "$v" "$T/none" "$T/run"
        [ "${c%% *}" = crossval.sh ] && set -- crossval.sh "$opt" "$v" "$T/cv"
        [ "${c%% *}" = prepare.sh ] && set -- prepare.sh --history "$v" "$D/train.tsv" "$D/test.tsv" "$T/prep"
        timeout $LIMIT sh "$P/$@" >"$T/.out" 2>"$T/.err" </dev/null
        got=$?
        if [ "$got" -eq 2 ] && [ "$(wc -l <"$T/.err")" -eq 1 ] &&
                grep -q -- "^[a-z-]*: $opt: '$v' is not a whole number" "$T/.err"; then
            pass "${c%% *} $opt '$v' refused"
        else fail "${c%% *} $opt '$v' refused" "status $got: $(head -c 200 "$T/.err" | tr '\n' '|')"; fi
    done
done

# ---- a vocabulary of 10^7 distinct ids: refused at the first id past
# MLR_VOCAB_MAX (2^21 ids, [UNK] included; lib/spec.h), in bounded memory,
# not counted to the end (1.4 GB). Under the sanitizers, 2^21 + 10^4 rows:
# the same bound, met sooner.
rows=10000000
[ "$SAN" = 1 ] && rows=2107152
bounded "vocab: $rows distinct ids refused at 2^21" 200 1 "stdin:2097153: column 'user_id': more than 2097151 distinct" \
    sh -c 'awk -v n="$1" '\''BEGIN { print "user_id\titem_id\trating\ttimestamp"
        for (i = 0; i < n; i++) printf "u%d\ti%d\t3\t%d\n", i, i % 1000, 1000000 + i }'\'' |
        mlr-vocab --output "$2" -' - "$rows" "$T/bigspec"
check "vocab: the refused vocabulary left no SPECDIR" test ! -e "$T/bigspec"
if [ "$SAN" != 1 ]; then # 2^21 - 1 distinct ids: the largest vocabulary, and encode with it
    bounded "vocab: 2^21 - 1 distinct ids in 400 MB" 400 0 "" \
        sh -c 'awk -v n=2097151 '\''BEGIN { print "user_id\titem_id\trating\ttimestamp"
            for (i = 0; i < n; i++) printf "u%d\ti%d\t3\t%d\n", i, i % 1000, 1000000 + i }'\'' >"$1" &&
            mlr-vocab --output "$2" "$1"' - "$T/max.tsv" "$T/bigspec"
    check "vocab: 2^21 ids written" test "$(wc -l <"$T/bigspec/user_id.vocab")" -eq 2097153
    bounded "encode: a spec of 2^21 ids in 300 MB" 300 0 "" \
        mlr-encode --spec "$T/bigspec" --output "$T/bigenc" "$T/max.tsv"
    rm -rf "$T/max.tsv" "$T/bigenc" "$T/bigspec"
fi
# a features.tsv that claims 10^7 ids: refused before its vocabulary is read
cp -r "$D/spec" "$T/spec7"
awk -F'\t' 'BEGIN { OFS = "\t" } $1 == "user_id" { $4 = 10000000 } { print }' "$D/spec/features.tsv" \
    >"$T/spec7/features.tsv"
for t in encode train; do
    case $t in
    encode) set -- mlr-encode --spec "$T/spec7" --output "$T/enc7" "$D/test.tsv" ;;
    train) set -- mlr-train --rows "$D/trainenc" --spec "$T/spec7" --output "$T/o.st" -q ;;
    esac
    bounded "$t: a spec claiming 10^7 ids refused" 50 1 "features.tsv:2: size 10000000: a vocabulary holds at most 2097152 ids" "$@"
done
