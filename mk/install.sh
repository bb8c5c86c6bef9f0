#!/bin/sh
# install.sh install|uninstall: what `make install` and `make uninstall` do,
# with BIN (where the tools were built), PREFIX and DESTDIR from make:
#   PREFIX/bin/mlr-X             the tools, copied from BIN (nothing is built:
#                                run make first)
#   PREFIX/bin/mlrec-X           each pipeline pipelines/X.sh as a command
#   PREFIX/share/mlrec/pipelines the pipelines themselves; lib.sh finds the
#                                tools in PREFIX/bin from there
#   PREFIX/share/man/man1        a page per command, from --help (help2man)
#   PREFIX/share/bash-completion/completions
#                                option completion for every command
#   PREFIX/share/mlrec/installed what was installed, for uninstall
# Paths written into the commands are PREFIX's; DESTDIR only stages them.
set -eu
cd "$(dirname "$0")/.."
die() { printf 'install.sh: %s\n' "$*" >&2; exit 1; }
: "${BIN:=bin}" "${PREFIX:=/usr/local}" "${DESTDIR:=}"
case $PREFIX in
/*) ;; *) die "PREFIX must be an absolute path, not '$PREFIX'" ;; esac
case $PREFIX in *[\'\\\"]*) die "PREFIX holds a quote or a backslash: '$PREFIX'" ;; esac
root=$DESTDIR$PREFIX
share=share/mlrec mandir=share/man/man1 compdir=share/bash-completion/completions
tools=$(for s in tools/mlr-*.c; do basename "$s" .c; done)
pipes=$(for s in pipelines/*.sh; do n=$(basename "$s" .sh); [ "$n" = lib ] || echo "$n"; done)

# Every file install makes, relative to PREFIX.
files() {
    for t in $tools; do echo "bin/$t"; echo "$mandir/$t.1"; echo "$compdir/$t"; done
    for p in $pipes; do
        echo "bin/mlrec-$p"; echo "$mandir/mlrec-$p.1"; echo "$compdir/mlrec-$p"
        echo "$share/pipelines/$p.sh"
    done
    echo "$share/pipelines/lib.sh"; echo "$compdir/mlrec"; echo "$share/installed"
}

# wrapper NAME VERSION SHAREDIR BINDIR: the command mlrec-NAME, running
# pipelines/NAME.sh from SHAREDIR with BINDIR first on PATH (eda.sh takes
# its tools from PATH); --version is its own.
wrapper() {
    printf '#!/bin/sh\n# mlrec-%s: pipelines/%s.sh of mlrec (make install).\n' "$1" "$1"
    printf "case \${1:-} in --version) echo 'mlrec-%s %s'; exit 0 ;; esac\n" "$1" "$2"
    printf "PATH='%s':\$PATH; export PATH\n" "$4"
    printf "exec sh '%s/pipelines/%s.sh' \"\$@\"\n" "$3" "$1"
}

# name CMD: the one line of CMD's man page, from mk/names.tsv.
name() {
    n=$(awk -F'\t' -v c="$1" '$1 == c { print $2 }' mk/names.tsv)
    [ -n "$n" ] || { echo "install.sh: warning: no line for $1 in mk/names.tsv" >&2; n="part of mlrec"; }
    printf '%s\n' "$n"
}

do_install() {
    for t in $tools; do
        [ -x "$BIN/$t" ] || die "$BIN/$t: not built (run make first, or give BIN=)"
    done
    version=$("$BIN/mlr-train" --version | sed -n '1s/^mlr-train //p')
    [ -n "$version" ] || die "$BIN/mlr-train --version printed no version"
    mkdir -p "$root/bin" "$root/$share/pipelines" "$root/$mandir" "$root/$compdir"
    # man pages need help2man (make deps); without it, the rest is installed.
    if command -v help2man >/dev/null; then manpage() { sh mk/man.sh "$@"; }
    else manpage() { :; }; echo "install.sh: warning: no help2man (make deps): no man pages" >&2; fi
    for t in $tools; do
        install -m 755 "$BIN/$t" "$root/bin/$t"
        manpage "$BIN/$t" "$(name "$t")" "$root/$mandir/$t.1"
    done
    install -m 644 pipelines/*.sh "$root/$share/pipelines/"
    # The man pages run the staged copies: under DESTDIR, PREFIX is not there yet.
    stage=$(mktemp -d) || exit 1
    trap 'rm -rf "$stage"' EXIT
    for p in $pipes; do
        wrapper "$p" "$version" "$PREFIX/$share" "$PREFIX/bin" >"$root/bin/mlrec-$p"
        chmod 755 "$root/bin/mlrec-$p"
        wrapper "$p" "$version" "$root/$share" "$root/bin" >"$stage/mlrec-$p"
        chmod 755 "$stage/mlrec-$p"
        manpage "$stage/mlrec-$p" "$(name "mlrec-$p")" "$root/$mandir/mlrec-$p.1"
    done
    cmds=$(echo $tools $(for p in $pipes; do echo "mlrec-$p"; done))
    { cat mk/mlrec.bash; echo "complete -o filenames -o bashdefault -F _mlrec $cmds"; } >"$root/$compdir/mlrec"
    chmod 644 "$root/$compdir/mlrec"
    for c in $cmds; do
        ln -sf mlrec "$root/$compdir/$c"
    done
    files >"$root/$share/installed"
    echo "install.sh: installed $(echo $tools | wc -w) tools and $(echo $pipes | wc -w) pipelines into $root"
}

do_uninstall() {
    { files; [ -f "$root/$share/installed" ] && cat "$root/$share/installed"; } | sort -u |
        while IFS= read -r f; do rm -f "$root/$f"; done
    rmdir "$root/$share/pipelines" "$root/$share" 2>/dev/null || true
    echo "install.sh: removed mlrec from $root"
}

case ${1:-} in
install) do_install ;;
uninstall) do_uninstall ;;
*) echo "usage: install.sh install|uninstall (BIN, PREFIX, DESTDIR from the environment)" >&2; exit 2 ;;
esac
