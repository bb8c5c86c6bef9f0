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
# Every other option (--items, --item-ids, --exclude, --k, --block, --tile,
# --threads) goes to each mlr-topk unchanged; without --threads each shard
# takes nproc / jobs threads.
#   --shards S     shards (default: jobs; at most the number of blocks of
#                  --block rows: lower --block for more, smaller shards)
#   --jobs J       shards run at once on each machine (default: nproc)
#   --sshlogin L   remote machines for parallel; they must see Q, the items,
#                  the exclusions, --tmpdir and the mlr binaries at the SAME
#                  paths (a shared file system) (default: this machine only)
#   --tmpdir DIR   where shard results wait to be merged (default: beside
#                  --output, else $TMPDIR or /tmp)
#   --output FILE  written atomically (default stdout)
# example: sh pipelines/topk-sharded.sh --shards 8 --jobs 2 --queries query.npy \
#            --query-ids query.ids --items items.npy --exclude train.tsv --k 100 --output topk.tsv
set -eu
me=topk-sharded
. "$(dirname "$0")/lib.sh"
usage() { echo "usage: topk-sharded.sh [--shards S] [--jobs J] [--sshlogin LOGINS] [--tmpdir DIR] --queries Q.npy [--query-ids Q.ids] [--output FILE] [mlr-topk options...]" >&2; exit 2; }
# q WORD: WORD single-quoted for a shell command line.
q() { printf "'%s'" "$(printf '%s' "$1" | sed "s/'/'\\\\''/g")"; }
need() { [ "$2" -ge 2 ] || { echo "$me: option '$1' needs a value" >&2; exit 2; }; }

shards= jobs= sshlogin= tmpdir= queries= qids= output= pass= threads_given=0
k=10 block=1024 tile=32 items= # mlr-topk's defaults
while [ $# -gt 0 ]; do
    case $1 in
    --shards) need "$1" $#; shards=$2; shift 2 ;;
    --jobs) need "$1" $#; jobs=$2; shift 2 ;;
    --sshlogin) need "$1" $#; sshlogin=$2; shift 2 ;;
    --tmpdir) need "$1" $#; tmpdir=$2; shift 2 ;;
    --queries) need "$1" $#; queries=$2; shift 2 ;;
    --query-ids) need "$1" $#; qids=$2; shift 2 ;;
    --output|-o) need "$1" $#; output=$2; shift 2 ;;
    -h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
    --k|-k|--block|--tile|--items) need "$1" $#
       case $1 in --block) block=$2 ;; --tile) tile=$2 ;; --items) items=$2 ;; *) k=$2 ;; esac
       pass="$pass $(q "$1") $(q "$2")"; shift 2 ;;
    --k=*|--block=*|--tile=*|--items=*) echo "$me: write '${1%%=*} VALUE', not '$1'" >&2; exit 2 ;;
    *) case $1 in --threads|--threads=*) threads_given=1 ;; esac
       pass="$pass $(q "$1")"; shift ;;
    esac
done
[ -n "$queries" ] && [ -n "$items" ] || usage
cores=$(nproc)
: "${jobs:=$cores}"
case $jobs in ''|*[!0-9]*|0) echo "$me: --jobs must be a positive number" >&2; exit 2 ;; esac
: "${shards:=$jobs}"
case $shards in ''|*[!0-9]*|0) echo "$me: --shards must be a positive number" >&2; exit 2 ;; esac
[ "$threads_given" = 1 ] || pass="$pass --threads $(( cores / jobs > 0 ? cores / jobs : 1 ))"
slice=$(command -v mlr-slice) topk=$(command -v mlr-topk) || die "mlr-slice or mlr-topk not found (make)"

# The shards: whole blocks of mlr-topk (its --block, shrunk as mlr-topk
# does when k is large, then made whole tiles), so that each shard scores
# its rows at the places in the sgemm tiles a single run would (a row's
# last float digits depend on its place), blocks [i*NB/S, (i+1)*NB/S).
n=$(mlr-slice --count "$queries")
m=$(mlr-slice --count "$items")
case $k$block$tile in *[!0-9]*) echo "$me: --k, --block and --tile must be numbers" >&2; exit 2 ;; esac
kk=$(( k < m ? k : m ))
[ "$kk" -eq 0 ] || [ $((block * kk)) -le 4194304 ] || block=$(( 4194304 / kk > 0 ? 4194304 / kk : 1 ))
block=$(( block < tile ? tile : block / tile * tile ))
nb=$(( (n + block - 1) / block ))
[ "$shards" -le "$nb" ] || shards=$(( nb > 0 ? nb : 1 ))
abs() { case $1 in /*) echo "$1" ;; *) echo "$(pwd)/$1" ;; esac; }
queries=$(abs "$queries")
[ -z "$qids" ] || qids=$(abs "$qids")
if [ -z "$tmpdir" ]; then
    if [ -n "$output" ] && [ "$output" != - ]; then tmpdir=$(dirname "$output"); else tmpdir=${TMPDIR:-/tmp}; fi
fi
work=$(mktemp -d "$(abs "$tmpdir")/topk-sharded.XXXXXX")
trap 'rm -rf "$work"' EXIT
trap 'exit 129' HUP; trap 'exit 130' INT; trap 'exit 143' TERM

# One command line per shard: the ids of its rows first (mlr-topk reads
# them before the queries), then its rows streamed into mlr-topk.
i=0
while [ "$i" -lt "$shards" ]; do
    from=$(( i * nb / shards * block )) to=$(( (i + 1) * nb / shards * block ))
    [ "$to" -le "$n" ] || to=$n
    cmd="$(q "$slice") --rows $from:$to $(q "$queries")"
    if [ -n "$qids" ]; then
        printf '%s --ids %s --ids-output %s >/dev/null && ' "$cmd" "$(q "$qids")" "$(q "$work/$i.ids")"
        echo "$cmd | $(q "$topk") --queries - --query-ids $(q "$work/$i.ids")$pass --output $(q "$work/$i.tsv")"
    else
        echo "$cmd | $(q "$topk") --queries -$pass --output $(q "$work/$i.tsv")"
    fi
    echo "$from" >>"$work/offsets"
    i=$((i + 1))
done >"$work/jobs"

# The shards, side by side; the first failure stops the rest.
echo "$me: $n queries in $shards shards, $jobs at a time${sshlogin:+ on $sshlogin}" >&2
set -- --will-cite --halt now,fail=1 --jobs "$jobs"
[ -z "$sshlogin" ] || set -- "$@" --sshlogin "$sshlogin"
parallel "$@" <"$work/jobs" || die "a shard failed (its message is above)"

# The merge: one header, each shard's `query` column (found by name)
# shifted by the shard's first row.
echo "$me: merging" >&2
i=0 files=
while [ "$i" -lt "$shards" ]; do files="$files $(q "$work/$i.tsv")"; i=$((i + 1)); done
merge() {
    eval "set -- $files"
    awk -F'\t' -v OFS='\t' -v offs="$(tr '\n' ' ' <"$work/offsets")" '
        BEGIN { split(offs, off, " ") }
        FNR == 1 { f++; if (!qc) for (c = 1; c <= NF; c++) if ($c == "query") qc = c
                   if (f == 1) print; next }
        { $qc += off[f]; print }' "$@"
}
if [ -z "$output" ] || [ "$output" = - ]; then
    merge
else
    # beside the output, so that the rename is atomic whatever --tmpdir
    merge >"$output.tmp.$$" || { rm -f "$output.tmp.$$"; die "merging failed"; }
    mv "$output.tmp.$$" "$output"
fi
echo "$me: done" >&2
