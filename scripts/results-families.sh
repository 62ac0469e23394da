#!/bin/bash
# RESULTS §10: every family fixture, FP logits saved once, four recipes quantized and scored on both engines.
# Usage: scripts/results-families.sh [OUTDIR]   (build/tameq built; ../shared present)
cd "$(dirname "$0")/.."
D=../shared/data/gutenberg
O=${1:-/tmp/tameq-families}; mkdir -p $O
for F in qwen3-tied qwen3-untied mistral-swa qwen2-swa; do
  M=tests/fixtures/families/$F
  echo "=== $F fp"
  build/tameq eval ppl $M --data $D/eval.txt --ctx 256 --windows 16 --save-logits $O/$F.logits 2>&1 | grep -v "^\s*$"
  for R in "rotate=rh,w=4,a=4,weights=gptq" "method=outliertune,w=8,a=8,weights=gptq" "w=4,a=8" "rotate=rh,w=4,a=8,kv=8"; do
    N=$(echo $R | tr ',=' '__')
    rm -rf $O/$F-$N
    echo "=== $F $R quantize"
    build/tameq quantize $M -o $O/$F-$N --recipe "$R" --calib $D/calib.txt --calib-ctx 256 --calib-windows 16 2>&1 | tail -2
    for E in sim int; do
      echo "=== $F $R eval $E"
      build/tameq eval ppl $O/$F-$N --data $D/eval.txt --ctx 256 --windows 16 --kl-base $O/$F.logits --engine $E 2>&1 | grep -v "^\s*$"
    done
  done
done
