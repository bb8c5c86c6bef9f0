#!/bin/sh
# fetch-data.sh DIR: downloads MovieLens 100K and ml-latest-small into DIR
# (used by `make data`), checks them against SHA-256 sums and unpacks them
# into DIR/ml-100k/ and DIR/ml-latest-small/. Idempotent: data already in
# place with the right sums is left alone and nothing is downloaded.
# The data sets may not be redistributed: never commit what this fetches.
set -eu
case ${1:-} in --version) me=fetch-data; . "$(dirname "$0")/lib.sh" ;; esac # it exits

BASE=https://files.grouplens.org/datasets/movielens
# ml-100k.zip: the published archive (4,924,029 bytes, MD5 0e33842e24a9c977be4e0107933c0723
# as GroupLens lists it). This SHA-256 is the one quoted by several
# independent projects; it was not recomputed here (no network on the
# machine this was written on). The member sums below were checked against
# ../shared/data/ml-100k and agree with the published u.data/u.item sums.
ML100K_ZIP_SHA256=50d2a982c66986937beb9ffb3aa76efe955bf3d5c6b761f4e3a7cd717c6a3229
ML100K_MEMBERS="
06416e597f82b7342361e41163890c81036900f418ad91315590814211dca490  ml-100k/u.data
553841ebc7de3a0fd0d6b62a204ea30c1e651aacfb2814c7a6584ac52f2c5701  ml-100k/u.item
"
# ml-latest-small.zip is a "latest" snapshot GroupLens may replace, and no
# SHA-256 of the archive is published: its members are checked instead,
# against the September 2018 snapshot (100,836 ratings) that the tests'
# figures assume, as laid out in ../shared/data/ml-latest-small.
LATEST_MEMBERS="
aa289ca83157595d0df6aea1be6a4ded676ddc4385472e8313a8ed9805352646  ml-latest-small/ratings.csv
5a5f32dd9bb3797b8e728a1b98958789d2b13f294a69fdfbc5727f8a9611aa07  ml-latest-small/movies.csv
92a9f8bb7916dceef6151209845788c3643f794dfa79d1feaec7121b5960399d  ml-latest-small/tags.csv
97ad18e4e56a09363c65676b6cb3482ce3e2cea2372a24620c1599c843325f31  ml-latest-small/links.csv
"
HINT="point MLR_DATA_DIR at a directory holding ml-100k/ and ml-latest-small/, e.g. MLR_DATA_DIR=../shared/data"

die() { echo "fetch-data: $*" >&2; exit 1; }
case ${1:-} in
-h|--help) sed -n '2,/^set -eu/p' "$0" | sed '$d; s/^# \{0,1\}//'; exit 0 ;;
-*) echo "usage: fetch-data.sh DIR (try --help; a DIR starting with '-' as ./-DIR)" >&2; exit 2 ;;
esac
[ $# -eq 1 ] || { echo "usage: fetch-data.sh DIR" >&2; exit 2; }
dir=$1
mkdir -p "$dir"

members_ok() { # SUMS: 0 when every listed file in DIR has its sum
    (cd "$dir" && printf '%s' "$1" | grep . | sha256sum --check --status - 2>/dev/null)
}

# fetch NAME ZIP-SHA256-OR-EMPTY MEMBER-SUMS: one data set.
fetch() {
    name=$1 zipsum=$2 sums=$3
    if members_ok "$sums"; then
        echo "fetch-data: $name already in $dir, sums match" >&2
        return 0
    fi
    command -v curl >/dev/null || die "curl not found (make deps)"
    command -v unzip >/dev/null || die "unzip not found (make deps)"
    # Download under a temporary name: an interrupted run leaves no zip that looks whole.
    # (made by mktemp: no fixed name a planted symlink could take)
    part=$(mktemp -- "$dir/$name.zip.XXXXXX") || die "$dir: not a writable folder"
    if ! curl -fsL --retry 2 --connect-timeout 15 -o "$part" "$BASE/$name.zip" 2>/dev/null; then
        rm -f -- "$part"
        die "cannot download $name.zip (no network?); $HINT"
    fi
    if [ -n "$zipsum" ]; then
        got=$(sha256sum "$part" | cut -d' ' -f1)
        if [ "$got" != "$zipsum" ]; then
            rm -f -- "$part"
            die "$name.zip: SHA-256 $got, expected $zipsum (a changed or damaged download)"
        fi
    fi
    mv -T -- "$part" "$dir/$name.zip"
    unzip -q -o "$dir/$name.zip" -d "$dir" || die "$name.zip: cannot unpack"
    members_ok "$sums" || die "$name: unpacked files differ from the expected SHA-256 sums (GroupLens may have replaced the snapshot); $HINT"
    echo "fetch-data: $name ready in $dir/$name" >&2
}

# Stage 1: MovieLens 100K, the training data.
fetch ml-100k "$ML100K_ZIP_SHA256" "$ML100K_MEMBERS"
# Stage 2: ml-latest-small, the exploratory analysis's data.
fetch ml-latest-small "" "$LATEST_MEMBERS"
