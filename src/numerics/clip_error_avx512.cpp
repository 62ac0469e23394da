// AVX-512F version of the clip-error filter (numerics/clip_error.h). Compiled for AVX-512 in a target region
// (kernels/cpu/target.h's pattern; that header sits in a layer above) and called only when the CPU has it,
// so the rest of the build stays at the baseline ISA. Contraction is off in the region: Q(x) - x must be
// quantize_dequantize's separately rounded multiply and subtract (GCC would fuse the vector expressions).
#include <immintrin.h>

#include <cmath>

#include "numerics/clip_error.h"

#if defined(__clang__)
#pragma clang attribute push(__attribute__((target("avx512f"))), apply_to = function)
#pragma clang fp contract(off)
#else
#pragma GCC push_options
#pragma GCC target("avx512f")
#pragma GCC optimize("fp-contract=off")
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif

namespace tameq {

namespace {

// |e|^2.4 for e >= 0 (0 for e == 0), per lane. log2 e = k + log2 m with e = 2^k m, m in [√½, √2), and
// ln m = 2 atanh(t), t = (m - 1) / (m + 1), |t| <= 0.172: the series to t^11 leaves < 1e-9. Then
// 2^y = 2^round(y) · 2^f, |f| <= ½, with a degree-7 Taylor polynomial (< 2e-9). The float rounding of
// y = 2.4 · log2 e (|y| < 360) is the largest error left: at most ~4e-6 relative for |y| = 100 (e ~ 1e-13,
// far below any weight's step); ~1e-6 for the errors a real row has.
inline __m512 pow_2_4(__m512 e) {
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 k = _mm512_getexp_ps(e);                                         // floor(log2 e), exact
    __m512 m = _mm512_getmant_ps(e, _MM_MANT_NORM_1_2, _MM_MANT_SIGN_zero);  // [1, 2), exact
    const __mmask16 big = _mm512_cmp_ps_mask(m, _mm512_set1_ps(1.41421356f), _CMP_GT_OQ);
    m = _mm512_mask_mul_ps(m, big, m, _mm512_set1_ps(0.5f));
    k = _mm512_mask_add_ps(k, big, k, one);
    const __m512 t = _mm512_div_ps(_mm512_sub_ps(m, one), _mm512_add_ps(m, one));
    const __m512 t2 = _mm512_mul_ps(t, t);
    __m512 p = _mm512_set1_ps(1.0f / 11);
    p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(1.0f / 9));
    p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(1.0f / 7));
    p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(1.0f / 5));
    p = _mm512_fmadd_ps(p, t2, _mm512_set1_ps(1.0f / 3));
    p = _mm512_fmadd_ps(p, t2, one);
    // 2.4 · log2 m = (2.4 · 2 / ln 2) · t · p
    const __m512 y_frac = _mm512_mul_ps(_mm512_mul_ps(t, p), _mm512_set1_ps(float(4.8 / 0.69314718055994530942)));
    const __m512 y = _mm512_fmadd_ps(k, _mm512_set1_ps(2.4f), y_frac);
    const __m512 n = _mm512_roundscale_ps(y, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    const __m512 f = _mm512_mul_ps(_mm512_sub_ps(y, n), _mm512_set1_ps(0.69314718f));  // 2^(y-n) = e^f
    __m512 q = _mm512_set1_ps(1.0f / 5040);
    q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(1.0f / 720));
    q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(1.0f / 120));
    q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(1.0f / 24));
    q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(1.0f / 6));
    q = _mm512_fmadd_ps(q, f, _mm512_set1_ps(0.5f));
    q = _mm512_fmadd_ps(q, f, one);
    q = _mm512_fmadd_ps(q, f, one);
    const __mmask16 nonzero = _mm512_cmp_ps_mask(e, _mm512_setzero_ps(), _CMP_GT_OQ);
    return _mm512_maskz_scalef_ps(nonzero, q, n);
}

// |Q(x) - x| per lane, with quantize_dequantize's operations in its order.
inline __m512 abs_error(__m512 x, __m512 scale, __m512 zero, __m512 lo, __m512 hi) {
    __m512 q = _mm512_add_ps(_mm512_roundscale_ps(_mm512_div_ps(x, scale), _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC), zero);
    q = _mm512_min_ps(_mm512_max_ps(q, lo), hi);
    const __m512 d = _mm512_sub_ps(_mm512_mul_ps(scale, _mm512_sub_ps(q, zero)), x);
    return _mm512_abs_ps(d);
}

inline __m512d add_halves(__m512d acc, __m512 t) {
    acc = _mm512_add_pd(acc, _mm512_cvtps_pd(_mm512_castps512_ps256(t)));
    return _mm512_add_pd(acc, _mm512_cvtps_pd(_mm256_castpd_ps(_mm512_extractf64x4_pd(_mm512_castps_pd(t), 1))));
}

}  // namespace

void approx_grid_errors(const float* x, int n, const QParams* grids, int count, const QuantSpec& s, double* out) {
    const __m512 lo = _mm512_set1_ps(float(qmin(s))), hi = _mm512_set1_ps(float(qmax(s)));
    const int tail = n % 16;
    const __mmask16 tail_mask = __mmask16((1u << tail) - 1);
    for (int k = 0; k < count; ++k) {
        const __m512 scale = _mm512_set1_ps(grids[k].scale), zero = _mm512_set1_ps(grids[k].zero);
        __m512d acc = _mm512_setzero_pd();
        int i = 0;
        for (; i + 16 <= n; i += 16) acc = add_halves(acc, pow_2_4(abs_error(_mm512_loadu_ps(x + i), scale, zero, lo, hi)));
        if (tail) {
            const __m512 e = abs_error(_mm512_maskz_loadu_ps(tail_mask, x + i), scale, zero, lo, hi);
            acc = add_halves(acc, _mm512_maskz_mov_ps(tail_mask, pow_2_4(e)));
        }
        out[k] = _mm512_reduce_add_pd(acc);
    }
}

float approx_pow_2_4(float e) {
    alignas(64) float v[16];
    _mm512_store_ps(v, pow_2_4(_mm512_set1_ps(std::fabs(e))));
    return v[0];
}

}  // namespace tameq

#if defined(__clang__)
#pragma clang attribute pop
#else
#pragma GCC diagnostic pop
#pragma GCC pop_options
#endif

namespace tameq {

bool have_approx_grid_errors() { return __builtin_cpu_supports("avx512f"); }

}  // namespace tameq
