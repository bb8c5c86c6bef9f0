#!/bin/sh
# recommend.sh: the top N titles for one user as Markdown (the seed
# report's model_launch.py), a thin wrapper of mlr-recommend: never a
# title the user already rated, each with its reason ("because you rated
# ..."), the score and the predicted rating.
#
#   recommend.sh --run DIR [--train TRAIN.tsv] --user ID [--k 10]
#   recommend.sh --run DIR --age 28 --gender F --occupation writer [--zip 94110] [--k 10]
#   recommend.sh --run DIR [--age 28 ...] --rated-items 50,181,172 [--k 10]
#   recommend.sh --run DIR --user ID --fuse-ease auto [--k 10]
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
# --fuse-ease W lists the model's top 100 and EASE's (mlr-baseline on the
# served history.tsv, the user's rated movies included, --lambda L,
# default 500) fused by mlr-fuse, the model's weight W in [0, 1] and
# EASE's 1 - W (on ML-100K's five official folds validation chose 0.6
# to 0.8, and the hybrid passed EASE on each: README). --fuse-ease auto
# takes W and L from the served directory's hybrid.tsv: the pair chosen
# on the run's validation slice (evaluate.sh, retrain.sh: hybrid.sh);
# --lambda, when given, still wins; a new user without --rated-items gets
# the model's list (EASE has no movie to start from). EASE is fitted on
# every request (a second on ML-100K; mlr-baseline refuses catalogues
# over 20,000 items). The score shown stays the model's.
set -eu
me=recommend
. "$(dirname "$0")/lib.sh"
usage() { echo "usage: recommend.sh --run DIR [--train TRAIN.tsv] (--user ID | [--age A --gender G --occupation O --zip Z] [--rated-items I,J,...]) [--k K] [--fuse-ease W|auto [--lambda L]]" >&2; exit 2; }
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

# fused_list WHO...: the model's top 100 and EASE's fused into $tmp/top.tsv
# (mlr-recommend's columns, in the fused order). EASE reads the served
# history and, for a new user, their rated movies as one more user.
fused_list() {
    mlr-recommend --served "$served" --k 100 --output "$tmp/model.tsv" "$@"
    u=$(awk -F'\t' 'NR == 2 { print $1 }' "$(awkpath "$tmp/model.tsv")")
    [ -n "$u" ] || die "the model has no item to list for this user"
    # mlr-topk's format, as mlr-fuse reads it
    awk -F'\t' -v OFS='\t' 'NR == 1 { print "query", "user_id", "rank", "item_id", "score"; next }
        { print 0, $1, $2, $3, $4 }' "$(awkpath "$tmp/model.tsv")" >"$tmp/model.topk"
    cut -f1,2 "$served/history.tsv" >"$tmp/train.tsv"
    if [ "$known" = 0 ]; then
        [ -n "$rated" ] || die "--fuse-ease: EASE needs the user's movies: a known --user, or --rated-items"
        MLR_USER=$u awk -F'\t' 'NR > 1 && $1 == ENVIRON["MLR_USER"] { f = 1 } END { exit f }' \
            "$(awkpath "$tmp/train.tsv")" || die "--fuse-ease: a new user's id '$u' is a known user's"
        printf '%s\n' "$rated" | tr ',' '\n' | MLR_USER=$u awk -v OFS='\t' '{ print ENVIRON["MLR_USER"], $0 }' \
            >>"$tmp/train.tsv"
    fi
    printf 'user_id\n%s\n' "$u" >"$tmp/user.tsv"
    mlr-baseline --quiet --kind ease --lambda "$lambda" --exclude-train --train "$tmp/train.tsv" \
        --test "$tmp/user.tsv" --item-ids "$served/items.ids" --k 100 --output "$tmp/ease.topk"
    mlr-fuse --join user --weights "$fuse,$(awk -v w="$fuse" 'BEGIN { print 1 - w }')" --k "$n" \
        --output "$tmp/fused.topk" "$tmp/model.topk" "$tmp/ease.topk"
    # the fused items as mlr-recommend shows them, in the fused order
    { echo item_id; awk -F'\t' '$1 ~ /^[0-9]+$/ { print $4 }' "$(awkpath "$tmp/fused.topk")"; } >"$tmp/allow.tsv"
    mlr-recommend --served "$served" --k "$n" --allow "$tmp/allow.tsv" --output "$tmp/shown.tsv" "$@"
    awk -F'\t' -v OFS='\t' 'NR == FNR { if ($1 ~ /^[0-9]+$/) rank[$4] = $3; next }
        FNR == 1 { head = $0; next } { $2 = rank[$3]; row[$2] = $0 }
        END { print head; for (r = 1; r in row; r++) print row[r] }' \
        "$(awkpath "$tmp/fused.topk")" "$(awkpath "$tmp/shown.tsv")" >"$tmp/top.tsv"
}

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
    fused_list "$@"
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
