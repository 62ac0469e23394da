// quantize_code on 16 floats at a time: the same true division, round-half-even (vrndscaleps with
// nearest, what std::nearbyint does in the default rounding mode), zero add and clamp, in float.
#include <immintrin.h>

#include "kernels/cpu/act_quant_paths.h"
#include "kernels/cpu/target.h"

TAMEQ_TARGET_BEGIN("avx512f,avx512bw,avx512vl")

namespace tameq::kern {

void quantize_row_avx512(const float* x, int k, const QuantSpec& spec, uint8_t* q, float* scale, int32_t* zero) {
    __m512 lo = _mm512_setzero_ps(), hi = _mm512_setzero_ps();
    for (int i = 0; i < k; i += 16) {
        __mmask16 m = k - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (k - i)) - 1);
        __m512 v = _mm512_maskz_loadu_ps(m, x + i);  // masked lanes read 0, inside every range
        lo = _mm512_min_ps(lo, v);
        hi = _mm512_max_ps(hi, v);
    }
    QParams p = row_grid(_mm512_reduce_min_ps(lo), _mm512_reduce_max_ps(hi), spec);
    const __m512 s = _mm512_set1_ps(p.scale), z = _mm512_set1_ps(p.zero);
    const __m512 qlo = _mm512_set1_ps(static_cast<float>(qmin(spec))), qhi = _mm512_set1_ps(static_cast<float>(qmax(spec)));
    const __m512i shift = _mm512_set1_epi32(spec.symmetric ? 128 : 0);
    for (int i = 0; i < k; i += 16) {
        __mmask16 m = k - i >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << (k - i)) - 1);
        __m512 v = _mm512_div_ps(_mm512_maskz_loadu_ps(m, x + i), s);
        v = _mm512_add_ps(_mm512_roundscale_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), z);
        v = _mm512_min_ps(_mm512_max_ps(v, qlo), qhi);
        __m512i c = _mm512_add_epi32(_mm512_cvtps_epi32(v), shift);
        _mm_mask_storeu_epi8(q + i, m, _mm512_cvtepi32_epi8(c));
    }
    *scale = p.scale;
    *zero = spec.symmetric ? 128 : static_cast<int32_t>(p.zero);
}

}  // namespace tameq::kern

TAMEQ_TARGET_END
