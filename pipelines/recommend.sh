#!/bin/sh
# recommend.sh: the top N titles for one user from a trained run (the seed
# report's model_launch.py), never a title the user already rated, each
# with a reason: the titles the user rated (4 or more) nearest to it in the
# candidate space ("because you rated ...").
#
#   recommend.sh --run RUNDIR --train TRAIN.tsv --user ID [--n 10]
#   recommend.sh --run RUNDIR --train TRAIN.tsv --age 28 --gender F --occupation writer [--zip 94110]
#
# RUNDIR is an evaluate.sh output (spec/, model.safetensors, items.npy,
# items.ids, catalogue.tsv). A user not in TRAIN (cold start) is described by age, gender
# and occupation alone: the query tower's unknown-id row plus those
# features gives the recommendations. Markdown on stdout.
set -eu
me=recommend
. "$(dirname "$0")/lib.sh"
usage() { echo "usage: recommend.sh --run RUNDIR --train TRAIN.tsv (--user ID | --age A --gender G --occupation O [--zip Z]) [--n N]" >&2; exit 2; }
run="" train="" user="" age="" gender="" occ="" zip="" n=10
while [ $# -gt 0 ]; do
    [ $# -ge 2 ] || usage
    case $1 in
        --run) run=$2 ;; --train) train=$2 ;; --user) user=$2 ;; --n) n=$2 ;;
        --age) age=$2 ;; --gender) gender=$2 ;; --occupation) occ=$2 ;; --zip) zip=$2 ;;
        *) usage ;;
    esac
    shift 2
done
[ -n "$run" ] && [ -n "$train" ] || usage
[ -n "$user" ] || [ -n "$age$gender$occ" ] || usage
case $n in ''|*[!0-9]*) usage ;; esac
for f in "$run/model.safetensors" "$run/items.npy" "$run/items.ids" "$run/catalogue.tsv" "$run/spec/features.tsv" "$train"; do
    [ -f "$f" ] || die "$f: no such file (run evaluate.sh first)"
done
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

# Column numbers of the training table, by name.
header=$(head -n 1 "$train")
colno() { printf '%s\n' "$header" | tr '\t' '\n' | grep -nx "$1" | cut -d: -f1; }
cu=$(colno user_id) ci=$(colno item_id) cr=$(colno rating) ct=$(colno timestamp)
[ -n "$cu" ] && [ -n "$ci" ] || die "$train: needs user_id and item_id columns"

# Stage 1: the query row. A known user: their latest training row (the
# query depends on the time). A new user: the given features at the latest
# time of the data, and an id the vocabulary has never seen.
awk -F'\t' -v u="$user" -v cu="$cu" -v ct="${ct:-0}" 'NR == 1 { print; next }
    u != "" && $cu == u && (!ct || !seen || $ct + 0 >= best) { best = ct ? $ct + 0 : 0; row = $0; seen = 1 }
    END { if (seen) print row }' "$train" >"$tmp/query.tsv"
known=$(($(wc -l <"$tmp/query.tsv") - 1))
if [ "$known" -eq 0 ]; then
    [ -n "$age$gender$occ" ] || die "user $user is not in $train; give --age, --gender and --occupation for a new user"
    awk -F'\t' -v OFS='\t' -v u="${user:-new-user}" -v age="$age" -v g="$gender" -v o="$occ" -v z="$zip" -v ct="${ct:-0}" '
        NR == 1 { for (i = 1; i <= NF; i++) name[i] = $i; n = NF; print; next }
        ct && $ct + 0 > last { last = $ct + 0 }
        END { for (i = 1; i <= n; i++) {
                v = ""
                if (name[i] == "user_id") v = u; else if (name[i] == "timestamp") v = last
                else if (name[i] == "user_age") v = age; else if (name[i] == "user_gender") v = g
                else if (name[i] == "user_occupation") v = o; else if (name[i] == "user_zip") v = z
                else if (name[i] == "rating") v = 0
                printf "%s%s", v, (i < n ? OFS : ORS) } }' "$train" >"$tmp/query.tsv"
fi

# Stage 2: its embedding, and the N best items it has not rated.
mlr-encode --spec "$run/spec" --output "$tmp/enc" "$tmp/query.tsv"
mlr-embed --model "$run/model.safetensors" --queries "$tmp/enc" --output "$tmp/q.npy"
mlr-topk --quiet --queries "$tmp/q.npy" --query-ids "$tmp/q.ids" --items "$run/items.npy" \
    --item-ids "$run/items.ids" --exclude "$train" --k "$n" --output "$tmp/top.tsv"

# Stage 3: the reasons. Candidate embeddings of the recommended items and
# of the user's well-rated items; each recommendation's two nearest.
if [ "$known" -gt 0 ]; then
    awk -F'\t' -v u="$user" -v cu="$cu" -v cr="${cr:-0}" 'NR == 1 || ($cu == u && (!cr || $cr + 0 >= 4))' "$train" >"$tmp/rated.tsv"
    if [ "$(wc -l <"$tmp/rated.tsv")" -gt 1 ]; then
        mlr-encode --items --spec "$run/spec" --output "$tmp/rated" "$tmp/rated.tsv"
        mlr-embed --model "$run/model.safetensors" --items "$tmp/rated" --output "$tmp/rated.npy"
        # The recommended items, from the run's catalogue.
        cut -f4 "$tmp/top.tsv" | sed 1d >"$tmp/top.ids"
        awk -F'\t' 'FNR == NR { want[$1]; next } FNR == 1 || ($1 in want)' \
            "$tmp/top.ids" "$run/catalogue.tsv" >"$tmp/rec.tsv"
        mlr-encode --items --spec "$run/spec" --output "$tmp/rec" "$tmp/rec.tsv"
        mlr-embed --model "$run/model.safetensors" --items "$tmp/rec" --output "$tmp/rec.npy"
        mlr-topk --quiet --queries "$tmp/rec.npy" --query-ids "$tmp/rec.ids" --items "$tmp/rated.npy" \
            --item-ids "$tmp/rated.ids" --k 2 --output "$tmp/why.tsv"
    fi
fi
[ -f "$tmp/why.tsv" ] || printf 'query\tuser_id\trank\titem_id\tscore\n' >"$tmp/why.tsv"

# Stage 4: titles, and the list.
if [ "$known" -gt 0 ]; then
    echo "### User $user: top $n"
else
    echo "### New user (not in the training data): ${age:-?}-year-old ${gender:-?} ${occ:-?}: top $n, from the features alone"
fi
echo
awk -F'\t' '
    FILENAME == ARGV[1] { if (FNR > 1) title[$1] = $2; next }
    FILENAME == ARGV[2] { if (FNR > 1) { w = (($2 in why) ? why[$2] "; " : "") (($4 in title) ? title[$4] : $4); why[$2] = w }; next }
    FNR > 1 { t = ($4 in title) ? title[$4] : "item " $4
              printf "%d. %s (score %s)%s\n", $3, t, $5, (($4 in why) ? " — because you rated " why[$4] : "") }' \
    "$run/catalogue.tsv" "$tmp/why.tsv" "$tmp/top.tsv"
echo
