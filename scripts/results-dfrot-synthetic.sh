#!/usr/bin/env bash
# Builds (CMake target dfrot_synthetic) and runs scripts/dfrot_synthetic.cpp, with OpenBLAS's SkylakeX kernels
# (Debian's OpenBLAS picks Haswell ones on Zen 5; the CLI sets the same variable).
#   scripts/results-dfrot-synthetic.sh C ROWS ITERS SAMPLE_ROWS FULL_EVAL   (e.g. 4096 131072 100 16384 1)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/dfrot_synthetic
cmake --build build -j"$(nproc)" --target dfrot_synthetic >/dev/null
lscpu | grep 'Model name'
echo "$(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
OPENBLAS_CORETYPE=SkylakeX "$bin" "$@"
echo "$(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
