// The benchmark binary's main is Google Benchmark's, so it re-executes itself with OpenBLAS's AVX-512 kernels
// from a static initializer (common/blas_env.h says why), as the tameq CLI does from main: the FP32 rows
// then time the same sgemm the CLI runs.
#include "common/blas_env.h"

namespace {

[[maybe_unused]] const bool reexecuted = (tameq::prefer_avx512_blas_from_proc(), true);

}  // namespace
