// The norm's codes, 16 floats at a time, for the avx512vnni path: the operations of norm_codes_avx2.cpp
// (sub, mul, mul, add, no FMA; vrndscaleps to nearest-even; clamp), the row's tail under a mask. The row
// statistics come from norm_stats_avx2 (their double sums are latency-bound, wider lanes would not help).
#include <immintrin.h>

#include "kernels/cpu/norm_codes_paths.h"
#include "kernels/cpu/target.h"

TAMEQ_TARGET_BEGIN("avx512f,avx512bw,avx512vl")

namespace tameq::kern {

void norm_codes_row_avx512(const float* x, int k, const NormAffine& norm, float mean, float inv, int code_lo,
                           int code_hi, uint8_t* q) {
    const bool layer = norm.kind == RowNorm::layer;
    const __m512 vmean = _mm512_set1_ps(mean), vinv = _mm512_set1_ps(inv);
    const __m512 lo = _mm512_set1_ps(float(code_lo)), hi = _mm512_set1_ps(float(code_hi));
    const __m512i shift = _mm512_set1_epi32(128);
    for (int j = 0; j < k; j += 16) {
        const __mmask16 m = k - j >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (k - j)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, x + j);
        if (layer) v = _mm512_sub_ps(v, vmean);
        v = _mm512_mul_ps(_mm512_mul_ps(v, vinv), _mm512_maskz_loadu_ps(m, norm.gamma + j));
        if (norm.beta) v = _mm512_add_ps(v, _mm512_maskz_loadu_ps(m, norm.beta + j));
        v = _mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v = _mm512_min_ps(_mm512_max_ps(v, lo), hi);
        const __m512i c = _mm512_add_epi32(_mm512_cvtps_epi32(v), shift);
        _mm_mask_storeu_epi8(q + j, m, _mm512_cvtepi32_epi8(c));
    }
}

}  // namespace tameq::kern

TAMEQ_TARGET_END
