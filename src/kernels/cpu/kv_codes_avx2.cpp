// AVX2 KV-code decoding: 8 codes per step widened to int32, then scale · (code − zero) in float, the
// same two roundings as dequantize_code, so the values equal the scalar path's.
#include <immintrin.h>

#include "kernels/cpu/kv_codes.h"
#include "kernels/cpu/kv_codes_paths.h"
#include "kernels/cpu/target.h"

TAMEQ_TARGET_BEGIN("avx2")

namespace tameq::kern {

void kv_decode_rows_avx2(const uint8_t* codes, const float* scale, const uint8_t* zero, int stride, int rows,
                         int head_dim, int bits, float* out) {
    const int row_bytes = kv_row_bytes(head_dim, bits), half = head_dim / 2;
    const __m256i low4 = _mm256_set1_epi32(15);
    for (int r = 0; r < rows; ++r) {
        const uint8_t* c = codes + size_t(r) * stride * row_bytes;
        const float s = scale[size_t(r) * stride], z = float(zero[size_t(r) * stride]);
        const __m256 vs = _mm256_set1_ps(s), vz = _mm256_set1_ps(z);
        float* o = out + size_t(r) * head_dim;
        int i = 0;
        if (bits > 4) {
            for (; i + 8 <= head_dim; i += 8) {
                const __m256i q = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(c + i)));
                _mm256_storeu_ps(o + i, _mm256_mul_ps(vs, _mm256_sub_ps(_mm256_cvtepi32_ps(q), vz)));
            }
            for (; i < head_dim; ++i) o[i] = s * (float(c[i]) - z);
        } else {
            for (; i + 8 <= half; i += 8) {
                const __m256i q = _mm256_cvtepu8_epi32(_mm_loadl_epi64(reinterpret_cast<const __m128i*>(c + i)));
                const __m256 lo = _mm256_cvtepi32_ps(_mm256_and_si256(q, low4));
                const __m256 hi = _mm256_cvtepi32_ps(_mm256_srli_epi32(q, 4));
                _mm256_storeu_ps(o + i, _mm256_mul_ps(vs, _mm256_sub_ps(lo, vz)));
                _mm256_storeu_ps(o + i + half, _mm256_mul_ps(vs, _mm256_sub_ps(hi, vz)));
            }
            for (; i < half; ++i) {
                o[i] = s * (float(c[i] & 15) - z);
                o[i + half] = s * (float(c[i] >> 4) - z);
            }
        }
    }
}

}  // namespace tameq::kern

TAMEQ_TARGET_END
