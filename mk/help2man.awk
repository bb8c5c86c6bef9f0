# help2man.awk -v me=PROGRAM: a tool's --help (or a pipeline's header) as
# help2man reads it: "Usage: PROGRAM ..." on one line per form ("or:" for
# the next forms), then the text; the examples under "Example:", one
# paragraph per command with its continued lines joined.

# A pipeline's first line: "name.sh ARGS[: what it does]"; what it does
# opens the description.
NR == 1 && $1 ~ /^[a-z-]+\.sh:?$/ {
    if (match($0, /: /)) { d = substr($0, RSTART + 2); $0 = substr($0, 1, RSTART - 1) }
    sub(/^[a-z-]+\.sh:?/, me); u = "Usage: " $0; usage = 1; next
}
NR == 1 { sub(/^usage: */, "Usage: "); u = $0; usage = 1; next }
usage && $1 == me { sub(/^ +/, ""); print u; u = "  or: " $0; next }
usage && /^ +[^ -]/ { sub(/^ +/, " "); u = u $0; next }
usage { print u; print ""; usage = 0; if (d != "") print d }
/^example: / { print "Example:"; sub(/^example: */, ""); ex = 1 }
ex {
    sub(/^ +/, ""); e = e (e == "" ? "" : " ") $0
    if (e ~ /\\$/) { sub(/ *\\$/, "", e); next }
    print "  " e; print ""; e = ""; next
}
{ print }
END { if (usage) print u; if (e != "") print "  " e }
