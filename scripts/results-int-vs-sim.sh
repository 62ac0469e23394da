#!/usr/bin/env bash
# The int-vs-sim check of docs/RESULTS.md: for every recipe family, E64 on the integer kernels is within 0.2% of
# the same recipe simulated. Protocol E64 (ctx 1024, 64 windows of eval.txt, BOS first); each model is one
# `tameq sweep` per engine (GPTQ and the channel methods calibrate on 32 windows of calib.txt), rows kept in
# $OUT (an interrupted run resumes); the table is printed at the end.
#   scripts/results-int-vs-sim.sh        (TAMEQ=binary, SHARED=../shared, OUT=build/results-int-vs-sim)
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh

llama="w=8,a=8;rotate=rh,w=4,a=8;rotate=rh,w=4,a=4;rotate=rh,w=4,a=4,kv=4,weights=gptq"
llama+=";method=outliertune,w=8,a=8,a-sym=true;method=smoothquant,alpha=0.5,w=8,a=8,a-sym=true"
opt="w=8,a=8;method=outliertune,w=6,a=6,a-sym=true"
for engine in sim int; do
  sweep "gut-llama-27m-$engine" "$shared/models/gut-llama-27m" "$engine" "$llama"
  sweep "gut-opt-24m-$engine" "$shared/models/gut-opt-24m" "$engine" "$opt"
done

python3 - "$out" <<'PY'
import json, os, sys
out = sys.argv[1]
print("| model | recipe | simulated PPL | integer PPL | difference | integer engine |")
print("|---|---|---|---|---|---|")
for model in ("gut-llama-27m", "gut-opt-24m"):
    sim, intg = (json.load(open(os.path.join(out, f"{model}-{e}", "sweep.json")))["rows"] for e in ("sim", "int"))
    for s, i in zip(sim, intg):
        assert s["recipe"] == i["recipe"]
        print(f"| {model} | `{s['recipe']}` | {s['ppl']:.4f} | {i['ppl']:.4f} | {100 * (i['ppl'] / s['ppl'] - 1):+.3f}% "
              f"| {i.get('engine_description', '')} |")
PY
