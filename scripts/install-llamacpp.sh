#!/usr/bin/env bash
# Installs llama.cpp's prebuilt CPU libraries with their Node API (node-llama-cpp) into build/llamacpp/,
# for scripts/bench-llamacpp.sh only (not needed by the build or the tests). --ignore-scripts: use the
# shipped binaries as they are, never build or download anything at run time.
set -euo pipefail
cd "$(dirname "$0")/.."
dest=build/llamacpp
mkdir -p "$dest"
cd "$dest"
[ -f package.json ] || echo '{"name":"tameq-llamacpp-bench","private":true,"type":"module"}' > package.json
npm install --ignore-scripts --no-audit --no-fund node-llama-cpp@3.22.1 @node-llama-cpp/linux-x64@3.22.1
echo "node-llama-cpp installed in $PWD/node_modules"
