#!/bin/sh
# --help's option lines as help2man reads them (make install's man pages):
# a line indented by 1 to 10 spaces and starting with '-' is an option; its
# tag ends at the first two spaces (or at the line's end, the description
# then on the next lines). One space between the tag and the description
# made the whole line the tag ("-o, --output FILE write here ..." with no
# description). So every word of a tag must be an option (-x, --name,
# --name=ARG), a placeholder (FILE, Q.npy, [ARG], I,J) or a choice
# (tsv|json): a word in lower case is a description joined by one space.
. "$(dirname "$0")/lib.sh"
cat >"$T/tags.awk" <<'EOF'
/^ +-/ && match($0, /^ +/) && RLENGTH <= 10 {
    line = substr($0, RLENGTH + 1)
    split(line, part, /  +|\t/)
    m = split(part[1], w, / /)
    for (i = 1; i <= m; i++) {
        t = w[i]
        if (t ~ /^-/ || t ~ /^[[(]?[A-Z0-9][A-Za-z0-9_,.|=:-]*[])]?[.,]*$/ || t ~ /^[a-z0-9]+(\|[a-z0-9]+)+$/)
            continue
        print name ": " $0
        break
    }
}
EOF
bad=
for t in $(cd "$MLR_ROOT/tools" && ls mlr-*.c | sed 's/\.c$//'); do
    "$MLR_BIN/$t" --help >"$T/help" 2>&1 || bad="$bad $t(--help failed)"
    bad="$bad$(awk -v name="$t" -f "$T/tags.awk" "$T/help" | tr '\n' ' ')"
done
check "every tool's --help option line has two spaces before its description (bad:$bad)" test -z "$bad"
bad=
for p in $(cd "$MLR_ROOT/pipelines" && ls *.sh | grep -vx lib.sh); do
    MLR_BIN=$MLR_BIN sh "$MLR_ROOT/pipelines/$p" --help >"$T/help" 2>&1 || bad="$bad $p(--help failed)"
    bad="$bad$(awk -v name="$p" -f "$T/tags.awk" "$T/help" | tr '\n' ' ')"
done
check "every pipeline's --help option line has two spaces before its description (bad:$bad)" test -z "$bad"
# The check itself: a joined line is caught, the two forms help2man reads are not.
printf '  -o, --output FILE write here\n  -o, --output FILE  write here\n  -k, --k K\n                    list length\n      --format tsv|json  the format\n' >"$T/help"
check "the check catches a description joined by one space, and only it" \
    test "$(awk -v name=x -f "$T/tags.awk" "$T/help")" = "x:   -o, --output FILE write here"
