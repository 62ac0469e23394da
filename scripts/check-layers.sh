#!/usr/bin/env bash
# Fails when a file under src/ includes a header of a layer above its own (docs/DESIGN.md, "Layers").
# The layers, bottom to top, in the order of the data flow; a layer may include its own headers and any below.
#   scripts/check-layers.sh        (run by scripts/test.sh)
set -euo pipefail
cd "$(dirname "$0")/.."
layers=(common numerics kernels io model calib transform quant export eval analysis report cli)
declare -A rank
for i in "${!layers[@]}"; do rank[${layers[$i]}]=$i; done
bad=0
while IFS= read -r hit; do
  file="${hit%%:*}"; rest="${hit#*:}"; line="${rest%%:*}"
  inc="$(sed -E 's/.*#include "([^"]+)".*/\1/' <<< "$rest")"
  from="$(cut -d/ -f2 <<< "$file")"; to="${inc%%/*}"
  [ -n "${rank[$to]:-}" ] || continue                        # same-folder or system-style include
  if [ -z "${rank[$from]:-}" ]; then echo "$file: folder '$from' is not in the layer list" >&2; bad=1; continue; fi
  if [ "${rank[$to]}" -gt "${rank[$from]}" ]; then
    echo "$file:$line: '$from' includes \"$inc\" from the higher layer '$to'" >&2; bad=1
  fi
done < <(grep -rn '#include "[a-z_]*/' src --include='*.h' --include='*.cpp' --include='*.cu' --include='*.inc')
[ "$bad" -eq 0 ] && echo "layers: every include in src/ points downward (${layers[*]})"
exit "$bad"
