// The AVX2 path. Without VNNI the u8 × s8 dot product must avoid vpmaddubsw's int16 saturation
// (255·127·2 > 32767): a = 2·(a >> 1) + (a & 1), and each half's pair sums fit int16 exactly.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/gemm_paths.h"
#include "kernels/cpu/target.h"

TAMEQ_TARGET_BEGIN("avx2,fma")

namespace tameq::kern::avx2_detail {

struct Halves {
    __m256i hi, lo;
};

inline Halves ymm_prep(__m256i a) {
    return {_mm256_and_si256(_mm256_srli_epi16(a, 1), _mm256_set1_epi8(0x7f)), _mm256_and_si256(a, _mm256_set1_epi8(1))};
}

inline __m256i ymm_dot(__m256i acc, Halves a, __m256i w) {
    __m256i hi = _mm256_madd_epi16(_mm256_maddubs_epi16(a.hi, w), _mm256_set1_epi16(2));
    __m256i lo = _mm256_madd_epi16(_mm256_maddubs_epi16(a.lo, w), _mm256_set1_epi16(1));
    return _mm256_add_epi32(acc, _mm256_add_epi32(hi, lo));
}

}  // namespace tameq::kern::avx2_detail

#define YMM_NS avx2_detail
#define YMM_ENTRY gemm_panels_avx2
#include "kernels/cpu/gemm_ymm.inc"

TAMEQ_TARGET_END
