#!/bin/sh
# The suite's option names (docs/options.md): every option a tool parses is
# a row of the table naming that tool (or a deprecated alias listed for it),
# with the table's short letter, and appears in the tool's --help; a short
# letter of the table works in every tool that has its long option.
# The options a tool parses are read from its getopt_long table in
# tools/mlr-X.c, the one list getopt itself uses.
. "$(dirname "$0")/lib.sh"
DOC=$MLR_ROOT/docs/options.md

# The main table: "option short tools", tools comma-separated or "all".
awk -F'|' '/^\| --/ {
        gsub(/ /, "", $2); gsub(/ /, "", $3); gsub(/ /, "", $6)
        print $2, ($3 == "" ? "-" : $3), $6 }' "$DOC" >"$T/table"
# The deprecated aliases: "tool --old --new".
awk -F'|' '/^## Renamed/ { on = 1; next } /^## / { on = 0 }
    on && /^\| [a-z]+ \| --/ { split($3, o, " "); split($4, n, " "); gsub(/ /, "", $2); print $2, o[1], n[1] }' "$DOC" >"$T/aliases"
awk '{ print $1, $2 }' "$T/aliases" >"$T/aliases.short"
check "options.md has its table" test "$(wc -l <"$T/table")" -gt 50
check "options.md lists the deprecated aliases" test -s "$T/aliases"

# parsed TOOL: "name value-char" of each entry of the tool's getopt_long
# table (value-char: the short letter when the val is a character literal).
parsed() {
    grep -o '{"[a-z0-9-]*", *[a-z_]*_argument, *[A-Za-z0-9_]*, *[^}]*}' \
        "$MLR_ROOT/tools/$1.c" |
        sed -E "s/^\\{\"([^\"]*)\", *[a-z_]*, *[A-Za-z0-9_]*, *'(.)'\\}$/\\1 \\2/;
                s/^\\{\"([^\"]*)\",.*/\\1 -/"
}
# shorts TOOL: the letters of the tool's getopt_long option string.
shorts() {
    grep -o 'getopt_long([^"]*"[^"]*"' "$MLR_ROOT/tools/$1.c" |
        sed 's/.*"\(.*\)"/\1/' | tr -d ':' | fold -w1
}

# Tools not yet renamed to the table (issue 15): skipped, said so. The
# list shrinks to nothing as each lands.
pending=""

for src in "$MLR_ROOT"/tools/mlr-*.c; do
    tool=$(basename "$src" .c) short_name=${tool#mlr-}
    case " $pending " in *" $short_name "*)
        skip "$tool options" "not yet renamed to docs/options.md"; continue ;; esac
    "$tool" --help >"$T/help" 2>"$T/help.err"
    check "$tool --help exits 0, says nothing on stderr" test $? -eq 0 -a ! -s "$T/help.err"
    parsed "$tool" >"$T/parsed"
    check "$tool: its option table was found" test "$(wc -l <"$T/parsed")" -ge 3
    shorts "$tool" >"$T/shorts"
    while read -r name val; do
        if ! grep -Eq -- "--$name([^a-z0-9-]|\$)" "$T/help"; then
            fail "$tool --$name in --help" "parsed but not in '$tool --help'"
        else
            pass "$tool --$name in --help"
        fi
        row=$(awk -v n="--$name" -v t="$short_name" '$1 == n {
                k = split($3, ts, ","); for (i = 1; i <= k; i++) if (ts[i] == t || ts[i] == "all") print }' "$T/table")
        if [ -z "$row" ]; then
            new=$(awk -v t="$short_name" -v n="--$name" '$1 == t && $2 == n { print $3 }' "$T/aliases")
            if [ -n "$new" ]; then
                if ! grep -q "^${new#--} " "$T/parsed"; then
                    fail "$tool --$name deprecated" "listed as an alias of $new, which $tool does not parse"
                elif [ "$val" != - ] && grep -qx -- "$val" "$T/shorts"; then
                    fail "$tool --$name deprecated" "an alias with a short letter (-$val)"
                else
                    pass "$tool --$name is a listed deprecated alias of $new"
                fi
            else
                fail "$tool --$name in docs/options.md" \
                    "no row of the table for --$name naming $short_name (add one, or rename the option)"
            fi
            continue
        fi
        want=$(echo "$row" | awk '{ print $2 }')
        got=-
        if [ "$val" != - ] && grep -qx -- "$val" "$T/shorts"; then got=-$val; fi
        if [ "$got" = "$want" ]; then pass "$tool --$name short letter ($want)"
        else fail "$tool --$name short letter" "the tool takes '$got', docs/options.md says '$want'"; fi
    done <"$T/parsed"
    # A letter the tool takes must belong to one of its long options.
    while read -r letter; do
        [ "$letter" = h ] && continue
        if awk -v l="$letter" '$2 == l { f = 1 } END { exit !f }' "$T/parsed"; then :
        else fail "$tool -$letter" "a short letter without a long option"; fi
    done <"$T/shorts"
done

# mlr-train --list-options: the machine-readable listing grid.sh reads, one
# row per option mlr-train parses (deprecated aliases left out), each with
# the type its getopt table gives it.
if mlr-train --list-options >"$T/list" 2>"$T/list.err"; then
    check "train --list-options: a TSV header" test "$(head -n 1 "$T/list")" = "$(printf 'name\ttype\tdefault')"
    grep -o '{"[a-z0-9-]*", *[a-z_]*_argument' "$MLR_ROOT/tools/mlr-train.c" |
        sed -E 's/\{"([^"]*)", *([a-z_]*)_argument/\1 \2/' >"$T/train-parsed"
    while read -r name arg; do
        if grep -qx -- "train --$name" "$T/aliases.short" 2>/dev/null; then continue; fi
        want=value; [ "$arg" = no ] && want=flag
        got=$(awk -F'\t' -v n="$name" '$1 == n { print $2 }' "$T/list")
        if [ "$got" = "$want" ]; then pass "train --list-options: $name is a $want"
        else fail "train --list-options: $name" "listed as '$got', parsed as a $want"; fi
    done <"$T/train-parsed"
    check "train --list-options: --dim's default is the help's" \
        sh -c "awk -F'\t' '\$1 == \"dim\" { d = \$3 } END { exit d == \"\" }' '$T/list' &&
               mlr-train --help | grep -q -- \"--dim N.*(default \$(awk -F'\t' '\$1 == \"dim\" { print \$3 }' '$T/list'))\""
else
    fail "train --list-options" "status $?: $(head -c 200 "$T/list.err")"
fi

# Every --help's example runs, as written, on ML-100K in a scratch folder
# (data/ml-100k a link to the real one). The order makes each example's
# inputs (train.tsv, spec, enc/..., model.safetensors, query.npy ...) from
# the examples before it; a tool not in the list runs last.
if have_data ml-100k/u.data && command -v bash >/dev/null 2>&1; then
    X=$T/examples
    mkdir -p "$X/data" && ln -s "$MLR_DATA_DIR/ml-100k" "$X/data/ml-100k"
    order="ingest split stats synth vocab encode train predict embed score topk slice baseline"
    for src in "$MLR_ROOT"/tools/mlr-*.c; do
        t=$(basename "$src" .c); t=${t#mlr-}
        case " $order " in *" $t "*) ;; *) order="$order $t" ;; esac
    done
    # examples TOOL: the tool's examples, one command a line: a line that
    # ends in \, && or | (or starts with && or |) goes on with the next.
    examples() {
        "mlr-$1" --help | sed -n '/^example:/,$p' | sed 's/^example: *//' | awk '
            { sub(/^ +/, ""); if (NR > 1 && !more && $0 !~ /^(&&|\|)/) print line "";
              if (NR == 1 || (!more && $0 !~ /^(&&|\|)/)) line = ""
              more = ($0 ~ /(\\|&&|\|)$/); sub(/\\$/, ""); line = line " " $0 }
            END { if (NR) print line }'
    }
    for t in $order; do
        examples "$t" >"$T/ex.list"
        if [ ! -s "$T/ex.list" ]; then fail "mlr-$t --help example" "the help has no 'example:' line"; continue; fi
        # mlr-recommend serves run/served, a served directory (docs/serving.md)
        if [ "$t" = recommend ] && [ ! -d "$X/run/served" ]; then
            (cd "$X" && sh "$MLR_ROOT/pipelines/evaluate.sh" train.tsv test.tsv run --epochs 1 --quiet) \
                >/dev/null 2>"$T/ex.err" || fail "mlr-recommend example: evaluate.sh for run/served" "$(tail -n 1 "$T/ex.err")"
        fi
        st=0
        while IFS= read -r ex; do
            (cd "$X" && bash -o pipefail -c "$ex") >"$T/ex.out" 2>"$T/ex.err" || { st=$?; break; }
        done <"$T/ex.list"
        if [ "$st" -ne 0 ]; then
            fail "mlr-$t --help example runs" "status $st: $(tail -n 2 "$T/ex.err" | tr '\n' ' ' | head -c 300)"
        elif grep -q 'deprecated' "$T/ex.err"; then
            fail "mlr-$t --help example runs" "it uses a deprecated name: $(grep deprecated "$T/ex.err" | head -n 1)"
        else
            pass "mlr-$t --help example runs"
        fi
    done
    # --threads defaults to the CPUs everywhere, so a tool's output must not
    # depend on it: mlr-embed's on the examples' 20,000 test rows (chunks of
    # 1,024 rows; before, each thread's range cut them elsewhere).
    if (cd "$X" && mlr-embed --threads 1 --model model.safetensors --rows enc/test --output t1.npy &&
        mlr-embed --threads 3 --model model.safetensors --rows enc/test --output t3.npy); then
        same "mlr-embed: --threads 3 gives the bits of --threads 1" "$X/t3.npy" "$X/t1.npy"
    else
        fail "mlr-embed --threads 1 and 3" "a run failed"
    fi
else
    skip "the --help examples" "needs MLR_DATA_DIR with ml-100k and bash"
fi
# Every pipeline prints its help on stdout and exits 0 with -h and --help,
# doing nothing else (pipeline.sh -h once ran the whole pipeline into
# runs/-h): the folder it runs in and MLR_RUNS stay empty.
for p in "$MLR_ROOT"/pipelines/*.sh; do
    name=$(basename "$p")
    [ "$name" = lib.sh ] && continue
    for h in -h --help; do
        rm -rf "$T/ph" && mkdir -p "$T/ph/runs"
        (cd "$T/ph" && MLR_RUNS="$T/ph/runs" timeout 60 sh "$p" "$h") >"$T/ph.out" 2>"$T/ph.err" </dev/null
        st=$?
        if [ "$st" -ne 0 ]; then fail "$name $h" "status $st: $(head -c 200 "$T/ph.err")"
        elif [ ! -s "$T/ph.out" ]; then fail "$name $h" "nothing on stdout"
        elif [ -n "$(ls -A "$T/ph/runs")" ] || [ "$(ls -A "$T/ph" | tr '\n' ' ')" != "runs " ]; then
            fail "$name $h" "it made files: $(ls -A "$T/ph" "$T/ph/runs" | tr '\n' ' ')"
        else pass "$name $h prints its help"; fi
    done
done
