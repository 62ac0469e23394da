#!/usr/bin/env bash
# Installs llama.cpp's prebuilt CPU libraries with their Node API (node-llama-cpp) into build/llamacpp/, for
# the llama.cpp tests (tests/llamacpp/, run by scripts/test.sh) and scripts/bench-llamacpp.sh.
# --ignore-scripts: use the shipped binaries as they are, never build or download anything at run time;
# --omit=optional: the CPU package only, not the optional CUDA/Vulkan builds (about 600 MB).
set -euo pipefail
cd "$(dirname "$0")/.."
dest=build/llamacpp
mkdir -p "$dest"
cd "$dest"
[ -f package.json ] || echo '{"name":"tameq-llamacpp-bench","private":true,"type":"module"}' > package.json
[ -d node_modules/@node-llama-cpp/linux-x64 ] && [ -d node_modules/node-llama-cpp ] && { echo "node-llama-cpp already in $PWD/node_modules"; exit 0; }
npm install --ignore-scripts --omit=optional --no-audit --no-fund node-llama-cpp@3.22.1 @node-llama-cpp/linux-x64@3.22.1
echo "node-llama-cpp installed in $PWD/node_modules"
