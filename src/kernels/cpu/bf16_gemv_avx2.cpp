// AVX2 bf16 GEMV: 16 weights per step widened to fp32 by a 16-bit shift (exact), FMA'd into two accumulators per
// row of x, each x row held in registers across one weight row so the weights are read once for all n rows.
#include <immintrin.h>

#include "common/half.h"
#include "kernels/cpu/bf16_gemv.h"
#include "kernels/cpu/bf16_gemv_paths.h"
#include "kernels/cpu/target.h"

TAMEQ_TARGET_BEGIN("avx2,fma")

#include "kernels/cpu/hsum_ymm.inc"

namespace tameq::kern {

namespace {

inline __m256 widen(__m128i h) { return _mm256_castsi256_ps(_mm256_slli_epi32(_mm256_cvtepu16_epi32(h), 16)); }

}  // namespace

void bf16_gemv_rows_avx2(const float* x, int n, const uint16_t* w, int out, int in, const float* bias, float* y,
                         int r0, int r1) {
    for (int r = r0; r < r1; ++r) {
        const uint16_t* wr = w + size_t(r) * in;
        __m256 acc0[kBf16GemvMaxRows], acc1[kBf16GemvMaxRows];
        for (int i = 0; i < n; ++i) acc0[i] = acc1[i] = _mm256_setzero_ps();
        int k = 0;
        for (; k + 16 <= in; k += 16) {
            const __m128i* p = reinterpret_cast<const __m128i*>(wr + k);
            const __m256 w0 = widen(_mm_loadu_si128(p)), w1 = widen(_mm_loadu_si128(p + 1));
            for (int i = 0; i < n; ++i) {
                const float* xi = x + size_t(i) * in + k;
                acc0[i] = _mm256_fmadd_ps(_mm256_loadu_ps(xi), w0, acc0[i]);
                acc1[i] = _mm256_fmadd_ps(_mm256_loadu_ps(xi + 8), w1, acc1[i]);
            }
        }
        for (int i = 0; i < n; ++i) {
            float s = hsum_ymm(_mm256_add_ps(acc0[i], acc1[i]));
            for (int kk = k; kk < in; ++kk) s += x[size_t(i) * in + kk] * bf16_to_f32(wr[kk]);
            y[size_t(i) * out + r] = bias ? s + bias[r] : s;
        }
    }
}

}  // namespace tameq::kern

TAMEQ_TARGET_END
