#!/bin/sh
# The README's crontab line, exactly as printed there, run as cron runs it:
# /bin/sh -c with cron's environment (HOME, a bare PATH, nothing else), on
# a fresh HOME holding a checkout at ~/mlrec and new ratings at
# ~/incoming/new.tsv. The first run makes its folder and promotes a model
# from the new rows alone; the same file again is not appended twice; a
# new file is; mlr-recommend serves ~/serve/current.
. "$(dirname "$0")/lib.sh"
line=$(grep -m 1 '^    17 3 \* \* \* ' "$MLR_ROOT/README.md" | sed 's/^    //')
check "README has a crontab line" test -n "$line"
# the command: the line less its five time fields
cmd=$(printf '%s\n' "$line" | sed 's/^[^ ]* [^ ]* [^ ]* [^ ]* [^ ]* //')
H=$T/home
mkdir -p "$H/mlrec" "$H/incoming"
# A checkout: its pipelines and the tools built beside them.
ln -s "$MLR_ROOT/pipelines" "$H/mlrec/pipelines"
ln -s "$MLR_BIN" "$H/mlrec/bin"
mlr-synth --n-users 120 --n-items 150 --n-ratings 3000 --seed 4 --output "$T/all.tsv"
head -n 2501 "$T/all.tsv" >"$H/incoming/new.tsv"
cron_run() { env -i HOME="$H" LOGNAME=mlrec SHELL=/bin/sh PATH=/usr/bin:/bin /bin/sh -c "$cmd"; }

cron_run
check "first run: status 0" test $? -eq 0
check "first run: made ~/serve and its log" test -d "$H/serve" -a -f "$H/serve/retrain.log"
check "first run: promoted" test "$(tail -n 1 "$H/serve/retrain.log" | cut -f2)" = promoted
check "first run: the new rows are the data" test "$(wc -l <"$H/serve/data.tsv")" -eq 2501
check "first run: stderr went to ~/serve/cron.err" grep -q '^retrain: promoting' "$H/serve/cron.err"
u=$(sed -n 2p "$H/incoming/new.tsv" | cut -f1)
check "mlr-recommend serves ~/serve/current" mlr-recommend --served "$H/serve/current" --k 3 "$u"

cron_run
check "the same file again: status 0" test $? -eq 0
check "the same file again: skipped, said why" test -n "$(tail -n 1 "$H/serve/retrain.log" |
    awk -F'\t' '$2 == "skipped" && $7 ~ /was appended on .* already/')"
check "the same file again: not appended twice" test "$(wc -l <"$H/serve/data.tsv")" -eq 2501

{ head -n 1 "$T/all.tsv"; sed -n '2502,3001p' "$T/all.tsv"; } >"$H/incoming/new.tsv"
cron_run
check "a new file: status 0" test $? -eq 0
check "a new file: appended" test "$(wc -l <"$H/serve/data.tsv")" -eq 3001
check "a new file: promoted or refused" sh -c "tail -n 1 '$H/serve/retrain.log' | cut -f2 | grep -Eqx 'promoted|refused'"
