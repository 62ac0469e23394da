// The AVX-VNNI path (VEX-encoded vpdpbusd on ymm: Alder Lake and later, Zen 5).
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/gemm_paths.h"
#include "kernels/cpu/target.h"

TAMEQ_TARGET_BEGIN("avx2,fma,avxvnni")

namespace tameq::kern::avxvnni_detail {

inline __m256i ymm_prep(__m256i a) { return a; }
inline __m256i ymm_dot(__m256i acc, __m256i a, __m256i w) { return _mm256_dpbusd_avx_epi32(acc, a, w); }

}  // namespace tameq::kern::avxvnni_detail

#define YMM_NS avxvnni_detail
#define YMM_ENTRY gemm_panels_avxvnni
#include "kernels/cpu/gemm_ymm.inc"

TAMEQ_TARGET_END
