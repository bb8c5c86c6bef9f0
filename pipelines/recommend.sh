#!/bin/sh
# recommend.sh: the top N titles for one user as Markdown (the seed
# report's model_launch.py), a thin wrapper of mlr-recommend: never a
# title the user already rated, each with its reason ("because you rated
# ..."), the score and the predicted rating.
#
#   recommend.sh --run DIR [--train TRAIN.tsv] --user ID [--k 10]
#   recommend.sh --run DIR --age 28 --gender F --occupation writer [--zip 94110] [--k 10]
#   recommend.sh --run DIR [--age 28 ...] --rated-items 50,181,172 [--k 10]
#
# --k K is the number of titles (mlr-recommend's --k; --n is its old,
# deprecated name).
#
# DIR is a served model directory (docs/serving.md: retrain.sh's
# DIR/current) or an evaluate.sh output holding one (DIR/served). The
# user's history comes from the served directory; --train is accepted
# for older scripts and not read. A user not in it (cold start) is
# described by age, gender and occupation, and by the movies they rated
# (--rated-items: item ids, comma-separated), which become their history
# without retraining (fold-in) and are not recommended again. For TSV, JSON, many
# users at once or similar items, use mlr-recommend itself.
set -eu
me=recommend
. "$(dirname "$0")/lib.sh"
usage() { echo "usage: recommend.sh --run DIR [--train TRAIN.tsv] (--user ID | [--age A --gender G --occupation O --zip Z] [--rated-items I,J,...]) [--k K]" >&2; exit 2; }
run="" user="" age="" gender="" occ="" zip="" rated="" n=10
while [ $# -gt 0 ]; do
    case $1 in -h|--help) mlr_help; exit 0 ;; esac
    [ $# -ge 2 ] || usage
    case $1 in
        --run) run=$2 ;; --train) ;; --user) user=$2 ;; --k) n=$2 ;;
        --n) n=$2; echo "$me: warning: --n is deprecated; use --k (docs/options.md)" >&2 ;;
        --age) age=$2 ;; --gender) gender=$2 ;; --occupation) occ=$2 ;; --zip) zip=$2 ;;
        --rated-items) rated=$2 ;;
        *) usage ;;
    esac
    shift 2
done
[ -n "$run" ] || usage
[ -n "$user" ] || [ -n "$age$gender$occ$zip$rated" ] || usage
count_opt --k "$n" 1 100000 # mlr-recommend's range
served=$run
[ -f "$served/MANIFEST" ] || served=$run/served
[ -f "$served/MANIFEST" ] || die "$run: no served model directory (run evaluate.sh first, or give retrain.sh's DIR/current)"
tmp=$(mlr_mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# A known user by id; else (or when their id is unknown) a new user.
known=0
# Ids are strings (SPEC.md): compared as strings, "042" is not user 42; the
# id travels through the environment, which awk -v would unescape.
if [ -n "$user" ] && MLR_USER=$user awk -F'\t' 'NR > 1 && ($1 "") == (ENVIRON["MLR_USER"] "") { f = 1; exit }
        END { exit !f }' "$(awkpath "$served/history.tsv")"; then
    known=1
    mlr-recommend --served "$served" --k "$n" --output "$tmp/top.tsv" -- "$user"
else
    [ -n "$age$gender$occ$zip$rated" ] ||
        die "user $user is not in $served/history.tsv; give --age, --gender and --occupation (or --rated-items) for a new user"
    set --
    [ -z "$age" ] || set -- "$@" --age "$age"
    [ -z "$gender" ] || set -- "$@" --gender "$gender"
    [ -z "$occ" ] || set -- "$@" --occupation "$occ"
    [ -z "$zip" ] || set -- "$@" --zip "$zip"
    [ -z "$rated" ] || set -- "$@" --rated-items "$rated"
    mlr-recommend --served "$served" --k "$n" --output "$tmp/top.tsv" "$@"
fi

# The Markdown made whole first, then copied to stdout: a full disk or a
# closed stdout fails in one line of ours. (printf: dash's echo would
# read backslashes in an id or occupation as escapes.)
{
    if [ "$known" = 1 ]; then
        printf '%s\n' "### User $user: top $n"
    else
        from="from the features alone"
        [ -z "$rated" ] || from="from the features and the $(printf '%s\n' "$rated" | awk -F, '{ print NF }') movies rated"
        printf '%s\n' "### New user (not in the training data): ${age:-?}-year-old ${gender:-?} ${occ:-?}: top $n, $from"
    fi
    echo
    # columns: user_id rank item_id score predicted_rating title reason
    awk -F'\t' 'NR > 1 { t = ($6 != "") ? $6 : "item " $3
        printf "%d. %s (score %s, predicted rating %s)%s\n", $2, t, $4, $5, ($7 != "" ? " — " $7 : "") }' "$tmp/top.tsv"
    echo
} >"$tmp/list.md"
cat "$tmp/list.md" 2>/dev/null || die "cannot write to standard output"
