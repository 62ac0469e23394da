// AVX2 decode attention: q·K_j as 8-wide FMAs and one horizontal sum per key, softmax with a vector exp,
// P·V as broadcast FMAs into hd/8 accumulators (64 output floats per pass).
#include <immintrin.h>

#include <cmath>

#include "kernels/cpu/attend_one.h"
#include "kernels/cpu/attend_one_paths.h"
#include "kernels/cpu/target.h"

TAMEQ_TARGET_BEGIN("avx2,fma")

#include "kernels/cpu/hsum_ymm.inc"

namespace tameq::kern {

namespace {

// e^x for x <= 0 (softmax arguments): x = n·ln2 + r, |r| <= ln2/2, e^r by its degree-6 Taylor polynomial
// (truncation 1.2e-7 relative), times 2^n through the exponent bits. Below -87 the result flushes toward 0.
inline __m256 exp_nonpositive(__m256 x) {
    x = _mm256_max_ps(x, _mm256_set1_ps(-87.0f));
    const __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504f)), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693145752f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(1.42860677e-6f), r);
    __m256 p = _mm256_set1_ps(1.0f / 720);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 120));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 24));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f / 6));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(0.5f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.0f));
    const __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    return _mm256_mul_ps(p, _mm256_castsi256_ps(bits));
}

}  // namespace

void attend_one_query_avx2(const float* q, const float* k, int k_stride, const float* v, int v_stride, int len, int hd,
                           float scale, float* scores, float* out) {
    float mx = -INFINITY;
    for (int j = 0; j < len; ++j) {
        const float* kj = k + size_t(j) * k_stride;
        __m256 a0 = _mm256_setzero_ps(), a1 = _mm256_setzero_ps();
        int d = 0;
        for (; d + 16 <= hd; d += 16) {
            a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(kj + d), a0);
            a1 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d + 8), _mm256_loadu_ps(kj + d + 8), a1);
        }
        if (d < hd) a0 = _mm256_fmadd_ps(_mm256_loadu_ps(q + d), _mm256_loadu_ps(kj + d), a0);
        scores[j] = scale * hsum_ymm(_mm256_add_ps(a0, a1));
        mx = scores[j] > mx ? scores[j] : mx;
    }
    const __m256 vmx = _mm256_set1_ps(mx);
    __m256 vsum = _mm256_setzero_ps();
    int j = 0;
    for (; j + 8 <= len; j += 8) {
        const __m256 e = exp_nonpositive(_mm256_sub_ps(_mm256_loadu_ps(scores + j), vmx));
        _mm256_storeu_ps(scores + j, e);
        vsum = _mm256_add_ps(vsum, e);
    }
    float sum = hsum_ymm(vsum);
    for (; j < len; ++j) {
        scores[j] = std::exp(scores[j] - mx);
        sum += scores[j];
    }
    const float inv = 1.0f / sum;
    for (int d0 = 0; d0 < hd; d0 += 64) {
        const int chunks = (hd - d0 < 64 ? hd - d0 : 64) / 8;
        __m256 acc[8];
        for (int c = 0; c < 8; ++c) acc[c] = _mm256_setzero_ps();
        for (int jj = 0; jj < len; ++jj) {
            const __m256 p = _mm256_set1_ps(scores[jj] * inv);
            const float* vj = v + size_t(jj) * v_stride + d0;
#pragma GCC unroll 8
            for (int c = 0; c < 8; ++c)
                if (c < chunks) acc[c] = _mm256_fmadd_ps(p, _mm256_loadu_ps(vj + 8 * c), acc[c]);
        }
        for (int c = 0; c < chunks; ++c) _mm256_storeu_ps(out + d0 + 8 * c, acc[c]);
    }
}

}  // namespace tameq::kern

TAMEQ_TARGET_END
