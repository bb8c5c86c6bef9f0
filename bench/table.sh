# The TSV/CSV reader alone: rows per second beside wc -l and cat on the
# same 5M-row file (bench/bench_table.c).
. "$(dirname "$0")/lib.sh"
"$MLR_ROOT/build/bench/bench_table" >&2
