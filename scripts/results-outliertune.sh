#!/usr/bin/env bash
# The table of docs/RESULTS-outliertune.md, protocol E64 (ctx 1024, 64 windows of ../shared/data/gutenberg/eval.txt, BOS first):
# FP / W8A8 / W6A6 / W4A8 x {per-token RTN, SmoothQuant a=0.5/0.8, OutlierTune with and without the shift,
# OutlierTune + GPTQ} on gut-opt-24m and gut-llama-27m, one run at a time under nice. Every run leaves
# OUT/<model>.<bits>.<method>.json (skipped when present, so an interrupted sweep resumes), then
# docs/RESULTS-outliertune.md's table is printed from them by the python at the end.
# Per-token activations are symmetric (a-sym=true) in every row, as SmoothQuant's and OutlierTune's code do.
set -euo pipefail
cd "$(dirname "$0")/.."
BIN=${BIN:-build/tameq}
SHARED=${SHARED:-../shared}
OUT=${OUT:-build/results-outliertune}
CALIB=$SHARED/data/gutenberg/calib.txt
EVAL=$SHARED/data/gutenberg/eval.txt
MODELS=${MODELS:-"gut-opt-24m gut-llama-27m"}
BITS=${BITS:-"w=8,a=8 w=6,a=6 w=4,a=8"}  # e.g. BITS="w=4,a=8" runs only those rows
mkdir -p "$OUT"

run() {  # model label recipe
    local f="$OUT/$1.$2.json"
    [ -s "$f" ] && return 0
    echo "$(date +%T) $1 $2 ${3:-fp}" >&2
    if [ -z "$3" ]; then
        nice "$BIN" eval ppl "$SHARED/models/$1" --data "$EVAL" --json > "$f.tmp"
    else
        nice "$BIN" eval ppl "$SHARED/models/$1" --data "$EVAL" --recipe "$3" --calib "$CALIB" --json > "$f.tmp"
    fi
    mv "$f.tmp" "$f"
}

# Most informative runs first, so a sweep cut short still answers the issue's questions: the two targets
# (W8A8 OutlierTune against FP, W6A6 OutlierTune against SmoothQuant) with the RTN baseline, then the rest.
for m in $MODELS; do run "$m" fp ""; done
for m in $MODELS; do
    for bits in $BITS; do
        [ "$bits" = "w=4,a=8" ] && continue
        tag=$(echo "$bits" | tr -d '=,')
        run "$m" "$tag.ot" "method=outliertune,$bits,a-sym=true"
        run "$m" "$tag.sq05" "method=smoothquant,alpha=0.5,$bits,a-sym=true"
        run "$m" "$tag.rtn" "method=rtn,$bits,a-sym=true"
    done
done
for bits in $BITS; do
    tag=$(echo "$bits" | tr -d '=,')
    for m in $MODELS; do
        run "$m" "$tag.ot" "method=outliertune,$bits,a-sym=true"
        run "$m" "$tag.sq05" "method=smoothquant,alpha=0.5,$bits,a-sym=true"
        run "$m" "$tag.rtn" "method=rtn,$bits,a-sym=true"
        run "$m" "$tag.ot-noshift" "method=outliertune,symmetrize=false,$bits,a-sym=true"
        run "$m" "$tag.sq08" "method=smoothquant,alpha=0.8,$bits,a-sym=true"
        run "$m" "$tag.ot-gptq" "method=outliertune,weights=gptq,$bits,a-sym=true"
        run "$m" "$tag.ot-clip" "method=outliertune,ot-clip-search=true,$bits,a-sym=true"
    done
done
for m in $MODELS; do run "$m" "w16a16.ot" "method=outliertune,w=16,a=16"; done

python3 - "$OUT" $MODELS <<'PY'
import json, os, sys
out, models = sys.argv[1], sys.argv[2:]
names = [("rtn", "per-token RTN"), ("sq05", "SmoothQuant α=0.5"), ("sq08", "SmoothQuant α=0.8"),
         ("ot-noshift", "OutlierTune, no shift"), ("ot", "OutlierTune"), ("ot-clip", "OutlierTune + clip search"),
         ("ot-gptq", "OutlierTune + GPTQ")]
def load(m, label):
    p = os.path.join(out, f"{m}.{label}.json")
    return json.load(open(p)) if os.path.exists(p) else None
for m in models:
    fp = load(m, "fp")
    print(f"\n### {m}  (FP PPL {fp['ppl']:.4f})\n" if fp else f"\n### {m}\n")
    print("| bits | method | PPL | ΔPPL vs FP | KL (nats/token) | top-1 |")
    print("|---|---|---|---|---|---|")
    rows = [("W16A16", "w16a16.ot", "OutlierTune folds only")]
    for tag in ("w8a8", "w6a6", "w4a8"):
        rows += [(tag.upper(), f"{tag}.{k}", n) for k, n in names]
    for bits, label, name in rows:
        r = load(m, label)
        if not r: print(f"| {bits} | {name} | (not run) | | | |"); continue
        d = f"{100 * (r['ppl'] / fp['ppl'] - 1):+.3f}%" if fp else ""
        print(f"| {bits} | {name} | {r['ppl']:.4f} | {d} | {r.get('kl_mean', 0):.5f} | {100 * r.get('top1_agree', 1):.2f}% |")
PY

# Per-channel ranges before and after the shift for one layer of each model.
RANGES=build/outliertune_ranges
cmake --build build -j"$(nproc)" --target outliertune_ranges >/dev/null
for m in $MODELS; do nice "$RANGES" "$SHARED/models/$m" "$CALIB" 3 32; done
