// The norm's row statistics and its codes with AVX2, for the avx2 and avxvnni paths (the statistics also for
// avx512vnni). Statistics: the double sums of norm_codes.cpp run down four rows at once, one row per 64-bit
// lane, column by column, so each row's sum is added in index order exactly as the scalar loop adds it (two
// groups of four rows interleave to hide the add latency). Codes: ops.cpp's float operations lane by lane
// (sub, mul, mul, add: no FMA, which the "avx2" target does not enable), round to nearest-even, clamp.
#include <immintrin.h>

#include <cmath>

#include "kernels/cpu/norm_codes_paths.h"
#include "kernels/cpu/target.h"

TAMEQ_TARGET_BEGIN("avx2")

namespace tameq::kern {

namespace {

// What each column adds to a row's sum: x², x, or (x − mean)² (mean per lane).
enum class Term { square, value, centered_square };

template <Term T>
inline __m256d term(__m256d v, __m256d mu) {
    if constexpr (T == Term::square) return _mm256_mul_pd(v, v);
    if constexpr (T == Term::value) return v;
    const __m256d d = _mm256_sub_pd(v, mu);
    return _mm256_mul_pd(d, d);
}

// acc[g] lane l += term(x[rows[4g + l]][j]) for j = 0 .. k-1 in order, x widened to double.
template <int G, Term T>
void sum_columns(const float* const* rows, int k, const __m256d* mu, __m256d* acc) {
    for (int g = 0; g < G; ++g) acc[g] = _mm256_setzero_pd();
    const int body = k / 4 * 4;
    for (int j = 0; j < body; j += 4) {
        for (int g = 0; g < G; ++g) {
            __m128 c0 = _mm_loadu_ps(rows[4 * g] + j), c1 = _mm_loadu_ps(rows[4 * g + 1] + j);
            __m128 c2 = _mm_loadu_ps(rows[4 * g + 2] + j), c3 = _mm_loadu_ps(rows[4 * g + 3] + j);
            _MM_TRANSPOSE4_PS(c0, c1, c2, c3);  // c_t = column j + t of the four rows
            acc[g] = _mm256_add_pd(acc[g], term<T>(_mm256_cvtps_pd(c0), mu[g]));
            acc[g] = _mm256_add_pd(acc[g], term<T>(_mm256_cvtps_pd(c1), mu[g]));
            acc[g] = _mm256_add_pd(acc[g], term<T>(_mm256_cvtps_pd(c2), mu[g]));
            acc[g] = _mm256_add_pd(acc[g], term<T>(_mm256_cvtps_pd(c3), mu[g]));
        }
    }
    for (int j = body; j < k; ++j)
        for (int g = 0; g < G; ++g) {
            const __m128 c = _mm_set_ps(rows[4 * g + 3][j], rows[4 * g + 2][j], rows[4 * g + 1][j], rows[4 * g][j]);
            acc[g] = _mm256_add_pd(acc[g], term<T>(_mm256_cvtps_pd(c), mu[g]));
        }
}

// Statistics of the 4·G rows starting at x (row stride ldx) into mean[0 .. 4G) and inv[0 .. 4G).
template <int G>
void stats_block(const float* x, int k, int ldx, const NormAffine& norm, float* mean, float* inv) {
    const float* rows[4 * G];
    for (int r = 0; r < 4 * G; ++r) rows[r] = x + size_t(r) * ldx;
    __m256d acc[G], mu[G];
    for (int g = 0; g < G; ++g) mu[g] = _mm256_setzero_pd();
    alignas(32) double lane[4 * G];
    if (norm.kind == RowNorm::rms) {
        sum_columns<G, Term::square>(rows, k, mu, acc);
        for (int g = 0; g < G; ++g) _mm256_store_pd(lane + 4 * g, acc[g]);
        for (int r = 0; r < 4 * G; ++r) inv[r] = 1.0f / std::sqrt(float(lane[r] / k) + norm.eps);
        return;
    }
    sum_columns<G, Term::value>(rows, k, mu, acc);
    for (int g = 0; g < G; ++g) _mm256_store_pd(lane + 4 * g, acc[g]);
    for (int r = 0; r < 4 * G; ++r) lane[r] /= k;
    for (int g = 0; g < G; ++g) mu[g] = _mm256_load_pd(lane + 4 * g);
    for (int r = 0; r < 4 * G; ++r) mean[r] = float(lane[r]);
    sum_columns<G, Term::centered_square>(rows, k, mu, acc);
    for (int g = 0; g < G; ++g) _mm256_store_pd(lane + 4 * g, acc[g]);
    for (int r = 0; r < 4 * G; ++r) inv[r] = float(1.0 / std::sqrt(lane[r] / k + double(norm.eps)));
}

template <bool Layer, bool Bias>
void codes_row(const float* x, int k, const NormAffine& norm, float mean, float inv, int code_lo, int code_hi,
               uint8_t* q) {
    const int body = k / 8 * 8;
    const __m256 vmean = _mm256_set1_ps(mean), vinv = _mm256_set1_ps(inv);
    const __m256 lo = _mm256_set1_ps(float(code_lo)), hi = _mm256_set1_ps(float(code_hi));
    const __m256i shift = _mm256_set1_epi32(128);
    for (int j = 0; j < body; j += 8) {
        __m256 v = _mm256_loadu_ps(x + j);
        if constexpr (Layer) v = _mm256_sub_ps(v, vmean);
        v = _mm256_mul_ps(_mm256_mul_ps(v, vinv), _mm256_loadu_ps(norm.gamma + j));
        if constexpr (Bias) v = _mm256_add_ps(v, _mm256_loadu_ps(norm.beta + j));
        v = _mm256_round_ps(v, _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
        v = _mm256_min_ps(_mm256_max_ps(v, lo), hi);
        const __m256i c = _mm256_add_epi32(_mm256_cvtps_epi32(v), shift);
        const __m128i c16 = _mm_packus_epi32(_mm256_castsi256_si128(c), _mm256_extracti128_si256(c, 1));
        _mm_storel_epi64(reinterpret_cast<__m128i*>(q + j), _mm_packus_epi16(c16, c16));
    }
    for (int j = body; j < k; ++j) q[j] = static_code(norm_value(x[j], j, norm, mean, inv), code_lo, code_hi);
}

}  // namespace

void norm_stats_avx2(const float* x, int m, int k, int ldx, const NormAffine& norm, float* mean, float* inv) {
    int i = 0;
    for (; i + 8 <= m; i += 8) stats_block<2>(x + size_t(i) * ldx, k, ldx, norm, mean + i, inv + i);
    for (; i + 4 <= m; i += 4) stats_block<1>(x + size_t(i) * ldx, k, ldx, norm, mean + i, inv + i);
    norm_stats_scalar(x + size_t(i) * ldx, m - i, k, ldx, norm, mean + i, inv + i);
}

void norm_codes_row_avx2(const float* x, int k, const NormAffine& norm, float mean, float inv, int code_lo, int code_hi,
                         uint8_t* q) {
    const bool layer = norm.kind == RowNorm::layer, bias = norm.beta != nullptr;
    if (layer && bias) codes_row<true, true>(x, k, norm, mean, inv, code_lo, code_hi, q);
    else if (layer) codes_row<true, false>(x, k, norm, mean, inv, code_lo, code_hi, q);
    else if (bias) codes_row<false, true>(x, k, norm, mean, inv, code_lo, code_hi, q);
    else codes_row<false, false>(x, k, norm, mean, inv, code_lo, code_hi, q);
}

}  // namespace tameq::kern

TAMEQ_TARGET_END
