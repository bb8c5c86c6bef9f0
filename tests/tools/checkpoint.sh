#!/bin/sh
# mlr-train --checkpoint DIR: a run killed (SIGKILL) after some epochs and
# started again with the same command continues where it stopped, and its
# model and log are those of a run never stopped (the model bit for bit:
# the trainer's bits depend on the seed only); a damaged checkpoint, or one
# made with other options or data, is refused with one line.
. "$(dirname "$0")/lib.sh"
train_fixture 400 300 40000 0.05

E=12
# train OUT [OPTIONS]: the run of this test (--patience keeps a best epoch
# of its own, so its weights are in the checkpoint too).
# (exec: in the background, $! is mlr-train itself, which the kill must hit)
train() { (train_exec "$@"); }
train_exec() {
    out=$1; shift
    exec mlr-train --rows "$T/train" --spec "$T/spec" --valid "$T/test" --catalogue "$T/items" \
        --epochs $E --patience 100 --seed 3 --log "$T/$out.log" --output "$T/$out.st" "$@"
}
# the log without its clock columns (seconds, gflops)
noclock() { cut -f1,3-12,14 "$1"; } # not seconds, not gflops

ran "an uninterrupted run" train ref --threads 2 -q

# killed after 2 epochs or more, then the same command again (another
# thread count: the bits do not depend on it)
(train_exec cut --threads 1 -q --checkpoint "$T/ck" 2>"$T/cut.err") &
pid=$!
wait_rows "$T/cut.log" 2 $pid
kill -KILL $pid 2>/dev/null
wait $pid
st=$?
check "the killed run is gone" sh -c '! kill -0 "$1"' - $pid
done_at=$(log_rows "$T/cut.log")
if [ $st -eq 137 ] && [ "$done_at" -lt $E ]; then
    pass "killed by SIGKILL after epoch $done_at of $E"
else
    skip "a kill mid-way" "the run ended (status $st) before the kill: a loaded machine"
fi
check "the checkpoint is there" test -s "$T/ck/state"
if ran "the same command continues" train cut --threads 2 --checkpoint "$T/ck"; then
    check "it says where it continues" grep -q "^mlr-train: .*ck/state: continuing after epoch [1-9]" "$T/.ran.err"
    same "the model of the continued run = the uninterrupted run's, bit for bit" "$T/cut.st" "$T/ref.st"
    noclock "$T/ref.log" >"$T/ref.rows"
    noclock "$T/cut.log" >"$T/cut.rows"
    same "its log = the uninterrupted run's (clock columns aside)" "$T/cut.rows" "$T/ref.rows"
fi
# a checkpoint of a finished run: the same model again, nothing retrained
rm -f "$T/cut.st"
ran "again on the finished checkpoint" train cut -q --checkpoint "$T/ck" &&
    same "... the same model" "$T/cut.st" "$T/ref.st"

# refused: other options, other data, damaged, truncated; the model and
# the checkpoint stay as they were
cp "$T/ck/state" "$T/state.good"
echo "an earlier model" >"$T/keep.st"
expect_fail "other options: refused" 1 "a checkpoint of another run" \
    train keep -q --lr 0.002 --checkpoint "$T/ck"
mlr-encode --spec "$T/spec" --output "$T/train2" "$T/test.tsv" 2>/dev/null
expect_fail "other data: refused" 1 "a checkpoint of another run" \
    mlr-train --rows "$T/train2" --spec "$T/spec" --valid "$T/test" --catalogue "$T/items" \
    --epochs $E --patience 100 --seed 3 --log "$T/keep.log" --output "$T/keep.st" -q --checkpoint "$T/ck"
size=$(wc -c <"$T/ck/state")
printf 'X' | dd of="$T/ck/state" bs=1 seek=$((size / 2)) conv=notrunc 2>/dev/null
expect_fail "a damaged checkpoint: refused" 1 "damaged checkpoint (checksum differs)" \
    train keep -q --checkpoint "$T/ck"
head -c $((size - 100)) "$T/state.good" >"$T/ck/state"
expect_fail "a truncated checkpoint: refused" 1 "checkpoint" train keep -q --checkpoint "$T/ck"
check "the earlier model is untouched" test "$(cat "$T/keep.st")" = "an earlier model"
check "... and the refused checkpoint too" sh -c '! cmp -s "$1" "$2"' - "$T/ck/state" "$T/state.good"
