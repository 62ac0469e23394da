#!/usr/bin/env bash
# Regenerates README.md's "Recipe keys" block (between <!-- recipe-keys:begin --> and <!-- recipe-keys:end -->)
# from `tameq help recipe`, which prints the key table of src/quant/recipe.h. tests/test_recipe.cpp fails
# while the two differ.
#   scripts/gen-readme-recipe.sh [TAMEQ_BINARY]     (default build/tameq)
set -euo pipefail
cd "$(dirname "$0")/.."
tq="${1:-build/tameq}"
help="$(mktemp)"
trap 'rm -f "$help" README.md.tmp' EXIT
"$tq" help recipe > "$help"
grep -q '^<!-- recipe-keys:begin -->$' README.md && grep -q '^<!-- recipe-keys:end -->$' README.md ||
  { echo "README.md has no <!-- recipe-keys:begin/end --> markers" >&2; exit 1; }
awk -v help="$help" '
  /^<!-- recipe-keys:end -->$/ { skipping = 0 }
  !skipping { print }
  /^<!-- recipe-keys:begin -->$/ { while ((getline line < help) > 0) print line; skipping = 1 }
' README.md > README.md.tmp
mv README.md.tmp README.md
