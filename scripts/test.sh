#!/usr/bin/env bash
# Installs dependencies, builds, and runs the whole test suite (unit tests, then the
# AddressSanitizer+UBSan build of the unit tests, then bounded fuzzing runs).
set -euo pipefail
cd "$(dirname "$0")/.."
scripts/install-deps.sh
scripts/build.sh
(cd build && ctest --output-on-failure -j"$(nproc)")
if [ -x scripts/test-sanitize.sh ]; then scripts/test-sanitize.sh; fi
if [ -x scripts/test-fuzz.sh ]; then scripts/test-fuzz.sh; fi
echo "all tests passed"
