#!/usr/bin/env bash
# Builds and runs scripts/dfrot_synthetic.cpp against build/libtameq_core.a, with OpenBLAS's SkylakeX kernels
# (Debian's OpenBLAS picks Haswell ones on Zen 5; the CLI sets the same variable).
#   scripts/results-dfrot-synthetic.sh C ROWS ITERS SAMPLE_ROWS FULL_EVAL   (e.g. 4096 131072 100 16384 1)
set -euo pipefail
cd "$(dirname "$0")/.."
bin=build/dfrot_synthetic
if [ ! -x "$bin" ] || [ scripts/dfrot_synthetic.cpp -nt "$bin" ] || [ build/libtameq_core.a -nt "$bin" ]; then
    g++ -std=c++20 -O2 -Wall -Wextra -Werror -Isrc scripts/dfrot_synthetic.cpp build/libtameq_core.a \
        -lopenblas -llapacke -lfmt -o "$bin"
fi
lscpu | grep 'Model name'
echo "$(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
OPENBLAS_CORETYPE=SkylakeX "$bin" "$@"
echo "$(date -u '+%F %T') UTC, load $(cut -d' ' -f1-3 /proc/loadavg)"
