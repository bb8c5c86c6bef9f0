#!/bin/sh
# man.sh PROGRAM NAME-LINE OUT.1: the man page of PROGRAM (a tool, or an
# installed pipeline command mlrec-X) made by help2man from its --help and
# --version; NAME-LINE is the page's one-line description.
# help2man reads a synopsis from "Usage: PROG ..." lines and sections from
# unindented "Title:" lines; our helps say "usage:", wrap the synopsis over
# indented lines and end with "example: ...". So help2man runs a stand-in,
# named as PROGRAM, whose --help is PROGRAM's through mk/help2man.awk.
set -eu
[ $# -eq 3 ] || { echo "usage: man.sh PROGRAM NAME-LINE OUT.1" >&2; exit 2; }
prog=$1 name=$2 out=$3
command -v help2man >/dev/null || { echo "man.sh: help2man is not installed (make deps)" >&2; exit 1; }
awk=$(cd "$(dirname "$0")" && pwd)/help2man.awk
d=$(mktemp -d) || exit 1
trap 'rm -rf "$d"' EXIT
base=${prog##*/}
# The stand-in's text is fixed: the paths reach it through the environment.
cat >"$d/$base" <<'STANDIN'
#!/bin/sh
[ "${1:-}" = --help ] || exec "$MLR_MAN_PROG" "$@"
"$MLR_MAN_PROG" --help | awk -v me="${0##*/}" -f "$MLR_MAN_AWK"
STANDIN
chmod +x "$d/$base"
MLR_MAN_PROG=$prog MLR_MAN_AWK=$awk help2man --no-info --section 1 --manual "mlrec: a movie recommender as Unix tools" \
    --name "$name" --output "$out" "$d/$base"
