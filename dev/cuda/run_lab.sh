#!/usr/bin/env bash
# Builds and runs the GEMM lab on a machine with a Hopper GPU, without the rest of the project's
# dependencies (the device image has nvcc and cuBLAS but no fmt): fmt goes header-only from FMT_INC.
#   FMT_INC=/path/with/fmt/headers dev/cuda/run_lab.sh [reps] [oracle_rows]
# Writes gpu.txt (hardware, CUDA version) and lab.txt (the checks and timings) to $OUT (or /tmp/cuda-lab).
set -euo pipefail
cd "$(dirname "$0")/../.."
out=${OUT:-/tmp/cuda-lab}
mkdir -p "$out"
{
    date -u
    nvidia-smi --query-gpu=name,driver_version,clocks.max.sm,clocks.max.mem,power.limit,memory.total --format=csv || echo "nvidia-smi: not available"
    nvcc --version | tail -2
} | tee "$out/gpu.txt"
nvcc -std=c++17 -O3 -gencode=arch=compute_90a,code=sm_90a -lineinfo -Xptxas -v -Isrc -I"${FMT_INC:-/usr/include}" \
    -DFMT_HEADER_ONLY src/kernels/cuda/*.cu src/kernels/cuda/*.cpp dev/cuda/*.cu dev/cuda/gemm_lab.cpp -Idev/cuda -Itests -lcublasLt -lcublas \
    -o /tmp/gemm_lab 2> "$out/ptxas.txt" || { tail -40 "$out/ptxas.txt"; exit 1; }
grep -E "registers|spill" "$out/ptxas.txt" | sort | uniq -c
/tmp/gemm_lab "$@" 2>&1 | tee "$out/lab.txt"
