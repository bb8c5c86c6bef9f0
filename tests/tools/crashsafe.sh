#!/bin/sh
# crashsafe.sh: outputs that cannot be written, readers that go away, and
# a writer killed at a random moment.
#  - stdout or --output on /dev/full: status 1 and one line, never silent;
#    an earlier file beside it (mlr-split --test-output) stays as it was;
#  - stdout closed early (`| head -1`): status 0 and nothing on stderr;
#  - SIGKILL of mlr-train (and mlr-synth) writing --output over an earlier
#    file: the file is always either the earlier one, byte for byte, or a
#    complete new one that its reader loads. A SIGKILL leaves its
#    temporary; the next run writing the file removes it (none is left
#    after the last run);
#  - SIGTERM of mlr-train (5x): no temporary left at all;
#  - special files beside an output: no sidecar beside a device
#    (/dev/full.ids), the devices still devices.
. "$(dirname "$0")/lib.sh"

D=$T/d
mkdir -p "$D"
if ! { trained_run "$D" 300 400 20000 train 8 &&
       mlr-topk --quiet --queries "$D/q.npy" --items "$D/items.npy" --k 10 --output "$D/topk.tsv"; } 2>"$T/setup.err"
then
    fail "crashsafe fixtures" "$(head -c 300 "$T/setup.err")"
    exit 0
fi

# full NAME CMD...: CMD (writing to /dev/full) exits 1 with one line on
# stderr (warnings aside) saying it could not write.
full() {
    name=$1
    shift
    "$@" 2>"$T/.err" </dev/null
    got=$?
    grep -v ': warning: ' "$T/.err" >"$T/.err1"
    if [ "$got" -ne 1 ]; then fail "$name" "status $got, wanted 1 ($(head -c 200 "$T/.err" | tr '\n' '|'))"
    elif [ "$(wc -l <"$T/.err1")" -ne 1 ]; then fail "$name" "stderr not one line: $(head -c 300 "$T/.err" | tr '\n' '|')"
    elif ! grep -q '^mlr-[a-z]*: .*write error' "$T/.err1"; then fail "$name" "message: $(cat "$T/.err1")"
    else pass "$name"; fi
}
full "stats > /dev/full" sh -c 'mlr-stats "$1" >/dev/full' - "$D/all.tsv"
full "stats --output /dev/full" mlr-stats --output /dev/full "$D/all.tsv"
full "ingest > /dev/full" sh -c 'mlr-ingest --format tsv "$1" >/dev/full' - "$D/all.tsv"
full "synth > /dev/full" sh -c 'mlr-synth --n-users 50 --n-items 60 --n-ratings 500 >/dev/full'
full "synth --output /dev/full" mlr-synth --n-users 50 --n-items 60 --n-ratings 500 --output /dev/full
echo "earlier test rows" >"$T/test-old.tsv"
full "split > /dev/full (small)" sh -c 'mlr-split --test-output "$1" "$2" >/dev/full' - "$T/test-old.tsv" "$D/test.tsv"
check "split > /dev/full leaves --test as it was" test "$(cat "$T/test-old.tsv")" = "earlier test rows"
full "split > /dev/full (large)" sh -c 'mlr-split --test-output "$1" "$2" >/dev/full' - "$T/test-old.tsv" "$D/all.tsv"
check "split > /dev/full (large) leaves --test as it was" test "$(cat "$T/test-old.tsv")" = "earlier test rows"
full "split --test-output /dev/full" mlr-split --test-output /dev/full --output "$T/tr.tsv" "$D/all.tsv"
full "vocab --help > /dev/full" sh -c 'mlr-vocab --help >/dev/full'
full "topk > /dev/full" sh -c 'mlr-topk --quiet --queries "$1" --items "$2" >/dev/full' - "$D/q.npy" "$D/items.npy"
full "topk --output /dev/full" mlr-topk --quiet --queries "$D/q.npy" --items "$D/items.npy" --output /dev/full
full "score > /dev/full" sh -c 'mlr-score --test "$1" --topk "$2" >/dev/full' - "$D/train.tsv" "$D/topk.tsv"
full "baseline > /dev/full" sh -c 'mlr-baseline --kind pop --train "$1" --test "$2" >/dev/full' - "$D/train.tsv" "$D/test.tsv"
full "predict > /dev/full" sh -c 'mlr-predict --model "$1" --rows "$2" >/dev/full' - "$D/m.st" "$D/enc"
full "embed --output - > /dev/full" sh -c 'mlr-embed --model "$1" --rows "$2" --output - >/dev/full' - "$D/m.st" "$D/enc"
sidecar_before=$(ls -l --time-style=full-iso /dev/full.ids 2>&1)
full "embed --output /dev/full" mlr-embed --model "$D/m.st" --rows "$D/enc" --output /dev/full
check "embed --output /dev/full made no /dev/full.ids" test "$(ls -l --time-style=full-iso /dev/full.ids 2>&1)" = "$sidecar_before"
full "slice > /dev/full" sh -c 'mlr-slice --range 0:100 "$1" >/dev/full' - "$D/q.npy"
full "train --output /dev/full" mlr-train --rows "$D/enc" --spec "$D/spec" --output /dev/full --epochs 1 -q
echo "earlier model" >"$T/m-log.st"
full "train --log /dev/full" mlr-train --rows "$D/enc" --spec "$D/spec" --output "$T/m-log.st" --log /dev/full --epochs 1 -q
check "train --log /dev/full leaves the earlier model" test "$(cat "$T/m-log.st")" = "earlier model"

# closed NAME CMD...: CMD's stdout read by `head -1`: status 0, stderr empty
# (the outputs are well over a pipe buffer, so the writer meets the close).
closed() {
    name=$1
    shift
    { "$@" 2>"$T/.err" </dev/null; echo $? >"$T/.st"; } | head -1 >/dev/null
    got=$(cat "$T/.st")
    if [ "$got" -ne 0 ]; then fail "$name" "status $got ($(head -c 200 "$T/.err" | tr '\n' '|'))"
    elif [ -s "$T/.err" ]; then fail "$name" "stderr: $(head -c 200 "$T/.err" | tr '\n' '|')"
    else pass "$name"; fi
}
closed "ingest | head -1" mlr-ingest --format tsv "$D/all.tsv"
closed "synth | head -1" mlr-synth --n-users 300 --n-items 400 --n-ratings 20000
closed "split | head -1" mlr-split --test-output "$T/t.tsv" "$D/all.tsv"
closed "topk | head -1" mlr-topk --quiet --queries "$D/q.npy" --items "$D/items.npy" --k 50
closed "baseline | head -1" mlr-baseline --kind pop --train "$D/train.tsv" --test "$D/train.tsv" --k 20
closed "predict | head -1" mlr-predict --model "$D/m.st" --rows "$D/enc"
closed "embed --output - | head -1" mlr-embed --model "$D/m.st" --rows "$D/enc" --output -
closed "slice | head -1" mlr-slice --range 0: "$D/q.npy"

# rand_ms LO HI: a random number of milliseconds in [LO, HI].
rand_ms() { echo $(( $1 + $(od -An -N2 -tu2 /dev/urandom | tr -d ' ') % ($2 - $1 + 1) )); }
# sleep_ms MS (POSIX sleep takes whole seconds on some systems: GNU's takes fractions)
sleep_ms() { sleep "$(printf '%d.%03d' $(($1 / 1000)) $(($1 % 1000)))"; }

# killed NAME OLD OUT LOADER RUNS MAXMS CMD...: RUNS times: OUT := OLD,
# start CMD, SIGKILL it after 50-MAXMS ms; OUT must then equal OLD or
# satisfy LOADER.
killed() {
    name=$1 old=$2 out=$3 loader=$4 runs=$5 maxms=$6
    shift 6
    i=0 same_n=0 new_n=0 bad_n=0 tmp_n=0 why=""
    while [ $i -lt "$runs" ]; do
        i=$((i + 1))
        cp "$old" "$out"
        "$@" >/dev/null 2>&1 &
        pid=$!
        sleep_ms "$(rand_ms 50 "$maxms")"
        kill -9 "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        if cmp -s "$old" "$out"; then same_n=$((same_n + 1))
        elif $loader "$out" >/dev/null 2>&1; then new_n=$((new_n + 1))
        else bad_n=$((bad_n + 1)); why="run $i: $out neither the earlier file nor loadable"; fi
        for f in "$out".tmp.*; do
            [ -e "$f" ] && tmp_n=$((tmp_n + 1))
        done
    done
    # one run to the end: it removes the temporaries of the killed ones
    "$@" >/dev/null 2>&1 || { bad_n=$((bad_n + 1)); why="the run after the kills failed"; }
    left=$(ls "$out".tmp.* 2>/dev/null | head -2 | tr '\n' ' ')
    [ -z "$left" ] || { bad_n=$((bad_n + 1)); why="temporaries of the killed runs left after a full run: $left"; }
    rm -f "$out".tmp.*
    if [ $bad_n -eq 0 ]; then
        pass "$name: $runs kills: $same_n earlier file intact, $new_n complete new, $tmp_n temporaries seen after kills, none after the next full run"
    else
        fail "$name" "$why"
    fi
}
load_model() { mlr-embed --model "$1" --catalogue "$D/items" --output "$T/load.npy"; }
load_table() { mlr-stats "$1"; }
cp "$D/m.st" "$T/old.st"
# about a second of training (default sizes): kills land in all phases
killed "train killed by SIGKILL" "$T/old.st" "$T/m.st" load_model 10 1500 \
    mlr-train --rows "$D/enc" --spec "$D/spec" --output "$T/m.st" --epochs 4 --seed 9 -q
cp "$D/all.tsv" "$T/old.tsv"
killed "synth killed by SIGKILL" "$T/old.tsv" "$T/s.tsv" load_table 3 400 \
    mlr-synth --n-users 2000 --n-items 3000 --n-ratings 300000 --seed 5 --output "$T/s.tsv"

# termed NAME OLD OUT RUNS MAXMS CMD...: like killed, with SIGTERM: the
# tool removes its own temporaries (--log's too) before it dies, so none
# is ever left beside OUT; OUT is the earlier file or the complete new one.
termed() {
    name=$1 old=$2 out=$3 runs=$4 maxms=$5
    shift 5
    i=0 why=""
    while [ $i -lt "$runs" ]; do
        i=$((i + 1))
        cp "$old" "$out"
        "$@" >/dev/null 2>&1 &
        pid=$!
        sleep_ms "$(rand_ms 50 "$maxms")"
        kill -TERM "$pid" 2>/dev/null
        wait "$pid" 2>/dev/null
        left=$(ls "$(dirname "$out")" | grep '\.tmp\.' | head -2 | tr '\n' ' ')
        [ -z "$left" ] || why="run $i: temporaries left after SIGTERM: $left"
        cmp -s "$old" "$out" || load_model "$out" >/dev/null 2>&1 || why="run $i: $out neither the earlier file nor loadable"
        rm -f "$(dirname "$out")"/*.tmp.*
    done
    if [ -z "$why" ]; then pass "$name: $runs runs, no temporary left, the earlier or a complete model"
    else fail "$name" "$why"; fi
}
termed "train killed by SIGTERM" "$T/old.st" "$T/m.st" 5 1500 \
    mlr-train --train "$D/enc" --spec "$D/spec" --output "$T/m.st" --log "$T/m.log" --epochs 4 --seed 9 -q
check "/dev/null and /dev/full still character devices, /dev/stdout a link" \
    test -c /dev/null -a -c /dev/full -a -L /dev/stdout
