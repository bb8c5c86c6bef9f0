#!/bin/sh
# topk-sharded.sh [--shards S] [--jobs J] [--sshlogin LOGINS] [--tmpdir DIR]
#                 --queries Q.npy [--query-ids Q.ids] [--output FILE] [mlr-topk options...]
#
# mlr-topk over S shards of the queries (row ranges of Q.npy, cut by
# mlr-slice), run side by side with GNU parallel on this machine (--jobs)
# or on several (--sshlogin, as parallel takes it: "host1,host2,:"), and
# merged in order with `query` renumbered to the row of Q: the output is
# byte for byte the one of a single mlr-topk run with the same options
# (a score's last digit depends on a row's place within its sgemm tile, so
# shards are made of whole blocks, as mlr-topk cuts them).
# The files (--queries, --query-ids, --items, --item-ids, --exclude) are
# linked under fixed names in a work folder (in/q.npy, in/q.ids,
# in/items.npy, in/items.ids, in/exclude.tsv): no name of the caller's is
# ever part of a command line. Every other option (--k, --block, --tile,
# --threads, --quiet) goes to each mlr-topk unchanged; without --threads
# each shard takes nproc / jobs threads.
#   --shards S     shards (default: jobs; at most the number of blocks of
#                  --block rows: lower --block for more, smaller shards)
#   --jobs J       shards run at once on each machine (default: nproc)
#   --sshlogin L   machines for parallel (default: this one only). A
#                  remote host needs mlr-slice and mlr-topk at the SAME
#                  path as here (checked first); the files travel: in/ is
#                  copied to a folder of the work folder's name in the
#                  host's login folder (rsync, parallel's --basefile), the
#                  shard's list comes back (--return), and the folder is
#                  removed at the end. The caller's OPENBLAS_* settings
#                  go along (the same kernel, the same bits on a like
#                  CPU). ssh options: $PARALLEL_SSH.
#   --tmpdir DIR   where shard results wait to be merged (default: beside
#                  --output, else $TMPDIR or /tmp)
#   --output FILE  written atomically (default stdout)
# example: sh pipelines/topk-sharded.sh --shards 8 --jobs 2 --queries query.npy \
#            --query-ids query.ids --items items.npy --exclude train.tsv --k 100 --output topk.tsv
set -eu
me=topk-sharded
. "$(dirname "$0")/lib.sh"
usage() { echo "usage: topk-sharded.sh [--shards S] [--jobs J] [--sshlogin LOGINS] [--tmpdir DIR] --queries Q.npy [--query-ids Q.ids] [--output FILE] [mlr-topk options...]" >&2; exit 2; }
need() { [ "$2" -ge 2 ] || { echo "$me: option '$1' needs a value" >&2; exit 2; }; }

# The options: the files are kept apart (they are staged under fixed names,
# below); every other word goes to mlr-topk, in the positional parameters.
shards= jobs= sshlogin= tmpdir= queries= qids= output= threads_given=0
items= iids= exclude= k=10 block=1024 tile=32 # mlr-topk's defaults
n=$#
while [ "$n" -gt 0 ]; do
    a=$1; shift; n=$((n - 1))
    case $a in
    --shards|--jobs|--sshlogin|--tmpdir|--queries|--query-ids|--output|-o|--items|--item-ids|--exclude|--k|-k|--block|--tile)
        need "$a" $((n + 1)); v=$1; shift; n=$((n - 1))
        case $a in
        --shards) shards=$v ;; --jobs) jobs=$v ;; --sshlogin) sshlogin=$v ;; --tmpdir) tmpdir=$v ;;
        --queries) queries=$v ;; --query-ids) qids=$v ;; --output|-o) output=$v ;;
        --items) items=$v ;; --item-ids) iids=$v ;; --exclude) exclude=$v ;;
        *) case $a in --block) block=$v ;; --tile) tile=$v ;; *) k=$v ;; esac
           set -- "$@" "$a" "$v" ;;
        esac ;;
    -h|--help) mlr_help; exit 0 ;;
    --k=*|--block=*|--tile=*|--items=*|--item-ids=*|--exclude=*|--queries=*|--query-ids=*|--output=*)
        echo "$me: write '${a%%=*} VALUE', not '${a%%=*}=...'" >&2; exit 2 ;;
    *) # an option of mlr-topk that names no file (--threads 2, --quiet)
       case $a in ''|*[!A-Za-z0-9._,:=+-]*)
           printf '%s\n' "$me: '$a': not an option of mlr-topk's (files go with --queries, --query-ids, --items, --item-ids, --exclude)" >&2
           exit 2 ;; esac
       case $a in --threads|--threads=*) threads_given=1 ;; esac
       set -- "$@" "$a" ;;
    esac
done
[ -n "$queries" ] && [ -n "$items" ] || usage
cores=$(nproc)
: "${jobs:=$cores}"
count_opt --jobs "$jobs" 1 256
: "${shards:=$jobs}"
count_opt --shards "$shards" 1 1000000
[ "$threads_given" = 1 ] || set -- "$@" --threads $(( cores / jobs > 0 ? cores / jobs : 1 ))
slice=$(command -v mlr-slice) topk=$(command -v mlr-topk) || die "mlr-slice or mlr-topk not found (make)"
# mlr-topk's own default for the item ids: I.npy's name with .ids.
[ -n "$iids" ] || case $items in *.npy) iids=${items%.npy}.ids ;; *) iids=$items.ids ;; esac
for f in "$queries" "$items" "$iids" ${qids:+"$qids"} ${exclude:+"$exclude"}; do
    [ -f "$f" ] || die "$f: no such file"
done
[ -z "$exclude" ] || [ -n "$qids" ] || die "--exclude needs --query-ids"
abs() { case $1 in /*) printf '%s\n' "$1" ;; *) printf '%s\n' "$(pwd)/$1" ;; esac; }
# Absolute from here on: a name starting with - is not read as an option.
queries=$(abs "$queries") items=$(abs "$items") iids=$(abs "$iids")
[ -z "$qids" ] || qids=$(abs "$qids")
[ -z "$exclude" ] || exclude=$(abs "$exclude")
case $output in -?*) output=./$output ;; esac

# The shards: whole blocks of mlr-topk (its --block, shrunk as mlr-topk
# does when k is large, then made whole tiles), so that each shard scores
# its rows at the places in the sgemm tiles a single run would (a row's
# last float digits depend on its place), blocks [i*NB/S, (i+1)*NB/S).
count_opt --k "$k" 1 1000000 # mlr-topk's ranges
count_opt --block "$block" 1 1000000
count_opt --tile "$tile" 1 4096
nq=$(mlr-slice --count "$queries")
m=$(mlr-slice --count "$items")
kk=$(( k < m ? k : m ))
[ "$kk" -eq 0 ] || [ $((block * kk)) -le 4194304 ] || block=$(( 4194304 / kk > 0 ? 4194304 / kk : 1 ))
block=$(( block < tile ? tile : block / tile * tile ))
nb=$(( (nq + block - 1) / block ))
[ "$shards" -le "$nb" ] || shards=$(( nb > 0 ? nb : 1 ))
if [ -z "$tmpdir" ]; then
    if [ -n "$output" ] && [ "$output" != - ]; then tmpdir=$(dirname -- "$output"); else tmpdir=${TMPDIR:-/tmp}; fi
fi
work=$(mktemp -d -- "$(abs "$tmpdir")/topk-sharded.XXXXXX" 2>/dev/null) ||
    die "cannot make a work folder in '$tmpdir' (--tmpdir, else the output's folder or TMPDIR): not a writable folder"
wd=$(basename -- "$work")
# At exit the work folder goes, and its copy on the remote hosts, also
# after a failure (parallel's --cleanup removes them only on success).
cleanup() {
    if [ -n "$sshlogin" ] && [ -d "$work" ]; then
        (cd "$work/.." && parallel --will-cite --nonall --sshlogin "$sshlogin" -q rm -rf -- "$wd" >/dev/null 2>&1)
    fi
    rm -rf "$work"
    [ -z "${in_t:-}" ] || rm -f -- "$in_t" # lib.sh into's temporary, when killed while merging
}
trap cleanup EXIT
trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM

# The inputs under fixed names in WORK/in (links): no name of the caller's
# reaches a command line; a job runs in WORK (here) or in a folder of the
# same name in the login folder of a remote host, where in/ is copied
# (parallel's --basefile) and whence out/I.tsv comes back (--return).
mkdir "$work/in" "$work/out"
ln -s "$queries" "$work/in/q.npy"
ln -s "$items" "$work/in/items.npy"
ln -s "$iids" "$work/in/items.ids"
[ -z "$qids" ] || ln -s "$qids" "$work/in/q.ids"
[ -z "$exclude" ] || ln -s "$exclude" "$work/in/exclude.tsv"
i=0
while [ "$i" -lt "$shards" ]; do
    from=$(( i * nb / shards * block )) to=$(( (i + 1) * nb / shards * block ))
    [ "$to" -le "$nq" ] || to=$nq
    printf '%s\t%s\t%s\n' "$i" "$from" "$to"
    i=$((i + 1))
done >"$work/shards"

# One shard: the ids of its rows first (mlr-topk reads them before the
# queries), then its rows streamed into mlr-topk. Arguments: I FROM TO
# then mlr-topk's options; the tools from $MLR_SHARD_BIN.
shard='i=$1 from=$2 to=$3; shift 3
mkdir -p out || exit
b=$MLR_SHARD_BIN
set -- --items in/items.npy --item-ids in/items.ids "$@"
[ ! -e in/exclude.tsv ] || set -- --exclude in/exclude.tsv "$@"
if [ -e in/q.ids ]; then
    "$b/mlr-slice" --range "$from:$to" --ids in/q.ids --ids-output "out/$i.ids" in/q.npy >/dev/null &&
        "$b/mlr-slice" --range "$from:$to" in/q.npy |
        "$b/mlr-topk" --queries - --query-ids "out/$i.ids" "$@" --output "out/$i.tsv"
else
    "$b/mlr-slice" --range "$from:$to" in/q.npy | "$b/mlr-topk" --queries - "$@" --output "out/$i.tsv"
fi
st=$?; rm -f "out/$i.ids"; exit "$st"'
MLR_SHARD_BIN=$(dirname -- "$topk")
export MLR_SHARD_BIN

# The shards, side by side; the first failure stops the rest. parallel
# quotes every word (-q): names and options travel as data.
echo "$me: $nq queries in $shards shards, $jobs at a time${sshlogin:+ on $sshlogin}" >&2
cd "$work/.."
set -- --workdir "$wd" -q sh -c "$shard" sh {1} {2} {3} "$@"
if [ -n "$sshlogin" ]; then
    # The tools must be at the same path on every host: checked first.
    parallel --will-cite --nonall --sshlogin "$sshlogin" --env MLR_SHARD_BIN \
        -q sh -c 'test -x "$MLR_SHARD_BIN/mlr-slice" && test -x "$MLR_SHARD_BIN/mlr-topk"' >/dev/null 2>&1 ||
        die "a host of --sshlogin cannot be reached or has no mlr-slice and mlr-topk in $MLR_SHARD_BIN (the tools must be at the same path on every host)"
    # shellcheck disable=SC2046 # openblas_envs: --env NAME words
    set -- --sshlogin "$sshlogin" --env MLR_SHARD_BIN $(openblas_envs) --rsync-opts -rLDzR --basefile "$wd/./in" \
        --return "$wd/./out/{1}.tsv" --cleanup "$@"
fi
parallel --will-cite --halt now,fail=1 --jobs "$jobs" --colsep '\t' "$@" :::: "$work/shards" ||
    die "a shard failed (its message is above; there in/q.npy is $queries, in/items.npy $items, in/items.ids $iids${qids:+, in/q.ids $qids}${exclude:+, in/exclude.tsv $exclude})"
cd - >/dev/null

# The merge: one fingerprint line and one header (docs/fingerprint.md),
# each shard's `query` column (found by name) shifted by the shard's first row.
echo "$me: merging" >&2
set --
i=0
while [ "$i" -lt "$shards" ]; do set -- "$@" "$work/out/$i.tsv"; i=$((i + 1)); done
merge() {
    awk -F'\t' -v OFS='\t' -v offs="$(cut -f2 "$work/shards" | tr '\n' ' ')" '
        BEGIN { split(offs, off, " ") }
        FNR == 1 { f++; h = 0 }
        !h && /^#mlrec / { if (f == 1) print; next }
        !h { h = 1; if (!qc) for (c = 1; c <= NF; c++) if ($c == "query") qc = c
             if (f == 1) print; next }
        { $qc += off[f]; print }' "$@"
}
if [ -z "$output" ] || [ "$output" = - ]; then
    merge "$@"
else
    # beside the output (lib.sh's into), so that the rename is atomic
    # whatever --tmpdir; a device or a FIFO written in place, never replaced
    into "$output" merge "$@" 2>/dev/null || die "$output: cannot write the merged lists"
fi
echo "$me: done" >&2
