#!/usr/bin/env bash
# DFRot Table 1 diagnostic on E64: W4A4KV16 RTN x {none, RO, RH, DFRot} x {keep-massive 0, 1}, against the FP
# model (PPL, KL, top-1), one `tameq sweep` (rows kept in $OUT; an interrupted run resumes), printed as a table.
#   [ENGINE=sim] scripts/results-keep-massive.sh [MODEL_DIR]   (default ../shared/models/gut-llama-27m)
# keep-massive acts in the simulation only: the integer engine refuses a keep-massive model and leaves it
# simulated, so with ENGINE=int (the default) the km1 rows run simulated and the km0 rows on the integer kernels
# (each row's sweep.json says which engine ran it). ENGINE=sim compares like with like.
set -euo pipefail
cd "$(dirname "$0")/.."
source scripts/lib.sh
model="${1:-$shared/models/gut-llama-27m}"
engine="${ENGINE:-int}"
name="$(basename "$model")-$engine"
recipes=""
for rot in none ro rh dfrot; do
  for km in 0 1; do recipes+="${recipes:+;}rotate=$rot,w=4,a=4,kv=16,weights=rtn,keep-massive=$km"; done
done
sweep "$name" "$model" "$engine" "$recipes"
python3 - "$out/$name/sweep.json" <<'PY'
import json, sys
rows = {r["recipe"]: r for r in json.load(open(sys.argv[1]))["rows"]}
first = next(iter(rows.values()))
print(f"FP PPL {first['fp_ppl']:.4f} ({first['tokens_scored']} tokens scored, E64)\n")
print("| W4A4KV16 RTN, R1 | PPL | KL (nats) | top-1 | PPL keep-massive | KL keep-massive | top-1 keep-massive |")
print("|---|---|---|---|---|---|---|")
for rot in ["none", "ro", "rh", "dfrot"]:
    a, b = (rows[f"rotate={rot},w=4,a=4,kv=16,weights=rtn,keep-massive={k}"] for k in (0, 1))
    print(f"| {rot} | {a['ppl']:.3f} | {a['kl']:.4f} | {100*a['top1']:.2f}% | {b['ppl']:.3f} | {b['kl']:.4f} | {100*b['top1']:.2f}% |")
PY
