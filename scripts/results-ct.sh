#!/usr/bin/env bash
# RESULTS §8.2: each recipe quantized to a directory, exported as compressed-tensors, and both evaluated on
# protocol E64 (KL against the FP logits saved once). Prints one TSV row per recipe and engine:
#   model  recipe-name  engine  ppl(quantized dir)  ppl(export)  relative difference  kl(dir)  kl(export)  top1(dir)  top1(export)
# Usage: scripts/results-ct.sh [WORK_DIR]   (WORK_DIR default /tmp/tameq-ct-results; build/tameq must exist)
set -euo pipefail
cd "$(dirname "$0")/.."
B=build/tameq
D=../shared/data/gutenberg
W=${1:-/tmp/tameq-ct-results}
mkdir -p "$W"

row() {  # model-name model-path recipe-name "quantize flags" [export flags]
    local name=$1 model=$2 rname=$3 flags=$4 xflags=${5:-}
    local q="$W/$name-$rname" fp="$W/$name-fp.logits"
    [ -f "$fp" ] || $B eval ppl "$model" --data $D/eval.txt --save-logits "$fp" >/dev/null
    [ -d "$q" ] || $B quantize "$model" -o "$q" --calib $D/calib.txt $flags >/dev/null
    rm -rf "$q-ct"
    $B export "$q" --format compressed-tensors -o "$q-ct" $xflags >/dev/null
    for engine in int sim; do
        $B eval ppl "$q" --data $D/eval.txt --kl-base "$fp" --engine $engine --json >"$q.$engine.json"
        $B eval ppl "$q-ct" --data $D/eval.txt --kl-base "$fp" --engine $engine --json >"$q-ct.$engine.json"
        python3 - "$q.$engine.json" "$q-ct.$engine.json" "$name" "$rname" "$engine" <<'PY'
import json, sys
a, b = (json.load(open(p)) for p in sys.argv[1:3])
print("\t".join([sys.argv[3], sys.argv[4], sys.argv[5], f"{a['ppl']:.6f}", f"{b['ppl']:.6f}", f"{(b['ppl'] - a['ppl']) / a['ppl']:+.2e}",
                 f"{a['kl_mean']:.6f}", f"{b['kl_mean']:.6f}", f"{a['top1_agree']:.4f}", f"{b['top1_agree']:.4f}"]), flush=True)
PY
    done
}
L=../shared/models/gut-llama-27m
O=../shared/models/gut-opt-24m
row gut-llama-27m $L w8a8-rtn "--wbits 8 --abits 8"
row gut-llama-27m $L w4a16-g128-gptq "--wbits 4 --weights gptq --group 128"
row gut-llama-27m $L w4a8-rh "--rotate rh --wbits 4 --abits 8 --a-sym"
row gut-llama-27m $L w4a16-asym-g128 "--wbits 4 --w-asym --group 128"
row gut-opt-24m $O w8a8-outliertune "--method outliertune --wbits 8 --abits 8 --a-sym"
row gut-llama-27m $L w8a8-smoothquant "--method smoothquant --wbits 8 --abits 8 --a-sym"
