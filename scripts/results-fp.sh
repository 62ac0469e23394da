#!/usr/bin/env bash
# FP32 engine against Hugging Face transformers, protocol E64 (ctx 1024, 64 windows of BOS + 1023 tokens of
# gutenberg/eval.txt), and stories260K against llama2.c's published perplexity. Prints a markdown table.
#   scripts/results-fp.sh > docs/results/fp.md
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh  # tq, shared, out, eval_text
# eval ppl rather than sweep: stories260K's protocol (one sequence per line) is not a sweep protocol.
echo "| model | tameq PPL (E64) | transformers fp32 PPL (E64) | relative difference | tokens scored |"
echo "|---|---|---|---|---|"
for m in gut-llama-27m gut-opt-24m demo-gut-llama; do
  dir=$shared/models/$m
  [ "$m" = demo-gut-llama ] && dir=models/demo-gut-llama
  "$tq" eval ppl "$dir" --data "$eval_text" --json > "$out/$m.json"
  python3 - "$m" "$out/$m.json" "tests/fixtures/ref/${m}_e64.json" <<'PY'
import json, sys
m, ours, ref = sys.argv[1:]
a, b = json.load(open(ours)), json.load(open(ref))
print(f"| {m} | {a['ppl']:.4f} | {b['ppl']:.4f} | {a['ppl']/b['ppl']-1:+.2e} | {a['tokens_scored']} |")
PY
done
"$tq" eval ppl "$shared/models/stories260K/stories260K.bin" --data "$shared/data/tinystories/valid-head-794k.txt" \
  --lines --windows 0 --ctx 512 --json > "$out/stories260K.json"
python3 - "$out/stories260K.json" <<'PY'
import json, sys
a = json.load(open(sys.argv[1]))
print(f"| stories260K (llama2.c; every non-empty line of tinystories/valid-head-794k.txt, BOS + line) | {a['ppl']:.4f} | 5.3886 (llama2.c, ../shared/README.md) | {a['ppl']/5.3886-1:+.2e} | {a['tokens_scored']} |")
PY
