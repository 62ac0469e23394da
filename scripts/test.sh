#!/usr/bin/env bash
# Installs dependencies, checks that includes run down the layers, builds, and runs the whole test suite (unit tests, then the
# AddressSanitizer+UBSan build of the unit tests, then bounded fuzzing runs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/check-layers.sh
scripts/build.sh
# llama.cpp for the export tests (label llamacpp); they skip where node is absent.
if command -v npm >/dev/null; then scripts/install-llamacpp.sh; fi
(cd build && ctest --output-on-failure -j"$(nproc)")
scripts/test-sanitize.sh
scripts/test-fuzz.sh
echo "all tests passed"
