#!/bin/sh
# pipelines/grid.sh on small mlr-synth data (200 users, 300 items, 8000
# ratings, 2 epochs): a 2x2x2 grid runs to a sorted results table; a grid
# killed after its first run finishes and rerun with the same arguments
# does only the missing runs; the grid file form, flags, failures and the
# refusals.
. "$(dirname "$0")/lib.sh"
G=$MLR_ROOT/pipelines/grid.sh
for t in mlr-train mlr-embed mlr-predict; do
    command -v "$t" >/dev/null 2>&1 || { skip "grid" "$t is not built yet"; exit 0; }
done
command -v parallel >/dev/null 2>&1 || { skip "grid" "GNU parallel is not installed"; exit 0; }

mlr-synth --n-users 200 --n-items 300 --n-ratings 8000 --seed 1 >"$T/all.tsv"
mlr-split --seed 42 --test-output "$T/test.tsv" "$T/all.tsv" >"$T/train.tsv"
D="--train $T/train.tsv --test $T/test.tsv"

# sorted FILE COLUMN -r|"": the data rows are ordered by COLUMN (by name).
sorted() {
    awk -F'\t' -v name="$2" -v rev="$3" 'NR == 1 { for (i = 1; i <= NF; i++) if ($i == name) c = i; next }
        NR > 2 && (rev == "-r" ? $c + 0 > prev + 0 : $c + 0 < prev + 0) { bad = 1 }
        { prev = $c } END { exit !(c && !bad) }' "$1"
}

# ---- a 2x2x2 grid, ::: lists ----
# shellcheck disable=SC2086
sh "$G" $D --out "$T/g" --jobs 2 --threads 1 -- --epochs 2 --dim ::: 8 16 --layers ::: 16 16,8 \
    --lr ::: 0.05 0.1 >"$T/out" 2>"$T/err"
st=$?
check "2x2x2: status 0" test $st -eq 0
[ "$st" -eq 0 ] || tail -n 3 "$T"/g/runs/*.part/log "$T/err" | sed 's/^/    /'
check "2x2x2: 8 rows and a header" test "$(wc -l <"$T/g/results.tsv")" = 9
check "2x2x2: parameters first" test "$(head -n 1 "$T/g/results.tsv" | cut -f1-4)" = "$(printf 'dim\tlayers\tlr\tqueries')"
check "2x2x2: then metrics, seconds, run" grep -q "rmse	mae	seconds	run$" "$T/g/results.tsv"
check "2x2x2: sorted by top100, descending" sorted "$T/g/results.tsv" top100 -r
same "2x2x2: the table on stdout too" "$T/out" "$T/g/results.tsv"
check "2x2x2: stages on stderr" grep -q '^grid: 8 runs, 2 at a time, 1 threads each' "$T/err"
n=0
for r in "$T"/g/runs/*; do
    [ -f "$r/cmd" ] && [ -f "$r/log" ] && [ -f "$r/valid-metrics.tsv" ] && [ -f "$r/model.safetensors" ] &&
        [ ! -e "$r/metrics.tsv" ] && n=$((n + 1))
done
check "2x2x2: 8 run folders with cmd, log, valid-metrics.tsv, model, no test metrics" test "$n" = 8
check "2x2x2: a run's cmd holds its options and threads" \
    grep -q -- "--threads 1 --no-topk --no-test .* --dim 16 --layers 16,8 --lr 0.05 --epochs 2" "$T/g/runs/dim=16_layers=16,8_lr=0.05/cmd"
check "2x2x2: the run trained with those options" \
    grep -q 'dim\\":16,\\"layers\\":\[16,8\]' "$T/g/runs/dim=16_layers=16,8_lr=0.05/model.safetensors"
check "2x2x2: 8 successes in the joblog" test "$(awk -F'\t' 'NR > 1 && $7 == 0' "$T/g/joblog" | wc -l)" = 8
# Ranked on the validation slice (issue 13): each row's figures are its
# run's valid-metrics.tsv, and only the winner has test figures.
check "2x2x2: each row's top100 and rmse are its run's on the validation slice" \
    awk -F'\t' -v d="$T/g/runs" 'NR == 1 { for (i = 1; i <= NF; i++) c[$i] = i; next }
        { f = d "/" $NF "/valid-metrics.tsv"; n = 0
          while ((getline l < f) > 0) { split(l, m, "\t"); if (m[1] == "top100" || m[1] == "rmse") { n++; if (m[2] != $c[m[1]]) exit 1 } }
          close(f); if (n != 2) exit 1 } END { exit NR != 9 }' "$T/g/results.tsv"
winner=$(sed -n '2p' "$T/g/results.tsv" | awk -F'\t' '{ print $NF }')
check "2x2x2: the winner (first row) named in best/run" test "$(cat "$T/g/best/run")" = "$winner"
check "2x2x2: the winner scored once on the test rows (queries = test rows)" \
    test "$(awk -F'\t' '$1 == "queries" { print $2 }' "$T/g/best/metrics.tsv")" = "$(($(wc -l <"$T/test.tsv") - 1))"
check "2x2x2: the results' queries are the validation slice's" \
    test "$(sed -n '2p' "$T/g/results.tsv" | cut -f4)" = "$(($(wc -l <"$T/g/prep/valid.tsv") - 1))"
check "2x2x2: the winner said on stderr with its test figure" grep -q "^grid: the winner $winner scored once on the test rows: top100 " "$T/err"
# The winner trained again with its options and refitted, as evaluate.sh
# does: its fit model is the run's own, bit for bit; the test model the refit.
same "2x2x2: the winner's fit model is its run's" "$T/g/best/model-fit.safetensors" "$T/g/runs/$winner/model.safetensors"
check "2x2x2: the winner refitted on all the training rows" test -s "$T/g/best/refit-log.tsv"
check "2x2x2: the winner's test model is the refit, not the run's" \
    sh -c '! cmp -s "$1" "$2"' - "$T/g/best/model.safetensors" "$T/g/runs/$winner/model.safetensors"
check "2x2x2: the data prepared once (the rows of both kinds of history)" test "$(ls "$T/g/prep" | grep -c '^enc-')" = 13

# The same command again: nothing to do, the same table.
cp "$T/g/results.tsv" "$T/first.tsv"
# shellcheck disable=SC2086
sh "$G" $D --out "$T/g" --jobs 2 --threads 1 -- --epochs 2 --dim ::: 8 16 --layers ::: 16 16,8 \
    --lr ::: 0.05 0.1 >/dev/null 2>"$T/err"
check "rerun of a finished grid: status 0" test $? -eq 0
check "rerun of a finished grid: no run again" test "$(wc -l <"$T/g/joblog")" = 9
# shellcheck disable=SC2086
sh "$G" $D --out "$T/g" --jobs 2 --threads 1 --sort rmse -- --epochs 2 --dim ::: 8 16 --layers ::: 16 16,8 \
    --lr ::: 0.05 0.1 >/dev/null 2>&1
check "--sort rmse: status 0" test $? -eq 0
check "--sort rmse: ascending" sorted "$T/g/results.tsv" rmse ""

# ---- killed after the first run, then resumed ----
# One run at a time, long enough (30 epochs) to be killed in the second.
args="$D --out $T/k --jobs 1 --threads 1 -- --epochs 30 --dim ::: 8 16 --layers ::: 16 16,8 --lr ::: 0.05 0.1"
# shellcheck disable=SC2086
setsid sh "$G" $args >/dev/null 2>"$T/kerr" &
pid=$!
i=0
while [ "$i" -lt 600 ] && [ -z "$(ls "$T/k/runs" 2>/dev/null | grep -v '\.part$')" ]; do sleep 0.1; i=$((i + 1)); done
kill -KILL "-$pid" 2>/dev/null # grid.sh and parallel; the running job lives on, as after a crash of parallel
wait "$pid" 2>/dev/null
finished=$(ls "$T/k/runs" | grep -v '\.part$')
nfin=$(echo "$finished" | grep -c .)
check "killed: some runs finished, not all ($nfin)" test "$nfin" -ge 1 -a "$nfin" -lt 8
for r in $finished; do
    touch "$T/k/runs/$r/untouched"
    stat -c '%n %Y' "$T/k/runs/$r/valid-metrics.tsv" "$T/k/runs/$r/model.safetensors"
done >"$T/stamps"
# shellcheck disable=SC2086
sh "$G" $args >"$T/kout" 2>"$T/kerr2"
check "resumed: status 0" test $? -eq 0
check "resumed: 8 rows" test "$(wc -l <"$T/k/results.tsv")" = 9
check "resumed: each configuration exactly once successful in the joblog" test "$(awk -F'\t' 'NR > 1 && $7 == 0 {
    n = $9; sub(/^.*\x27 sh [0-9]+ /, "", n); sub(/ .*/, "", n); gsub(/\x27/, "", n); print n }' "$T/k/joblog" | sort | uniq -c |
    awk '$1 == 1' | wc -l)" = 8
check "resumed: only the missing runs ran" test "$(awk -F'\t' 'NR > 1' "$T/k/joblog" | wc -l)" = 8
for r in $finished; do stat -c '%n %Y' "$T/k/runs/$r/valid-metrics.tsv" "$T/k/runs/$r/model.safetensors"; done >"$T/stamps2"
same "resumed: the finished runs' files kept their times" "$T/stamps2" "$T/stamps"
check "resumed: the finished runs' folders not redone (markers kept)" \
    test "$(ls "$T"/k/runs/*/untouched | wc -l)" = "$nfin"
check "resumed: no .part folder left" test -z "$(ls "$T/k/runs" | grep '\.part$')"

# ---- the grid file form, a flag column, fixed options ----
printf 'dim\tlr\tlogq\n8\t0.05\t0\n8\t0.1\t1\n' >"$T/grid.tsv"
# shellcheck disable=SC2086
sh "$G" $D --out "$T/f" --grid "$T/grid.tsv" --jobs 1 -- --epochs 1 --layers ::: 16 8 >/dev/null 2>"$T/err"
check "grid file x list: status 0" test $? -eq 0
check "grid file x list: 4 runs" test "$(wc -l <"$T/f/results.tsv")" = 5
check "grid file: a flag set to 1 passes the flag" grep -q -- "--logq" "$T/f/runs/dim=8_lr=0.1_logq=1_layers=16/cmd"
check "grid file: a flag set to 0 passes --no-FLAG (mlr-train has it)" grep -q -- "--no-logq" "$T/f/runs/dim=8_lr=0.05_logq=0_layers=8/cmd"

# ---- a failing configuration: the others still in the table ----
# shellcheck disable=SC2086
sh "$G" $D --out "$T/x" --jobs 2 -- --epochs 1 --optimizer ::: adagrad nosuch >/dev/null 2>"$T/err"
check "a failing run: status 1" test $? -eq 1
check "a failing run: the good one in the table" test "$(wc -l <"$T/x/results.tsv")" = 2
check "a failing run: its log kept in NAME.part" grep -q nosuch "$T/x/runs/optimizer=nosuch.part/log"
check "a failing run: named on stderr" grep -q 'optimizer=nosuch: failed' "$T/err"

# ---- through parallel's ssh path (':' is this machine) ----
# shellcheck disable=SC2086
sh "$G" $D --out "$T/ssh" --jobs 1 --threads 1 --sshlogin : -- --epochs 1 --dim ::: 8 16 >/dev/null 2>&1
check "--sshlogin ':': status 0, 2 runs" test $? -eq 0 -a "$(wc -l <"$T/ssh/results.tsv")" = 3

# ---- refusals ----
cp "$T/g/results.tsv" "$T/before.tsv"
# shellcheck disable=SC2086
sh "$G" $D --out "$T/g" --jobs 2 --threads 1 -- --epochs 2 --dim ::: 8 32 >/dev/null 2>"$T/err"
check "another grid in the same DIR: status 1" test $? -eq 1
check "another grid in the same DIR: said so" grep -q 'holds another search' "$T/err"
same "another grid in the same DIR: the table untouched" "$T/g/results.tsv" "$T/before.tsv"
check "another grid: the grid file untouched" grep -q '^16	16,8	0.1$' "$T/g/grid.tsv"
# shellcheck disable=SC2086
sh "$G" $D --out "$T/b" -- --nope ::: 1 2 >/dev/null 2>"$T/err"
check "an unknown option: status 2" test $? -eq 2
check "an unknown option: named" grep -q "'nope' is not an option of mlr-train" "$T/err"
# shellcheck disable=SC2086
sh "$G" $D --out "$T/b" -- --rows ::: a b >/dev/null 2>"$T/err"
check "--rows (mlr-train's data) in the grid: refused" grep -q -- '--rows is set by grid.sh itself' "$T/err"
# shellcheck disable=SC2086
sh "$G" $D --out "$T/b" -- --threads ::: 1 2 >/dev/null 2>&1
check "--threads in the grid: status 2" test $? -eq 2
# shellcheck disable=SC2086
sh "$G" $D --out "$T/b" --jobs "$(nproc)" --threads 2 -- --dim ::: 8 >/dev/null 2>"$T/err"
check "jobs x threads over nproc: status 2" test $? -eq 2
check "jobs x threads over nproc: said so" grep -q "exceeds the $(nproc) cores" "$T/err"
# shellcheck disable=SC2086
sh "$G" $D --out "$T/b" --sort nosuch -- --dim ::: 8 >/dev/null 2>&1
check "--sort of no metric: status 2" test $? -eq 2
printf 'dim\tlr\n8\n' >"$T/short.tsv"
# shellcheck disable=SC2086
sh "$G" $D --out "$T/b2" --grid "$T/short.tsv" >/dev/null 2>"$T/err"
check "a short grid row: status 2" test $? -eq 2
check "a short grid row: said so" grep -q 'configuration 1: 1 values for 2 columns' "$T/err"

# ---- names travel as data (issue 16): a name holding quotes, $(...),
# backquotes, a backslash, a space, a newline, a leading dash, as the
# output folder and as the tables, here and through parallel's ssh path;
# nothing in them runs (no canary), and the runs work.
cd "$T" || exit 1
N="-g'\"\$(touch canary)\"'b \`touch canary\` \$(touch canary); touch canary \\n
x"
cp -- "$T/train.tsv" "$N.train"
cp -- "$T/test.tsv" "$N.test"
for via in here :; do
    rm -rf -- "$N"
    if [ "$via" = here ]; then set --; else set -- --sshlogin :; fi
    sh "$G" --train "$N.train" --test "$N.test" --out "$N" --jobs 2 --threads 1 "$@" \
        -- --epochs 1 --dim ::: 8 16 >"$T/out" 2>"$T/err"
    st=$?
    check "a hostile name ($via): status 0" test "$st" -eq 0
    [ "$st" -eq 0 ] || tail -n 3 "$T/err" | sed 's/^/    /'
    check "a hostile name ($via): 2 runs in the table" test "$(wc -l <"$N/results.tsv")" = 3
    check "a hostile name ($via): nothing in the name ran" test -z "$(find "$T" -name canary)"
done
# The run's cmd reads back as the same words (quoted, not mangled).
eval "set -- $(cat -- "$N/runs/dim=8/cmd" 2>/dev/null)"
check "a hostile name: cmd names the run's folder as it is" test "${8:-}" = "$T/$N/runs/dim=8"
sh "$G" $D --out "$T/n1" -- "--dim';touch canary;'" ::: 8 >/dev/null 2>"$T/err"
check "a hostile option name in the grid: status 2" test $? -eq 2
check "a hostile option name in the grid: said so" grep -q 'is not an option name' "$T/err"
sh "$G" $D --out "$T/n2" -- --dim ::: "8;touch canary" >/dev/null 2>&1
check "a hostile value in the grid: status 2" test $? -eq 2
printf 'dim\n$(touch canary)\n' >"$T/hostile.tsv"
sh "$G" $D --out "$T/n3" --grid "$T/hostile.tsv" >/dev/null 2>&1
check "a hostile value in a grid file: status 2" test $? -eq 2
check "hostile option names and values: nothing ran" test -z "$(find "$T" -name canary)"
