#!/usr/bin/env bash
# Quantizes one directory per recipe family with two tameq binaries and compares every output file byte
# for byte: the guard that a refactoring changed no behaviour. The old binary is built from a git revision
# in a worktree under build/ (or given directly).
#   scripts/check-same-bytes.sh OLD_REV_OR_BINARY [NEW_BINARY]     (default new: build/tameq)
# Needs ../shared (gut-llama-27m, gut-opt-24m, the Gutenberg calibration book). Exit 1 on any difference.
set -euo pipefail
cd "$(dirname "$0")/.."
old="${1:?usage: scripts/check-same-bytes.sh OLD_REV_OR_BINARY [NEW_BINARY]}"
new="${2:-build/tameq}"
shared="${TAMEQ_SHARED:-../shared}"
if [ ! -x "$old" ]; then
  tree="build/same-bytes-$old"
  [ -d "$tree" ] || git worktree add --detach "$tree" "$old" >/dev/null
  cmake -S "$tree" -B "$tree/build" -DCMAKE_BUILD_TYPE=Release >/dev/null
  cmake --build "$tree/build" -j"$(nproc)" --target tameq >/dev/null
  old="$tree/build/tameq"
fi
work="$(mktemp -d "${TMPDIR:-/tmp}/tameq-same-bytes.XXXXXX")"
trap 'rm -rf "$work"' EXIT
llama="$shared/models/gut-llama-27m" opt="$shared/models/gut-opt-24m" calib="$shared/data/gutenberg/calib.txt"
# label model recipe: one per recipe family (W8A8 RTN, W4A4 RH RTN and GPTQ, DFRot, OutlierTune, SmoothQuant, W4A4KV4)
cases=(
  "w8a8-rtn          $llama w=8,a=8"
  "w4a4-rh-rtn       $llama rotate=rh,w=4,a=4"
  "w4a4-rh-gptq      $llama rotate=rh,w=4,a=4,weights=gptq,calib-windows=8"
  "w4a4-dfrot        $llama rotate=dfrot,w=4,a=4,dfrot-iters=20"
  "w8a8-outliertune  $opt   method=outliertune,w=8,a=8,calib-windows=8"
  "w8a8-smoothquant  $opt   method=smoothquant,w=8,a=8,calib-windows=8"
  "w4a4kv4-rh-gptq   $llama rotate=rh,w=4,a=4,kv=4,weights=gptq,calib-windows=8"
)
status=0
for c in "${cases[@]}"; do
  read -r label model recipe <<< "$c"
  for side in old new; do
    bin="$old"; [ "$side" = new ] && bin="$new"
    "$bin" quantize "$model" -o "$work/$side-$label" --recipe "$recipe" --calib "$calib" > /dev/null
  done
  if diff -r "$work/old-$label" "$work/new-$label" > /dev/null; then
    echo "same   $label ($(ls "$work/new-$label" | wc -l) files)"
  else
    echo "DIFFER $label:"; diff -rq "$work/old-$label" "$work/new-$label" || true; status=1
  fi
done
exit $status
