#!/bin/sh
# mlr-train you can watch and stop: --log rows reach the file while the run
# goes on (as tail -f sees them); SIGINT or SIGTERM ends the epoch in
# progress, writes the model so far, says so and exits 128 + the signal;
# with --patience the model is the best epoch so far.
. "$(dirname "$0")/lib.sh"
train_fixture 150 200 6000 0.1

for sig in INT TERM; do
    echo "an earlier model" >"$T/m-$sig.st"
    mlr-train --rows "$T/train" --spec "$T/spec" --valid "$T/test" --catalogue "$T/items" --epochs 5000 \
        --threads 1 --log "$T/log-$sig.tsv" --output "$T/m-$sig.st" 2>"$T/err-$sig" &
    pid=$!
    check "SIG$sig: the log has rows while the run goes on" wait_rows "$T/log-$sig.tsv" 2 "$pid"
    check "SIG$sig: ... and the earlier model is still there" test "$(cat "$T/m-$sig.st")" = "an earlier model"
    kill -"$sig" "$pid"
    wait "$pid"
    st=$?
    want=$([ "$sig" = INT ] && echo 130 || echo 143)
    check "SIG$sig: exit status $want (got $st)" test "$st" -eq "$want"
    n=$(log_rows "$T/log-$sig.tsv")
    check "SIG$sig: stderr says it stopped after the last logged epoch and writes the model" \
        grep -q "^mlr-train: SIG$sig: stopped after epoch $n of 5000; writing the model so far" "$T/err-$sig"
    check "SIG$sig: a model was written, mlr-embed reads it" \
        mlr-embed --model "$T/m-$sig.st" --catalogue "$T/items" --output "$T/e-$sig.npy"
    # the model is the one of the logged epochs: its metadata names the last
    check "SIG$sig: the model's metadata names epoch $n" \
        sh -c "head -c 20000 '$T/m-$sig.st' | grep -aq '\"epoch\\\\\":$n,'"
done

# With --patience the model so far is its best epoch.
mlr-train --rows "$T/train" --spec "$T/spec" --valid "$T/test" --catalogue "$T/items" --epochs 5000 \
    --patience 4000 --threads 1 --log "$T/log-p.tsv" --output "$T/m-p.st" 2>"$T/err-p" &
pid=$!
wait_rows "$T/log-p.tsv" 3 "$pid"
kill -INT "$pid"
wait "$pid"
check "--patience, SIGINT: says it writes the best epoch" grep -q "writing the model so far (its best epoch)" "$T/err-p"
kept=$(tail -n 1 "$T/log-p.tsv" | awk -F'\t' '{ print $NF }')
check "--patience, SIGINT: the model's metadata names the kept epoch $kept" \
    sh -c "head -c 20000 '$T/m-p.st' | grep -aq '\"epoch\\\\\":$kept,'"
