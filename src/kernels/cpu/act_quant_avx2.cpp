// quantize_code on 8 floats at a time with AVX2, for the avx2 and avxvnni paths; the same arithmetic as
// act_quant_avx512.cpp (true division, round to nearest-even, zero add and clamp in float). The tail
// of a row goes through quantize_code itself.
#include <immintrin.h>

#include <algorithm>

#include "kernels/cpu/act_quant_paths.h"
#include "kernels/cpu/target.h"

TAMEQ_TARGET_BEGIN("avx2")

namespace tameq::kern {

void quantize_row_avx2(const float* x, int k, const QuantSpec& spec, uint8_t* q, float* scale, int32_t* zero) {
    const int body = k / 8 * 8;
    __m256 vlo = _mm256_setzero_ps(), vhi = _mm256_setzero_ps();
    for (int i = 0; i < body; i += 8) {
        __m256 v = _mm256_loadu_ps(x + i);
        vlo = _mm256_min_ps(vlo, v);
        vhi = _mm256_max_ps(vhi, v);
    }
    alignas(32) float los[8], his[8];
    _mm256_store_ps(los, vlo);
    _mm256_store_ps(his, vhi);
    float lo = *std::min_element(los, los + 8), hi = *std::max_element(his, his + 8);
    for (int i = body; i < k; ++i) {
        lo = std::min(lo, x[i]);
        hi = std::max(hi, x[i]);
    }
    QParams p = row_grid(lo, hi, spec);
    const int shift = spec.symmetric ? 128 : 0;
    const __m256 s = _mm256_set1_ps(p.scale), z = _mm256_set1_ps(p.zero);
    const __m256 qlo = _mm256_set1_ps(static_cast<float>(qmin(spec))), qhi = _mm256_set1_ps(static_cast<float>(qmax(spec)));
    for (int i = 0; i < body; i += 8) {
        __m256 v = _mm256_div_ps(_mm256_loadu_ps(x + i), s);
        v = _mm256_add_ps(_mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), z);
        v = _mm256_min_ps(_mm256_max_ps(v, qlo), qhi);
        __m256i c = _mm256_add_epi32(_mm256_cvtps_epi32(v), _mm256_set1_epi32(shift));
        __m128i c16 = _mm_packus_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(q + i), _mm_packus_epi16(c16, c16));
    }
    for (int i = body; i < k; ++i) q[i] = static_cast<uint8_t>(quantize_code(x[i], p, spec) + shift);
    *scale = p.scale;
    *zero = spec.symmetric ? 128 : static_cast<int32_t>(p.zero);
}

}  // namespace tameq::kern

TAMEQ_TARGET_END
