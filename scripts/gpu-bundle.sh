#!/usr/bin/env bash
# Builds the CUDA binaries here and bundles them, with every shared library they load and the dynamic loader,
# so that they run on a GPU machine whatever its glibc or installed packages:
#   scripts/gpu-bundle.sh [OUT_DIR]          (default: bundle/ in the repository, which .gitignore-s nothing:
#                                             pass a folder your checkout ignores, e.g. .carry/gpu)
#   OUT_DIR/run.sh tameq eval ppl MODEL --device cuda ...
#   OUT_DIR/run.sh tameq_tests --gtest_filter='Cuda*'
#   OUT_DIR/run.sh tameq_bench --benchmark_filter=CudaPrefill        (where Google Benchmark is installed here)
# run.sh starts OUT_DIR/ld-linux-x86-64.so.2 --library-path OUT_DIR/lib:<the machine's CUDA libraries>.
# The CUDA driver (libcuda) is the machine's own, and so are cuBLAS and cuBLASLt (~600 MB, too large to carry):
# run.sh looks for libcublas.so.13 in the CUDA toolkit and in the pip wheels (nvidia-cublas) of the machine;
# the CUDA runtime (libcudart) is bundled. Models are not bundled: copy what the run needs beside it.
set -euo pipefail
cd "$(dirname "$0")/.."
out="${1:-bundle}"
build="${TAMEQ_GPU_BUILD:-build}"
cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=Release -DTAMEQ_CUDA=ON >/dev/null
bins="tameq tameq_tests"
grep -q '^benchmark_DIR:PATH=/' "$build/CMakeCache.txt" && bins="$bins tameq_bench"  # bench/bench_cuda_engine.cpp
# shellcheck disable=SC2086
cmake --build "$build" -j"$(nproc)" --target $bins
rm -rf "$out"
mkdir -p "$out/lib"
for b in $bins; do cp "$build/$b" "$out/"; strip "$out/$b"; done
# Every library the binaries load, except the driver's and cuBLAS's (found on the machine by run.sh).
for bin in $bins; do
  bin="$out/$bin"
  ldd "$bin" | awk '$2 == "=>" && $3 ~ /^\// {print $3} $1 ~ /ld-linux/ {print $1}'
done | sort -u | while read -r lib; do
  case "$(basename "$lib")" in
    libcuda.so*|libcublas.so*|libcublasLt.so*|linux-vdso*) ;;
    ld-linux-x86-64.so.2) cp -L "$lib" "$out/ld-linux-x86-64.so.2" ;;
    *) cp -L "$lib" "$out/lib/" ;;
  esac
done
cat > "$out/run.sh" <<'RUN'
#!/usr/bin/env bash
# Runs a bundled binary with the bundle's loader and libraries: run.sh tameq|tameq_tests ARGS...
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
prog="$1"; shift
cuda_libs="${TAMEQ_CUDA_LIBS:-}"   # override: the folder holding libcublas.so.13 and libcublasLt.so.13
[ -n "$cuda_libs" ] || for d in /usr/local/cuda/lib64 /usr/local/cuda-13*/lib64 /usr/local/cuda/targets/x86_64-linux/lib \
         $(ls -d /opt/*/.venv/lib/python3*/site-packages/nvidia/cu13/lib /usr/local/lib/python3*/dist-packages/nvidia/cu13/lib \
                 /opt/*/.venv/lib/python3*/site-packages/nvidia/cublas/lib 2>/dev/null); do
  [ -e "$d/libcublasLt.so.13" ] && { cuda_libs="$d"; break; }
done
[ -n "$cuda_libs" ] || { echo "run.sh: libcublasLt.so.13 not found on this machine" >&2; exit 2; }
driver_libs=""
for d in /usr/local/nvidia/lib64 /usr/local/nvidia/lib /usr/lib/x86_64-linux-gnu /usr/lib64; do
  [ -e "$d/libcuda.so.1" ] && { driver_libs="$d"; break; }
done
[ -n "$driver_libs" ] || { echo "run.sh: libcuda.so.1 (the NVIDIA driver) not found on this machine" >&2; exit 2; }
# The binaries re-execute themselves through /proc/self/exe to pick OpenBLAS's AVX-512 kernels
# (common/blas_env.h); under an explicit loader that is the loader, so choose here instead.
export TAMEQ_NO_REEXEC=1
if grep -q avx512bw /proc/cpuinfo && grep -q avx512dq /proc/cpuinfo; then export OPENBLAS_CORETYPE=SkylakeX; fi
exec "$here/ld-linux-x86-64.so.2" --library-path "$here/lib:$cuda_libs:$driver_libs" "$here/$prog" "$@"
RUN
chmod +x "$out/run.sh"
du -sh "$out"
