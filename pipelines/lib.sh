# lib.sh: what the pipelines share. Source it after setting `me` (the
# pipeline's name, used in messages).
#   run_stage NAME CMD...  says the stage on stderr and runs CMD; when
#                          MLR_STAGES names a file, appends a row
#                          "stage seconds peak_rss_mb" to it (GNU time).
#   die MESSAGE            one line on stderr, exit 1.
#   shquote WORD           WORD as one word of a shell command line (bare
#                          when it is plain, else single-quoted): for
#                          command lines written to be read, never to be
#                          run by eval or sh -c (names travel as data).
#   awkpath PATH           PATH as an awk operand: ./ before a relative
#                          one, so that a file named "t=1.tsv" is read,
#                          not taken for an assignment (nor "-x" an option).
#   mlr_mktemp [-d]        mktemp, or one line of the pipeline's own (the
#                          TMPDIR at fault) and exit 1 in place of mktemp's.
#   noopt VAR...           a relative name in VAR that starts with - gets ./
#                          before it: no command (mkdir, cp, mv) reads it
#                          as an option.
#   beside [-d] PATH       a new file (-d: folder) PATH.tmp.XXXXXX, made
#                          exclusively by mktemp in PATH's own folder, with
#                          the mode > or mkdir gives: a temporary to rename
#                          over PATH, at a name no planted symlink can
#                          take (never PATH.tmp or PATH.$$); else one line
#                          and exit 1. `t=$(beside PATH) || exit 1`.
#   into PATH CMD...       CMD's stdout becomes PATH as a tool's output
#                          would (docs/hardening.md): a regular file or a
#                          new name through a temporary (beside) renamed
#                          over it, a symlink written through to its
#                          target; anything else (/dev/null, /dev/full, a
#                          FIFO) written in place, never renamed over.
#                          Its temporary is $in_t (for the caller's trap).
#   mkout DIR              mkdir -p DIR, or one line of the pipeline's own
#                          ("DIR: cannot create the folder: why") and exit 1.
#   list_opt OPTION LIST lambda|weight  LIST a comma-separated list of
#                          decimals (D+ or D+.D+: docs/numbers.md), each
#                          positive (lambda: EASE's) or in [0, 1] (weight:
#                          a model's in fused lists); else one line,
#                          status 2.
#   best_of TSV [COL]      the first column of TSV's row (below its header)
#                          with the highest column COL (default 2; an empty
#                          one skipped), the first on a tie, empty for
#                          none: the choice of a table of settings and
#                          their validation figures.
#   kept_of TSV            the first column of TSV's row whose last column
#                          (kept) is 1: the choice a run recorded
#                          (user-time.tsv, history-kind.tsv); empty for
#                          none, an error for no file.
#   per_row_kind RUN       the kind of user_history (train-eval.sh --history)
#                          whose per-row top-100 on the validation slice
#                          was the better in RUN/history-kind.tsv, when
#                          it is not the kind RUN's model kept; else empty:
#                          the model that the seed report's protocol (a
#                          query per test row, at its time) asks for.
#   mlr_help               the script's header comment (line 2 to `set -eu`)
#                          on stdout: what -h and --help print.
# --version as a pipeline's first argument prints "mlrec-NAME VERSION", the
# version of the tools it runs (mlr-train's), as the installed mlrec-NAME
# command does, and exits.
# Tools come from $MLR_BIN, else from the bin/ of the checkout or of the
# installed tree, else PATH. mlr_root holds data/ and runs/: the checkout,
# or for an installed copy (make install: PREFIX/share/mlrec/pipelines,
# tools in PREFIX/bin) the current directory.
# Descriptors 0, 1 and 2 open before anything else, as the tools make
# theirs (lib/mlr.h): a closed stdin reads /dev/null, a closed stdout is
# /dev/full (writing to it fails, not writing does not; awk's exit no
# longer fails on it), a closed stderr /dev/null. (`3>&1` fails on a
# closed 1; `>&1` alone would not.)
{ true 3<&0; } 2>/dev/null || exec </dev/null
{ true 3>&1; } 2>/dev/null || exec >/dev/full
true 3>&2 || exec 2>/dev/null # (no 2>/dev/null here: it would open what it probes)
mlr_pipelines=$(cd "$(dirname "$0")" && pwd)
case $mlr_pipelines in
*/share/mlrec/pipelines) mlr_bindir=${mlr_pipelines%/share/mlrec/pipelines}/bin mlr_root=$PWD ;;
*) mlr_bindir=$mlr_pipelines/../bin mlr_root=$(cd "$mlr_pipelines/.." && pwd) ;;
esac
PATH="${MLR_BIN:-$mlr_bindir}:$PATH"
export PATH
# The tools set OpenBLAS's threads themselves (--threads); started with one,
# OpenBLAS spares each process the pool it would spin for 0.1 s as it loads,
# a core taken from the tool's own threads and from a grid's other runs.
OPENBLAS_NUM_THREADS=${OPENBLAS_NUM_THREADS:-1}
export OPENBLAS_NUM_THREADS

die() { printf '%s\n' "$me: $*" >&2; exit 1; }

if [ "${1:-}" = --version ]; then
    mlr_v=$(mlr-train --version 2>/dev/null | sed -n '1s/^mlr-train //p')
    [ -n "$mlr_v" ] || die "--version: no mlr-train to ask (run make, or set MLR_BIN)"
    printf 'mlrec-%s %s\n' "$(basename "$0" .sh)" "$mlr_v"
    exit 0
fi

# parallel's --env for each OPENBLAS_* setting of the caller (the kernel
# named by OPENBLAS_CORETYPE, the cache sizes): an ssh login starts with a
# bare environment, and OpenBLAS picking another kernel there gives other
# bits, so a grid or a sharded top-k over hosts would not match a local run.
openblas_envs() {
    env | sed -n 's/^\(OPENBLAS_[A-Za-z0-9_]*\)=.*/--env \1/p' | tr '\n' ' '
}

awkpath() { case $1 in /*) printf '%s' "$1" ;; *) printf './%s' "$1" ;; esac; }

# In $(...), die ends the subshell only: callers write `x=$(mlr_mktemp) || exit 1`.
mlr_mktemp() {
    mktemp "$@" 2>/dev/null ||
        die "cannot make a temporary file in '${TMPDIR:-/tmp}' (TMPDIR): not a writable directory"
}

# count_opt OPTION VALUE MIN MAX: VALUE is a whole number of MIN..MAX, digits
# only (docs/numbers.md: no '+', blank, hex or exponent), checked before
# the shell's arithmetic, which wraps or fails past 19 digits; else a
# one-line usage error, status 2, as the tools give.
count_opt() {
    co_v=${2#"${2%%[!0]*}"} # without its leading zeros
    case $2 in ''|*[!0-9]*) ;; *)
        [ ${#co_v} -le 18 ] && [ "${co_v:-0}" -ge "$3" ] && [ "${co_v:-0}" -le "$4" ] && return 0 ;;
    esac
    printf '%s\n' "$me: $1: '$2' is not a whole number in [$3, $4]" >&2
    exit 2
}

noopt() { for no_v; do eval "case \${$no_v} in -*) $no_v=./\${$no_v} ;; esac"; done; }

beside() {
    bs_d=
    [ "$1" != -d ] || { bs_d=-d; shift; }
    bs_t=$(mktemp $bs_d -- "$1.tmp.XXXXXX" 2>/dev/null) ||
        die "cannot create a temporary beside $1 (is its folder there and writable?)"
    if [ -n "$bs_d" ]; then bs_m=0777; else bs_m=0666; fi
    chmod "$(printf '%o' $((bs_m & ~0$(umask))))" -- "$bs_t" && printf '%s\n' "$bs_t"
}

mkout() {
    mo_err=$(mkdir -p -- "$1" 2>&1) ||
        die "$1: cannot create the folder: $(printf '%s' "$mo_err" | sed -n '$s/.*: //p')"
}

into() {
    in_to=$1; shift
    if [ -e "$in_to" ] && [ ! -f "$in_to" ]; then "$@" >"$in_to"; return; fi
    [ ! -L "$in_to" ] || in_to=$(readlink -f -- "$in_to") || return 1
    in_t=$(beside "$in_to") || return 1
    if "$@" >"$in_t"; then mv -T -- "$in_t" "$in_to"; else in_st=$?; rm -f -- "$in_t"; return "$in_st"; fi
}

# decimal_opt OPTION VALUE [LO HI]: VALUE a decimal of the suite's grammar
# (docs/numbers.md: -?D+(.D+)?([eE][+-]?D+)?, finite; no '+', blank, hex,
# inf or nan), strictly between LO and HI when given; else one line,
# status 2, before any work. (The value reaches awk through the
# environment: -v would unescape it.)
decimal_opt() {
    MLR_V=$2 awk -v lo="${3:-}" -v hi="${4:-}" 'BEGIN { x = ENVIRON["MLR_V"]
        if (x !~ /^-?[0-9]+(\.[0-9]+)?([eE][-+]?[0-9]+)?$/) exit 1
        v = x + 0
        if (!(v <= 1.7976931348623157e308 && v >= -1.7976931348623157e308)) exit 1
        if (lo != "" && !(v > lo + 0 && v < hi + 0)) exit 1 }' </dev/null && return 0
    if [ -n "${3:-}" ]; then printf '%s\n' "$me: $1: '$2' is not a number between $3 and $4 (exclusive)" >&2
    else printf '%s\n' "$me: $1: '$2' is not a number" >&2; fi
    exit 2
}

list_opt() {
    MLR_V=$2 awk -v kind="$3" 'BEGIN { n = split(ENVIRON["MLR_V"], v, ","); if (n == 0) exit 1
        for (i = 1; i <= n; i++) {
            if (v[i] !~ /^[0-9]+(\.[0-9]+)?$/) exit 1
            if (kind == "lambda" ? !(v[i] + 0 > 0) : !(v[i] + 0 <= 1)) exit 1
        } }' </dev/null && return 0
    case $3 in lambda) lo_what="positive numbers" ;; *) lo_what="numbers in [0, 1]" ;; esac
    printf '%s\n' "$me: $1: a comma-separated list of $lo_what, not '$2'" >&2
    exit 2
}

best_of() {
    awk -F'\t' -v c="${2:-2}" 'NR > 1 && $c != "" && (b == "" || $c + 0 > bv) { b = $1; bv = $c + 0 }
        END { print b }' "$(awkpath "$1")"
}

kept_of() { awk -F'\t' 'NR > 1 && $NF == 1 { print $1; exit }' "$(awkpath "$1")"; }

per_row_kind() {
    lr_best=$(best_of "$1/history-kind.tsv" 3) && lr_kept=$(kept_of "$1/history-kind.tsv") || return 1
    [ -z "$lr_best" ] || [ "$lr_best" = "$lr_kept" ] || echo "$lr_best"
}

mlr_help() { sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; }

shquote() {
    case $1 in
    '') printf "''" ;;
    *[!A-Za-z0-9_./,:=+@%-]*)
        # The x keeps trailing newlines from the command substitution.
        s=$(printf '%sx' "$1" | sed "s/'/'\\\\''/g")
        printf "'%s'" "${s%x}" ;;
    *) printf '%s' "$1" ;;
    esac
}

run_stage() {
    name=$1; shift
    echo "$me: $name" >&2
    if [ -n "${MLR_STAGES:-}" ] && [ -x /usr/bin/time ]; then
        tf=$(mlr_mktemp) || exit 1
        if /usr/bin/time -f '%e %M' -o "$tf" "$@"; then st=0; else st=$?; fi
        # GNU time prepends "Command exited..." when the command fails.
        tail -n 1 "$tf" | awk -v s="$name" '{ printf "%s\t%s\t%.1f\n", s, $1, $2 / 1024 }' >>"$MLR_STAGES"
        rm -f "$tf"
        return "$st"
    fi
    "$@"
}
