#!/usr/bin/env bash
# The table of docs/RESULTS-outliertune.md, protocol E64 (ctx 1024, 64 windows of ../shared/data/gutenberg/eval.txt, BOS first):
# FP / W8A8 / W6A6 / W4A8 x {per-token RTN, SmoothQuant a=0.5/0.8, OutlierTune with and without the shift,
# OutlierTune + GPTQ} on gut-opt-24m and gut-llama-27m: one `tameq sweep` per model under nice (rows kept in
# $OUT/<model>, so an interrupted run resumes), then docs/RESULTS-outliertune.md's table is printed from the
# sweeps' JSON. ENGINE=sim|int (default sim: the figures of docs/RESULTS-outliertune.md were simulated).
# Per-token activations are symmetric (a-sym=true) in every row, as SmoothQuant's and OutlierTune's code do.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
MODELS=${MODELS:-"gut-opt-24m gut-llama-27m"}
BITS=${BITS:-"w=8,a=8 w=6,a=6 w=4,a=8"}  # e.g. BITS="w=4,a=8" runs only those rows
engine=${ENGINE:-sim}

# label -> recipe suffix; the most informative first, so a sweep cut short still answers the questions
# (OutlierTune against FP and against SmoothQuant, with the RTN baseline), then the rest.
methods=("ot:method=outliertune" "sq05:method=smoothquant,alpha=0.5" "rtn:method=rtn"
         "ot-noshift:method=outliertune,symmetrize=false" "sq08:method=smoothquant,alpha=0.8"
         "ot-gptq:method=outliertune,weights=gptq" "ot-clip:method=outliertune,ot-clip-search=true")
for m in $MODELS; do
    recipes="fp;method=outliertune,w=16,a=16"
    for kv in "${methods[@]}"; do
        for bits in $BITS; do recipes+=";${kv#*:},$bits,a-sym=true"; done
    done
    sweep "$m-$engine" "$shared/models/$m" "$engine" "$recipes"
done

python3 - "$out" "$engine" "$BITS" ${methods[@]} -- $MODELS <<'PY'
import json, os, sys
args = sys.argv[1:]
out, engine, bits = args[0], args[1], args[2].split()
sep = args.index("--")
methods = [a.split(":", 1) for a in args[3:sep]]
names = {"rtn": "per-token RTN", "sq05": "SmoothQuant α=0.5", "sq08": "SmoothQuant α=0.8",
         "ot-noshift": "OutlierTune, no shift", "ot": "OutlierTune", "ot-clip": "OutlierTune + clip search",
         "ot-gptq": "OutlierTune + GPTQ"}
order = ["rtn", "sq05", "sq08", "ot-noshift", "ot", "ot-clip", "ot-gptq"]
for m in args[sep + 1:]:
    rows = {r["recipe"]: r for r in json.load(open(os.path.join(out, f"{m}-{engine}", "sweep.json")))["rows"]}
    fp = rows.get("fp")
    print(f"\n### {m}  (FP PPL {fp['ppl']:.4f})\n" if fp else f"\n### {m}\n")
    print("| bits | method | PPL | ΔPPL vs FP | KL (nats/token) | top-1 |")
    print("|---|---|---|---|---|---|")
    table = [("W16A16", "method=outliertune,w=16,a=16", "OutlierTune folds only")]
    suffix = dict(methods)
    for b in bits:
        table += [(b.replace("w=", "W").replace(",a=", "A"), f"{suffix[k]},{b},a-sym=true", names[k]) for k in order]
    for label, recipe, name in table:
        r = rows.get(recipe)
        if not r: print(f"| {label} | {name} | (not run) | | | |"); continue
        d = f"{100 * (r['ppl'] / fp['ppl'] - 1):+.3f}%" if fp else ""
        print(f"| {label} | {name} | {r['ppl']:.4f} | {d} | {r['kl']:.5f} | {100 * r['top1']:.2f}% |")
PY

# Per-channel ranges before and after the shift for one layer of each model.
cmake --build build -j"$(nproc)" --target outliertune_ranges >/dev/null
for m in $MODELS; do nice build/outliertune_ranges "$shared/models/$m" "$calib_text" 3 32; done
