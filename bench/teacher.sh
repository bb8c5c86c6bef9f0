#!/bin/sh
# teacher: mlr-train's teacher (--distill, on by default: EASE of its
# rows) read from --teacher-cache against fitted, one epoch on
# ml-latest-small's seed-42 80% (prepare.sh's training rows, 9K items:
# EASE inverts a 9K x 9K matrix), one thread, TEACHER_REPS runs each (3),
# alternated; medians. The two models are the same bit for bit (checked
# here too). train-eval.sh fits it once for its N seeds' fit runs of both
# kinds of history and once for their refits (3N fits before). Needs
# MLR_DATA_DIR. Runs alone too: sh bench/teacher.sh.
. "$(dirname "$0")/lib.sh"
if [ ! -f "${MLR_DATA_DIR:-}/ml-latest-small/ratings.csv" ]; then
    echo "bench: teacher: no \$MLR_DATA_DIR/ml-latest-small; skipped" >&2
    exit 0
fi
R=$BENCH_TMP/teacher
mkdir -p "$R"
mlr-ingest --format ml-latest "$MLR_DATA_DIR/ml-latest-small" |
    mlr-split --seed 42 --test-output "$R/test.tsv" >"$R/train.tsv"
sh "$MLR_ROOT/pipelines/prepare.sh" "$R/train.tsv" "$R/test.tsv" "$R/prep" 2>/dev/null
T="mlr-train --quiet --threads 1 --epochs 1 --rows $R/prep/enc-train --spec $R/prep/spec"
fit='' read='' fitrss='' readrss=''
for _ in $(seq "${TEACHER_REPS:-3}"); do
    rm -rf "$R/cache"
    # shellcheck disable=SC2086 # $T: the command's plain words
    timed "mlr-train, 1 epoch, the teacher fitted" $T --teacher-cache "$R/cache" --output "$R/fit.safetensors"
    fit="$fit $SECS" fitrss="$fitrss $RSS_MB"
    # shellcheck disable=SC2086
    timed "mlr-train, 1 epoch, the teacher read" $T --teacher-cache "$R/cache" --output "$R/read.safetensors"
    read="$read $SECS" readrss="$readrss $RSS_MB"
    cmp -s "$R/fit.safetensors" "$R/read.safetensors" ||
        { echo "bench: teacher: the two models differ" >&2; exit 1; }
done
med() { printf '%s\n' $1 | median; }
rng() { printf '%s\n' $1 | range; }
row "mlr-train, 1 epoch on ml-latest-small ($(($(grep -c . "$R/train.tsv") - 1)) rows), the teacher read from --teacher-cache" \
    "$(med "$read")" s "$(med "$fit")" "s (the teacher fitted: EASE)" \
    "median of ${TEACHER_REPS:-3} alternated ($(rng "$read") s vs $(rng "$fit") s); peak $(printf '%s\n' $readrss | sort -g | tail -n 1) MB vs $(printf '%s\n' $fitrss | sort -g | tail -n 1) MB; the same model"
