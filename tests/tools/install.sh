#!/bin/sh
# make install into a temporary prefix from the tools already built in
# MLR_BIN (nothing is rebuilt: other tests run beside this one), then a
# small flow from there as a user without a checkout would run it: PATH
# only the prefix's bin and the system's, no MLR_* variable, a scratch
# folder. Then the man pages, --version's commit, bash completion, a
# staged install (DESTDIR), and make uninstall leaving none of our files.
. "$(dirname "$0")/lib.sh"
if [ ! -x "$MLR_BIN/mlr-train" ]; then
    skip "make install" "no tools built in $MLR_BIN (run make first)"; exit 0
fi
P=$T/prefix W=$T/work
mkdir -p "$W" "$T/home"
# make, without what a make running this test passes down to it.
mk() { env -u MAKEFLAGS -u MFLAGS -u MAKELEVEL make -s -C "$MLR_ROOT" BIN="$MLR_BIN" "$@"; }
# clean CMD...: CMD in the scratch folder with a clean environment.
clean() { (cd "$W" && env -i HOME="$T/home" PATH="$P/bin:/usr/bin:/bin" "$@"); }

tools=$(cd "$MLR_ROOT/tools" && ls mlr-*.c | sed 's/\.c$//')
pipes=$(cd "$MLR_ROOT/pipelines" && ls *.sh | sed 's/\.sh$//' | grep -vx lib)

ran -o "$T/install.out" "make install PREFIX=$P" mk install PREFIX="$P" || exit 0
missing=""
for t in $tools; do [ -x "$P/bin/$t" ] || missing="$missing bin/$t"; done
for p in $pipes; do
    [ -x "$P/bin/mlrec-$p" ] || missing="$missing bin/mlrec-$p"
    [ -f "$P/share/mlrec/pipelines/$p.sh" ] || missing="$missing share/mlrec/pipelines/$p.sh"
done
check "make install: every tool, pipeline and mlrec-X command (missing:$missing)" test -z "$missing"

# The flow, from the prefix: data, split, evaluate.sh (which runs
# prepare.sh, train-eval.sh and package.sh, each finding its tools and
# lib.sh in the installed tree), then a user's recommendations.
if ran "installed flow: mlr-synth, mlr-split" clean sh -c \
    'mlr-synth --n-users 80 --n-items 60 --n-ratings 2400 --seed 5 --output all.tsv &&
     mlr-split --seed 1 --test-output test.tsv --output train.tsv all.tsv'; then
    if ran "installed flow: mlrec-evaluate" clean mlrec-evaluate train.tsv test.tsv run --epochs 1 --quiet; then
        check "installed flow: metrics.tsv has top100" grep -q '^top100' "$W/run/metrics.tsv"
        user=$(awk -F'\t' 'NR == 2 { print $1 }' "$W/test.tsv")
        if ran -o "$T/recs" "installed flow: mlr-recommend" clean mlr-recommend --served run/served --k 3 "$user"; then
            check "installed flow: 3 recommendations for user $user" test "$(awk 'NR > 1' "$T/recs" | wc -l)" -eq 3
        fi
    fi
fi
# An installed script run by its path, the prefix not on PATH: lib.sh
# finds the tools in PREFIX/bin by itself.
if [ -s "$W/train.tsv" ]; then
    ran "installed prepare.sh by its path, PATH without the prefix" \
        sh -c 'cd "$1" && env -i HOME="$2" PATH=/usr/bin:/bin sh "$3" train.tsv test.tsv prep2' \
        sh "$W" "$T/home" "$P/share/mlrec/pipelines/prepare.sh" &&
        check "installed prepare.sh: the encoded rows" test -s "$W/prep2/enc-train/user_id.npy"
fi
check "installed flow: nothing written outside the scratch folder and the prefix" \
    test -z "$(ls -A "$T/home")"

# --version names the commit the tools were built from (HEAD when built by
# make from this checkout), a pipeline command the same.
v=$(clean mlr-topk --version)
pv=$(clean mlrec-evaluate --version)
# git describe: [TAG-N-g]HASH[-dirty]; "unknown" where git is not.
check "mlr-topk --version names a commit ($v)" sh -c "echo '$v' |
    grep -Eq '^mlr-topk [0-9.]+ \(commit ((.+-g)?[0-9a-f]{7,}(-dirty)?|unknown)\)$'"
check "mlrec-evaluate --version is the tools' ($pv)" test "${pv#mlrec-evaluate }" = "${v#mlr-topk }"
# Every pipeline answers --version from the checkout as its installed
# command does (lib.sh), the tools from MLR_BIN.
bad=""
for p in $pipes; do
    got=$(MLR_BIN=$MLR_BIN sh "$MLR_ROOT/pipelines/$p.sh" --version 2>&1) || bad="$bad $p(status)"
    [ "$got" = "$(clean "mlrec-$p" --version)" ] || bad="$bad $p($got)"
done
check "pipelines/*.sh --version from the checkout = mlrec-X --version (bad:$bad)" test -z "$bad"
if head=$(git -C "$MLR_ROOT" rev-parse HEAD 2>/dev/null); then
    commit=$(echo "$v" | sed -E 's/.*\(commit (.+-g)?([0-9a-f]+)(-dirty)?\)$/\2/')
    case $head in "$commit"*) pass "--version's commit $commit is HEAD" ;;
    *) fail "--version's commit" "$commit, HEAD is $head (tools built from another commit: run make)" ;; esac
else
    skip "--version's commit is HEAD" "$MLR_ROOT is not a git checkout"
fi

# Man pages: one per command, naming it, with a NAME line of its own.
if command -v help2man >/dev/null; then
    bad=""
    for c in $tools $(for p in $pipes; do echo "mlrec-$p"; done); do
        f=$P/share/man/man1/$c.1
        if [ ! -s "$f" ]; then bad="$bad $c(none)"; continue; fi
        grep -q "^$c \\\\- " "$f" || bad="$bad $c(NAME)"
        grep -q 'manual page for' "$f" && bad="$bad $c(no line in mk/names.tsv)"
    done
    check "a man page per command, each with its NAME line (bad:$bad)" test -z "$bad"
    check "mlr-train.1 has the --epochs option" grep -q 'epochs' "$P/share/man/man1/mlr-train.1"
    check "mlr-train.1 names the commit" grep -q "commit ${commit:-}" "$P/share/man/man1/mlr-train.1"
    if command -v man >/dev/null; then
        clean sh -c 'man -l "$1" 2>/dev/null' sh "$P/share/man/man1/mlr-topk.1" >"$T/man.txt"
        check "man -l mlr-topk.1 shows mlr-topk's synopsis" grep -q '^SYNOPSIS' "$T/man.txt"
        check "man -l mlr-topk.1 shows --queries" grep -q -- '--queries' "$T/man.txt"
        check "man finds mlr-topk through MANPATH" \
            sh -c "MANPATH='$P/share/man' man -w mlr-topk 2>/dev/null | grep -q '$P'"
    else
        skip "man -l" "man is not installed"
    fi
else
    skip "man pages" "help2man is not installed (make deps)"
fi

# bash completion: the options of a tool, from its --help.
if command -v bash >/dev/null; then
    got=$(clean bash -c '. "$1"; COMP_WORDS=(mlr-train --epo); COMP_CWORD=1; _mlrec; echo "${COMPREPLY[*]}"' \
        sh "$P/share/bash-completion/completions/mlr-train")
    check "bash completion: mlr-train --epo<TAB> gives --epochs ($got)" test "$got" = --epochs
    got=$(clean bash -c '. "$1"; complete -p mlrec-grid' sh "$P/share/bash-completion/completions/mlrec")
    check "bash completion: mlrec-grid completes ($got)" test -n "$got"
fi

# A staged install: files under DESTDIR, the commands naming PREFIX.
if ran -o "$T/stage.out" "make install DESTDIR" mk install DESTDIR="$T/stage" PREFIX=/opt/mlrec; then
    check "DESTDIR: the tools staged under DESTDIR/PREFIX" test -x "$T/stage/opt/mlrec/bin/mlr-topk"
    check "DESTDIR: mlrec-evaluate runs PREFIX's copy, not DESTDIR's" \
        sh -c "grep -q \"'/opt/mlrec/share/mlrec/pipelines/evaluate.sh'\" '$T/stage/opt/mlrec/bin/mlrec-evaluate' &&
               ! grep -q '$T/stage' '$T/stage/opt/mlrec/bin/mlrec-evaluate'"
fi

# Without built tools, install refuses and installs nothing.
mkdir -p "$T/nobin"
if mk install BIN="$T/nobin" PREFIX="$T/p2" >"$T/nobin.out" 2>&1; then
    fail "make install without tools" "it succeeded"
else
    check "make install without tools: says to run make, installs nothing" \
        sh -c "grep -q 'run make first' '$T/nobin.out' && test -z \"\$(find '$T/p2' -type f 2>/dev/null)\""
fi

# make uninstall leaves none of our files.
if ran -o "$T/uninstall.out" "make uninstall PREFIX=$P" mk uninstall PREFIX="$P"; then
    left=$(find "$P" -type f -o -type l | sed "s|^$P/||" | head -5 | tr '\n' ' ')
    check "make uninstall leaves no file in the prefix (left: $left)" test -z "$left"
    check "make uninstall removes share/mlrec" test ! -e "$P/share/mlrec"
fi
