#!/bin/sh
# Builds each tests/fuzz/fuzz_*.c with libFuzzer + ASan + UBSan (clang) and
# runs it for SECONDS (default 60) on its corpus in build/fuzz/corpus-NAME,
# seeded from tests/fuzz/seeds/NAME/ and tests/fuzz/hostile-seeds.sh. Crashes are saved in build/fuzz/ and
# end the run with status 1: copy them to tests/fuzz/regress/NAME/ so that
# tests/tools/fuzz-regress.sh replays them in `make test`.
#   sh tests/fuzz/run.sh [SECONDS] [NAME...]
set -eu
cd "$(dirname "$0")/../.."
secs=${1:-60}
[ $# -gt 0 ] && shift
out=build/fuzz
mkdir -p "$out"
flags="-g -O1 -fsanitize=fuzzer,address,undefined -std=c11 -D_GNU_SOURCE -Ilib -I/usr/include/x86_64-linux-gnu/openblas-pthread"
libs="-lcsv -ljansson -lopenblas -lpthread -lm"
names=${*:-$(ls tests/fuzz/fuzz_*.c | sed 's|.*/fuzz_||; s|\.c$||')}
status=0
sh tests/fuzz/hostile-seeds.sh "$out/hostile" small # issue 16's classes, within -max_len
for n in $names; do
    echo "fuzz: building $n" >&2
    clang $flags -o "$out/fuzz_$n" "tests/fuzz/fuzz_$n.c" lib/*.c $libs
    corpus="$out/corpus-$n"
    mkdir -p "$corpus"
    [ -d "tests/fuzz/seeds/$n" ] && cp -n tests/fuzz/seeds/"$n"/* "$corpus"/ 2>/dev/null || true
    [ -d "$out/hostile/$n" ] && cp -n "$out/hostile/$n"/* "$corpus"/ 2>/dev/null || true
    echo "fuzz: running $n for ${secs}s" >&2
    if ! "$out/fuzz_$n" -max_total_time="$secs" -max_len=65536 -artifact_prefix="$out/$n-" \
            "$corpus" 2>"$out/$n.log"; then
        echo "fuzz: $n found a crash: see $out/$n.log" >&2
        status=1
    fi
    grep -E '^(#[0-9]+.*DONE|Done [0-9]+ runs)' "$out/$n.log" | tail -n 1 | sed "s/^/fuzz: $n: /" >&2
done
exit $status
