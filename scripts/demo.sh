#!/usr/bin/env bash
# The demo: install, build, then quantize the repository's demo model (a 5.8M-parameter Llama trained on
# Gutenberg books, models/demo-gut-llama) to W4A4 with QuaRot's randomized Hadamard and with DFRot's refined
# rotation, and compare perplexity, KL divergence and top-1 agreement with the FP32 model. With ../shared
# present, the same runs on gut-llama-27m (the model with massive activations) follow.
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
tq=build/tameq
work="${TMPDIR:-/tmp}/tameq-demo"
mkdir -p "$work"
# Without ../shared, text every Debian system has (base-files): the GPL-3 to evaluate, the GPL-2 to calibrate.
text=/usr/share/common-licenses/GPL-3 calib=/usr/share/common-licenses/GPL-2 windows=8 calib_windows=4
if [ -d ../shared/data/gutenberg ]; then
  text=../shared/data/gutenberg/eval.txt calib=../shared/data/gutenberg/calib.txt windows=16 calib_windows=8
fi

run_model() {
  local model="$1" name="$2" ctx="$3"
  echo "== $name"
  $tq info "$model" | head -8
  $tq run "$model" -p "The old man looked at the sea and" -n 24 --temp 0
  $tq eval ppl "$model" --data "$text" --ctx "$ctx" --windows "$windows" --save-logits "$work/$name.logits" | grep -E "dataset|layout|PPL"
  for rot in none rh dfrot; do
    $tq quantize "$model" -o "$work/$name-$rot" --rotate "$rot" --wbits 4 --abits 4 --weights gptq \
      --calib "$calib" --calib-windows "$calib_windows" --calib-ctx "$ctx" --dfrot-iters 50
    echo "-- W4A4 GPTQ, R1 = $rot"
    $tq eval ppl "$work/$name-$rot" --data "$text" --ctx "$ctx" --windows "$windows" --kl-base "$work/$name.logits" \
      | grep -E "^(PPL|KL|top-1)"
  done
  $tq run "$work/$name-dfrot" -p "The old man looked at the sea and" -n 24 --temp 0
}

run_model models/demo-gut-llama demo 512
if [ -d ../shared/models/gut-llama-27m ]; then run_model ../shared/models/gut-llama-27m gut-llama-27m 1024; fi
