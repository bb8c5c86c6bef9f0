# lib.sh: helpers for the shell tests of each tool. Source it; every check
# prints "PASS name" or "FAIL name: why" for tests/run.sh to count.
#   . "$(dirname "$0")/lib.sh"
#   expect_fail "empty input" 1 "empty" mlr-split --test-output t.tsv < /dev/null
set -u
: "${MLR_BIN:?set MLR_BIN to the bin/ directory}"
: "${MLR_ROOT:=$(cd "$(dirname "$0")/../.." && pwd)}"
PATH="$MLR_BIN:$PATH"
export PATH
T=$(mktemp -d) || exit 1
trap 'rm -rf "$T"' EXIT

pass() { echo "PASS $1"; }
fail() { echo "FAIL $1: $2"; }

# check NAME CONDITION-COMMAND...: passes when the command succeeds.
check() {
    name=$1; shift
    if "$@" >/dev/null 2>&1; then pass "$name"; else fail "$name" "'$*' was false"; fi
}

# ran [-o FILE] NAME CMD...: runs CMD (its stdout into FILE with -o, its
# stderr kept aside); true when it exits 0, else prints "FAIL NAME:
# status, stderr" and is false. Put it before the checks of CMD's outputs
# (ran ... && same ...), and remove an output before a run that rewrites
# it, so that no check reads what an earlier run left. (Redirect CMD's
# stdout with -o, not after ran: the FAIL line would go there too.)
ran() {
    if [ "$1" = -o ]; then
        ran_out=$2 ran_name=$3; shift 3
        "$@" >"$ran_out" 2>"$T/.ran.err"
    else
        ran_name=$1; shift
        "$@" 2>"$T/.ran.err"
    fi
    ran_status=$?
    [ "$ran_status" -eq 0 ] && return 0
    fail "$ran_name" "status $ran_status: $(head -c 300 "$T/.ran.err" | tr '\n' '|')"
    return 1
}

# same NAME FILE EXPECTED-FILE: byte-identical files.
same() {
    if cmp -s "$2" "$3"; then pass "$1"
    else fail "$1" "$2 differs from $3: $(diff "$2" "$3" 2>&1 | head -3 | tr '\n' ' ')"; fi
}

# served_user_list SERVED TIME USER TOPK: mlr-recommend's top 10 for USER
# at TIME, seen items kept, as "item score" rows into $T/got, and USER's
# rows of mlr-topk's TOPK list (its last two columns) into $T/want.
served_user_list() {
    rm -f "$T/k.tsv"
    ran "known user $3" mlr-recommend --served "$1" --time "$2" --keep-seen --k 10 --output "$T/k.tsv" "$3" &&
        sed 1d "$T/k.tsv" | cut -f3,4 >"$T/got" &&
        awk -F'\t' -v OFS='\t' -v u="$3" '$2 == u { print $(NF - 1), $NF }' "$4" >"$T/want"
}

# same_top10 GOT WANT: ten "item score" rows, the same items in order,
# scores within 1e-4.
same_top10() {
    awk -F'\t' 'NR == FNR { i[FNR] = $1; s[FNR] = $2; next }
        $1 != i[FNR] || $2 - s[FNR] > 1e-4 || s[FNR] - $2 > 1e-4 { exit 1 }
        END { if (FNR != 10) exit 1 }' "$1" "$2"
}

# by_popularity TABLE: a ratings table's items, most rated first (ties by id).
by_popularity() {
    awk -F'\t' 'NR > 1 { n[$2]++ } END { for (i in n) print n[i] "\t" i }' "$1" |
        sort -k1,1nr -k2,2n | cut -f2
}

# expect_fail NAME STATUS PATTERN CMD...: CMD must exit with STATUS and print
# exactly one line on stderr matching the grep pattern, starting "mlr-".
expect_fail() {
    name=$1 want=$2 pattern=$3; shift 3
    "$@" >"$T/.out" 2>"$T/.err"
    got=$?
    lines=$(wc -l <"$T/.err")
    if [ "$got" -ne "$want" ]; then fail "$name" "status $got, wanted $want ($(head -c 200 "$T/.err"))"
    elif [ "$lines" -ne 1 ]; then fail "$name" "$lines lines on stderr, wanted 1: $(head -c 300 "$T/.err" | tr '\n' '|')"
    elif ! grep -q "^mlr-" "$T/.err"; then fail "$name" "message lacks the tool name: $(cat "$T/.err")"
    elif ! grep -q -- "$pattern" "$T/.err"; then fail "$name" "message '$(cat "$T/.err")' lacks '$pattern'"
    else pass "$name"; fi
}

# skip NAME WHY
skip() { echo "SKIP $1: $2"; }

# remanifest DIR: a served directory's MANIFEST made again for the files
# it holds now (package.sh's format: bytewise sorted paths), after a
# test has changed them.
remanifest() {
    (cd "$1" && find . -type f ! -name MANIFEST | sed 's|^\./||' | LC_ALL=C sort |
        while IFS= read -r f; do sha256sum "$f"; done >../.manifest && mv ../.manifest MANIFEST)
}

# The real data sets, when MLR_DATA_DIR points at them.
have_data() { [ -n "${MLR_DATA_DIR:-}" ] && [ -f "$MLR_DATA_DIR/$1" ]; }

# fixture NAME: copies tests/tools/data/NAME/*.fixture into $T/NAME under
# their real names (u.data, ratings.csv, ...) and prints that directory.
# The fixtures are tiny hand-made files; kept under other names so that no
# file in the repository looks like a MovieLens file, which may not be
# redistributed.
fixture() {
    rm -rf "${T:?}/$1"; mkdir -p "$T/$1"
    for f in "$MLR_ROOT/tests/tools/data/$1"/*.fixture; do
        b=${f##*/}; cp "$f" "$T/$1/${b%.fixture}"
    done
    echo "$T/$1"
}

# train_fixture USERS ITEMS RATINGS TEST_FRACTION: mlr-synth rows (seed 9)
# split (seed 1) and encoded for mlr-train in $T: spec/, train/, test/ and
# the catalogue items/ (checked: "the data encode").
train_fixture() {
    if mlr-synth --n-users "$1" --n-items "$2" --n-ratings "$3" --seed 9 --output "$T/all.tsv" &&
        mlr-split --seed 1 --test-fraction "$4" --test-output "$T/test.tsv" --output "$T/train.tsv" "$T/all.tsv" &&
        mlr-vocab --output "$T/spec" "$T/train.tsv" &&
        mlr-encode --spec "$T/spec" --output "$T/train" "$T/train.tsv" &&
        mlr-encode --spec "$T/spec" --output "$T/test" "$T/test.tsv" 2>/dev/null &&
        mlr-encode --as-catalogue --spec "$T/spec" --output "$T/items" "$T/train.tsv" "$T/test.tsv" &&
        [ -s "$T/items/items.ids" ]; then pass "the data encode"; else fail "the data encode" "see above"; fi
}

# running PID: the child PID has not ended (a zombie not yet waited for
# has: kill -0 would still find it).
running() {
    case $(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -c1) in '' | Z) return 1 ;; esac
}
# log_rows FILE: the data rows (all but the header) of FILE so far, 0
# while it is not there (mlr-train --log: a row an epoch).
log_rows() {
    n=$({ wc -l <"$1"; } 2>/dev/null) || n=0
    echo $((${n:-0} > 0 ? n - 1 : 0))
}
# wait_rows FILE N PID: until FILE holds N data rows (true) or the process
# PID ends first (false). No time limit: a loaded machine only makes the
# wait longer, and the test never guesses how much.
wait_rows() {
    while [ "$(log_rows "$1")" -lt "$2" ]; do
        running "$3" || { [ "$(log_rows "$1")" -ge "$2" ]; return; }
        sleep 0.1
    done
}

# npy_shape FILE: a 2-D .npy's shape from its header, as "ROWS COLS".
npy_shape() {
    head -c 128 "$1" | LC_ALL=C tr -d '\0' | LC_ALL=C sed -n "s/.*'shape': (\([0-9]*\), \([0-9]*\)).*/\1 \2/p"
}

# f4 ROWS COLS SEED: an (ROWS, COLS) <f4 .npy of pseudo-random floats of
# magnitude 0.01..2 on stdout (bytes written by awk, so no numpy is
# needed; no byte is 0).
f4() {
    dict="{'descr': '<f4', 'fortran_order': False, 'shape': ($1, $2), }"
    hlen=$(( (10 + ${#dict} + 1 + 63) / 64 * 64 - 10 ))
    LC_ALL=C awk -v r="$1" -v c="$2" -v seed="$3" -v dict="$dict" -v hlen="$hlen" 'BEGIN {
        srand(seed)
        printf "%cNUMPY%c%c%c%c%s", 147, 1, 0, hlen % 256, int(hlen / 256), dict
        for (i = length(dict) + 1; i < hlen; i++) printf " "
        printf "\n"
        for (i = 0; i < r * c; i++)
            printf "%c%c%c%c", 1 + int(rand() * 255), 1 + int(rand() * 255), 1 + int(rand() * 255),
                   (rand() < 0.5 ? 60 : 188) + int(rand() * 4)
    }'
}

# trained_run DIR USERS ITEMS RATINGS ROWS DIM [mlr-train options...]:
# synthetic ratings (seed 3) split into DIR/train.tsv and test.tsv and
# encoded (spec/; enc/: the ROWS rows, test or train; trainenc/: the
# training rows; items/), a 1-epoch model m.st of width DIM, and the
# embeddings q.npy (of enc/) and items.npy: the fixture of the bad-input
# and output tests. Non-zero status when a step fails (its message on
# stderr).
trained_run() {
    _tr_d=$1 _tr_n="--n-users $2 --n-items $3 --n-ratings $4" _tr_rows=$5 _tr_dim=$6
    shift 6
    # shellcheck disable=SC2086 # _tr_n: three options
    mlr-synth $_tr_n --seed 3 >"$_tr_d/all.tsv" &&
    mlr-split --test-output "$_tr_d/test.tsv" --output "$_tr_d/train.tsv" "$_tr_d/all.tsv" &&
    mlr-vocab --output "$_tr_d/spec" "$_tr_d/train.tsv" &&
    mlr-encode --spec "$_tr_d/spec" --output "$_tr_d/enc" "$_tr_d/$_tr_rows.tsv" &&
    mlr-encode --spec "$_tr_d/spec" --output "$_tr_d/trainenc" "$_tr_d/train.tsv" &&
    mlr-encode --as-catalogue --spec "$_tr_d/spec" --output "$_tr_d/items" "$_tr_d/train.tsv" "$_tr_d/test.tsv" &&
    mlr-train --rows "$_tr_d/trainenc" --spec "$_tr_d/spec" --output "$_tr_d/m.st" --dim "$_tr_dim" \
        --layers "$_tr_dim" --rating-layers "$_tr_dim" --epochs 1 -q "$@" &&
    mlr-embed --model "$_tr_d/m.st" --rows "$_tr_d/enc" --output "$_tr_d/q.npy" &&
    mlr-embed --model "$_tr_d/m.st" --catalogue "$_tr_d/items" --output "$_tr_d/items.npy"
}
