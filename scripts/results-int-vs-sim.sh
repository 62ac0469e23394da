#!/usr/bin/env bash
# The int-vs-sim check of docs/RESULTS.md: for every recipe family, `eval ppl` of a quantized directory on the integer kernels is
# within 0.2% of the same directory simulated. Protocol E64 (ctx 1024, 64 windows of eval.txt, BOS first); each
# recipe is quantized once (32 calibration windows of calib.txt), then evaluated with --engine sim and --engine int.
# Rows are kept in $OUT (an interrupted run resumes); the table is printed at the end.
#   scripts/results-int-vs-sim.sh        (TAMEQ=binary, SHARED=../shared, OUT=build/results-int-vs-sim)
set -euo pipefail
cd "$(dirname "$0")/.."
tq=${TAMEQ:-build/tameq}
shared=${SHARED:-../shared}
out=${OUT:-build/results-int-vs-sim}
data=$shared/data/gutenberg/eval.txt
calib=$shared/data/gutenberg/calib.txt
mkdir -p "$out"

row() {  # model label recipe
  local m=$1 label=$2 recipe=$3 dir="$out/$1.$2.dir"
  for engine in sim int; do
    local f="$out/$1.$2.$engine.json"
    [ -s "$f" ] && continue
    [ -f "$dir/tameq.json" ] || nice "$tq" quantize "$shared/models/$m" -o "$dir" --recipe "$recipe" --calib "$calib" > /dev/null
    echo "$(date +%T) $m $label $engine" >&2
    nice "$tq" eval ppl "$dir" --data "$data" --engine "$engine" --json > "$f.tmp"
    mv "$f.tmp" "$f"
  done
  rm -rf "$dir"
}

row gut-llama-27m w8a8-rtn "w=8,a=8"
row gut-llama-27m w4a8-rh "rotate=rh,w=4,a=8"
row gut-llama-27m w4a4-rh "rotate=rh,w=4,a=4"
row gut-llama-27m w4a4kv4-rh-gptq "rotate=rh,w=4,a=4,kv=4,weights=gptq"
row gut-llama-27m w8a8-ot "method=outliertune,w=8,a=8,a-sym=true"
row gut-llama-27m w8a8-sq "method=smoothquant,alpha=0.5,w=8,a=8,a-sym=true"
row gut-opt-24m w8a8-rtn "w=8,a=8"
row gut-opt-24m w6a6-ot "method=outliertune,w=6,a=6,a-sym=true"

python3 - "$out" <<'PY'
import glob, json, os, sys
out = sys.argv[1]
print("| model | recipe | simulated PPL | integer PPL | difference | integer linears |")
print("|---|---|---|---|---|---|")
for f in sorted(glob.glob(os.path.join(out, "*.sim.json"))):
    base = f[: -len(".sim.json")]
    if not os.path.exists(base + ".int.json"): continue
    s, i = json.load(open(f)), json.load(open(base + ".int.json"))
    model, label = os.path.basename(base).split(".", 1)
    print(f"| {model} | {label} | {s['ppl']:.4f} | {i['ppl']:.4f} | {100 * (i['ppl'] / s['ppl'] - 1):+.3f}% | {i.get('engine', '')} |")
PY
