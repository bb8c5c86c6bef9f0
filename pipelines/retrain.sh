#!/bin/sh
# retrain.sh --dir DIR (--data TABLE | --append NEWROWS) [--metric M] [--tolerance X]
#            [--keep N] [--by random|time] [--test-fraction F] [--seed S]
#            [--seeds N] [--threads T] [-- mlr-train options...]
#
# Retrains the served model on the current data, for cron:
#   17 3 * * * cd "$HOME/mlrec" && mkdir -p "$HOME/serve" && sh pipelines/retrain.sh --dir "$HOME/serve" --append "$HOME/incoming/new.tsv" -- --epochs 10 2>>"$HOME/serve/cron.err"
#
# 1. The data: --data TABLE is the whole current table; --append NEWROWS
#    adds NEWROWS' rows (same header) to DIR/data.tsv, the table of the last
#    run (the first run's NEWROWS start it; a last row without its newline
#    gets one: rows are never merged). Every option and file is checked
#    before anything else. DIR/data.tsv is replaced (atomically) once a new
#    model is trained on the new data, whether it is then promoted or
#    refused; a run that fails or is killed before leaves it as it was, so
#    the same --append can be run again. A NEWROWS appended before (the
#    same SHA-256, remembered in DIR/appended.tsv) is not appended again:
#    the run logs `skipped` and exits 0.
# 2. A held-out slice: mlr-split of the current data, --by random (a
#    keyed hash with --seed: the same rows every run, the new ones spread
#    over both sides) or --by time (the newest rows), --test-fraction F.
# 3. A new model trained on the rest, warm-started from the served one
#    (mlr-train --init: the rows of known ids carried over by token, new
#    users and items initialised fresh); the served model is scored on the
#    same slice with its own specification. With --seeds N the new model
#    is N models averaged (train-eval.sh --seeds), seed K warm-started from
#    the served set's Kth model (its first where it has fewer); a served
#    set of several models is scored as the set it serves.
# 4. The new model is promoted when its --metric is no worse than the
#    served one's by more than --tolerance (rmse, mae: lower is better;
#    top-k and the per-user metrics: higher). The first model is promoted.
#    Promotion: the served model directory of docs/serving.md (the model,
#    its spec/, item embeddings, catalogue, the users' histories from all
#    the data, metrics.tsv, train-log.tsv, replaced-metrics.tsv,
#    hybrid.tsv: the model and EASE fused, chosen by hybrid.sh on the new
#    model's validation slice, MANIFEST)
#    is made as DIR/models/<UTC time>/, then the symlink DIR/current is
#    swapped atomically (ln -s + mv -T). Serve it with
#    mlr-recommend --served DIR/current. The newest --keep models are kept
#    (current always).
# 5. One line per run in DIR/retrain.log (TSV: time outcome metric old new
#    model reason), outcome promoted, refused, failed or skipped.
# A second run while one holds DIR/lock (flock) writes a `skipped` line,
# says "another run holds the lock; skipping" and exits 0 (its --append
# rows are NOT added: run it again with the same file). A failed or killed
# run leaves DIR/current as it was; a failure keeps its work in
# DIR/last-failed/ (log: the tools' messages). Status: 0 promoted, refused
# or skipped; 1 failed; 2 bad usage.
#   --metric M         a metric of mlr-score (default top100)
#   --tolerance X      allowed loss in M (default 0.005; negative: demand a gain)
#   --keep N           models kept in DIR/models (default 3)
#   --by MODE          random or time, as mlr-split --by (default random;
#                      --split is its old, deprecated name)
#   --test-fraction F  share of rows held out (default 0.1)
#   --seed S           seed of the random split (default 42)
#   --seeds N          models trained and served as their average (default 1)
#   --threads T        threads of every tool (default: nproc)
set -eu
me=retrain
. "$(dirname "$0")/lib.sh"
usage() { echo "usage: retrain.sh --dir DIR (--data TABLE | --append NEWROWS) [--metric M] [--tolerance X] [--keep N] [--by random|time] [--test-fraction F] [--seed S] [--seeds N] [--threads T] [-- mlr-train options...]" >&2; exit 2; }
bad() { echo "$me: $*" >&2; exit 2; }
need() { [ "$2" -ge 2 ] || bad "option '$1' needs a value"; }

# ---- arguments ----
dir= data= append= metric=top100 tol=0.005 keep=3 split=random frac=0.1 seed=42 seeds=1 threads=$(nproc)
while [ $# -gt 0 ]; do
    case $1 in
    --dir) need "$1" $#; dir=$2; shift 2 ;;
    --data) need "$1" $#; data=$2; shift 2 ;;
    --append) need "$1" $#; append=$2; shift 2 ;;
    --metric) need "$1" $#; metric=$2; shift 2 ;;
    --tolerance) need "$1" $#; tol=$2; shift 2 ;;
    --keep) need "$1" $#; keep=$2; shift 2 ;;
    --by) need "$1" $#; split=$2; shift 2 ;;
    --split) need "$1" $#; split=$2; shift 2
        echo "$me: warning: --split is deprecated; use --by (docs/options.md)" >&2 ;;
    --test-fraction) need "$1" $#; frac=$2; shift 2 ;;
    --seed) need "$1" $#; seed=$2; shift 2 ;;
    --seeds) need "$1" $#; seeds=$2; shift 2 ;;
    --threads) need "$1" $#; threads=$2; shift 2 ;;
    -h|--help) mlr_help; exit 0 ;;
    --) shift; break ;;
    *) usage ;;
    esac
done
[ -n "$dir" ] || usage
case ${data:+d}${append:+a} in d|a) ;; *) bad "give one of --data TABLE and --append NEWROWS" ;; esac
case $metric in
top[0-9]*|top[0-9]*_excl|recall@*|precision@*|ndcg@*|map@*|hit_rate@*|coverage@*) better=higher ;;
rmse|mae) better=lower ;;
*) bad "--metric: '$metric' is not a metric of mlr-score (top100, rmse, ndcg@10...)" ;;
esac
decimal_opt --tolerance "$tol" # (awk's own test took 1e400, an infinite tolerance)
count_opt --keep "$keep" 1 1000000
count_opt --seeds "$seeds" 1 64 # train-eval.sh's range
count_opt --threads "$threads" 1 256 # the tools' range
case $split in random|time) ;; *) bad "--by: random or time, not '$split'" ;; esac
case $seed in ''|*[!0-9]*) bad "--seed takes a non-negative integer, not '$seed'" ;; esac
[ ${#seed} -le 18 ] || bad "--seed: '$seed' is too large"
decimal_opt --test-fraction "$frac" 0 1

noopt dir data append
mkout "$dir/models"
dir=$(cd "$dir" && pwd)
log=$dir/retrain.log
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
# logline OUTCOME OLD NEW MODEL REASON: the run's one line in retrain.log.
logline() {
    [ -s "$log" ] || printf 'time\toutcome\tmetric\told\tnew\tmodel\treason\n' >>"$log"
    printf '%s\t%s\t%s\t%s\t%s\t%s\t%s\n' "$(now)" "$1" "$metric" "$2" "$3" "$4" "$5" >>"$log"
}

# ---- one run at a time ----
exec 9>>"$dir/lock" # (>>: a link planted there is never truncated)
if ! flock -n 9; then
    echo "$me: another run holds the lock; skipping" >&2
    logline skipped - - - "another run holds $dir/lock${append:+; $append not appended}"
    exit 0
fi

# ---- the work folder; whatever ends the run, one line in the log ----
stale=
for w in "$dir"/work.*; do [ -d "$w" ] && { stale="$stale ${w##*/}"; rm -rf "$w"; }; done
rm -rf "$dir"/models/*.tmp "$dir"/current.new.* "$dir"/current.tmp.* "$dir/data.tsv.tmp"
# The data's temporaries (NAME.tmp.PID.HOST.XXXXXX, as the tools name
# theirs) of runs that died: this host's, with no such process. rm never
# follows a link.
host=$(hostname | sed 's/[^A-Za-z0-9]/-/g' | cut -c1-32)
for t in "$dir"/data.tsv.tmp.* "$dir"/appended.tsv.tmp.*; do
    [ -f "$t" ] && [ ! -L "$t" ] || continue
    pid=${t##*.tmp.} && pid=${pid%%.*}
    case ${t##*.tmp.$pid.} in "$host".??????) ;; *) continue ;; esac
    case $pid in '' | *[!0-9]*) continue ;; esac
    [ -d "/proc/$pid" ] || rm -f "$t"
done
# put FILE TARGET: FILE copied to TARGET atomically, through a temporary
# made exclusively beside TARGET (or beside the file a symlink names).
put() {
    to=$2
    [ ! -L "$to" ] || to=$(readlink -f "$to")
    [ ! -e "$to" ] || [ -f "$to" ] || { echo "$me: $to is not a regular file" >&2; return 1; }
    t=$(mktemp "$to.tmp.$$.$host.XXXXXX") && cp "$1" "$t" &&
        chmod "$(printf '%o' $((0666 & ~0$(umask))))" "$t" && mv -f "$t" "$to" ||
        { rm -f "$t"; echo "$me: cannot write $to" >&2; return 1; }
}
work=$dir/work.$$ # (made by mkdir, which refuses a planted link)
mkdir "$work" 2>/dev/null || die "cannot make the work folder $work (a link or folder already there?)"
stage=starting outcome= old=- new=-
finish() {
    st=$?
    trap - EXIT
    if [ -z "$outcome" ]; then
        [ "$st" -ne 0 ] || st=1
        rm -rf "$dir/last-failed"
        mv "$work" "$dir/last-failed"
        logline failed "$old" "$new" - "$stage failed (status $st): see $dir/last-failed/log: $(tail -n 1 "$dir/last-failed/log" 2>/dev/null)"
        echo "$me: failed while $stage; the served model is unchanged (see $dir/last-failed/log)" >&2
        exit "$st"
    fi
    rm -rf "$work"
}
trap finish EXIT
trap 'stage="$stage (killed by SIGHUP)"; exit 129' HUP
trap 'stage="$stage (killed by SIGINT)"; exit 130' INT
trap 'stage="$stage (killed by SIGTERM)"; exit 143' TERM
step() { stage=$1; echo "$me: $1" >&2; echo "== $1" >>"$work/log"; }
quiet() { "$@" >>"$work/log" 2>&1; }

# ---- 1. the current data ----
step "checking the data"
if [ -n "$data" ]; then
    [ -f "$data" ] || { echo "$data: no such file" >>"$work/log"; exit 1; }
    cp "$data" "$work/data.tsv"
else
    [ -f "$append" ] || { echo "$append: no such file" >>"$work/log"; exit 1; }
    # A file appended once is never appended again (cron reruns, a file
    # left in place): its checksum is remembered in DIR/appended.tsv.
    sum=$(sha256sum <"$append" | cut -c1-64)
    when=$(awk -F'\t' -v s="$sum" '$1 == s { print $2; exit }' "$dir/appended.tsv" 2>/dev/null || true)
    if [ -n "$when" ]; then
        outcome=skipped
        logline skipped - - - "$append (sha256 $(echo "$sum" | cut -c1-12)) was appended on $when already; nothing new"
        echo "$me: $append was appended on $when already; skipping" >&2
        exit 0
    fi
    if [ -f "$dir/data.tsv" ]; then
        [ "$(head -n 1 "$append")" = "$(head -n 1 "$dir/data.tsv")" ] ||
            { echo "$append: its header differs from $dir/data.tsv's" >>"$work/log"; exit 1; }
        # awk ends every row with a newline: a last row without one is not
        # glued to the first new one
        { awk 1 "$dir/data.tsv"; awk 'FNR > 1' "$append"; } >"$work/data.tsv"
    else # the first run: the new rows start the data
        awk 1 "$append" >"$work/data.tsv"
    fi
fi
# The data (and the record of appended files) replaced once a model is
# trained on it: a run that fails before changes nothing.
commit_data() {
    put "$work/data.tsv" "$dir/data.tsv" || return 1
    [ -n "$append" ] || return 0
    { [ ! -f "$dir/appended.tsv" ] || cat "$dir/appended.tsv"; printf '%s\t%s\t%s\n' "$sum" "$(now)" "$append"; } >"$work/appended.tsv"
    put "$work/appended.tsv" "$dir/appended.tsv"
}

# ---- 2. the held-out slice ----
step "holding out $frac of the rows ($split)"
quiet mlr-split --by "$split" --seed "$seed" --test-fraction "$frac" --test-output "$work/heldout.tsv" \
    --output "$work/train.tsv" "$work/data.tsv"
rows=$(( $(wc -l <"$work/data.tsv") - 1 )) held=$(( $(wc -l <"$work/heldout.tsv") - 1 ))

# ---- 3. the new model, warm-started from the served one ----
cur=
[ ! -f "$dir/current/model.safetensors" ] || cur=$dir/current
step "preparing the data"
quiet sh "$mlr_pipelines/prepare.sh" "$work/train.tsv" "$work/heldout.tsv" "$work/new"
step "training${cur:+ (warm start from $(readlink "$dir/current"))}"
quiet sh "$mlr_pipelines/train-eval.sh" --threads "$threads" --no-topk --seeds "$seeds" ${cur:+--init-set "$cur"} \
    "$work/new" "$work/new" "$@"
new=$(awk -F'\t' -v m="$metric" '$1 == m { print $2 }' "$work/new/metrics.tsv")
[ -n "$new" ] || { echo "no $metric in $work/new/metrics.tsv" >>"$work/log"; exit 1; }
stage="saving the data"
commit_data

# ---- 4. the served model on the same slice, then the decision ----
if [ -n "$cur" ]; then
    step "scoring the served model on the same rows"
    quiet sh "$mlr_pipelines/prepare.sh" --spec "$cur/spec" "$work/train.tsv" "$work/heldout.tsv" "$work/old"
    # its rows with the kind of history it was trained on (all before it was recorded)
    kind=$(kept_of "$cur/history-kind.tsv" 2>/dev/null || true)
    # every model it serves (package.sh copies the set items.ids names)
    set -- --model "$cur/model.safetensors"
    k=2
    while [ -f "$cur/model-seed$k.safetensors" ]; do set -- "$@" --model "$cur/model-seed$k.safetensors"; k=$((k + 1)); done
    quiet sh "$mlr_pipelines/train-eval.sh" --threads "$threads" --no-topk "$@" \
        --history "${kind:-all}" "$work/old" "$work/old"
    old=$(awk -F'\t' -v m="$metric" '$1 == m { print $2 }' "$work/old/metrics.tsv")
    [ -n "$old" ] || { echo "no $metric in $work/old/metrics.tsv" >>"$work/log"; exit 1; }
    if [ "$better" = higher ]; then
        awk -v n="$new" -v o="$old" -v t="$tol" 'BEGIN { exit !(n >= o - t) }' && ok=1 || ok=0
        rule="$new >= $old - $tol"; [ "$ok" = 1 ] || rule="$new < $old - $tol"
    else
        awk -v n="$new" -v o="$old" -v t="$tol" 'BEGIN { exit !(n <= o + t) }' && ok=1 || ok=0
        rule="$new <= $old + $tol"; [ "$ok" = 1 ] || rule="$new > $old + $tol"
    fi
    why="new $metric $rule on $held held-out rows of $rows"
else
    ok=1 why="first model: nothing to compare with ($metric $new on $held held-out rows of $rows)"
fi
warm=$(grep -o '[0-9]* embedding rows carried over, [0-9]* new' "$work/log" | tail -n 1 || true)
[ -z "$warm" ] || why="$why; warm start: $warm"
[ -z "$stale" ] || why="$why; removed the work of a run that died:$stale"

if [ "$ok" = 0 ]; then
    outcome=refused
    logline refused "$old" "$new" "$(readlink "$dir/current" | sed 's,^models/,,')" "$why"
    echo "$me: refused: $why; still serving $(readlink "$dir/current")" >&2
    exit 0
fi

# ---- 5. promotion: the model folder complete first, then one rename ----
# The model and EASE fused (recommend.sh --fuse-ease auto): EASE's lambda
# and the model's weight chosen on the new model's validation slice.
step "choosing the hybrid's weight"
quiet sh "$mlr_pipelines/hybrid.sh" "$work/new" "$work/new"
step "promoting"
stamp=$(date -u +%Y%m%dT%H%M%SZ) n=1
while [ -e "$dir/models/$stamp" ]; do n=$((n + 1)); stamp=$(date -u +%Y%m%dT%H%M%SZ)-$n; done
# The served model directory (docs/serving.md), histories from all the
# current data; promoted as it is.
cp "$work/old/metrics.tsv" "$work/new/replaced-metrics.tsv" 2>/dev/null || true
quiet sh "$mlr_pipelines/package.sh" --history "$work/data.tsv" "$work/new" "$work/new" "$work/served"
mv -T "$work/served" "$dir/models/$stamp"
# the new link at a name made by mktemp (ln -n: never into a planted link)
cn=$(beside "$dir/current") && ln -sfn "models/$stamp" "$cn"
mv -T "$cn" "$dir/current"
outcome=promoted
logline promoted "$old" "$new" "$stamp" "$why"
echo "$me: promoted $stamp: $why" >&2

# The newest --keep models stay, the served one always.
ls "$dir/models" | grep -v '\.tmp$' | sort -r | awk -v k="$keep" 'NR > k' | while read -r old_model; do
    [ "models/$old_model" = "$(readlink "$dir/current")" ] || rm -rf "$dir/models/$old_model"
done
