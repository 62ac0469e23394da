#!/usr/bin/env bash
# DFRot Table 1 diagnostic on E64: W4A4KV16 RTN x {none, RO, RH, DFRot} x {keep-massive 0, 1}, evaluated
# against the FP model's saved logits (PPL, KL, top-1). One JSON per run under $work; rows printed as a table.
#   [ENGINE=sim] scripts/results-keep-massive.sh [MODEL_DIR]   (default ../shared/models/gut-llama-27m)
# ENGINE=sim is needed for keep-massive to act: the integer kernels (the default engine) ignore it.
set -euo pipefail
cd "$(dirname "$0")/.."
model="${1:-../shared/models/gut-llama-27m}"
data=../shared/data/gutenberg/eval.txt
calib=../shared/data/gutenberg/calib.txt
engine="${ENGINE:-int}"
work="${TMPDIR:-/tmp}/tameq-keep-massive-$(basename "$model")-$engine"
tq="${TAMEQ:-build/tameq}"
mkdir -p "$work"
[ -s "$work/fp.json" ] || $tq eval ppl "$model" --data "$data" --save-logits "$work/fp.logits" --json > "$work/fp.json"
for rot in none ro rh dfrot; do
  for km in 0 1; do
    tag="$rot-km$km"
    [ -s "$work/$tag.json" ] && continue  # an interrupted run resumes
    $tq eval ppl "$model" --data "$data" --kl-base "$work/fp.logits" --calib "$calib" --engine "$engine" \
      --recipe "rotate=$rot,w=4,a=4,kv=16,weights=rtn,keep-massive=$km" --json > "$work/$tag.json.tmp"
    mv "$work/$tag.json.tmp" "$work/$tag.json"
    echo "$tag done $(date -u +%T) $(cut -d' ' -f1-3 /proc/loadavg)" >&2
  done
done
python3 - "$work" <<'PY'
import json, sys
w = sys.argv[1]
fp = json.load(open(f"{w}/fp.json"))
print(f"FP PPL {fp['ppl']:.4f} ({fp['tokens_scored']} tokens, {fp['windows']} windows of {fp['ctx']}, BOS prepended)\n")
print("| W4A4KV16 RTN, R1 | PPL | KL (nats) | top-1 | PPL keep-massive | KL keep-massive | top-1 keep-massive |")
print("|---|---|---|---|---|---|---|")
for rot in ["none", "ro", "rh", "dfrot"]:
    a, b = (json.load(open(f"{w}/{rot}-km{k}.json")) for k in (0, 1))
    print(f"| {rot} | {a['ppl']:.3f} | {a['kl_mean']:.4f} | {100*a['top1_agree']:.2f}% | "
          f"{b['ppl']:.3f} | {b['kl_mean']:.4f} | {100*b['top1_agree']:.2f}% |")
PY
