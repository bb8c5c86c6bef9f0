#!/bin/sh
# grid.sh --train TRAIN.tsv --test TEST.tsv --out DIR [--grid GRID.tsv] [--jobs J]
#         [--threads T] [--sort METRIC] [--sshlogin LOGINS] [-- OPTIONS...]
#
# A hyperparameter search over mlr-train's options with GNU parallel. The
# data is prepared once (DIR/prep: prepare.sh), then every configuration
# trains and scores in its own folder DIR/runs/NAME (NAME = its values,
# e.g. dim=16_lr=0.05): `cmd` (its command line), `log`, `seconds`,
# model.safetensors, train-log.tsv, valid-metrics.tsv. A run is built in
# NAME.part and renamed when it succeeds. Runs are judged on the
# validation slice prepare.sh cuts from TRAIN, never on TEST: DIR/results.tsv
# (also on stdout) holds one row per finished run, the parameters, then its
# metrics ON THE VALIDATION SLICE, seconds and run, sorted by --sort (rmse,
# mae, seconds ascending; any other metric descending). Then the winner
# (the first row) alone is trained again with its options, refitted on all
# of TRAIN for the epochs its run kept (as evaluate.sh does) and scored
# once on TEST: DIR/best/metrics.tsv (its models model.safetensors, the
# refit, and model-fit.safetensors, the run's own), its name in
# DIR/best/run. DIR/teacher holds the teachers of mlr-train --distill
# (--teacher-cache): EASE fitted once for the runs on the same rows.
#
# The grid: GRID.tsv (header = mlr-train long option names, as
# `mlr-train --list-options` lists them, without the
# dashes, one configuration per row) and/or lists after `--` in parallel's
# style, `--dim ::: 16 32 --lr ::: 0.05 0.1` (every combination, the first
# list varying slowest). Other options after `--` go to every run
# (`-- --epochs 2 --dim ::: 16 32`). A flag without a value (--logq,
# --remove-accidental-hits) takes 0 or 1 in the grid (0: --no-logq where
# mlr-train has it, else the flag left out).
#   --jobs J        runs at once (default: nproc / T)
#   --threads T     threads of each run: mlr-train and every tool get
#                   --threads T (default: nproc / J, at least 1). Locally
#                   J x T may not exceed nproc.
#   --sort METRIC   a metrics.tsv metric or seconds (default top100)
#   --sshlogin L    passed to parallel: the runs spread over these machines
#                   ("host1,host2,:"; ':' is this one). Each must have this
#                   checkout with its bin/ built, the tables and DIR at the
#                   SAME paths (a shared file system): checked on every
#                   host before any work (status 1 otherwise); --jobs is
#                   then per machine and the nproc check is left to you.
#                   The caller's OPENBLAS_* settings go along to each run.
#                   ssh options: $PARALLEL_SSH (docs/operations.md).
# Interrupted (killed, machine rebooted), the same command again finishes
# only the missing runs: parallel's --joblog DIR/joblog with --resume-failed
# skips what succeeded, and a run folder with its metrics.tsv is never
# redone. DIR remembers its search: other arguments with the same DIR are
# refused. Status 0 when every run succeeded, 1 when some failed (the table
# holds the others), 2 on bad usage.
# example: sh pipelines/grid.sh --train train.tsv --test test.tsv --out grid1 --jobs 2 \
#            -- --epochs 5 --dim ::: 16 32 --layers ::: 64,32 32 --lr ::: 0.05 0.1
set -eu
me=grid
. "$(dirname "$0")/lib.sh"
self=$mlr_pipelines/grid.sh
tab=$(printf '\t')
usage() { echo "usage: grid.sh --train TRAIN.tsv --test TEST.tsv --out DIR [--grid GRID.tsv] [--jobs J] [--threads T] [--sort METRIC] [--sshlogin LOGINS] [-- OPTIONS...]" >&2; exit 2; }
bad() { printf '%s\n' "$me: $*" >&2; exit 2; }

# ---- one run (parallel calls: grid.sh --job DIR THREADS NAME ARGS) ----
# Trains and scores in NAME.part, renamed NAME on success; a NAME with
# its metrics.tsv is already done and left alone. parallel gives each job
# its own process group, so a job can outlive a killed grid.sh: the lock
# makes the rerun's copy of it wait for that one and find it done.
if [ "${1:-}" = --job ]; then
    dir=$2 threads=$3 name=$4 args=${5:-}
    final=$dir/runs/$name part=$dir/runs/$name.part # (made by mkdir, which refuses a planted link)
    mkdir -p "$dir/locks"
    exec 8>>"$dir/locks/$name" # (>>: a link planted there is never truncated)
    flock 8
    if [ -f "$final/valid-metrics.tsv" ]; then echo "$me: $name: already done" >&2; exit 0; fi
    rm -rf "$part" "$final"
    mkdir "$part" # (not -p: a link planted since is refused, not followed)
    set -f; set -- $args; set +f # values hold no spaces or globs (checked)
    # The command that reproduces the run, each word quoted where needed.
    cmd=
    # The teacher (mlr-train --distill) fitted once for the grid's runs on
    # the same rows, lambda and temperature, in DIR/teacher.
    set -- --teacher-cache "$dir/teacher" "$@"
    for w in sh "$mlr_pipelines/train-eval.sh" --threads "$threads" --no-topk --no-test "$dir/prep" "$final" "$@"; do
        cmd="$cmd${cmd:+ }$(shquote "$w")"
    done
    printf '%s\n' "$cmd" >"$part/cmd"
    printf '%s\n' "$args" >"$part/args" # the winner is trained again with them
    start=$(date +%s.%N)
    # --no-test: a run is judged on the validation slice; only the
    # grid's winner is scored on the test rows, once, at the end.
    if sh "$mlr_pipelines/train-eval.sh" --threads "$threads" --no-topk --no-test "$dir/prep" "$part" "$@" >"$part/log" 2>&1; then
        secs=$(awk -v a="$start" -v b="$(date +%s.%N)" 'BEGIN { printf "%.1f", b - a }')
        echo "$secs" >"$part/seconds"
        mv -T "$part" "$final"
        printf '%s\n' "$me: $name: done in $secs s" >&2
        exit 0
    else
        st=$?
        echo "$me: $name: failed (status $st), see $part/log: $(tail -n 1 "$part/log")" >&2
        exit "$st"
    fi
fi

# ---- arguments ----
need() { [ "$2" -ge 2 ] || bad "option '$1' needs a value"; }
train= test= dir= gridfile= jobs= threads= sort=top100 sshlogin=
while [ $# -gt 0 ]; do
    case $1 in
    --train) need "$1" $#; train=$2; shift 2 ;;
    --test) need "$1" $#; test=$2; shift 2 ;;
    --out) need "$1" $#; dir=$2; shift 2 ;;
    --grid) need "$1" $#; gridfile=$2; shift 2 ;;
    --jobs) need "$1" $#; jobs=$2; shift 2 ;;
    --threads) need "$1" $#; threads=$2; shift 2 ;;
    --sort) need "$1" $#; sort=$2; shift 2 ;;
    --sshlogin) need "$1" $#; sshlogin=$2; shift 2 ;;
    -h|--help) mlr_help; exit 0 ;;
    --) shift; break ;;
    *) usage ;;
    esac
done
[ -n "$train" ] && [ -n "$test" ] && [ -n "$dir" ] || usage
[ -f "$train" ] || die "$train: no such file"
[ -f "$test" ] || die "$test: no such file"
[ -z "$gridfile" ] || [ -f "$gridfile" ] || die "$gridfile: no such file"
command -v parallel >/dev/null 2>&1 || die "GNU parallel is not installed (apt-get install parallel)"
command -v mlr-train >/dev/null 2>&1 || die "mlr-train not found (make)"
[ -z "$jobs" ] || count_opt --jobs "$jobs" 1 256
[ -z "$threads" ] || count_opt --threads "$threads" 1 256 # the tools' range
cores=$(nproc)
if [ -z "$jobs" ] && [ -z "$threads" ]; then jobs=$cores threads=1
elif [ -z "$threads" ]; then threads=$(( cores / jobs > 0 ? cores / jobs : 1 ))
elif [ -z "$jobs" ]; then jobs=$(( cores / threads > 0 ? cores / threads : 1 )); fi
[ -n "$sshlogin" ] || [ $((jobs * threads)) -le "$cores" ] ||
    bad "--jobs $jobs x --threads $threads exceeds the $cores cores"
case $sort in
top[0-9]*|top[0-9]*_excl|rmse|mae|queries|users|seconds|recall@*|precision@*|ndcg@*|map@*|hit_rate@*|coverage@*) ;;
*) bad "--sort: '$sort' is not a metric of mlr-score (top100, rmse, ndcg@10...) or seconds" ;;
esac
case $sort in rmse|mae|seconds) order= ;; *) order=r ;; esac
abs() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$(pwd)/$1" ;; esac; }
dir=$(abs "$dir") train=$(abs "$train") test=$(abs "$test")
mkout "$dir/runs"

# ---- the grid: GRID.tsv rows x the ::: lists, in DIR/grid.new ----
# mlr-train's options as data (name, type value|flag, default), never
# read off its help text.
opts=$(mlr-train --list-options) || die "mlr-train --list-options failed"
# kind NAME: "value", "flag" or "negflag" (a flag with a --no- twin) for an
# mlr-train option, fails for others.
optname() {
    case $1 in ''|-*|*[!a-z0-9-]*) bad "'$1' is not an option name (lower-case letters, digits and -)" ;; esac
}
opttype() { printf '%s\n' "$opts" | awk -F'\t' -v n="$1" 'NR > 1 && $1 == n { print $2 }'; }
kind() {
    optname "$1"
    case $1 in spec|rows|train|output|valid|catalogue|items|log|threads|init|init-spec|quiet|help|version|list-options)
        bad "--$1 is set by grid.sh itself, not by the grid" ;; esac
    type=$(opttype "$1")
    [ -n "$type" ] || bad "'$1' is not an option of mlr-train (see mlr-train --list-options)"
    case $type in value) echo value ;; *)
        if [ -n "$(opttype "no-$1")" ]; then echo negflag; else echo flag; fi ;; esac
}
okvalue() {
    case $1 in ''|*[!A-Za-z0-9.,:_+-]*) bad "value '$1' of --$2: only letters, digits and . , : _ + - are allowed" ;; esac
}
# The temporaries: made by mktemp beside what they become (no fixed name
# a planted symlink could take), removed at exit.
g= gt= jobs_new= key_new= unsorted= results_new= best_part= hosts_check=
rm_temporaries() {
    for f in "$g" "$gt" "$jobs_new" "$key_new" "$unsorted" "$results_new" "$best_part" "$hosts_check"; do
        [ -z "$f" ] || rm -rf -- "$f"
    done
}
trap rm_temporaries EXIT
g=$(beside "$dir/grid.tsv") || exit 1
if [ -n "$gridfile" ]; then
    tr -d '\r' <"$gridfile" | awk 'NF' >"$g"
else
    printf '\n\n' >"$g" # no column yet, one empty configuration
fi
# add_list NAME VALUE...: every row of the grid once per value.
add_list() {
    name=$1; shift
    optname "$name"
    [ $# -gt 0 ] || bad "--$name ::: needs at least one value"
    gt=$(beside "$g") || exit 1
    awk -F'\t' -v OFS='\t' -v name="$name" -v vals="$*" 'BEGIN { n = split(vals, v, " ") }
        NR == 1 { e = $0 == ""; print (e ? name : $0 OFS name); next }
        { for (i = 1; i <= n; i++) print (e ? v[i] : $0 OFS v[i]) }' "$g" >"$gt"
    mv "$gt" "$g"
}
fixed=
while [ $# -gt 0 ]; do
    case $1 in
    --*)
        name=${1#--}
        if [ "${2:-}" = ::: ]; then
            shift 2
            vals=
            while [ $# -gt 0 ]; do case $1 in --*) break ;; esac; vals="$vals $1"; shift; done
            add_list "$name" $vals
        else
            kind "$name" >/dev/null
            fixed="$fixed $1"; shift
        fi ;;
    *) okvalue "$1" "${name:-?}"; fixed="$fixed $1"; shift ;;
    esac
done
fixed=${fixed# }

# Every column an mlr-train option, once; every value plain; the jobs
# file: NAME TAB the run's mlr-train options.
header=$(head -n 1 "$g")
kinds=
cols=$(printf '%s\n' "$header" | tr '\t' '\n')
printf '%s\n' "$cols" | while IFS= read -r c; do optname "$c"; done || exit 2
for c in $cols; do # checked: no space, no glob
    [ "$(printf '%s\n' "$header" | tr '\t' '\n' | grep -cx -- "$c")" -eq 1 ] || bad "'$c' twice in the grid"
    kinds="$kinds $(kind "$c")"
done
jobs_new=$(beside "$dir/jobs.tsv") || exit 1
awk -F'\t' -v kinds="$kinds" -v fixed="$fixed" -v OFS='\t' '
    NR == 1 { nc = split($0, col, "\t"); split(kinds, kind, " "); next }
    {
        if (nc && NF != nc) { print "grid: configuration " NR - 1 ": " NF " values for " nc " columns" > "/dev/stderr"; exit 2 }
        name = args = ""
        for (i = 1; i <= nc; i++) {
            if ($i !~ /^[A-Za-z0-9.,:_+-]+$/) { print "grid: configuration " NR - 1 ": value \x27" $i "\x27 of " col[i] ": only letters, digits and . , : _ + - are allowed" > "/dev/stderr"; exit 2 }
            name = name (i > 1 ? "_" : "") col[i] "=" $i
            if (kind[i] == "value") args = args " --" col[i] " " $i
            else if ($i == 1) args = args " --" col[i]
            else if ($i == 0 && kind[i] == "negflag") args = args " --no-" col[i]
            else if ($i != 0) { print "grid: configuration " NR - 1 ": flag " col[i] " takes 0 or 1, not \x27" $i "\x27" > "/dev/stderr"; exit 2 }
        }
        if (name == "") name = "run"
        if (seen[name]++) { print "grid: configuration " NR - 1 ": " name " twice" > "/dev/stderr"; exit 2 }
        args = args (fixed != "" ? " " fixed : "")
        print name, substr(args, 2)
    }' "$g" >"$jobs_new" || exit 2
[ -s "$jobs_new" ] || bad "the grid has no configuration"

# A DIR holds one search: the same arguments resume it, others are refused.
key_new=$(beside "$dir/search.key") || exit 1
printf 'train\t%s\ntest\t%s\n' "$train" "$test" >"$key_new"
cat "$jobs_new" >>"$key_new"
if [ -f "$dir/search.key" ] && ! cmp -s "$dir/search.key" "$key_new"; then
    die "$dir holds another search (other data or grid: see $dir/grid.tsv); use another --out"
fi
mv -T "$key_new" "$dir/search.key"
mv -T "$g" "$dir/grid.tsv"
mv -T "$jobs_new" "$dir/jobs.tsv"
nruns=$(wc -l <"$dir/jobs.tsv")

# The names (DIR, the tables, the checkout) reach each job through the
# environment (parallel's --env on remote hosts), never its command line:
# no quoting to get wrong, and parallel would read {...} in a name as one
# of its replacement strings.
MLR_BIN=$(dirname "$(command -v mlr-train)") MLR_GRID_DIR=$dir MLR_GRID_SELF=$self
MLR_GRID_TRAIN=$train MLR_GRID_TEST=$test
export MLR_BIN MLR_GRID_DIR MLR_GRID_SELF MLR_GRID_TRAIN MLR_GRID_TEST
envs="--env MLR_BIN --env MLR_GRID_DIR --env MLR_GRID_SELF --env MLR_GRID_TRAIN --env MLR_GRID_TEST $(openblas_envs)"

# ---- the hosts: each must see DIR, the tables and this checkout at the
# same paths (a shared file system), checked before any work ----
if [ -n "$sshlogin" ]; then
    token=$(date +%s%N).$$
    hosts_check=$(beside "$dir/hosts.check") || exit 1
    printf '%s\n' "$token" >"$hosts_check"
    # shellcheck disable=SC2086 # $envs: fixed words
    seen=$(parallel --will-cite --nonall --tag --sshlogin "$sshlogin" $envs -q sh -c '
        if [ "$(cat "$MLR_GRID_DIR/$2" 2>/dev/null)" != "$1" ]; then echo "does not see $MLR_GRID_DIR"
        elif [ ! -r "$MLR_GRID_TRAIN" ] || [ ! -r "$MLR_GRID_TEST" ]; then echo "does not see $MLR_GRID_TRAIN or $MLR_GRID_TEST"
        elif [ ! -r "$MLR_GRID_SELF" ] || [ ! -x "$MLR_BIN/mlr-train" ]; then echo "has no $MLR_BIN/mlr-train or $MLR_GRID_SELF"
        else echo ok; fi' sh "$token" "${hosts_check##*/}" 2>&1) && st=0 || st=$?
    rm -f -- "$hosts_check"
    bad_host=$(printf '%s\n' "$seen" | grep -v '	ok$' | head -n 1)
    [ "$st" -eq 0 ] && [ -z "$bad_host" ] ||
        die "a host of --sshlogin cannot run the grid (every host needs DIR, the tables and this checkout at the same paths): $(printf '%s' "${bad_host:-status $st}" | tr '\t\n' ': ')"
fi

# ---- the data, once for every run ----
if [ ! -f "$dir/prep/.done" ]; then
    echo "$me: preparing the data once in $dir/prep" >&2
    sh "$mlr_pipelines/prepare.sh" "$train" "$test" "$dir/prep" 2>"$dir/prep.log" ||
        die "preparing the data failed: $(tail -n 1 "$dir/prep.log")"
    touch "$dir/prep/.done"
fi

# ---- the runs, side by side ----
echo "$me: $nruns runs, $jobs at a time, $threads threads each${sshlogin:+, on $sshlogin}" >&2
set -- --will-cite --colsep '\t' --jobs "$jobs" --joblog "$dir/joblog" --resume-failed
[ ! -t 2 ] || set -- "$@" --bar
# shellcheck disable=SC2086
[ -z "$sshlogin" ] || set -- "$@" --sshlogin "$sshlogin" $envs
failed=0
# -q: parallel quotes every word of the command (the run's name and
# options, checked plain anyway).
parallel "$@" -q sh -c 'exec sh "$MLR_GRID_SELF" --job "$MLR_GRID_DIR" "$@"' sh "$threads" {1} {2} \
    :::: "$dir/jobs.tsv" || failed=$?

# ---- the results: one row per finished run, sorted ----
# DIR through the environment: awk -v would expand its backslashes.
unsorted=$(beside "$dir/results.tsv") || exit 1
results_new=$(beside "$dir/results.tsv") || exit 1
MLR_GRID_DIR=$dir awk -F'\t' -v OFS='\t' '
    BEGIN { dir = ENVIRON["MLR_GRID_DIR"] }
    FNR == NR { name[NR] = $1; next }
    FNR == 1 { np = $0 == "" ? 0 : split($0, par, "\t"); next }
    {
        n = name[FNR - 1]; f = dir "/runs/" n "/valid-metrics.tsv"
        if ((getline line < f) <= 0) next # not finished
        row = ""
        for (i = 1; i <= np; i++) row = row $i OFS
        while ((getline line < f) > 0) {
            split(line, mv, "\t")
            if (!nm) order[++cnt] = mv[1]
            val[mv[1]] = mv[2]
        }
        close(f); nm = 1
        for (i = 1; i <= cnt; i++) row = row val[order[i]] OFS
        sf = dir "/runs/" n "/seconds"; secs = ""
        if ((getline secs < sf) <= 0) secs = ""
        close(sf)
        rows[++nr] = row secs OFS n
    }
    END {
        if (!nr) exit
        h = ""
        for (i = 1; i <= np; i++) h = h par[i] OFS
        for (i = 1; i <= cnt; i++) h = h order[i] OFS
        print h "seconds" OFS "run"
        for (i = 1; i <= nr; i++) print rows[i]
    }' "$dir/jobs.tsv" "$dir/grid.tsv" >"$unsorted"
col=$(head -n 1 "$unsorted" | tr '\t' '\n' | grep -nx -- "$sort" | cut -d: -f1 || true)
if [ ! -s "$unsorted" ]; then
    die "no run finished (see $dir/runs/*.part/log)"
fi
[ -n "$col" ] || die "no column '$sort' in the results"
{ head -n 1 "$unsorted"; tail -n +2 "$unsorted" |
    sort -t "$tab" -s -k"$col,$col"g$order; } >"$results_new"
mv -T "$results_new" "$dir/results.tsv"
done_runs=$(( $(wc -l <"$dir/results.tsv") - 1 ))
echo "$me: $done_runs of $nruns runs finished; table in $dir/results.tsv (by $sort on the validation slice)" >&2

# ---- the winner, scored once on the test rows ----
# Trained again with its options (the same fit model, bit for bit: the
# same threads), then refitted on all the training rows for the epochs
# its run kept, as evaluate.sh does, and that model scored: the test rows
# serve for no choice. A run of a grid made before args were kept is
# scored as trained (train-eval.sh --model). A rerun with the same winner
# keeps its figures.
best=$(tail -n +2 "$dir/results.tsv" | head -n 1 | awk -F'\t' '{ print $NF }')
if [ ! -f "$dir/best/metrics.tsv" ] || [ "$(cat "$dir/best/run" 2>/dev/null)" != "$best" ]; then
    best_part=$(beside -d "$dir/best") || exit 1
    printf '%s\n' "$best" >"$best_part/run"
    if [ -f "$dir/runs/$best/args" ]; then
        set -f; set -- $(cat "$dir/runs/$best/args"); set +f # no spaces or globs (checked)
        sh "$mlr_pipelines/train-eval.sh" --threads "$threads" --no-topk "$dir/prep" "$best_part" \
            --teacher-cache "$dir/teacher" "$@"
    else
        sh "$mlr_pipelines/train-eval.sh" --threads "$threads" --no-topk \
            --model "$dir/runs/$best/model.safetensors" "$dir/prep" "$best_part"
    fi >"$best_part/log" 2>&1 ||
        die "scoring the winner $best on the test rows failed: $(tail -n 1 "$best_part/log")"
    rm -rf "$dir/best" && mv -T "$best_part" "$dir/best"
fi
MLR_GRID_SORT=$sort awk -F'\t' -v run="$best" 'BEGIN { m = ENVIRON["MLR_GRID_SORT"] } $1 == m {
        printf "grid: the winner %s scored once on the test rows: %s %s\n", run, m, $2 > "/dev/stderr" }' \
    "$dir/best/metrics.tsv"
# The table on stdout last: a closed stdout fails the run (in one line)
# only once every file is complete.
cat "$dir/results.tsv" 2>/dev/null || die "cannot write the table to stdout (it is in $dir/results.tsv)"
[ "$failed" -eq 0 ] && [ "$done_runs" -eq "$nruns" ] || exit 1
