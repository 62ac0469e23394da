#!/bin/bash
# RESULTS §10: every family fixture, FP logits saved once, four recipes quantized and scored on both engines.
# Usage: scripts/results-families.sh [OUTDIR] [FIXTURE...]   (build/tameq built, or TAMEQ=path; ../shared present)
# Windows of 256 tokens (the fixtures' max_position_embeddings; 128 for phi3-longrope, whose longrope takes the
# long factors beyond its original context of 32 either way).
cd "$(dirname "$0")/.."
D=../shared/data/gutenberg
O=${1:-/tmp/tameq-families}; mkdir -p $O
T=${TAMEQ:-build/tameq}
shift $(( $# > 0 ? 1 : 0 ))
FIXTURES=${*:-qwen3-tied qwen3-untied mistral-swa qwen2-swa phi3-longrope}
for F in $FIXTURES; do
  M=tests/fixtures/families/$F
  C=256; [ $F = phi3-longrope ] && C=128
  echo "=== $F fp"
  $T eval ppl $M --data $D/eval.txt --ctx $C --windows 16 --save-logits $O/$F.logits 2>&1 | grep -v "^\s*$"
  for R in "rotate=rh,w=4,a=4,weights=gptq" "method=outliertune,w=8,a=8,weights=gptq" "w=4,a=8" "rotate=rh,w=4,a=8,kv=8"; do
    N=$(echo $R | tr ',=' '__')
    rm -rf $O/$F-$N
    echo "=== $F $R quantize"
    $T quantize $M -o $O/$F-$N --recipe "$R" --calib $D/calib.txt --calib-ctx $C --calib-windows 16 2>&1 | tail -2
    for E in sim int; do
      echo "=== $F $R eval $E"
      $T eval ppl $O/$F-$N --data $D/eval.txt --ctx $C --windows 16 --kl-base $O/$F.logits --engine $E 2>&1 | grep -v "^\s*$"
    done
  done
done
