#!/bin/sh
# attack.sh: issue 16's attack, replayed. Every class of its "Found" list
# against EVERY tool (each bin/mlr-* must have a row in the table below)
# and every pipeline:
#  a. descriptors 0 and 1 closed (<&-, >&-): no output corrupted, the
#     status sane (0 when stdout is unused; else non-zero, one line);
#  b. symlinks planted at every temporary name a writer could use
#     (FILE.tmp, FILE.tmp.PID, .new, .part, .old, the pipelines' own):
#     the link's target is never written, a dangling one never created;
#  c. names holding quotes, $(...), backquotes, blanks, a newline, a
#     leading dash, glob and parallel's {} through every pipeline argument
#     that names a file or folder: nothing runs, the run works or refuses
#     in one line;
#  d. /dev/full as each output: non-zero, one line, earlier outputs intact;
#  e. the number grammar (docs/numbers.md) through every numeric option
#     and every numeric column: hex, 20 digits, inf, nan, '+', blanks;
# and, with MLR_SANITIZED=1 (make check-asan), every tool case under
# ASan+UBSan (f). docs/hardening.md has the table of classes x targets.
. "$(dirname "$0")/lib.sh"
P=$MLR_ROOT/pipelines
SAN=${MLR_SANITIZED:-0}
TMPDIR=$T/tmp # every mktemp of a pipeline stays in here
export TMPDIR
mkdir -p "$TMPDIR"
tab=$(printf '\t')
# /dev/full's twin of our own where we may make one (root): a writer that
# renames over its output replaces that one, not the system's
FULL=/dev/full
! mknod "$T/full" c 1 7 2>/dev/null || FULL=$T/full
export FULL
nl='
'
TO="--epochs 1 --dim 4 --layers 4 --rating-layers 4 --threads 1 --batch-size 16 --quiet"

# refused NAME STATUS CMD...: CMD ends with STATUS ("any": non-zero) and
# exactly one line on stderr (the tool's or the pipeline's own).
refused() {
    r_name=$1 r_want=$2; shift 2
    "$@" >"$T/.out" 2>"$T/.err"
    r_got=$?
    r_lines=$(wc -l <"$T/.err")
    if [ "$r_got" -eq 0 ] || { [ "$r_want" != any ] && [ "$r_got" -ne "$r_want" ]; }; then
        fail "$r_name" "status $r_got, wanted $r_want: $(head -c 200 "$T/.err" | tr '\n' '|')"
    elif [ "$r_lines" -ne 1 ]; then
        fail "$r_name" "$r_lines lines on stderr: $(head -c 300 "$T/.err" | tr '\n' '|')"
    else pass "$r_name"; fi
}

# ------------------------------------------------------------ fixtures
F=$T/f
mkdir -p "$F"
if ! { mlr-synth --n-users 20 --n-items 30 --n-ratings 150 --seed 3 --output "$F/all.tsv" &&
       mlr-split --test-output "$F/test.tsv" --output "$F/train.tsv" "$F/all.tsv" &&
       sh "$P/evaluate.sh" "$F/train.tsv" "$F/test.tsv" "$F/ev" $TO &&
       sh "$P/package.sh" "$F/ev" "$F/ev" "$F/served"; } >"$T/setup.err" 2>&1; then
    fail "attack fixtures" "$(tail -c 300 "$T/setup.err")"
    exit 0
fi
E=$F/ev
export F E TO

# ------------------------------------------------------------ the tools
# run.sh TOOL MAIN SECOND [EXTRA...]: a working command of TOOL writing
# its main output to MAIN and its second output (split's test rows,
# slice's ids, train's log) to SECOND ("" for MAIN.2), EXTRA options last.
# `exec`: the tool has the shell's PID (the temporaries' names use it).
RUN=$T/run.sh
cat >"$RUN" <<'EOF_RUN'
t=$1 o=$2 o2=${3:-$2.2}; shift 3
[ "$o2" != -.2 ] || o2=$T/stdout.2 # (the main output on stdout)
case $t in
baseline) exec mlr-baseline --kind pop --train "$F/train.tsv" --test "$F/test.tsv" --output "$o" "$@" ;;
embed) exec mlr-embed --threads 1 --model "$E/model.safetensors" --rows "$E/enc-test" --output "$o" "$@" ;;
encode) exec mlr-encode --spec "$E/spec" --output "$o" "$F/test.tsv" "$@" ;;
fuse) exec mlr-fuse --k 5 --output "$o" "$E/topk.tsv" "$E/topk.tsv" "$@" ;;
history) exec mlr-history --max 4 --train "$F/train.tsv" --output "$o" "$F/test.tsv" "$@" ;;
ingest) exec mlr-ingest --format tsv --output "$o" "$F/all.tsv" "$@" ;;
predict) exec mlr-predict --threads 1 --model "$E/model.safetensors" --output "$o" "$E/enc-test" "$@" ;;
recommend) exec mlr-recommend --threads 1 --served "$F/served" --k 3 --output "$o" "$@" 1 2 ;;
score) exec mlr-score --quiet --threads 1 --test "$F/test.tsv" --topk "$E/topk.tsv" --output "$o" "$@" ;;
slice) exec mlr-slice --range 1:4 --ids "$E/query.ids" --ids-output "$o2" --output "$o" "$E/query.npy" "$@" ;;
split) exec mlr-split --seed 5 --test-output "$o2" --output "$o" "$F/all.tsv" "$@" ;;
stats) exec mlr-stats --output "$o" "$F/all.tsv" "$@" ;;
synth) exec mlr-synth --n-users 10 --n-items 12 --n-ratings 40 --seed 1 --output "$o" "$@" ;;
topk) exec mlr-topk --threads 1 --quiet --queries "$E/query.npy" --query-ids "$E/query.ids" \
          --items "$E/items.npy" --exclude "$F/train.tsv" --output "$o" "$@" ;;
train) exec mlr-train $TO --spec "$E/spec" --rows "$E/enc-fit" --log "$o2" --output "$o" "$@" ;;
vocab) exec mlr-vocab --output "$o" "$F/train.tsv" "$@" ;;
esac
echo "run.sh: no command for $t" >&2
exit 99
EOF_RUN
TOOLS="baseline embed encode fuse history ingest predict recommend score slice split stats synth topk train vocab"
# The files a run writes: MAIN, and beside it the second output or sidecar.
outs() {
    case $1 in
    embed) printf '%s\n' "$2" "${2%.npy}.ids" ;;
    slice|split) printf '%s\n' "$2" "$2.2" ;;
    train) printf '%s\n' "$2" ;; # (its log holds seconds: only the model is compared)
    *) printf '%s\n' "$2" ;;
    esac
}
ext() { case $1 in embed|slice) echo npy ;; encode|vocab) echo d ;; train) echo st ;; *) echo tsv ;; esac; }

for b in "$MLR_BIN"/mlr-*; do
    t=${b##*/mlr-}
    case " $TOOLS " in *" $t "*) ;; *) fail "attack covers every tool" "mlr-$t has no row in attack.sh's table" ;; esac
done

# the references: each tool once, as usual
R=$T/ref
mkdir -p "$R"
for t in $TOOLS; do
    sh "$RUN" $t "$R/$t.$(ext $t)" "" >/dev/null 2>"$T/.err" </dev/null ||
        fail "reference run of mlr-$t" "$(head -c 200 "$T/.err")"
done
# same_outs LABEL TOOL DIR: the outputs in DIR equal the reference's
same_outs() {
    so_why=
    for so_f in $(outs "$2" "$2.$(ext "$2")"); do
        if [ -d "$R/$so_f" ]; then
            diff -r "$R/$so_f" "$3/$so_f" >/dev/null 2>&1 || so_why="$so_why $so_f differs;"
        else
            cmp -s "$R/$so_f" "$3/$so_f" || so_why="$so_why $so_f differs;"
        fi
    done
    if [ -z "$so_why" ]; then pass "$1"; else fail "$1" "$so_why"; fi
}
# no_temporaries LABEL DIR: nothing named *.tmp* left in DIR
no_temporaries() {
    nt=$(find "$2" -name '*.tmp*' 2>/dev/null | head -n 3 | tr '\n' ' ')
    if [ -z "$nt" ]; then pass "$1"; else fail "$1" "left: $nt"; fi
}

# ---- a. descriptors 0 and 1 closed: the outputs as usual, status 0; with
# the main output on the closed stdout: non-zero, one line, no file made
for t in $TOOLS; do
    for how in stdout stdin stderr; do
        d=$T/a/$t.$how && mkdir -p "$d" && : >"$T/.err"
        case $how in
        stdout) (cd "$d" && sh "$RUN" $t "$d/$t.$(ext $t)" "" >&- 2>"$T/.err" </dev/null) ;;
        stdin) (cd "$d" && sh "$RUN" $t "$d/$t.$(ext $t)" "" <&- >/dev/null 2>"$T/.err") ;;
        stderr) (cd "$d" && sh "$RUN" $t "$d/$t.$(ext $t)" "" 2>&- >/dev/null </dev/null) ;;
        esac
        st=$?
        if [ "$st" -ne 0 ]; then fail "a: mlr-$t with std$how closed" "status $st: $(head -c 200 "$T/.err")"
        else same_outs "a: mlr-$t with std$how closed: outputs as usual" $t "$d"; fi
    done
    case $t in encode|vocab) continue ;; esac # a folder is never stdout
    d=$T/a/$t.dash && mkdir -p "$d"
    refused "a: mlr-$t --output - >&-: refused in one line" any sh -c 'cd "$1" && exec sh "$2" "$3" - "$1/second" >&-' - "$d" "$RUN" $t
    check "a: mlr-$t --output - >&-: no file made in its folder" test -z "$(ls -A "$d" | grep -v '^second$')"
done

# ---- b. symlinks at every temporary name: to a victim file, to a name
# that does not exist (never created) and to a folder (left empty). Once
# into an empty folder, once over earlier outputs (the sweep of stale
# temporaries runs then).
host=$(hostname | sed 's/[^A-Za-z0-9]/-/g' | cut -c1-32)
PLANT=$T/plant.sh
# plant.sh VICTIMS PID LIST: symlinks at the plausible temporary names of
# each output named in the file LIST (one a line), PID being the writer's
# (the shell that then execs it) and the next ones. (ln -n: a name planted
# twice is not a link made inside the victim folder.)
cat >"$PLANT" <<'EOF_PLANT'
v=$1 p=$2
# (one python3 for the thousands of links a pipeline's outputs take)
exec /usr/bin/python3 - "$v" "$p" "$3" "$host" <<'EOF_PY'
import os, sys
v, p, lst, host = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
sfx = ["tmp", "new", "part", "old", "bak", "partial", "tmp.%d" % p, "tmp.%d" % (p + 1), "tmp.%d" % (p + 2),
       "tmp.%d.%s" % (p, host), "old.%d" % p, "tmp.%d.%s.XXXXXX" % (p, host), "new.%d" % p, "%d" % p]
for o in open(lst).read().split("\n"):
    if not o:
        continue
    for i, s in enumerate(sfx, 1):
        t = {0: v + "/victim", 1: v + "/nothere.%d" % i, 2: v + "/vdir"}[i % 3]
        try:
            os.symlink(t, o + "." + s)
        except OSError:
            pass
EOF_PY
EOF_PLANT
export host
victims() { # DIR: a fresh victim file, victim folder, no nothere.*
    rm -rf "$1" && mkdir -p "$1/vdir" && printf 'victim: never written\n' >"$1/victim"
}
victims_ok() { # LABEL DIR
    vw=
    [ "$(cat "$2/victim")" = "victim: never written" ] || vw="the victim file was written;"
    [ -z "$(ls -A "$2/vdir")" ] || vw="$vw the victim folder got $(ls -A "$2/vdir" | head -n 2 | tr '\n' ' ');"
    [ -z "$(ls "$2" | grep nothere)" ] || vw="$vw a dangling link's target was created;"
    if [ -z "$vw" ]; then pass "$1"; else fail "$1" "$vw"; fi
}
V=$T/victims
for t in $TOOLS; do
    for when in empty earlier; do
        d=$T/b/$t.$when && rm -rf "$d" && mkdir -p "$d" && victims "$V"
        [ $when = empty ] || for f in $(outs $t "$t.$(ext $t)"); do cp -R "$R/$f" "$d/$f"; done
        # (split and slice: the second output too; train: its log)
        { outs $t "$d/$t.$(ext $t)"; [ $t != train ] || echo "$d/$t.st.2"; } >"$T/plant.list"
        sh -c 'sh "$1" "$2" $$ "$3"; shift 3; exec sh "$@"' - "$PLANT" "$V" "$T/plant.list" "$RUN" $t "$d/$t.$(ext $t)" "" \
            >/dev/null 2>"$T/.err" </dev/null
        st=$?
        if [ "$st" -ne 0 ]; then fail "b: mlr-$t with planted links ($when)" "status $st: $(head -c 200 "$T/.err")"
        else same_outs "b: mlr-$t with planted links ($when): outputs as usual" $t "$d"; fi
        victims_ok "b: mlr-$t ($when): no link followed" "$V"
    done
done

# ---- d. /dev/full (or its twin) as each output, over earlier outputs: non-zero, one
# line, the earlier files byte for byte, no temporary left, no sidecar
# beside the device; then stdout on it
full_ids=$(stat -c %Y /dev/full.ids 2>&1) # (one left by an old build is not ours)
for t in $TOOLS; do
    case $t in encode|vocab) continue ;; esac # folders: badinput.sh
    for which in main second stdout; do
        case $which:$t in second:embed|second:baseline|second:fuse|second:history|second:ingest|second:predict) continue ;;
        second:recommend|second:score|second:stats|second:synth|second:topk) continue ;; esac
        d=$T/d/$t.$which && rm -rf "$d" && mkdir -p "$d"
        for f in $(outs $t "$t.$(ext $t)"); do cp "$R/$f" "$d/$f"; done
        [ $t != train ] || cp "$R/$t.st" "$d/$t.st.2"
        main=$d/$t.$(ext $t) second=$d/$t.$(ext $t).2
        [ $t != train ] || second=$d/$t.st.2
        case $which in main) main=$FULL ;; second) second=$FULL ;; stdout) main=- ;; esac
        if [ $which = stdout ]; then
            refused "d: mlr-$t, stdout on /dev/full" any sh -c 'sh "$@" >"$FULL"' - "$RUN" $t "$main" "$second"
        else
            refused "d: mlr-$t, $which output /dev/full" any sh "$RUN" $t "$main" "$second"
        fi
        same_outs "d: mlr-$t ($which on /dev/full): earlier outputs intact" $t "$d"
        no_temporaries "d: mlr-$t ($which on /dev/full): no temporary left" "$d"
    done
done
check "d: /dev/full still a device, no sidecar beside it" test -c "$FULL" -a ! -e "$FULL.ids"
check "d: no new /dev/full.ids" test "$(stat -c %Y /dev/full.ids 2>&1)" = "$full_ids"

# ---- e. the number grammar through every numeric option: each bad value
# refused with status 2 in one line (docs/numbers.md)
BADNUM="0x5 0x1p2 +4 ' 4' '4 ' inf nan -nan 1e400 99999999999999999999 4abc '' 1e 0x"
# "tool option template": X is where the bad value goes
NUMOPTS="baseline:--k:X baseline:--lambda:X baseline:--threads:X embed:--threads:X
predict:--threads:X recommend:--threads:X recommend:--k:X recommend:--age:X recommend:--time:X
score:--threads:X score:--block:X score:--at:1,X topk:--threads:X topk:--k:X
topk:--block:X topk:--tile:X train:--seed:X train:--dim:X train:--valid-every:X train:--patience:X
train:--layers:4,X train:--rating-layers:X train:--retrieval-weight:X train:--rating-weight:X
train:--id-dropout:X train:--lr:X train:--init-accumulator:X train:--l2:X train:--batch-size:X
train:--epochs:X train:--negatives:mixed:X train:--threads:X split:--seed:X split:--test-fraction:X
split:--cut:X split:--n:X synth:--seed:X synth:--n-users:X synth:--n-items:X synth:--n-ratings:X
synth:--dim:X synth:--taste:X encode:--max-tokens:X vocab:--min-count:X vocab:--max-size:X
vocab:--timestamp-buckets:X vocab:--age-buckets:X stats:--top:X slice:--range:X:4 slice:--range:1:X
history:--max:X fuse:--k:X fuse:--weights:X,1 recommend:--fuse-ease:X recommend:--lambda:X
train:--distill:X train:--distill-lambda:X train:--distill-temperature:X"
DECIMAL="baseline:--lambda recommend:--age train:--retrieval-weight train:--rating-weight train:--lr
train:--init-accumulator train:--l2 train:--id-dropout split:--test-fraction synth:--taste fuse:--weights
recommend:--lambda"
DECIMAL=$(echo $DECIMAL) # one line
eval "set -- $BADNUM"
for spec in $NUMOPTS; do
    t=${spec%%:*} rest=${spec#*:}
    opt=${rest%%:*} tpl=${rest#*:}
    for v in "$@"; do
        val=$(printf '%s' "$tpl" | sed "s/X/$(printf '%s' "$v" | sed 's/[&/\]/\\&/g')/")
        # a split by --n / --cut needs its --by; --rated-items a new user
        extra=
        case $opt in --n) extra="--by last-n" ;; --cut) extra="--by time" ;; esac
        case $t:$opt in recommend:--age|recommend:--rated-items|recommend:--time) extra="--gender F" ;;
        recommend:--lambda) extra="--fuse-ease 0.5" ;; esac
        # a 20-digit decimal is a finite number; an empty list or an open
        # range is a documented value
        case $t:$opt:$v in
        *:99999999999999999999) case " $DECIMAL " in *" $t:$opt "*) continue ;; esac ;;
        train:--rating-layers:|train:--layers:|slice:--range:|recommend:--age:) continue ;;
        esac
        # shellcheck disable=SC2086
        refused "e: mlr-$t $opt '$val' refused" any sh "$RUN" $t "$T/e.out" "" $extra "$opt" "$val"
    done
done

# ---- e. the number grammar through every numeric column a tool reads
# (a column a tool only passes on is not its to judge): status 1, one line
awk -F'\t' -v OFS='\t' 'NR == 1 { print "user_id", "item_id", "rating", "timestamp"; next }
    { print $1, $2, $3, $4 }' "$F/test.tsv" >"$F/rated.tsv"
for rc in ingest:rating ingest:timestamp stats:rating stats:timestamp split:timestamp vocab:rating \
          vocab:timestamp vocab:user_age encode:rating encode:timestamp encode:user_age history:timestamp \
          score:rating score:prediction fuse:score recommend-new:user_age recommend-rated:rating recommend-rated:timestamp; do
    r=${rc%%:*} col=${rc#*:}
    src=$F/test.tsv
    case $r in score) [ $col = prediction ] && src=$E/pred.tsv ;; recommend-rated) src=$F/rated.tsv ;; fuse) src=$E/topk.tsv ;; esac
    for v in "$@"; do
        [ -n "$v" ] || continue # an empty field is a documented missing value
        case $col:$v in timestamp:*) ;; *:99999999999999999999) continue ;; esac
        awk -F'\t' -v OFS='\t' -v c="$col" -v v="$v" '/^#/ { print; next }
            !k { for (i = 1; i <= NF; i++) if ($i == c) k = i; print; n = 0; next }
            ++n == 2 { $k = v } { print }' "$src" >"$T/badcol.tsv"
        case $r in
        ingest) set -- mlr-ingest --format tsv --output "$T/e.out" "$T/badcol.tsv" ;;
        stats) set -- mlr-stats --output "$T/e.out" "$T/badcol.tsv" ;;
        split) set -- mlr-split --by time --test-output "$T/e.out2" --output "$T/e.out" "$T/badcol.tsv" ;;
        vocab) set -- mlr-vocab --output "$T/e.spec" "$T/badcol.tsv" ;;
        encode) set -- mlr-encode --spec "$E/spec" --output "$T/e.enc" "$T/badcol.tsv" ;;
        history) set -- mlr-history --train "$T/badcol.tsv" --output "$T/e.out" "$F/test.tsv" ;;
        fuse) set -- mlr-fuse --output "$T/e.out" "$T/badcol.tsv" "$E/topk.tsv" ;;
        score) if [ $col = prediction ]; then set -- mlr-score --test "$F/test.tsv" --pred "$T/badcol.tsv" --output "$T/e.out"
               else set -- mlr-score --test "$T/badcol.tsv" --pred "$E/pred.tsv" --output "$T/e.out"; fi ;;
        recommend-new) set -- mlr-recommend --served "$F/served" --new "$T/badcol.tsv" --output "$T/e.out" ;;
        recommend-rated) set -- mlr-recommend --served "$F/served" --new "$F/test.tsv" --rated "$T/badcol.tsv" --output "$T/e.out" ;;
        esac
        refused "e: mlr-${r%-*} reads $col '$v': refused" 1 "$@"
    done
    eval "set -- $BADNUM"
done

# ------------------------------------------------------------ the pipelines
# Each pipeline once with a name for every file or folder it takes:
# prun.sh PIPELINE N (in the current folder): the inputs are copies of
# the fixtures named after N, the outputs named after N. Its stdout goes
# to N.out (recommend.sh's Markdown, grid.sh's table).
PIPES="benchmark crossval eda evaluate grid hybrid package pipeline prepare recommend report retrain topk-sharded train-eval"
for f in "$P"/*.sh; do
    p=${f##*/}; p=${p%.sh}
    case " $PIPES lib fetch-data " in *" $p "*) ;; *) fail "attack covers every pipeline" "$p.sh has no case in attack.sh" ;; esac
done
# ML-100K's raw layout, tiny, for crossval.sh (as tests/tools/crossval.sh)
M=$F/ml && mkdir -p "$M"
mlr-synth --n-users 30 --n-items 40 --n-ratings 400 --seed 3 --output "$T/cv.tsv"
awk -F'\t' -v d="$M" 'NR == 1 { next } { print $1 "\t" $2 "\t" $3 "\t" $4 > (d "/u.data")
      if (!u[$1]++) print $1 "|" $5 "|" $6 "|" $7 "|" $8 > (d "/u.user")
      if (!i[$2]++) printf "%s|%s|01-Jan-1995||http://x/|0|0|0|0|0|1|0|0|0|0|0|0|0|0|0|0|0|0|0\n", $2, $9 > (d "/u.item") }' "$T/cv.tsv"
printf 'unknown|0\nAction|1\nAdventure|2\nAnimation|3\nChildren|4\nComedy|5\nCrime|6\nDocumentary|7\nDrama|8\nFantasy|9\nFilm-Noir|10\nHorror|11\nMusical|12\nMystery|13\nRomance|14\nSci-Fi|15\nThriller|16\nWar|17\nWestern|18\n' >"$M/u.genre"
for k in 1 2 3 4 5; do
    awk -v k="$k" 'NR % 5 == k % 5 { print > "/dev/stderr"; next } { print }' "$M/u.data" >"$M/u$k.base" 2>"$M/u$k.test"
done
printf 'dim\n4\n' >"$F/grid.tsv"
PRUN=$T/prun.sh
cat >"$PRUN" <<'EOF_PRUN'
p=$1 n=$2
case $p in
setup) # the inputs, named after n (cp -R: folders too)
    exec sh -c 'cp "$F/all.tsv" "./$1.all" && cp "$F/train.tsv" "./$1.tr" && cp "$F/test.tsv" "./$1.te" &&
        cp -R "$E" "./$1prep" && cp -R "$F/served" "./$1srv" && cp -R "$F/ml" "./$1ml" &&
        cp "$F/grid.tsv" "./$1.grid" && mkdir "./$1tmp" "./$1data" && cp -R "$F/ml" "./$1data/ml-100k"' - "$n" ;;
benchmark) exec sh "$P/benchmark.sh" --data "${n}data" --setups random --lambdas 100,500 --jobs 1 --seeds 1 "${n}bm" $TO ;;
crossval) exec sh "$P/crossval.sh" --data "${n}ml" --jobs 2 --threads 1 --seeds 1 -- "${n}cv" $TO ;;
eda) exec sh "$P/eda.sh" "$n.all" "${n}eda" ;;
evaluate) exec sh "$P/evaluate.sh" "$n.tr" "$n.te" "${n}ev" $TO ;;
grid) exec sh "$P/grid.sh" --train "$n.tr" --test "$n.te" --out "${n}grid" --grid "$n.grid" --jobs 1 --threads 1 \
          -- --epochs 1 --layers 4 --rating-layers 4 --batch-size 16 ;;
package) exec sh "$P/package.sh" --history "$n.tr" "${n}prep" "${n}prep" "${n}pkg" ;;
hybrid) exec sh "$P/hybrid.sh" --lambdas 100,500 --fuse-weights 0,0.5,1 "${n}prep" "${n}hy" ;;
pipeline) MLR_DATA_DIR=$T/none MLR_NO_DOWNLOAD=1 MLR_RUNS=$PWD/${n}runs \
          MLR_SYNTH_OPTS="--n-users 20 --n-items 30 --n-ratings 200" MLR_TRAIN_OPTS="$TO" \
          exec sh "$P/pipeline.sh" "$n" ;;
prepare) exec sh "$P/prepare.sh" --spec "${n}prep/spec" "$n.tr" "$n.te" "${n}prep2" ;;
recommend) exec sh "$P/recommend.sh" --run "${n}srv" --train "$n.tr" --user 1 --k 3 ;;
recommend-new) exec sh "$P/recommend.sh" --run "${n}srv" --user "$n" --age 30 --gender "$n" --occupation "$n" --k 3 ;;
report) exec sh "$P/report.sh" "${n}runs/$n" "$n" 3 ;;
retrain) exec sh "$P/retrain.sh" --dir "${n}rt" --append "$n.all" --threads 1 -- $TO ;;
topk-sharded) exec sh "$P/topk-sharded.sh" --shards 2 --jobs 2 --tmpdir "${n}tmp" --queries "${n}prep/query.npy" \
                  --query-ids "${n}prep/query.ids" --items "${n}prep/items.npy" --exclude "$n.tr" --output "${n}tk.tsv" ;;
train-eval) exec sh "$P/train-eval.sh" --model "${n}prep/model.safetensors" "${n}prep" "${n}te" ;;
esac
echo "prun.sh: no case for $p" >&2
exit 99
EOF_PRUN
export P T
# pipeline.sh before report.sh (which reads its run)
PORDER="eda prepare train-eval package hybrid recommend recommend-new evaluate grid retrain topk-sharded crossval pipeline report benchmark"
[ "$SAN" != 1 ] || PORDER="eda prepare train-eval package hybrid recommend recommend-new evaluate grid retrain topk-sharded"
# pouts P: the deterministic outputs of pipeline P, @ standing for its
# name N (no blank in them: `for` splits them)
pouts() {
    case $1 in
    benchmark) echo "@bm/random/pop.tsv @bm/random/ease.tsv @bm/random/ease-lambda.tsv @bm/benchmark.md" ;;
    crossval) echo "@cv/summary.tsv" ;;
    eda) echo "@eda/report.md @eda/summary.tsv @eda/top-items.tsv" ;;
    evaluate) echo "@ev/metrics.tsv @ev/served/MANIFEST" ;;
    grid) echo "@grid/best/metrics.tsv @grid/grid.tsv @grid/jobs.tsv" ;;
    package) echo "@pkg/MANIFEST" ;;
    hybrid) echo "@hy/hybrid.tsv @hy/fuse-weight.tsv @hy/ease-lambda.tsv" ;;
    pipeline) echo "@runs/@/model/metrics.tsv" ;;
    prepare) echo "@prep2/fit.tsv @prep2/valid.tsv @prep2/catalogue.tsv" ;;
    recommend|recommend-new) echo "@.$1.out" ;;
    report) echo "@runs/@/report.md" ;;
    retrain) echo "@rt/data.tsv @rt/current/MANIFEST" ;;
    topk-sharded) echo "@tk.tsv" ;;
    train-eval) echo "@te/metrics.tsv @te/valid-metrics.tsv" ;;
    esac
}
named() { nm=$1; while :; do case $nm in *@*) nm=${nm%%@*}$2${nm#*@} ;; *) break ;; esac; done; printf '%s' "$nm"; }
# same_pouts LABEL P DIR: P's outputs in DIR (name x) equal the reference's
same_pouts() {
    sp_why=
    for f in $(pouts "$2"); do
        f=$(named "$f" x)
        case $f in # a MANIFEST lists the training log, which holds seconds
        # (the model records its training seconds, the ids its model's hash)
        */MANIFEST) [ "$(grep -vE 'train-log|model.safetensors|items.ids' "$W0/$f")" = \
                      "$(grep -vE 'train-log|model.safetensors|items.ids' "$3/$f" 2>&1)" ] ;;
        */report.md|*/benchmark.md) [ "$(grep '^#' "$W0/$f")" = "$(grep '^#' "$3/$f" 2>&1)" ] ;; # (it holds timings)
        *) cmp -s "$W0/$f" "$3/$f" ;;
        esac || sp_why="$sp_why $f differs;"
    done
    if [ -z "$sp_why" ]; then pass "$1"; else fail "$1" "$sp_why"; fi
}
# the reference: every pipeline with plain names
W0=$T/p0 && mkdir -p "$W0" && (cd "$W0" && sh "$PRUN" setup x)
for p in $PORDER; do
    touch "$T/mark" && sleep 0.01
    (cd "$W0" && sh "$PRUN" $p x >"x.$p.out" 2>"$T/.err" </dev/null) ||
        fail "reference run of $p.sh" "$(tail -n 2 "$T/.err" | tr '\n' '|')"
    # what it made (two levels down): where its temporaries would be
    (cd "$W0" && find . -mindepth 1 -maxdepth 2 -newer "$T/mark" ! -name "x.$p.out" | sed 's|^\./||') >"$T/made.$p"
done

# ---- a + b: stdin closed, and symlinks at every temporary name: NAME.tmp,
# NAME.new, ... of every file and folder the reference run made (in the
# work folder and in each output folder, made beforehand), the
# pipelines' own fixed names, and names with the pipeline's PID. The
# outputs equal the reference's, status 0.
for p in $PORDER; do
    victims "$V"
    W1=$T/p1.$p && mkdir -p "$W1" && (cd "$W1" && sh "$PRUN" setup x)
    [ $p != report ] || cp -R "$W0/xruns" "$W1/"
    (cd "$W1" && while IFS= read -r f; do
        case $f in */*) ;; *) [ ! -d "$W0/$f" ] || [ -e "$f" ] || mkdir "$f" ;; esac
        done <"$T/made.$p")
    (cd "$W1" && while IFS= read -r f; do
        case $f in */*) [ -d "${f%/*}" ] || continue ;; esac
        printf '%s\n' "$PWD/$f"; done <"$T/made.$p"
        for d in */; do
            [ ! -L "${d%/}" ] || continue
            for s in grid.new jobs.new jobs.new.key results.unsorted results top-items.plot spec best best.part \
                     hosts.check report.md data.tsv lock current.new work locks; do printf '%s\n' "$PWD/$d$s"; done
        done) >"$T/plant.list"
    (cd "$W1" && sh -c 'sh "$1" "$2" $$ "$3"; exec sh "$4" "$5" x >"x.$5.out" 2>"$6" <&-' - \
        "$PLANT" "$V" "$T/plant.list" "$PRUN" $p "$T/.err")
    st=$?
    if [ "$st" -ne 0 ]; then fail "a+b: $p.sh with stdin closed and links planted" "status $st: $(tail -n 2 "$T/.err" | tr '\n' '|')"
    else same_pouts "a+b: $p.sh with stdin closed and links planted: outputs as usual" $p "$W1"; fi
    victims_ok "b: $p.sh: no planted link followed" "$V"
    rm -rf "$W1"
done
# ---- a: stdout and stderr closed: outputs as usual, status 0 (no message
# of a tool or of awk lands in a file that took descriptor 2); where
# stdout is an output (recommend.sh's list, grid.sh's table), stdout
# alone: non-zero, one line, and grid.sh's files complete
for p in $PORDER; do
    W2=$T/p2.$p && mkdir -p "$W2" && (cd "$W2" && sh "$PRUN" setup x)
    [ $p != report ] || cp -R "$W0/xruns" "$W2/"
    case $p in
    recommend*|grid) (cd "$W2" && sh "$PRUN" $p x >&- 2>"$T/.err" </dev/null) ;;
    *) : >"$T/.err"; (cd "$W2" && sh "$PRUN" $p x >&- 2>&- </dev/null) ;;
    esac
    st=$?
    why=
    case $p in
    recommend*) [ "$st" -ne 0 ] && [ "$(wc -l <"$T/.err")" -eq 1 ] ||
        why="status $st: $(tail -n 3 "$T/.err" | tr '\n' '|')" ;;
    grid) [ "$st" -ne 0 ] && [ "$(grep -vc '^grid: ' "$T/.err")" -eq 0 ] || why="status $st: $(tail -n 3 "$T/.err" | tr '\n' '|')" ;;
    *) [ "$st" -eq 0 ] || why="status $st: $(tail -n 2 "$T/.err" | tr '\n' '|')" ;;
    esac
    if [ -n "$why" ]; then fail "a: $p.sh >&- (2>&-)" "$why"
    elif [ "${p#recommend}" = "$p" ]; then same_pouts "a: $p.sh >&- (2>&-): status sane, outputs as usual" $p "$W2"
    else pass "a: $p.sh >&-: non-zero, one line"; fi
    rm -rf "$W2"
done

# ---- b (static): no pipeline names a temporary by a fixed suffix or
# by its PID: `> X.tmp`, `X.$$`, `mkdir X.part` are followed through a
# planted link; temporaries come from mktemp (lib.sh's beside)
bad_tmp=$(grep -nE '(\.\$\$|\.(tmp|new|part|old|unsorted)"?)( |$|")' "$P"/*.sh |
    grep -vE '^[^:]*:[0-9]+:\s*#|mktemp|beside|\*\.tmp|current\.new\.\*|data\.tsv\.tmp|token=|refuses a planted link' |
    head -n 5)
if [ -z "$bad_tmp" ]; then pass "b: no fixed or PID temporary name in pipelines/"
else fail "b: no fixed or PID temporary name in pipelines/" "$(printf '%s' "$bad_tmp" | tr '\n' '|')"; fi

# ---- c. hostile names through every name a pipeline takes: nothing runs
# (no PWNED file anywhere), each run works (its outputs where named) or
# refuses in one line
N1="q'd\"s \$(touch PWNED)\`touch PWNED\` *?[a] {} {1} % \\ & |; <x>"
N2="-dash"
N3="*${nl}glob"
i=0
for n in "$N1" "$N2" "$N3"; do
    i=$((i + 1))
    [ "$SAN" != 1 ] || [ $i = 1 ] || continue
    Wn=$T/pc$i && mkdir -p "$Wn" && (cd "$Wn" && sh "$PRUN" setup "$n")
    label=$(printf '%s' "$n" | tr '\n' '~')
    for p in $PORDER; do
        (cd "$Wn" && sh "$PRUN" $p "$n" >"./$n.$p.out" 2>"$T/.err" </dev/null)
        st=$?
        if [ "$st" -eq 99 ]; then fail "c: $p.sh with names '$label'" "$(cat "$T/.err")"; continue; fi
        if [ "$st" -eq 0 ]; then
            why=
            for f in $(pouts $p); do f=$(named "$f" "$n"); [ -s "$Wn/$f" ] || why="$why no '$f';"; done
            if [ -z "$why" ]; then pass "c: $p.sh with names '$label': works"; else fail "c: $p.sh with names '$label'" "$why"; fi
        elif [ "$(wc -l <"$T/.err")" -eq 1 ]; then pass "c: $p.sh with names '$label': refused in one line"
        else fail "c: $p.sh with names '$label'" "status $st, $(wc -l <"$T/.err") lines: $(tail -n 3 "$T/.err" | tr '\n' '|')"; fi
        pw=$(find "$T" /tmp -maxdepth 6 -name PWNED 2>/dev/null | head -n 2)
        if [ -z "$pw" ]; then pass "c: $p.sh with names '$label': nothing ran"
        else fail "c: $p.sh with names '$label'" "a name ran as a command: $pw"; rm -f $pw; fi
    done
done

# prefused NAME CMD...: a pipeline's refusal: non-zero status, every line
# on stderr a pipeline's or a tool's own (its stages, then the error last:
# no message of sh, mkdir, awk or parallel)
prefused() {
    pr_name=$1; shift
    "$@" >"$T/.out" 2>"$T/.err"
    pr_st=$?
    pr_other=$(grep -vE '^(crossval|eda|evaluate|grid|hybrid|package|pipeline|prepare|recommend|report|retrain|topk-sharded|train-eval|mlr-[a-z]+): ' "$T/.err" | head -n 2)
    if [ "$pr_st" -eq 0 ] || [ -n "$pr_other" ] || [ ! -s "$T/.err" ]; then
        fail "$pr_name" "status $pr_st: $(tail -n 3 "$T/.err" | tr '\n' '|')"
    else pass "$pr_name"; fi
}
# ---- d. pipeline outputs on /dev/full (or its twin): non-zero, in the pipeline's words
prefused "d: topk-sharded.sh --output /dev/full" sh "$P/topk-sharded.sh" --shards 2 --jobs 1 --queries "$E/query.npy" \
    --query-ids "$E/query.ids" --items "$E/items.npy" --output "$FULL"
prefused "d: recommend.sh >/dev/full" sh -c 'sh "$1" --run "$2" --user 1 --k 3 >"$FULL"' - "$P/recommend.sh" "$F/served"
for p in eda evaluate prepare; do
    case $p in eda) set -- "$F/all.tsv" "$FULL/x" ;; *) set -- "$F/train.tsv" "$F/test.tsv" "$FULL/x" ;; esac
    prefused "d: $p.sh into /dev/full/x" sh "$P/$p.sh" "$@"
done
check "d: /dev/full still a device after the pipelines" test -c "$FULL"

# ---- e. numbers through the pipelines' own numeric options (their
# counts: hostile.sh): refused in one line before any work
eval "set -- $BADNUM"
for v in "$@"; do
    case $v in 99999999999999999999) continue ;; esac # a finite decimal
    prefused "e: prepare.sh --valid-fraction '$v'" sh "$P/prepare.sh" --valid-fraction "$v" "$F/train.tsv" "$F/test.tsv" "$T/e-prep"
    prefused "e: evaluate.sh --valid-seed '$v'" sh "$P/evaluate.sh" --valid-seed "$v" "$F/train.tsv" "$F/test.tsv" "$T/e-ev"
    prefused "e: crossval.sh --valid-fraction '$v'" sh "$P/crossval.sh" --data "$F/ml" --valid-fraction "$v" "$T/e-cv"
    for o in --tolerance --test-fraction --seed; do
        refused "e: retrain.sh $o '$v'" 2 sh "$P/retrain.sh" --dir "$T/e-rt" --data "$F/all.tsv" "$o" "$v"
    done
    [ -z "$v" ] || prefused "e: recommend.sh --age '$v'" sh "$P/recommend.sh" --run "$F/served" --age "$v" --gender F --occupation writer
    prefused "e: recommend.sh --fuse-ease '$v'" sh "$P/recommend.sh" --run "$F/served" --user 1 --fuse-ease "$v"
    prefused "e: recommend.sh --lambda '$v'" sh "$P/recommend.sh" --run "$F/served" --user 1 --fuse-ease 0.5 --lambda "$v"
    for o in --lambdas --fuse-weights; do
        prefused "e: hybrid.sh $o '$v'" sh "$P/hybrid.sh" "$o" "$v" "$E" "$T/e-hy"
        prefused "e: hybrid.sh $o '1,$v'" sh "$P/hybrid.sh" "$o" "1,$v" "$E" "$T/e-hy"
        prefused "e: evaluate.sh $o '$v'" sh "$P/evaluate.sh" "$o" "$v" "$F/train.tsv" "$F/test.tsv" "$T/e-ev"
    done
done
check "e: the refused hybrid.sh runs made nothing" test ! -e "$T/e-hy"
# a rated list of no known movie, or not a list: refused in mlr-recommend's words
for v in 999999 ',' '1,,2' "$(printf '1\t2')" '../1'; do
    prefused "e: recommend.sh --rated-items '$v'" sh "$P/recommend.sh" --run "$F/served" --rated-items "$v"
done
check "e: the refused retrain.sh runs made no data" test ! -e "$T/e-rt/data.tsv"

# ---- e. ids are strings (SPEC.md): numeric aliases of a known user are
# unknown users, never user 1
for u in 01 1.0 ' 1' +1 0x1 1e0; do
    refused "e: mlr-recommend user '$u' is not user 1" 1 mlr-recommend --served "$F/served" --k 2 -- "$u"
    prefused "e: recommend.sh --user '$u' is not user 1" sh "$P/recommend.sh" --run "$F/served" --user "$u" --k 2
done
