#!/bin/sh
# pipelines-usage.sh: the pipelines' -h/--help, options taken for names,
# a TMPDIR that is not there, file names awk or the shell would misread,
# and ids compared as strings (issue 16). grid.sh, topk-sharded.sh and
# eda.sh are tested by their own files (tests/tools/grid.sh, ...).
. "$(dirname "$0")/lib.sh"
P=$MLR_ROOT/pipelines
export MLR_NO_DOWNLOAD=1 MLR_RUNS="$T/runs"

# -h and --help: the help on stdout, status 0, nothing else done (no
# runs/-h, no directory named -h, nothing written where it runs).
mkdir -p "$T/cwd"
for f in "$P"/*.sh; do
    s=${f##*/}
    case $s in lib.sh|grid.sh|topk-sharded.sh|eda.sh) continue ;; esac
    for h in -h --help; do
        (cd "$T/cwd" && timeout 60 sh "$f" $h >"$T/h.out" 2>"$T/h.err" </dev/null)
        st=$?
        left=$(ls -A "$T/cwd" "$T/runs" 2>/dev/null | grep -v ':$' | grep . | head -3 | tr '\n' ' ')
        if [ "$st" -ne 0 ]; then fail "$s $h" "status $st: $(head -c 200 "$T/h.err")"
        elif [ -s "$T/h.err" ]; then fail "$s $h" "stderr: $(head -c 200 "$T/h.err")"
        elif ! grep -q "${s%.sh}" "$T/h.out"; then fail "$s $h" "no help on stdout: $(head -c 100 "$T/h.out")"
        elif [ -n "$left" ]; then fail "$s $h" "left behind: $left"
        else pass "$s $h prints its help and does nothing else"; fi
        rm -rf "$T/runs" "$T/cwd" && mkdir -p "$T/cwd"
    done
done
(cd "$T/cwd" && timeout 60 sh "$P/pipeline.sh" -x >/dev/null 2>"$T/err")
check "pipeline.sh -x is usage (status 2)" test $? -eq 2
check "pipeline.sh -x: no run named -x" test ! -e "$T/runs/-x"
(cd "$T/cwd" && timeout 60 sh "$P/fetch-data.sh" -x >/dev/null 2>"$T/err")
check "fetch-data.sh -x is usage (status 2), no directory -x" test $? -eq 2 -a ! -e "$T/cwd/-x"

# ---- a table named so that the shell or awk would misread it: every
# item of both tables in the catalogue ("t=1.tsv" was an awk assignment)
E=$T/e
mkdir -p "$E"
mlr-synth --n-users 12 --n-items 20 --n-ratings 120 --seed 4 >"$E/all.tsv" 2>/dev/null
mlr-split --test-output "$E/te.tsv" --output "$E/tr.tsv" "$E/all.tsv" 2>/dev/null
cp "$E/tr.tsv" "$E/my train.tsv"
# an item only the test table has: it must reach the catalogue
awk -F'\t' -v OFS='\t' 'NR == 2 { $2 = "only-in-test" } 1' "$E/te.tsv" >"$E/t=1.tsv"
cp "$E/tr.tsv" "$E/q'\$(touch pwned)\`x\`.tsv"
tail -n +2 -q "$E/tr.tsv" "$E/t=1.tsv" | cut -f2 | sort -u >"$E/want.items"
for names in "my train.tsv|t=1.tsv" "q'\$(touch pwned)\`x\`.tsv|t=1.tsv"; do
    tr=${names%|*} te=${names#*|}
    rm -rf "$E/out dir"
    (cd "$E" && sh "$P/evaluate.sh" "$tr" "$te" "out dir" --epochs 1 --dim 4 --layers 4 \
        --rating-layers 4 --batch-size 32 >/dev/null 2>"$T/err")
    st=$?
    tail -n +2 "$E/out dir/catalogue.tsv" 2>/dev/null | cut -f1 | sort -u >"$E/got.items"
    if [ "$st" -ne 0 ]; then fail "evaluate.sh '$tr' '$te'" "status $st: $(tail -c 200 "$T/err")"
    elif ! cmp -s "$E/want.items" "$E/got.items"; then
        fail "evaluate.sh '$tr' '$te'" "catalogue of $(wc -l <"$E/got.items") items, wanted $(wc -l <"$E/want.items")"
    else pass "evaluate.sh '$tr' '$te': every item in the catalogue"; fi
done
check "no name ran as a command" test ! -e "$E/pwned"

# ---- ids are strings (SPEC.md): "01", "1.0", " 1" are not user 1
S="$E/out dir"
u=$(sed -n 2p "$E/tr.tsv" | cut -f1)
sh "$P/recommend.sh" --run "$S" --user "$u" --n 3 >"$T/rec.out" 2>"$T/err"
check "recommend.sh --user $u: a known user" grep -q "^### User $u: top 3" "$T/rec.out"
for alias in "0$u" "$u.0" " $u" "+$u" "${u}e0"; do
    sh "$P/recommend.sh" --run "$S" --user "$alias" --n 3 >"$T/rec.out" 2>"$T/err"
    st=$?
    if [ "$st" -ne 1 ]; then fail "recommend.sh --user '$alias'" "status $st: $(head -c 200 "$T/rec.out")"
    elif ! grep -q "^recommend: user $alias is not in" "$T/err"; then fail "recommend.sh --user '$alias'" "$(cat "$T/err")"
    else pass "recommend.sh --user '$alias' is not user $u"; fi
done

# ---- a TMPDIR that is not there: the pipeline's own one line
TMPDIR=$T/none sh "$P/recommend.sh" --run "$S" --user "$u" >/dev/null 2>"$T/err"
check "recommend.sh: TMPDIR missing is status 1" test $? -eq 1
check "recommend.sh: TMPDIR missing named by the script" grep -q "^recommend: cannot make a temporary file in '$T/none'" "$T/err"
(cd "$T/cwd" && TMPDIR=$T/none MLR_DATA_DIR= timeout 120 sh "$P/pipeline.sh" tmpless >/dev/null 2>"$T/err")
check "pipeline.sh: TMPDIR missing is status 1" test $? -eq 1
check "pipeline.sh: TMPDIR missing named by the script, last line" \
    sh -c 'tail -n 1 "$1" | grep -q "^pipeline: cannot make a temporary file in"' - "$T/err"

# lib.sh's choice readers: best_of (the first on a tie, an empty figure
# skipped, any column), kept_of (the row kept) and per_row_kind (the
# other kind, only where per-row top-100 preferred it).
mkdir -p "$T/hk"
printf 'history\tndcg@10_valid\ttop100_valid\tkept\nall\t0.18\t0.45\t1\nbefore-row\t0.17\t0.61\t0\n' >"$T/hk/history-kind.tsv"
printf 'w\tndcg\n0.5\t\n0.6\t0.2\n0.7\t0.2\n0.8\t0.1\n' >"$T/ties.tsv"
got=$(cd "$T" && me=t && . "$P/lib.sh" &&
    printf '%s,' "$(best_of ties.tsv)" "$(best_of hk/history-kind.tsv 3)" "$(kept_of hk/history-kind.tsv)" \
        "$(per_row_kind hk)")
check "best_of, kept_of, per_row_kind: 0.6,before-row,all,before-row, (got $got)" test "$got" = "0.6,before-row,all,before-row,"
printf 'history\tndcg@10_valid\ttop100_valid\tkept\nall\t0.18\t0.61\t1\nbefore-row\t0.17\t0.45\t0\n' >"$T/hk/history-kind.tsv"
got=$(cd "$T" && me=t && . "$P/lib.sh" && per_row_kind hk && kept_of ties.tsv)
check "per_row_kind: empty when the kept kind is per-row's too; kept_of: empty for none" test -z "$got"
(cd "$T" && me=t && . "$P/lib.sh" && kept_of missing.tsv) 2>/dev/null
check "kept_of: an error for no file" test $? -ne 0
