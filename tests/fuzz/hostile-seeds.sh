#!/bin/sh
# hostile-seeds.sh DIR [SCALE]: writes, under DIR/NAME/ for each harness
# NAME (tests/fuzz/fuzz_NAME.c), inputs of the hostile classes of issue 16
# (tests/tools/hostile.sh runs them through the tools): CSV quotes left
# open over many lines, rows of very many columns, NUL bytes, .npy headers
# claiming 10^12 rows, safetensors headers and weights holding NaN or
# infinity. SCALE "big" (tests/tools/fuzz-regress.sh) writes the real
# sizes, 10^6 columns and a few MB; "small" (the default, tests/fuzz/run.sh)
# fits libFuzzer's -max_len of 64 KiB so that the fuzzer mutates them.
# Generated, not kept in git: megabytes of 'a' say nothing in a diff.
set -eu
dir=$1 scale=${2:-small}
[ -d "$(dirname "$0")/seeds" ] || { echo "hostile-seeds: no tests/fuzz/seeds beside me" >&2; exit 1; }
seeds=$(cd "$(dirname "$0")/seeds" && pwd)
if [ "$scale" = big ]; then cols=1000000 lines=2000 width=1000
else cols=5000 lines=60 width=1000; fi
mkdir -p "$dir/table" "$dir/npy" "$dir/safetensors"

# ---- tables: the first byte picks the mode (fuzz_table.c): 0 TSV, 1 CSV
awk -v n="$lines" -v w="$width" 'BEGIN { printf "\001user_id,item_id\n1,\""
    s = sprintf("%*s", w, ""); gsub(/ /, "a", s)
    for (i = 0; i < n; i++) print s }' >"$dir/table/csv-open-quote"
awk -v n="$lines" 'BEGIN { printf "\001a,\"b\nc\"\"d\n"; for (i = 0; i < n; i++) print "x,\"y"; }' \
    >"$dir/table/csv-open-quotes"
awk -v n="$cols" 'BEGIN { printf "\000user_id\titem_id"; for (i = 0; i < n; i++) printf "\tc%d", i
    printf "\n1\t2"; for (i = 0; i < n; i++) printf "\t%d", i % 10; printf "\n" }' >"$dir/table/tsv-wide"
awk -v n="$cols" 'BEGIN { printf "\000user_id\titem_id\n1"; for (i = 0; i < n; i++) printf "\tx"
    printf "\n" }' >"$dir/table/tsv-wide-row"
awk -v n="$cols" 'BEGIN { printf "\000"; for (i = 0; i < n; i++) printf "c\t"; printf "c\n" }' \
    >"$dir/table/tsv-wide-dup"
awk -v n="$cols" 'BEGIN { printf "\001"; for (i = 0; i < n; i++) printf "c%d,", i; printf "c\n" }' \
    >"$dir/table/csv-wide"
printf '\000user_id\titem_id\n1\t\0002\n' >"$dir/table/tsv-nul-field"
printf '\000user_\000id\titem_id\n1\t2\n' >"$dir/table/tsv-nul-header"
printf '\001user_id,item_id\n"1\000",2\n' >"$dir/table/csv-nul-quoted"
printf '\002\000\000\000|\000\n' >"$dir/table/pipe-nul"
head -c 4096 /dev/zero >"$dir/table/zeros"

# ---- .npy headers that claim far more than the file holds
npy() { # FILE DESCR SHAPE: a v1 header padded to 64 bytes, then 64 zero bytes
    d="{'descr': '$2', 'fortran_order': False, 'shape': $3, }"
    pad=$(( (64 - (10 + ${#d} + 1) % 64) % 64 ))
    len=$(( ${#d} + pad + 1 ))
    { printf '\223NUMPY\001\000'; printf "\\$(printf %03o $((len % 256)))\\$(printf %03o $((len / 256)))"
      printf '%s%*s\n' "$d" "$pad" ''; head -c 64 /dev/zero; } >"$1"
}
npy "$dir/npy/f4-1e12-rows" '<f4' '(1000000000000, 4)'
npy "$dir/npy/i4-1e12" '<i4' '(1000000000000,)'
npy "$dir/npy/i8-1e12-rows" '<i8' '(1000000000000, 1)'
npy "$dir/npy/f4-overflow" '<f4' '(4294967296, 4294967296)'
npy "$dir/npy/f4-1e12-cols" '<f4' '(1, 1000000000000)'
npy "$dir/npy/f4-20-digits" '<f4' '(99999999999999999999, 4)'

# ---- safetensors: NaN and infinity in the header (not JSON, but a reader
# may take them) and in the weights of a real model
st() { # FILE HEADER-JSON DATA-BYTES
    n=${#2}
    { printf "\\$(printf %03o $((n % 256)))\\$(printf %03o $((n / 256 % 256)))\\000\\000\\000\\000\\000\\000"
      printf '%s' "$2"; head -c "$3" /dev/zero; } >"$1"
}
st "$dir/safetensors/nan-offset" '{"a":{"dtype":"F32","shape":[2],"data_offsets":[NaN,8]}}' 8
st "$dir/safetensors/nan-shape" '{"a":{"dtype":"F32","shape":[NaN],"data_offsets":[0,8]}}' 8
st "$dir/safetensors/inf-shape" '{"a":{"dtype":"F32","shape":[Infinity],"data_offsets":[0,8]}}' 8
st "$dir/safetensors/big-shape" '{"a":{"dtype":"F32","shape":[1e400],"data_offsets":[0,8]}}' 8
st "$dir/safetensors/1e12-shape" '{"a":{"dtype":"F32","shape":[1000000000000,1000000000000],"data_offsets":[0,8]}}' 8
st "$dir/safetensors/nan-meta" '{"__metadata__":{"format":"mlrec-model","version":"1","config":"{\"dim\":NaN}"},"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}' 8
if command -v python3 >/dev/null 2>&1; then
    python3 - "$seeds/safetensors/model-ids.safetensors" "$dir/safetensors" <<'PY'
import json, struct, sys
raw = open(sys.argv[1], 'rb').read()
n = struct.unpack('<Q', raw[:8])[0]
head = json.loads(raw[8:8 + n])
f32 = sorted((v['data_offsets'][0], k) for k, v in head.items() if k != '__metadata__' and v['dtype'] == 'F32')
cfg = head['__metadata__'].get('config', '')
for tag, bits in (('nan', 0x7fc00000), ('inf', 0x7f800000), ('-inf', 0xff800000)):
    out = bytearray(raw)
    for off, k in (f32[0], f32[-1]):  # the first and the last weights
        struct.pack_into('<I', out, 8 + n + off, bits)
    open('%s/model-weights-%s' % (sys.argv[2], tag), 'wb').write(out)
# the model's config with NaN where a number goes, the header re-sized
if cfg:
    c = json.loads(cfg)
    for key in list(c)[:3]:
        if isinstance(c[key], (int, float)):
            h = dict(head)
            h['__metadata__'] = dict(head['__metadata__'])
            h['__metadata__']['config'] = cfg.replace('"%s":%s' % (key, json.dumps(c[key])), '"%s":NaN' % key, 1)
            j = json.dumps(h, separators=(',', ':')).encode()
            open('%s/model-config-nan-%s' % (sys.argv[2], key), 'wb').write(struct.pack('<Q', len(j)) + j + raw[8 + n:])
    import re
    for tag, num in (('size', 'NaN'), ('size-inf', 'Infinity'), ('size-1e400', '1e400')):
        h = dict(head)
        h['__metadata__'] = dict(head['__metadata__'])
        h['__metadata__']['config'] = re.sub(r'"size":[0-9]+', '"size":' + num, cfg, count=1)
        j = json.dumps(h, separators=(',', ':')).encode()
        open('%s/model-config-%s' % (sys.argv[2], tag), 'wb').write(struct.pack('<Q', len(j)) + j + raw[8 + n:])
PY
fi
