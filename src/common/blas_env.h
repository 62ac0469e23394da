#pragma once
// Debian 12's OpenBLAS (0.3.21) predates Zen 4/5 and runs its Haswell (AVX2) kernels there; its SkylakeX
// (AVX-512) kernels make sgemm about 1.5x faster on such CPUs. OpenBLAS reads OPENBLAS_CORETYPE when the
// library is loaded, before main, so the programs set it and re-execute themselves once. A user's own setting
// (or TAMEQ_NO_REEXEC) always wins; on failure the process simply continues with the kernels already loaded.
namespace tameq {

// For main(): argv as main received it.
void prefer_avx512_blas(char** argv);

// For programs whose main is not ours (the Google Benchmark binary): argv read back from /proc/self/cmdline.
void prefer_avx512_blas_from_proc();

}  // namespace tameq
