#!/bin/sh
# mlr-fuse: small lists fused by hand (scores chosen so that every z is
# exact: lists of sd 5, 2 and 0), --join query and user, weights, the
# fingerprint line, the output read by mlr-score, and broken inputs each
# refused in one line with nothing written.
. "$(dirname "$0")/lib.sh"
TAB=$(printf '\t')
A64=$(printf 'a%.0s' $(seq 64)) B64=$(printf 'b%.0s' $(seq 64)) C64=$(printf 'c%.0s' $(seq 64))
H="query${TAB}user_id${TAB}row_item_id${TAB}rank${TAB}item_id${TAB}score"
# tsv LINE...: the lines, each with its spaces made TABs.
tsv() { for l in "$@"; do echo "$l"; done | tr ' ' '\t'; }

# A (EASE's shape: one list a test row): query 0 scores 7 1 -1 -7 (mean 0,
# sd 5: z 1.4 0.2 -0.2 -1.4), query 1 scores 2 0 (z 1 -1).
{ echo "#mlrec exclude=$A64"; echo "$H"
  tsv "0 u1 m9 1 a 7" "0 u1 m9 2 b 1" "0 u1 m9 3 c -1" "0 u1 m9 4 d -7" "1 u2 m8 1 f 2" "1 u2 m8 2 g 0"; } >"$T/a.tsv"
# B (a model's, the same queries): query 0 scores 4 0 (z 1 -1), query 1
# 10 10 (sd 0: z 0).
{ echo "#mlrec model=$B64 exclude=$A64"; echo "$H"
  tsv "0 u1 m9 1 c 4" "0 u1 m9 2 e 0" "1 u2 m8 1 g 10" "1 u2 m8 2 f 10"; } >"$T/b.tsv"
# Weights 1,1: a 1.4-1 = 0.4, b 0.2-1 = -0.8, c -0.2+1 = 0.8, d -1.4-1 =
# -2.4, e (absent from A: A's lowest z) -1.4-1 = -2.4, tied with d, which
# A met first; f 1+0, g -1+0.
{ echo "#mlrec model=$B64 exclude=$A64"; echo "$H"
  tsv "0 u1 m9 1 c 0.8" "0 u1 m9 2 a 0.4" "0 u1 m9 3 b -0.8" "0 u1 m9 4 d -2.4" "0 u1 m9 5 e -2.4" \
      "1 u2 m8 1 f 1" "1 u2 m8 2 g -1"; } >"$T/want11.tsv"
ran "fuse two files" mlr-fuse --output "$T/f11.tsv" "$T/a.tsv" "$T/b.tsv" &&
    same "fuse: weights 1,1 by hand (ties to the item met first)" "$T/f11.tsv" "$T/want11.tsv"
# Weights 3,1, k 3: a 4.2-1 = 3.2, c -0.6+1 = 0.4, b 0.6-1 = -0.4 (d, e
# -5.2 cut); f 3, g -3.
{ echo "#mlrec model=$B64 exclude=$A64"; echo "$H"
  tsv "0 u1 m9 1 a 3.2" "0 u1 m9 2 c 0.4" "0 u1 m9 3 b -0.4" "1 u2 m8 1 f 3" "1 u2 m8 2 g -3"; } >"$T/want31.tsv"
ran -o "$T/f31.tsv" "fuse to stdout" mlr-fuse --weights 3,1 -k 3 "$T/a.tsv" "$T/b.tsv" &&
    same "fuse: weights 3,1, k 3 by hand" "$T/f31.tsv" "$T/want31.tsv"
# Weight 0 on A: B alone decides, ties too. c z 1; e and the items absent
# from B (a, b, d: B's lowest z) tie at -1, in the order met, B's list
# first (the heaviest), then A's.
ran -o "$T/f01.tsv" "fuse weight 0" mlr-fuse --weights 0,1 "$T/a.tsv" "$T/b.tsv" &&
    check "fuse: weight 0 on A ranks by B alone (ties in B's order, then A's)" \
        test "$(sed 1,2d "$T/f01.tsv" | awk -F'\t' '$1 == 0 { printf "%s", $5 }')" = "ceabd"
# Two scores a list printed alike (%.6g) tie: at weights 1,0 and 0,1 the
# weighted list's order holds, whichever file comes first.
{ echo "#mlrec model=$B64 exclude=$A64"; echo "$H"
  tsv "0 u1 m9 1 x 0.5" "0 u1 m9 2 y 0.5" "0 u1 m9 3 z 0.1" "1 u2 m8 1 f 1" "1 u2 m8 2 g 0"; } >"$T/tie.tsv"
{ echo "#mlrec exclude=$A64"; echo "$H"
  tsv "0 u1 m9 1 y 3" "0 u1 m9 2 x 2" "0 u1 m9 3 z 1" "1 u2 m8 1 g 1" "1 u2 m8 2 f 0"; } >"$T/other.tsv"
ran -o "$T/ft10.tsv" "fuse a tie, weights 0,1" mlr-fuse --weights 0,1 "$T/other.tsv" "$T/tie.tsv" &&
    check "fuse: a tie in the list of weight 1 keeps its order, the other file first" \
        test "$(sed 1,2d "$T/ft10.tsv" | awk -F'\t' '$1 == 0 { printf "%s", $5 }')" = "xyz"
ran -o "$T/ft01.tsv" "fuse a tie, weights 1,0" mlr-fuse --weights 1,0 "$T/tie.tsv" "$T/other.tsv" &&
    check "fuse: a tie in the list of weight 1 keeps its order, that file first" \
        test "$(sed 1,2d "$T/ft01.tsv" | awk -F'\t' '$1 == 0 { printf "%s", $5 }')" = "xyz"
ran -o "$T/fstdin.tsv" "fuse from stdin" sh -c 'mlr-fuse "$1" - <"$2"' sh "$T/a.tsv" "$T/b.tsv" &&
    same "fuse: a file from stdin" "$T/fstdin.tsv" "$T/want11.tsv"

# --join user: the other file holds one list per user, in any order, with
# any key (mlr-topk of per-user queries); A's third row is u1's again.
cp "$T/a.tsv" "$T/a3.tsv"
tsv "2 u1 m7 1 a 7" "2 u1 m7 2 b 1" "2 u1 m7 3 c -1" "2 u1 m7 4 d -7" >>"$T/a3.tsv"
{ echo "#mlrec model=$B64 exclude=$A64"; echo "$H"
  tsv "0 u2 x 1 g 10" "0 u2 x 2 f 10" "1 u1 y 1 c 4" "1 u1 y 2 e 0"; } >"$T/users.tsv"
{ cat "$T/want11.tsv"
  tsv "2 u1 m7 1 c 0.8" "2 u1 m7 2 a 0.4" "2 u1 m7 3 b -0.8" "2 u1 m7 4 d -2.4" "2 u1 m7 5 e -2.4"; } >"$T/wantu.tsv"
ran "fuse --join user" mlr-fuse --join user --output "$T/fu.tsv" "$T/a3.tsv" "$T/users.tsv" &&
    same "fuse --join user: each row of a user gets the user's list, under its own key" "$T/fu.tsv" "$T/wantu.tsv"

# The fingerprint line: no model without one; two models name their set.
grep -v '^#' "$T/b.tsv" | sed "1i #mlrec model=$C64 exclude=$A64" >"$T/c.tsv"
set_fp=$(printf '%s\n%s\n' "$B64" "$C64" | sha256sum | cut -c1-64)
ran -o "$T/fbc.tsv" "fuse two models" mlr-fuse "$T/c.tsv" "$T/a.tsv" "$T/b.tsv" &&
    check "fuse: two models name their set (sorted fingerprints, sha256sum)" \
        test "$(head -1 "$T/fbc.tsv")" = "#mlrec model=$set_fp exclude=$A64"
ran -o "$T/faa.tsv" "fuse two baselines" mlr-fuse "$T/a.tsv" "$T/a.tsv" &&
    check "fuse: lists of no model make a list of no model" test "$(head -1 "$T/faa.tsv")" = "#mlrec exclude=$A64"
grep -v '^#' "$T/b.tsv" >"$T/bare.tsv"
ran -o "$T/fbare.tsv" "fuse a file without a line" mlr-fuse "$T/bare.tsv" "$T/bare.tsv" &&
    check "fuse: no line in, no line out" test "$(head -1 "$T/fbare.tsv")" = "$H"
check "fuse: a list fused with itself keeps its order" \
    test "$(cut -f1-5 "$T/faa.tsv")" = "$(cut -f1-5 "$T/a.tsv")"

# mlr-score reads the fused lists (here without row keys: joined by
# position, the users checked).
cut -f1,2,4- "$T/a.tsv" >"$T/a2.tsv"
cut -f1,2,4- "$T/b.tsv" >"$T/b2.tsv"
tsv "user_id item_id" "u1 c" "u2 g" >"$T/test.tsv"
ran "fuse lists without keys" mlr-fuse --output "$T/f2.tsv" "$T/a2.tsv" "$T/b2.tsv" &&
    check "fuse: the first file's columns" test "$(sed -n 2p "$T/f2.tsv")" = "query${TAB}user_id${TAB}rank${TAB}item_id${TAB}score"
ran -o "$T/m.tsv" "score the fused lists" mlr-score --quiet --topk "$T/f2.tsv" --test "$T/test.tsv" &&
    check "fuse: mlr-score --topk reads the fused lists (top1 1/2)" \
        test "$(awk -F'\t' '$1 == "top1" { print $2 }' "$T/m.tsv")" = 0.5

# Broken inputs: one line, a non-zero status, the earlier output untouched
# and no temporary left beside it.
echo old >"$T/out.tsv"
refused() { # NAME STATUS PATTERN FILES-AND-OPTIONS...
    n=$1 st=$2 pat=$3; shift 3
    expect_fail "fuse refuses: $n" "$st" "$pat" mlr-fuse --output "$T/out.tsv" "$@"
    check "fuse: $n leaves the output as it was" test "$(cat "$T/out.tsv")" = old
    check "fuse: $n leaves no temporary" test "$(ls "$T" | grep -c '^out\.tsv\.tmp')" -eq 0
}
cut -f1-5 "$T/b.tsv" >"$T/noscore.tsv"
refused "a file without a score column" 1 "no column 'score'" "$T/a.tsv" "$T/noscore.tsv"
sed 's/^1\tu2/1\tu3/' "$T/b.tsv" >"$T/otheruser.tsv"
refused "another user at a query" 1 "lists for different queries" "$T/a.tsv" "$T/otheruser.tsv"
sed 's/\tm8\t/\tm7\t/' "$T/b.tsv" >"$T/otherkey.tsv"
refused "another row key at a query" 1 "lists for different queries" "$T/a.tsv" "$T/otherkey.tsv"
grep -v '^1' "$T/b.tsv" >"$T/fewer.tsv"
refused "a file with fewer queries" 1 "b.tsv\|fewer.tsv.*lists for different queries" "$T/a.tsv" "$T/fewer.tsv"
refused "a file with more queries" 1 "lists for different queries" "$T/fewer.tsv" "$T/a.tsv"
grep -v 'u2' "$T/users.tsv" >"$T/nou2.tsv"
refused "a user with no list (--join user)" 1 "user 'u2' has no list in" --join user "$T/a.tsv" "$T/nou2.tsv"
refused "two lists of a user (--join user)" 1 "a second list for user 'u1'" --join user "$T/a.tsv" "$T/a3.tsv"
cut -f1,3- "$T/b.tsv" >"$T/nouser.tsv"
refused "--join user without user_id" 1 "no column 'user_id'" --join user "$T/a.tsv" "$T/nouser.tsv"
sed "s/exclude=$A64/exclude=none/" "$T/b.tsv" >"$T/none.tsv"
refused "lists made excluding two tables" 1 "two training tables" "$T/a.tsv" "$T/none.tsv"
sed "s/exclude=$A64/exclude=$C64/" "$T/b.tsv" >"$T/othertrain.tsv"
refused "lists made excluding another training table" 1 "two training tables" "$T/a.tsv" "$T/othertrain.tsv"
sed 's/^0\tu1\tm9\t2\t/0\tu1\tm9\t3\t/' "$T/b.tsv" >"$T/gap.tsv"
refused "a rank out of order" 1 "gap.tsv:4: rank 3 where 2" "$T/a.tsv" "$T/gap.tsv"
sed 's/\te\t0$/\tc\t0/' "$T/b.tsv" >"$T/twice.tsv"
refused "an item twice in a list" 1 "item 'c' twice" "$T/a.tsv" "$T/twice.tsv"
sed 's/\t10$/\tten/' "$T/b.tsv" >"$T/nan.tsv"
refused "a score that is no number" 1 "'ten' is not a number" "$T/a.tsv" "$T/nan.tsv"
sed 's/^#mlrec model=b/#mlrec model=x/' "$T/b.tsv" >"$T/badfp.tsv"
refused "a bad fingerprint line" 1 "bad fingerprint line" "$T/a.tsv" "$T/badfp.tsv"
printf '' >"$T/empty.tsv"
refused "an empty file" 1 "empty.tsv" "$T/a.tsv" "$T/empty.tsv"
refused "a missing file" 1 "nosuch.tsv" "$T/a.tsv" "$T/nosuch.tsv"
refused "one file" 2 "two list files" "$T/a.tsv"
refused "weights, one too few" 2 "wants 2 numbers" --weights 1 "$T/a.tsv" "$T/b.tsv"
refused "weights, one too many" 2 "wants 2 numbers" --weights 1,1,1 "$T/a.tsv" "$T/b.tsv"
refused "a negative weight" 2 "wants 2 numbers" --weights -1,2 "$T/a.tsv" "$T/b.tsv"
refused "a weight that is no number" 2 "wants 2 numbers" --weights x,1 "$T/a.tsv" "$T/b.tsv"
refused "all weights zero" 2 "must be positive" --weights 0,0 "$T/a.tsv" "$T/b.tsv"
refused "an unknown --join" 2 "query or user" --join item "$T/a.tsv" "$T/b.tsv"
refused "stdin twice" 2 "not two" - - </dev/null

{ mlr-fuse "$T/a3.tsv" "$T/a3.tsv" 2>"$T/err"; echo $? >"$T/status"; } | head -1 >/dev/null
check "fuse | head -1 exits 0" test "$(cat "$T/status")" -eq 0
