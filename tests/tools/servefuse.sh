#!/bin/sh
# mlr-recommend --fuse-ease: the served hybrid in one call. Each user's
# list is the model's top 100 and EASE's fused by mlr-fuse's rule (EASE's
# list first), the lists hybrid.sh chose the weight on: checked against
# mlr-recommend's own model list, mlr-baseline's EASE list and mlr-fuse;
# auto is hybrid.tsv's pair; the ends are the model's and EASE's lists;
# many users in one call are each alone; --time fits EASE on the rows
# known then; the served ease.npy (package.sh) read at hybrid.tsv's
# lambda, EASE fitted otherwise; bad options and a bad hybrid.tsv or
# ease.npy are refused in one line.
. "$(dirname "$0")/lib.sh"
P=$MLR_ROOT/pipelines
mlr-synth --n-users 120 --n-items 200 --n-ratings 5000 --seed 5 --output "$T/all.tsv"
mlr-split --seed 3 --test-fraction 0.2 --test-output "$T/test.tsv" --output "$T/train.tsv" "$T/all.tsv"
if ! sh "$P/evaluate.sh" --lambdas 10,100 --fuse-weights 0,0.5,1 "$T/train.tsv" "$T/test.tsv" "$T/run" \
        --epochs 2 --quiet 2>"$T/log"; then
    fail "evaluate.sh makes a run" "$(tail -n 3 "$T/log" | tr '\n' ' ')"
    exit 0
fi
S=$T/run/served
users=$(cut -f1 "$T/train.tsv" | sed 1d | sort -u | head -n 6 | tr '\n' ' ')
# lists FILE: "user rank item" of mlr-recommend's TSV
lists() { awk -F'\t' 'NR > 1 { print $1, $2, $3 }' "$1"; }

# By hand: the model's top 100 (mlr-recommend) and EASE's (mlr-baseline on
# the served histories), fused by mlr-fuse, EASE's list first.
# shellcheck disable=SC2086 # $users: plain ids
mlr-recommend --served "$S" --k 100 --output "$T/model.tsv" $users
awk -F'\t' -v OFS='\t' 'NR == 1 { print "query", "user_id", "rank", "item_id", "score"; next }
    $1 != last { q++; last = $1 } { print q - 1, $1, $2, $3, $4 }' "$T/model.tsv" >"$T/model.topk"
{ echo user_id; printf '%s\n' $users; } >"$T/users.tsv"
mlr-baseline --quiet --kind ease --lambda 100 --exclude-train --train "$S/history.tsv" --test "$T/users.tsv" \
    --item-ids "$S/items.ids" --k 100 --output "$T/ease.topk"
for w in 0.5 0.3; do
    mlr-fuse --join user --weights "$(awk -v w="$w" 'BEGIN { print 1 - w }'),$w" --k 10 --output "$T/f$w.topk" \
        "$T/ease.topk" "$T/model.topk"
    awk -F'\t' 'NR > 2 { print $2, $3, $4 }' "$T/f$w.topk" >"$T/want$w"
    # shellcheck disable=SC2086
    if ran -o "$T/got$w.tsv" "--fuse-ease $w --lambda 100" mlr-recommend --served "$S" --fuse-ease "$w" --lambda 100 $users; then
        lists "$T/got$w.tsv" >"$T/got$w"
        same "--fuse-ease $w: mlr-fuse's lists of the model's and EASE's top 100" "$T/got$w" "$T/want$w"
        check "--fuse-ease $w: the score column is the fused score" awk -v a="$(awk -F'\t' 'NR == 2 { print $4 }' "$T/got$w.tsv")" \
            -v b="$(awk -F'\t' 'NR == 3 { print $5 }' "$T/f$w.topk")" 'BEGIN { d = a - b; exit !(b != "" && d < 1e-4 && d > -1e-4) }'
    fi
done
check "... weights 0.5 and 0.3 make other lists (the weight is read)" sh -c '! cmp -s "$1" "$2"' - "$T/got0.5" "$T/got0.3"
# The ends: weight 1 is the model's own list, 0 EASE's.
# shellcheck disable=SC2086
mlr-recommend --served "$S" --fuse-ease 1 $users | awk -F'\t' 'NR > 1 { print $1, $2, $3 }' >"$T/w1"
awk -F'\t' 'NR > 1 && $2 <= 10 { print $1, $2, $3 }' "$T/model.tsv" >"$T/m10"
same "--fuse-ease 1: the model's list" "$T/w1" "$T/m10"
# shellcheck disable=SC2086
mlr-recommend --served "$S" --fuse-ease 0 --lambda 100 $users | awk -F'\t' 'NR > 1 { print $1, $2, $3 }' >"$T/w0"
awk -F'\t' 'NR > 2 && $3 <= 10 { print $2, $3, $4 }' "$T/ease.topk" >"$T/e10"
same "--fuse-ease 0: EASE's list" "$T/w0" "$T/e10"
# One call for many users: each user's list as alone (the scores may
# differ in the last digit: the model's come from one product for all).
: >"$T/alone.tsv"
for u in $users; do
    mlr-recommend --served "$S" --fuse-ease 0.5 --lambda 100 "$u" | sed 1d >>"$T/alone.tsv"
done
awk -F'\t' '{ print $1, $2, $3 }' "$T/alone.tsv" >"$T/alone"
lists "$T/got0.5.tsv" >"$T/batch"
same "six users in one call: each as alone" "$T/batch" "$T/alone"

# auto: hybrid.tsv's weight and lambda.
w=$(awk -F'\t' '$1 == "model_weight" { print $2 }' "$S/hybrid.tsv")
l=$(awk -F'\t' '$1 == "ease_lambda" { print $2 }' "$S/hybrid.tsv")
# shellcheck disable=SC2086
mlr-recommend --served "$S" --fuse-ease auto $users >"$T/auto.tsv"
# shellcheck disable=SC2086
mlr-recommend --served "$S" --fuse-ease "$w" --lambda "$l" $users >"$T/given.tsv"
same "--fuse-ease auto: hybrid.tsv's weight $w and lambda $l" "$T/auto.tsv" "$T/given.tsv"
# shellcheck disable=SC2086
mlr-recommend --served "$S" --fuse-ease auto --lambda 100 $users >"$T/auto-l.tsv"
# shellcheck disable=SC2086
mlr-recommend --served "$S" --fuse-ease "$w" --lambda 100 $users >"$T/given-l.tsv"
same "--fuse-ease auto --lambda 100: the lambda given wins" "$T/auto-l.tsv" "$T/given-l.tsv"

# --time T: EASE fitted on the history rows known at T, the user's items
# as of T (mlr-baseline on those rows).
t=$(cut -f4 "$S/history.tsv" | sed 1d | sort -n | awk '{ a[NR] = $1 } END { print a[int(NR / 2)] }')
awk -F'\t' -v t="$t" 'NR == 1 || $4 <= t' "$S/history.tsv" >"$T/then.tsv"
u=$(awk -F'\t' 'NR > 1 { n[$1]++ } END { for (x in n) if (n[x] >= 5) { print x; exit } }' "$T/then.tsv")
printf 'user_id\n%s\n' "$u" >"$T/u.tsv"
mlr-baseline --quiet --kind ease --lambda 100 --exclude-train --train "$T/then.tsv" --test "$T/u.tsv" \
    --item-ids "$S/items.ids" --k 10 --output "$T/then.topk"
awk -F'\t' 'NR > 2 { print $2, $3, $4 }' "$T/then.topk" >"$T/then.want"
mlr-recommend --served "$S" --fuse-ease 0 --lambda 100 --time "$t" "$u" | awk -F'\t' 'NR > 1 { print $1, $2, $3 }' >"$T/then.got"
same "--time: EASE of the rows known then" "$T/then.got" "$T/then.want"
mlr-recommend --served "$S" --fuse-ease 0 --lambda 100 "$u" | awk -F'\t' 'NR > 1 { print $1, $2, $3 }' >"$T/now.got"
check "... not of every row" sh -c '! cmp -s "$1" "$2"' - "$T/then.got" "$T/now.got"

# A new user: by the movies rated, fused; by features alone, the model's order.
mlr-recommend --served "$S" --age 30 --gender F --occupation writer --rated-items 5,17,60 --fuse-ease 0 --lambda 100 \
    --k 10 >"$T/new.tsv"
check "a new user of 3 movies, --fuse-ease 0: 10 items, none of the 3" test "$(awk -F'\t' 'NR > 1 && $3 != 5 && $3 != 17 && $3 != 60' "$T/new.tsv" | wc -l)" -eq 10
mlr-recommend --served "$S" --age 30 --gender F --occupation writer --k 10 | awk -F'\t' 'NR > 1 { print $3 }' >"$T/nf.model"
mlr-recommend --served "$S" --age 30 --gender F --occupation writer --fuse-ease 0.5 --k 10 | awk -F'\t' 'NR > 1 { print $3 }' >"$T/nf.fused"
same "a new user by features alone: the model's order" "$T/nf.fused" "$T/nf.model"

# ease.npy: package.sh fits EASE once at hybrid.tsv's lambda; mlr-recommend
# reads it when that is the lambda asked and every row is known, and
# fits EASE itself otherwise. A copy whose ease.npy is EASE at lambda 3
# shows which was used.
m=$(($(grep -vc '^#mlrec ' "$S/items.ids") - 1))
check "served/ease.npy: (items, items), listed in MANIFEST" test "$(npy_shape "$S/ease.npy")" = "$m $m" -a \
    -n "$(grep '  ease.npy$' "$S/MANIFEST")"
cp -R "$S" "$T/planted"
mlr-baseline --kind ease --lambda 3 --train "$S/history.tsv" --item-ids "$S/items.ids" --weights-output "$T/planted/ease.npy"
remanifest "$T/planted"
# byhand LAMBDA TABLE OUT: EASE's top 10 of user $u by mlr-baseline, "user rank item"
byhand() {
    mlr-baseline --quiet --kind ease --lambda "$1" --exclude-train --train "$2" --test "$T/u.tsv" \
        --item-ids "$S/items.ids" --k 10 --output "$T/bh.topk" && awk -F'\t' 'NR > 2 { print $2, $3, $4 }' "$T/bh.topk" >"$3"
}
# fused0 DIR OUT [OPTION...]: mlr-recommend's --fuse-ease 0 list of user $u at hybrid.tsv's lambda
fused0() { d=$1 f=$2; shift 2; mlr-recommend --served "$d" --fuse-ease 0 --lambda "$l" "$@" "$u" | awk -F'\t' 'NR > 1 { print $1, $2, $3 }' >"$f"; }
byhand 3 "$S/history.tsv" "$T/l3"
byhand "$l" "$S/history.tsv" "$T/ll"
fused0 "$T/planted" "$T/p.got"
same "ease.npy read at hybrid.tsv's lambda (a planted one: lambda 3's list)" "$T/p.got" "$T/l3"
check "... which is not lambda $l's" sh -c '! cmp -s "$1" "$2"' - "$T/l3" "$T/ll"
fused0 "$S" "$T/s.got"
same "the served ease.npy: lambda $l's list" "$T/s.got" "$T/ll"
last=$(cut -f4 "$S/history.tsv" | sed 1d | sort -n | tail -n 1)
fused0 "$T/planted" "$T/pt.got" --time "$last"
same "with --time: fitted, not read" "$T/pt.got" "$T/ll"
other=$(awk -v l="$l" 'BEGIN { print l * 2 }')
byhand "$other" "$S/history.tsv" "$T/lo"
mlr-recommend --served "$T/planted" --fuse-ease 0 --lambda "$other" "$u" | awk -F'\t' 'NR > 1 { print $1, $2, $3 }' >"$T/po.got"
same "another lambda: fitted, not read" "$T/po.got" "$T/lo"
cp -R "$S" "$T/badshape"
mlr-baseline --kind ease --lambda 3 --train "$S/history.tsv" --item-ids "$S/items.ids" --weights-output "$T/e.npy"
/usr/bin/python3 -c 'import sys, numpy as np; np.save(sys.argv[2], np.load(sys.argv[1])[:-1])' "$T/e.npy" "$T/badshape/ease.npy"
remanifest "$T/badshape"
expect_fail "an ease.npy of another shape: refused" 1 "ease.npy: shape ($((m - 1)), $m), not ($m, $m)" \
    mlr-recommend --served "$T/badshape" --fuse-ease 0.5 --lambda "$l" "$u"
expect_fail "mlr-baseline --weights-output without --item-ids" 2 "with --kind ease and --item-ids" \
    mlr-baseline --kind ease --train "$S/history.tsv" --weights-output "$T/x.npy"
expect_fail "mlr-baseline --weights-output /dev/full: refused" 1 "" \
    mlr-baseline --kind ease --train "$S/history.tsv" --item-ids "$S/items.ids" --weights-output /dev/full
cp "$T/e.npy" "$T/e.keep"
printf 'user_id\titem_id\n1\n' >"$T/broken.tsv"
expect_fail "mlr-baseline --weights-output, a broken --train: refused" 1 "broken.tsv" \
    mlr-baseline --kind ease --train "$T/broken.tsv" --item-ids "$S/items.ids" --weights-output "$T/e.npy"
same "... the earlier weights left as they were" "$T/e.npy" "$T/e.keep"

# Refusals, one line each.
expect_fail "--fuse-ease 1.5" 2 "--fuse-ease: the model's weight, a number in \[0, 1\] or auto, not '1.5'" \
    mlr-recommend --served "$S" --fuse-ease 1.5 1
expect_fail "--fuse-ease x" 2 "--fuse-ease" mlr-recommend --served "$S" --fuse-ease x 1
expect_fail "--lambda 0" 2 "--lambda: EASE's L2 weight, a positive number, not '0'" \
    mlr-recommend --served "$S" --fuse-ease 0.5 --lambda 0 1
expect_fail "--lambda without --fuse-ease" 2 "--lambda is EASE's, with --fuse-ease" mlr-recommend --served "$S" --lambda 5 1
expect_fail "--fuse-ease with --similar" 2 "not with --similar" mlr-recommend --served "$S" --fuse-ease 0.5 --similar 1
cp -R "$S" "$T/bare" && rm "$T/bare/hybrid.tsv" && remanifest "$T/bare"
expect_fail "auto without hybrid.tsv" 1 "hybrid.tsv: no such file" mlr-recommend --served "$T/bare" --fuse-ease auto 1
check "... a weight given still serves it" mlr-recommend --served "$T/bare" --fuse-ease 0.5 1
cp -R "$S" "$T/badw" && sed 's/^model_weight\t.*/model_weight\t2/' "$S/hybrid.tsv" >"$T/badw/hybrid.tsv" && remanifest "$T/badw"
expect_fail "auto: a weight of 2 in hybrid.tsv" 1 "hybrid.tsv: model_weight 2 is not in \[0, 1\]" \
    mlr-recommend --served "$T/badw" --fuse-ease auto 1
cp -R "$S" "$T/badl" && sed 's/^ease_lambda\t.*/ease_lambda\tx/' "$S/hybrid.tsv" >"$T/badl/hybrid.tsv" && remanifest "$T/badl"
expect_fail "auto: a lambda of x in hybrid.tsv" 1 "hybrid.tsv:[0-9]*: ease_lambda 'x' is not a number" \
    mlr-recommend --served "$T/badl" --fuse-ease auto 1
grep -v '^ease_lambda' "$S/hybrid.tsv" >"$T/nol.tsv"
cp -R "$S" "$T/nol" && cp "$T/nol.tsv" "$T/nol/hybrid.tsv" && remanifest "$T/nol"
expect_fail "auto: no ease_lambda row" 1 "hybrid.tsv: no ease_lambda row" mlr-recommend --served "$T/nol" --fuse-ease auto 1
