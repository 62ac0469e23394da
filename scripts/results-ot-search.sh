#!/usr/bin/env bash
# docs/RESULTS.md §11.1 (issue 17): method=ot-search against per-token RTN, SmoothQuant α 0.5 / 0.8 and
# OutlierTune, W8A8 and W6A6 × {RTN, GPTQ} weights, on gut-opt-24m and gut-llama-27m; protocol E64 (ctx 1024,
# 64 windows of ../shared/data/gutenberg/eval.txt, BOS first), integer engine (sweep's default), one calibration
# set for every row (the first 32 windows of 1024 of calib.txt). Per-token activations symmetric (a-sym=true) in
# every row, as SmoothQuant's and OutlierTune's code quantize. One `tameq sweep` per model (rows kept in
# $OUT/<model>, so an interrupted run resumes), then the table from the sweeps' JSON.
#   MODELS="gut-opt-24m gut-llama-27m" BITS="w=6,a=6 w=8,a=8" TAMEQ=build/tameq [WITH_RTN=1] [PARALLEL=0] scripts/results-ot-search.sh
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
MODELS=${MODELS:-"gut-opt-24m gut-llama-27m"}
BITS=${BITS:-"w=6,a=6 w=8,a=8"}
methods=("ots:method=ot-search" "ot:method=outliertune" "sq08:method=smoothquant,alpha=0.8" "sq05:method=smoothquant,alpha=0.5")
[ -n "${WITH_RTN:-}" ] && methods+=("rtn:method=rtn")  # per-token RTN rows: docs/RESULTS-outliertune.md has them
# The models' sweeps run side by side, one thread each (PARALLEL=0: one after the other, all threads).
pids=()
for m in $MODELS; do
    recipes="fp"
    for bits in $BITS; do
        for q in rtn gptq; do
            for kv in "${methods[@]}"; do recipes+=";${kv#*:},$bits,a-sym=true,weights=$q"; done
            # The joint clip search costs six times the α search; measured where the target is (W6A6).
            [ "$bits" = "w=6,a=6" ] && recipes+=";method=ot-search,search-clip=true,$bits,a-sym=true,weights=$q"
        done
    done
    if [ "${PARALLEL:-1}" = 1 ]; then
        TAMEQ_THREADS=1 OPENBLAS_NUM_THREADS=1 sweep "$m" "$shared/models/$m" int "$recipes" & pids+=($!)
    else
        sweep "$m" "$shared/models/$m" int "$recipes"
    fi
done
for p in "${pids[@]}"; do wait "$p"; done

python3 - "$out" "$BITS" -- $MODELS <<'PY'
import json, os, sys
args = sys.argv[1:]
out, bits = args[0], args[1].split()
models = args[args.index("--") + 1:]
names = [("rtn", "method=rtn", "per-token RTN"), ("sq05", "method=smoothquant,alpha=0.5", "SmoothQuant α=0.5"),
         ("sq08", "method=smoothquant,alpha=0.8", "SmoothQuant α=0.8"), ("ot", "method=outliertune", "OutlierTune"),
         ("ots", "method=ot-search", "ot-search"), ("otsc", "method=ot-search,search-clip=true", "ot-search + clip")]
for m in models:
    rows = {r["recipe"]: r for r in json.load(open(os.path.join(out, m, "sweep.json")))["rows"]}
    fp = rows.get("fp")
    print(f"\n### {m}  (FP PPL {fp['ppl']:.4f})\n" if fp else f"\n### {m}\n")
    print("| bits | weights | method | PPL | ΔPPL vs FP | KL | top-1 | KL vs best of SQ/OT |")
    print("|---|---|---|---|---|---|---|---|")
    for b in bits:
        for q in ("rtn", "gptq"):
            got = {k: rows.get(f"{prefix},{b},a-sym=true,weights={q}") for k, prefix, _ in names}
            base = [got[k]["kl"] for k in ("sq05", "sq08", "ot") if got[k]]
            best = min(base) if base else None
            for k, _, name in names:
                r = got[k]
                if not r: continue
                rel = f"{100 * (r['kl'] / best - 1):+.1f}%" if best and k.startswith("ots") else ""
                print(f"| {b.replace('w=', 'W').replace(',a=', 'A')} | {q.upper()} | {name} | {r['ppl']:.4f} | "
                      f"{100 * (r['ppl'] / fp['ppl'] - 1):+.3f}% | {r['kl']:.5f} | {100 * r['top1']:.2f}% | {rel} |")
PY
