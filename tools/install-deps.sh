#!/bin/sh
# Installs the Debian packages mlrec needs, where they are missing.
# Needs root (apt-get). Used by `make deps` and .ci/run.
set -eu
need="libcsv-dev libopenblas-dev libjansson-dev parallel gnuplot-nox make gcc clang libclang-rt-14-dev python3-numpy unzip curl valgrind"
missing=""
for p in $need; do
    dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing="$missing $p"
done
[ -z "$missing" ] && { echo "deps: all present"; exit 0; }
echo "deps: installing$missing"
if [ "$(id -u)" -ne 0 ]; then
    echo "deps: need root to apt-get install$missing (try: sudo make deps)" >&2
    exit 1
fi
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# shellcheck disable=SC2086
apt-get install -y -qq --no-install-recommends $missing
