#!/bin/sh
# recommend.sh: the top N titles for one user as Markdown (the seed
# report's model_launch.py), a thin wrapper of mlr-recommend: never a
# title the user already rated, each with its reason ("because you rated
# ..."), the score and the predicted rating.
#
#   recommend.sh --run DIR [--train TRAIN.tsv] --user ID [--k 10]
#   recommend.sh --run DIR --age 28 --gender F --occupation writer [--zip 94110] [--k 10]
#   recommend.sh --run DIR [--age 28 ...] --rated-items 50,181,172 [--k 10]
#   recommend.sh --run DIR --user ID --fuse-ease off [--k 10]
#   recommend.sh --run DIR --user ID --fuse-ease 0.7 [--lambda 500] [--k 10]
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
#
# The list is what the run's validation slice chose: where the served
# directory has a hybrid.tsv (evaluate.sh and retrain.sh make one:
# hybrid.sh), the model's top 100 and EASE's fused at the weight and
# lambda chosen there (--fuse-ease auto, the default); without one, the
# model's list. --fuse-ease off is the model's list whatever the
# directory holds. --fuse-ease W fuses at the model's weight W in [0, 1]
# (EASE's 1 - W, mlr-fuse's rule: mlr-recommend --fuse-ease), EASE's
# lambda --lambda L (default 500; with auto, L still wins over the
# file's). On ML-100K's five official folds validation chose 0.6 to 0.8,
# and the hybrid passed EASE on each; on ml-latest-small the model alone
# trails EASE and the hybrid passes it (README). A new user without
# --rated-items gets the model's list (EASE has no movie to start from),
# and a --fuse-ease W for them is an error. EASE is the served
# ease.npy at hybrid.tsv's lambda, else fitted on the request (0.3 s on
# ML-100K; catalogues over 20,000 items are refused). The score shown is
# the fused one.
set -eu
me=recommend
. "$(dirname "$0")/lib.sh"
usage() { echo "usage: recommend.sh --run DIR [--train TRAIN.tsv] (--user ID | [--age A --gender G --occupation O --zip Z] [--rated-items I,J,...]) [--k K] [--fuse-ease W|auto|off [--lambda L]]" >&2; exit 2; }
run="" user="" age="" gender="" occ="" zip="" rated="" n=10 fuse="" fusing=0 lambda=500 lset=0
while [ $# -gt 0 ]; do
    case $1 in -h|--help) mlr_help; exit 0 ;; esac
    [ $# -ge 2 ] || usage
    case $1 in
        --run) run=$2 ;; --train) ;; --user) user=$2 ;; --k) n=$2 ;;
        --n) n=$2; echo "$me: warning: --n is deprecated; use --k (docs/options.md)" >&2 ;;
        --age) age=$2 ;; --gender) gender=$2 ;; --occupation) occ=$2 ;; --zip) zip=$2 ;;
        --rated-items) rated=$2 ;;
        --fuse-ease) fuse=$2 fusing=1 ;; --lambda) lambda=$2 lset=1 ;;
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
# Unless told, the list validation chose: the hybrid where there is one.
if [ "$fusing" = 0 ] && [ -f "$served/hybrid.tsv" ]; then fuse=auto fusing=1; fi
[ "$fusing$fuse" != 1off ] || { fuse=''; fusing=0; }
# --fuse-ease auto: the weight and lambda validation chose (hybrid.sh),
# checked as if given here (the file is the MANIFEST's, which
# mlr-recommend verifies before any list).
if [ "$fusing$fuse" = 1auto ]; then
    [ -f "$served/hybrid.tsv" ] || die "--fuse-ease auto: $served has no hybrid.tsv (made by evaluate.sh or retrain.sh; or give a weight)"
    fuse=$(awk -F'\t' '$1 == "model_weight" { print $2 }' "$(awkpath "$served/hybrid.tsv")")
    from=" in $served/hybrid.tsv" chosen=wfile
    [ "$lset" = 1 ] || { lambda=$(awk -F'\t' '$1 == "ease_lambda" { print $2 }' "$(awkpath "$served/hybrid.tsv")")
        lfrom=$from chosen=both; }
fi
bad_weight() { die "--fuse-ease: the model's weight, a number in [0, 1], not '$fuse'${from:-}"; }
case $fusing$fuse in
0) ;;
1|*[!0-9.]*|*.*.*|1.) bad_weight ;;
*) awk -v w="$fuse" 'BEGIN { exit !(w + 0 <= 1) }' || bad_weight ;;
esac
case $lambda in
''|*[!0-9.]*|*.*.*|.) die "--lambda: EASE's L2 weight, a positive number, not '$lambda'${lfrom:-}" ;;
esac
tmp=$(mlr_mktemp -d) || exit 1
trap 'rm -rf "$tmp"' EXIT

# A known user by id; else (or when their id is unknown) a new user:
# who, as mlr-recommend's arguments.
known=0
# Ids are strings (SPEC.md): compared as strings, "042" is not user 42; the
# id travels through the environment, which awk -v would unescape.
if [ -n "$user" ] && MLR_USER=$user awk -F'\t' 'NR > 1 && ($1 "") == (ENVIRON["MLR_USER"] "") { f = 1; exit }
        END { exit !f }' "$(awkpath "$served/history.tsv")"; then
    known=1
    set -- -- "$user"
else
    [ -n "$age$gender$occ$zip$rated" ] ||
        die "user $user is not in $served/history.tsv; give --age, --gender and --occupation (or --rated-items) for a new user"
    set --
    [ -z "$age" ] || set -- "$@" --age "$age"
    [ -z "$gender" ] || set -- "$@" --gender "$gender"
    [ -z "$occ" ] || set -- "$@" --occupation "$occ"
    [ -z "$zip" ] || set -- "$@" --zip "$zip"
    [ -z "$rated" ] || set -- "$@" --rated-items "$rated"
fi
# auto for a user known by features alone: EASE has no movie to start
# from, so the list is the model's (and says so)
if [ "${chosen:-}" != "" ] && [ "$known" = 0 ] && [ -z "$rated" ]; then fusing=0 alone=1; fi
if [ "$fusing" = 0 ]; then
    mlr-recommend --served "$served" --k "$n" --output "$tmp/top.tsv" "$@"
else
    [ "$known" = 1 ] || [ -n "$rated" ] || die "--fuse-ease: EASE needs the user's movies: a known --user, or --rated-items"
    mlr-recommend --served "$served" --k "$n" --fuse-ease "$fuse" --lambda "$lambda" --output "$tmp/top.tsv" "$@"
fi
# The Markdown made whole first, then copied to stdout: a full disk or a
# closed stdout fails in one line of ours. (printf: dash's echo would
# read backslashes in an id or occupation as escapes.)
{
    how=
    [ -z "${alone:-}" ] || how=" (the model's list: EASE, which --fuse-ease auto fuses it with, needs rated movies)"
    [ "$fusing" = 0 ] || case ${chosen:-} in
    both) how=" (the model and EASE fused: model weight $fuse and EASE lambda $lambda, chosen on the validation slice)" ;;
    wfile) how=" (the model and EASE fused: model weight $fuse, chosen on the validation slice; EASE lambda $lambda)" ;;
    *) how=" (the model and EASE fused: model weight $fuse, EASE lambda $lambda)" ;;
    esac
    if [ "$known" = 1 ]; then
        printf '%s\n' "### User $user: top $n$how"
    else
        from="from the features alone"
        [ -z "$rated" ] || from="from the features and the $(printf '%s\n' "$rated" | awk -F, '{ print NF }') movies rated"
        printf '%s\n' "### New user (not in the training data): ${age:-?}-year-old ${gender:-?} ${occ:-?}: top $n, $from$how"
    fi
    echo
    # columns: user_id rank item_id score predicted_rating title reason
    awk -F'\t' 'NR > 1 { t = ($6 != "") ? $6 : "item " $3
        printf "%d. %s (score %s, predicted rating %s)%s\n", $2, t, $4, $5, ($7 != "" ? " — " $7 : "") }' "$tmp/top.tsv"
    echo
} >"$tmp/list.md"
cat "$tmp/list.md" 2>/dev/null || die "cannot write to standard output"
