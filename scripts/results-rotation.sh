#!/usr/bin/env bash
# The rotation table of docs/results/rotation-gut-llama-27m.md, protocol E64: FP / W4A4KV16 / W4A4KV4 / W4A8KV16 x {none, RO, RH, DFRot}
# x {RTN, GPTQ}, each quantized to a directory (time and peak RSS measured by /usr/bin/time) and evaluated
# against the FP model's saved logits (KL, top-1). Output: docs/results/rotation-<model>.md (+ .jsonl rows).
#   scripts/results-rotation.sh [MODEL_DIR]   (default ../shared/models/gut-llama-27m)
# Not a sweep: each row times `tameq quantize` as its own process (wall time and peak RSS), which an in-memory
# sweep cannot measure.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
model="${1:-$shared/models/gut-llama-27m}"
name="$(basename "$model")"
data=$eval_text
calib=$calib_text
work="$out/$name"
out="docs/results/rotation-$name"
mkdir -p "$work" docs/results
[ -f "$work/fp.logits" ] || $tq eval ppl "$model" --data "$data" --save-logits "$work/fp.logits" --json > "$work/fp.json"
rows="$out.jsonl.tmp"
: > "$rows"
for bits in "4 4 16" "4 4 4" "4 8 16"; do
  set -- $bits
  for rot in none ro rh dfrot; do
    for wq in rtn gptq; do
      tag="W$1A$2KV$3-$rot-$wq"
      qdir="$work/$tag"
      if [ ! -s "$work/$tag.json" ]; then  # finished rows are kept: an interrupted run resumes
      /usr/bin/time -f "%e %M" -o "$work/$tag.time" \
        $tq quantize "$model" -o "$qdir" --rotate "$rot" --wbits "$1" --abits "$2" --kvbits "$3" --weights "$wq" \
          --calib "$calib" --seed 0 > "$work/$tag.log"
      $tq eval ppl "$qdir" --data "$data" --kl-base "$work/fp.logits" --json > "$work/$tag.json.tmp"
      mv "$work/$tag.json.tmp" "$work/$tag.json"
      rm -rf "$qdir"
      fi
      read -r secs kb < "$work/$tag.time"
      python3 - "$tag" "$work/$tag.json" "$secs" "$kb" "$work/$tag.log" "$1" "$2" "$3" "$rot" "$wq" >> "$rows" <<'PY'
import json, sys
tag, path, secs, kb, log, w, a, kv, rot, wq = sys.argv[1:]
j = json.load(open(path))
print(json.dumps({"tag": tag, "w": int(w), "a": int(a), "kv": int(kv), "rotate": rot, "weights": wq,
                  "ppl": j["ppl"], "kl": j["kl_mean"], "top1": j["top1_agree"], "quant_seconds": float(secs),
                  "quant_peak_mb": int(kb) / 1024, "log": open(log).read().strip()}))
PY
      echo "$tag done" >&2
    done
  done
done
mv "$rows" "$out.jsonl"
python3 - "$work/fp.json" "$out.jsonl" "$name" > "$out.md" <<'PY'
import json, sys
fp = json.load(open(sys.argv[1]))
rows = [json.loads(l) for l in open(sys.argv[2])]
print(f"FP PPL {fp['ppl']:.4f} ({fp['tokens_scored']} tokens, {fp['windows']} windows of {fp['ctx']}, BOS prepended)\n")
print("| bits | R1 | weights | PPL | KL (nats) | top-1 | quant time (s) | quant peak RSS (MB) |")
print("|---|---|---|---|---|---|---|---|")
for r in rows:
    print(f"| W{r['w']}A{r['a']}KV{r['kv']} | {r['rotate']} | {r['weights']} | {r['ppl']:.3f} | {r['kl']:.4f} | "
          f"{100*r['top1']:.2f}% | {r['quant_seconds']:.1f} | {r['quant_peak_mb']:.0f} |")
print()
for r in rows:
    if "DFRot" in r["log"]:
        print(f"- {r['tag']}: {r['log']}")
PY
echo "wrote $out.md"
