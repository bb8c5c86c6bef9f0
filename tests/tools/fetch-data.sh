#!/bin/sh
# Tests of pipelines/fetch-data.sh with a stand-in curl on PATH (tests
# never touch the network): no network -> one line and status 1; a damaged
# download is refused and removed; data already in place is kept as is.
. "$(dirname "$0")/lib.sh"
FETCH=$MLR_ROOT/pipelines/fetch-data.sh
mkdir -p "$T/bin"
# curl that cannot reach anything.
printf '#!/bin/sh\nexit 6\n' >"$T/bin/curl"
# curl that "downloads" garbage to its -o file.
printf '#!/bin/sh\nwhile [ $# -gt 0 ]; do [ "$1" = -o ] && { echo garbage >"$2"; exit 0; }; shift; done\nexit 2\n' >"$T/bin/curl-garbage"
chmod +x "$T/bin/curl" "$T/bin/curl-garbage"

PATH="$T/bin:$PATH" sh "$FETCH" "$T/d1" >"$T/out" 2>"$T/err"
st=$?
check "fetch-data: no network is status 1" test "$st" -eq 1
check "fetch-data: ... said in one line" test "$(wc -l <"$T/err")" -eq 1
check "fetch-data: ... pointing at MLR_DATA_DIR" \
    grep -q '^fetch-data: cannot download ml-100k.zip (no network?); point MLR_DATA_DIR at' "$T/err"
check "fetch-data: ... and leaves no partial download" test -z "$(ls "$T/d1")"

mkdir -p "$T/g"; cp "$T/bin/curl-garbage" "$T/g/curl"
PATH="$T/g:$PATH" sh "$FETCH" "$T/d2" 2>"$T/err"
st=$?
check "fetch-data: a damaged download is status 1" test "$st" -eq 1
check "fetch-data: ... named by its SHA-256" grep -q 'ml-100k.zip: SHA-256 .* expected 50d2a982' "$T/err"
check "fetch-data: ... and removed" test -z "$(ls "$T/d2")"

sh "$FETCH" >/dev/null 2>&1
check "fetch-data: no DIR is usage (status 2)" test $? -eq 2

if have_data ml-100k/u.data && have_data ml-latest-small/ratings.csv; then
    mkdir -p "$T/d3"
    cp -r "$MLR_DATA_DIR/ml-100k" "$MLR_DATA_DIR/ml-latest-small" "$T/d3/"
    PATH="$T/bin:$PATH" sh "$FETCH" "$T/d3" 2>"$T/err"
    check "fetch-data: data in place with the right sums needs no download" test $? -eq 0
    chmod u+w "$T/d3/ml-100k" "$T/d3/ml-100k/u.data"
    echo "1	1	1	1" >>"$T/d3/ml-100k/u.data"
    PATH="$T/bin:$PATH" sh "$FETCH" "$T/d3" 2>/dev/null
    check "fetch-data: a changed u.data is noticed (and re-fetched: here, no network)" test $? -eq 1
    chmod -R u+w "$T/d3"
else
    skip "fetch-data: sums of the real data" "MLR_DATA_DIR unset or incomplete"
fi
