#!/bin/sh
# outputs.sh: the output contract (docs/hardening.md, "The output
# contract"), one class of failure per part:
#  1. temporaries made exclusively: symlinks planted at the names of the
#     old scheme (FILE.tmp.PID, the tool's own PID) and at other plausible
#     names never redirect a write;
#  2. outputs that are not regular files (/dev/null, a FIFO, /dev/stdout,
#     a symlink) are written in place or through, never replaced; no
#     sidecar beside a device; /dev/null, /dev/full, /dev/stdout intact;
#  3. closed descriptors 0, 1, 2: a closed stdout never lands in a file;
#     a tool that does not use it succeeds;
#  4. outputs that go together (split's two tables, slice's and embed's
#     matrix and ids) replace their earlier files together or not at all,
#     on a full tmpfs (root) and under `ulimit -f`;
#  5. leftovers: a SIGKILLed writer's temporary is removed by the next run
#     writing the same file; SIGTERM and SIGINT remove their own.
. "$(dirname "$0")/lib.sh"

M=$T/small # a tiny tmpfs, when we may mount one
trap 'umount "$M" 2>/dev/null; rm -rf "$T"' EXIT
D=$T/d
mkdir -p "$D"
if ! { trained_run "$D" 300 400 20000 train 8 &&
       mlr-stats --output "$D/stats.tsv" "$D/all.tsv"; } 2>"$T/setup.err"
then
    fail "outputs fixtures" "$(head -c 300 "$T/setup.err")"
    exit 0
fi
stdout_link=$(readlink /dev/stdout)
host=$(hostname | sed 's/[^A-Za-z0-9]/-/g' | cut -c1-32)

# ------------------------------------------------ 1. planted symlinks
# planted NAME "OUT..." CMD...: symlinks to a victim file are planted at
# OUT.tmp.PID (CMD's own PID: `exec` keeps the shell's), the next PIDs,
# OUT.tmp and OUT.new for every OUT; CMD must succeed, the victim stay
# byte for byte and every OUT be a regular file.
planted() {
    name=$1 outs=$2
    shift 2
    printf 'victim: must not change\n' >"$T/victim"
    cp "$T/victim" "$T/victim.orig"
    sh -c 'outs=$1 v=$2; shift 2
        for o in $outs; do
            for s in tmp.$$ tmp.$(($$ + 1)) tmp.$(($$ + 2)) tmp new; do ln -s "$v" "$o.$s"; done
        done
        exec "$@"' - "$outs" "$T/victim" "$@" >/dev/null 2>"$T/.err"
    st=$?
    why=
    [ "$st" -eq 0 ] || why="status $st: $(head -c 200 "$T/.err")"
    cmp -s "$T/victim" "$T/victim.orig" || why="$why the victim was written: $(head -c 60 "$T/victim" | tr '\n' '|')"
    for o in $outs; do
        [ -f "$o" ] && [ ! -L "$o" ] || why="$why $o is not a regular file;"
        rm -f "$o".tmp* "$o.new"
    done
    if [ -z "$why" ]; then pass "$name"; else fail "$name" "$why"; fi
}
P=$T/p
mkdir -p "$P/spec"
planted "synth --output: planted symlinks not followed" "$P/s.tsv" \
    mlr-synth --n-users 50 --n-items 60 --n-ratings 500 --output "$P/s.tsv"
planted "stats --output: planted symlinks not followed" "$P/st.tsv" mlr-stats --output "$P/st.tsv" "$D/all.tsv"
planted "split --test/--train: planted symlinks not followed" "$P/te.tsv $P/tr.tsv" \
    mlr-split --test-output "$P/te.tsv" --output "$P/tr.tsv" "$D/all.tsv"
planted "ingest --output: planted symlinks not followed" "$P/in.tsv" \
    mlr-ingest --format tsv --output "$P/in.tsv" "$D/all.tsv"
planted "vocab --output: planted symlinks not followed" "$P/spec/features.tsv $P/spec/user_id.vocab" \
    mlr-vocab --output "$P/spec" "$D/train.tsv"
planted "train --output/--log: planted symlinks not followed" "$P/m.st $P/log.tsv" \
    mlr-train --rows "$D/enc" --spec "$D/spec" --output "$P/m.st" --log "$P/log.tsv" \
    --dim 8 --layers 8 --rating-layers 8 --epochs 1 -q
planted "embed --output (.npy and .ids): planted symlinks not followed" "$P/q.npy $P/q.ids" \
    mlr-embed --model "$D/m.st" --rows "$D/enc" --output "$P/q.npy"
planted "slice --output/--ids-output: planted symlinks not followed" "$P/sl.npy $P/sl.ids" \
    mlr-slice --range 0:10 --ids "$D/q.ids" --ids-output "$P/sl.ids" --output "$P/sl.npy" "$D/q.npy"
planted "topk --output: planted symlinks not followed" "$P/tk.tsv" \
    mlr-topk --quiet --queries "$D/q.npy" --items "$D/items.npy" --k 5 --output "$P/tk.tsv"
planted "predict --output: planted symlinks not followed" "$P/pr.tsv" \
    mlr-predict --model "$D/m.st" --rows "$D/enc" --output "$P/pr.tsv"
planted "baseline --output: planted symlinks not followed" "$P/bl.tsv" \
    mlr-baseline --kind pop --train "$D/train.tsv" --test "$D/test.tsv" --k 5 --output "$P/bl.tsv"
planted "score --output: planted symlinks not followed" "$P/sc.tsv" \
    mlr-score --test "$D/train.tsv" --topk "$P/tk.tsv" --output "$P/sc.tsv"

# ------------------------------------------------ 2. special files
# devnull NAME CMD...: CMD writes to /dev/null: status 0, /dev/null still
# the character device 1,3, nothing named /dev/null.* made.
devnull() {
    name=$1
    shift
    "$@" >/dev/null 2>"$T/.err"
    st=$?
    left=$(ls -d /dev/null?* 2>/dev/null | head -3 | tr '\n' ' ')
    rm -f /dev/null?* 2>/dev/null # a damaged run's leftovers, so the next check starts clean
    if [ "$st" -ne 0 ]; then fail "$name" "status $st: $(head -c 200 "$T/.err")"
    elif [ ! -c /dev/null ] || [ "$(stat -c %t,%T /dev/null)" != 1,3 ]; then fail "$name" "/dev/null is no longer the device 1,3"
    elif [ -n "$left" ]; then fail "$name" "made $left"
    else pass "$name"; fi
}
devnull "embed --output /dev/null: no /dev/null.ids" mlr-embed --model "$D/m.st" --rows "$D/enc" --output /dev/null
devnull "synth --output /dev/null" mlr-synth --n-users 50 --n-items 60 --n-ratings 500 --output /dev/null
devnull "split --test-output /dev/null" mlr-split --test-output /dev/null --output "$T/tr-null.tsv" "$D/all.tsv"
devnull "split --output /dev/null" mlr-split --test-output "$T/te-null.tsv" --output /dev/null "$D/all.tsv"
devnull "train --output /dev/null --log /dev/null" mlr-train --rows "$D/enc" --spec "$D/spec" \
    --output /dev/null --log /dev/null --dim 8 --layers 8 --rating-layers 8 --epochs 1 -q
devnull "slice --output /dev/null --ids-output /dev/null" mlr-slice --range 0:10 --ids "$D/q.ids" \
    --ids-output /dev/null --output /dev/null "$D/q.npy"
devnull "topk --output /dev/null" mlr-topk --quiet --queries "$D/q.npy" --items "$D/items.npy" --output /dev/null
devnull "predict --output /dev/null" mlr-predict --model "$D/m.st" --rows "$D/enc" --output /dev/null
devnull "stats --output /dev/null" mlr-stats --output /dev/null "$D/all.tsv"

# A symlink to /dev/null is a device too: no sidecar beside the link.
ln -s /dev/null "$T/null.npy"
mlr-embed --model "$D/m.st" --rows "$D/enc" --output "$T/null.npy" 2>"$T/.err"
check "embed --output LINK-TO-/dev/null: status 0, link kept, no .ids" \
    test $? -eq 0 -a -L "$T/null.npy" -a ! -e "$T/null.ids"

# A FIFO is written in place: a reader gets the bytes, the FIFO stays.
mkfifo "$T/fifo"
cat "$T/fifo" >"$T/fifo.got" &
mlr-stats --output "$T/fifo" "$D/all.tsv" 2>"$T/.err"
st=$?
wait
check "stats --output FIFO: status 0, still a FIFO" test "$st" -eq 0 -a -p "$T/fifo"
same "stats --output FIFO: the reader got the table" "$T/fifo.got" "$D/stats.tsv"

# /dev/stdout and a link to /proc/self/fd/1, stdout appended to a file:
# the tool writes into that descriptor, the earlier lines stay, nothing
# is renamed over the link (the old scheme replaced it by a regular file).
for o in /dev/stdout "$T/my-stdout"; do
    [ "$o" = /dev/stdout ] || ln -s /proc/self/fd/1 "$o"
    echo "earlier line" >"$T/appended"
    mlr-stats --output "$o" "$D/all.tsv" >>"$T/appended" 2>"$T/.err"
    st=$?
    { echo "earlier line"; cat "$D/stats.tsv"; } >"$T/appended.want"
    check "stats --output $o >>FILE: status 0, still a link" test "$st" -eq 0 -a -L "$o"
    same "stats --output $o >>FILE: appended after the earlier line" "$T/appended" "$T/appended.want"
done

# A symlink to a regular file: written through, atomically; the link stays.
# (relative, a chain of two, and one whose target does not exist yet)
mkdir -p "$T/ln/real"
echo old >"$T/ln/real/target.tsv"
ln -s real/target.tsv "$T/ln/rel.tsv"
ln -s "$T/ln/rel.tsv" "$T/ln/chain.tsv"
ln -s real/new.tsv "$T/ln/dangling.tsv"
for l in rel chain dangling; do
    mlr-stats --output "$T/ln/$l.tsv" "$D/all.tsv" 2>"$T/.err"
    check "stats --output SYMLINK ($l): status 0, the link kept" test $? -eq 0 -a -L "$T/ln/$l.tsv"
    same "stats --output SYMLINK ($l): the target written" "$T/ln/$l.tsv" "$D/stats.tsv"
done
check "symlinked outputs: temporaries made beside the target, none left" \
    test -z "$(ls "$T/ln" "$T/ln/real" | grep '\.tmp\.')"
# embed through a link: the .npy through it, the .ids beside the link's name
ln -s real/e.npy "$T/ln/e.npy"
mlr-embed --model "$D/m.st" --rows "$D/enc" --output "$T/ln/e.npy" 2>"$T/.err"
check "embed --output SYMLINK: link kept, target a .npy, X.ids beside the link" \
    test $? -eq 0 -a -L "$T/ln/e.npy" -a -f "$T/ln/real/e.npy" -a -f "$T/ln/e.ids"
same "embed --output SYMLINK: the matrix as without a link" "$T/ln/real/e.npy" "$D/q.npy"

# ------------------------------------------------ 3. closed descriptors
echo "earlier test rows" >"$T/te.tsv"
mlr-split --test-output "$T/te.tsv" "$D/all.tsv" >&- 2>"$T/.err"
st=$?
check "split >&- (training rows to the closed stdout): status 1" test "$st" -eq 1
check "split >&-: one line, 'standard output is closed'" \
    test "$(wc -l <"$T/.err")" -eq 1 -a -n "$(grep 'standard output is closed' "$T/.err")"
echo "earlier test rows" >"$T/te.want"
same "split >&-: --test keeps its earlier rows (no training rows in it)" "$T/te.tsv" "$T/te.want"
mlr-split --test-output "$T/te2.tsv" --output "$T/tr2.tsv" "$D/all.tsv" >&- 2>"$T/.err"
check "split --train --test >&- (stdout unused): status 0" test $? -eq 0
same "split >&- (stdout unused): the training rows" "$T/tr2.tsv" "$D/train.tsv"
same "split >&- (stdout unused): the test rows" "$T/te2.tsv" "$D/test.tsv"
mlr-split --test-output "$T/te3.tsv" --output "$T/tr3.tsv" "$D/all.tsv" 2>&- <&-
check "split 2>&- <&- (file input): status 0" test $? -eq 0
same "split 2>&- <&-: the test rows" "$T/te3.tsv" "$D/test.tsv"
# A refusal with stderr closed: its message lands in no output.
echo "earlier" >"$T/te4.tsv"
printf 'user_id\titem_id\trating\n1\t2\n' >"$T/bad.tsv"
mlr-split --test-output "$T/te4.tsv" --output "$T/tr4.tsv" "$T/bad.tsv" 2>&-
st=$?
check "split 2>&- on bad rows: status 1, outputs untouched" \
    test "$st" -eq 1 -a "$(head -c 100 "$T/te4.tsv")" = earlier -a ! -e "$T/tr4.tsv"
# every tool: a closed stdout it writes to is an error; --output FILE with
# stdout closed succeeds.
for t in baseline embed encode ingest predict recommend score slice split stats synth topk train vocab; do
    "mlr-$t" --version >&- 2>"$T/.err"
    st=$?
    check "mlr-$t --version >&-: status 1, 'standard output is closed'" \
        test "$st" -eq 1 -a -n "$(grep "^mlr-$t: .*standard output is closed" "$T/.err")"
done
mlr-stats --output "$T/st2.tsv" "$D/all.tsv" >&- 2>"$T/.err"
check "stats --output FILE >&-: status 0" test $? -eq 0
same "stats --output FILE >&-: the table" "$T/st2.tsv" "$D/stats.tsv"
mlr-topk --quiet --queries "$D/q.npy" --items "$D/items.npy" --k 5 --output "$T/tk2.tsv" >&- 2>"$T/.err"
check "topk --output FILE >&-: status 0" test $? -eq 0

# ------------------------------------------------ 4. outputs committed together
# armed DIR NAME...: earlier contents "earlier NAME" in DIR/NAME.
armed() { d=$1; shift; for f in "$@"; do echo "earlier $f" >"$d/$f"; done; }
# untouched NAME DIR FILE...: every FILE in DIR still holds "earlier FILE",
# and no temporary is left in DIR.
untouched() {
    name=$1 d=$2
    shift 2
    why=
    for f in "$@"; do [ "$(cat "$d/$f")" = "earlier $f" ] || why="$why $f was replaced;"; done
    tmp=$(ls "$d" | grep '\.tmp\.' | head -2 | tr '\n' ' ')
    [ -z "$tmp" ] || why="$why temporaries left: $tmp"
    if [ "$st" -eq 0 ]; then fail "$name" "status 0 on a full output"
    elif [ -n "$why" ]; then fail "$name" "$why"
    else pass "$name"; fi
}
# limited BLOCKS CMD...: CMD with files limited to BLOCKS 512-byte blocks
# (EFBIG, SIGXFSZ ignored): a disk that fills in the middle of a write.
limited() { (blocks=$1; shift; trap '' XFSZ; ulimit -f "$blocks" && exec "$@"); }
U=$T/u
mkdir -p "$U"
armed "$U" tr.tsv te.tsv
limited 600 mlr-split --test-fraction 0.9 --test-output "$U/te.tsv" --output "$U/tr.tsv" "$D/all.tsv" 2>"$T/.err"
st=$?
untouched "split, the test file over ulimit -f (train complete): neither replaced" "$U" tr.tsv te.tsv
armed "$U" q.npy q.ids
limited 400 mlr-embed --model "$D/m.st" --rows "$D/enc" --output "$U/q.npy" 2>"$T/.err"
st=$?
untouched "embed, the .npy over ulimit -f (.ids complete): neither replaced" "$U" q.npy q.ids
# mlr-vocab's spec directory: the vocabularies and features.tsv together
# (item_id.vocab, 4 KB, is over the limit; the small ones are complete)
rm -rf "$U/spec" && cp -R "$D/spec" "$U/spec"
limited 8 mlr-vocab --output "$U/spec" "$D/all.tsv" 2>"$T/.err"
st=$?
check "vocab, one vocabulary over ulimit -f: status 1, the earlier spec whole, no temporary" \
    test "$st" -eq 1 -a -z "$(diff -r "$U/spec" "$D/spec" 2>&1)"

if [ "$(id -u)" = 0 ] && mkdir -p "$M" && mount -t tmpfs -o size=16k tmpfs "$M" 2>/dev/null; then
    # the test rows (2%, 29 KB) fit in split's buffer: nothing of them is
    # written before the commit, where the disk turns out full
    armed "$M" te.tsv
    armed "$U" tr.tsv
    head -c 8000 /dev/zero >"$M/filler" 2>/dev/null
    mlr-split --test-fraction 0.02 --test-output "$M/te.tsv" --output "$U/tr.tsv" "$D/all.tsv" 2>"$T/.err"
    st=$?
    rm -f "$M/filler"
    untouched "split, --test on a full tmpfs (train complete): train not replaced" "$U" tr.tsv
    untouched "split, --test on a full tmpfs: test not replaced" "$M" te.tsv
    armed "$M" sl.ids
    armed "$U" sl.npy
    head -c 12000 /dev/zero >"$M/filler" 2>/dev/null # the ids meet a full disk
    mlr-slice --range 0: --ids "$D/items.ids" --ids-output "$M/sl.ids" --output "$U/sl.npy" "$D/items.npy" 2>"$T/.err"
    st=$?
    rm -f "$M/filler"
    untouched "slice, --ids-output on a full tmpfs (matrix complete): matrix not replaced" "$U" sl.npy
    armed "$U" m.st
    armed "$M" log.tsv
    # the log is written in place (rows as epochs end): the disk is full but
    # for the page the truncated log frees, and 80 rows need two
    head -c 16000 /dev/zero >"$M/filler" 2>/dev/null
    mlr-train --rows "$D/enc" --spec "$D/spec" --output "$U/m.st" --log "$M/log.tsv" \
        --dim 8 --layers 8 --rating-layers 8 --epochs 80 -q 2>"$T/.err"
    st=$?
    rm -f "$M/filler"
    untouched "train, --log on a full tmpfs: the model not replaced" "$U" m.st
    umount "$M"
else
    skip "outputs on a full tmpfs" "not root or tmpfs cannot be mounted here (the ulimit -f cases above ran)"
fi

# ------------------------------------------------ 5. leftovers
# wait_tmp OUT: up to 10 s for OUT's temporary to appear.
wait_tmp() {
    i=0
    while [ $i -lt 1000 ] && [ -z "$(ls "$(dirname "$1")" | grep -F "$(basename "$1").tmp.")" ]; do
        sleep 0.01; i=$((i + 1))
    done
    [ $i -lt 1000 ]
}
L=$T/left
mkdir -p "$L"
BIG="--n-users 3000 --n-items 4000 --n-ratings 1500000 --seed 5"
# shellcheck disable=SC2086
mlr-synth $BIG --output "$L/s.tsv" 2>/dev/null &
pid=$!
if wait_tmp "$L/s.tsv"; then
    kill -9 "$pid"; wait "$pid" 2>/dev/null
    n=$(ls "$L" | grep -c '\.tmp\.')
    name=$(ls "$L" | grep '\.tmp\.' | head -1)
    check "synth killed by SIGKILL: a temporary left ($n), named FILE.tmp.PID.HOST.XXXXXX" \
        test "$n" -eq 1 -a -n "$(echo "$name" | grep "^s\.tsv\.tmp\.$pid\.$host\.[A-Za-z0-9]\{6\}\$")"
    # a live process's temporary (this shell's) and a planted symlink with a
    # dead process's name: neither touched
    echo live >"$L/s.tsv.tmp.$$.$host.abcdef"
    echo victim >"$T/victim2"
    ln -s "$T/victim2" "$L/s.tsv.tmp.$pid.$host.zzzzzz"
    mlr-stats --output "$L/s.tsv" "$D/all.tsv" 2>"$T/.err"
    check "the next run of another tool writing the file: status 0, the dead one's temporary gone" \
        test $? -eq 0 -a ! -e "$L/$name"
    check "... a live process's temporary kept" test "$(cat "$L/s.tsv.tmp.$$.$host.abcdef")" = live
    check "... a symlink with a dead one's name not followed" test "$(cat "$T/victim2")" = victim
    rm -f "$L"/s.tsv.tmp.*
else
    kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    fail "synth killed by SIGKILL" "no temporary appeared within 10 s"
fi
# signaled SIG NUMBER [LAUNCHER...]: mlr-synth killed by SIG while writing:
# its status says the signal, its temporary is gone, the earlier file stays.
# A run that finished before the signal came (status 0: on a loaded
# machine the poll can see the temporary late) is tried again, 3 at most.
signaled() {
    sig=$1 num=$2
    shift 2
    try=0 st=0
    while [ "$try" -lt 3 ] && [ "$st" -eq 0 ]; do
        try=$((try + 1))
        signal_once "$sig" "$@" || return 0
    done
    left=$(ls "$L" | grep '^t\.tsv\.tmp\.' | head -2 | tr '\n' ' ')
    if [ "$st" -ne $((128 + num)) ]; then fail "synth killed by SIG$sig" "status $st, wanted $((128 + num)) ($try runs)"
    elif [ -n "$left" ]; then fail "synth killed by SIG$sig" "temporaries left: $left"
    elif [ "$(cat "$L/t.tsv")" != earlier ]; then fail "synth killed by SIG$sig" "the earlier file changed"
    else pass "synth killed by SIG$sig: its temporary removed, the earlier file kept"; fi
    rm -f "$L"/t.tsv.tmp.*
}
# signal_once SIG [LAUNCHER...]: one run signalled once its temporary
# shows; its status in $st. Non-zero (a failure said) if none showed.
signal_once() {
    sig=$1
    shift
    echo earlier >"$L/t.tsv"
    # shellcheck disable=SC2086
    "$@" mlr-synth $BIG --output "$L/t.tsv" 2>/dev/null &
    pid=$!
    if wait_tmp "$L/t.tsv"; then
        kill -"$sig" "$pid"; wait "$pid"; st=$?
        return 0
    fi
    kill -9 "$pid" 2>/dev/null; wait "$pid" 2>/dev/null
    fail "synth killed by SIG$sig" "no temporary appeared within 10 s"
    return 1
}
signaled TERM 15 env
signaled HUP 1 env
# A script's background job starts with SIGINT ignored (and a tool keeps
# an ignored signal ignored): perl restores the default, then execs.
if command -v perl >/dev/null 2>&1; then
    signaled INT 2 perl -e '$SIG{INT} = "DEFAULT"; exec @ARGV or die'
else
    skip "synth killed by SIGINT" "no perl to start it with SIGINT not ignored"
fi

# ------------------------------------------------ the system's devices
check "/dev/null, /dev/full still character devices; /dev/stdout still a link to $stdout_link" \
    test -c /dev/null -a -c /dev/full -a -L /dev/stdout -a "$(readlink /dev/stdout)" = "$stdout_link"
