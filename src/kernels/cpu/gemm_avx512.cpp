// The AVX-512 VNNI path: vpdpbusd on zmm, 16 output channels per register. A tile is MR rows × NB
// blocks of accumulators (up to 6 × 4 = 24 zmm) over the whole K of one panel; each step loads NB
// weight vectors once and broadcasts 4 activation bytes per row, so weights are read once per MR rows.
#include <immintrin.h>

#include <cstring>

#include "kernels/cpu/gemm_paths.h"

#pragma GCC push_options
// GCC 12's avx512fintrin.h builds _mm512_undefined_*() from a self-initialised variable, which
// -Wuninitialized reports at every inlined use of srai/cvtepi32.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wuninitialized"
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#pragma GCC target("avx512f,avx512bw,avx512vl,avx512vnni,fma")

namespace tameq::kern {

namespace {

constexpr int max_rows = 6;

inline __m512i broadcast4(const uint8_t* p) {
    int32_t q;
    std::memcpy(&q, p, 4);
    return _mm512_set1_epi32(q);
}

// acc[i][j] = Σ_k a[i, k]·w[panel block j, k] over k < k_pad.
template <int MR, int NB, bool W4>
inline void tile(const uint8_t* a, int lda, const uint8_t* wp, int k_pad, __m512i (&acc)[MR][NB]) {
    for (int i = 0; i < MR; ++i)
        for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_setzero_si512();
    if constexpr (!W4) {
        for (int g = 0; g < k_pad / 4; ++g) {
            const uint8_t* wg = wp + static_cast<size_t>(g) * NB * 64;
            __m512i wv[NB];
            for (int j = 0; j < NB; ++j) wv[j] = _mm512_load_si512(wg + j * 64);
            for (int i = 0; i < MR; ++i) {
                __m512i av = broadcast4(a + static_cast<size_t>(i) * lda + 4 * g);
                for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], av, wv[j]);
            }
        }
    } else {
        // Each nibble is moved to the top of its byte, where as an s8 it reads 16·w exactly; the
        // accumulators hold 16× the product and one arithmetic shift at the end removes the factor.
        const __m512i top = _mm512_set1_epi8(static_cast<char>(0xF0));
        for (int g = 0; g < k_pad / 8; ++g) {
            const uint8_t* wg = wp + static_cast<size_t>(g) * NB * 64;
            __m512i wv[NB];
            for (int j = 0; j < NB; ++j) wv[j] = _mm512_and_si512(_mm512_slli_epi16(_mm512_load_si512(wg + j * 64), 4), top);
            for (int i = 0; i < MR; ++i) {
                __m512i av = broadcast4(a + static_cast<size_t>(i) * lda + 8 * g);
                for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], av, wv[j]);
            }
            for (int j = 0; j < NB; ++j) wv[j] = _mm512_and_si512(_mm512_load_si512(wg + j * 64), top);
            for (int i = 0; i < MR; ++i) {
                __m512i av = broadcast4(a + static_cast<size_t>(i) * lda + 8 * g + 4);
                for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], av, wv[j]);
            }
        }
        for (int i = 0; i < MR; ++i)
            for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_srai_epi32(acc[i][j], 4);
    }
}

template <int MR, int NB>
inline void store(const GemmTask& t, int i0, int n0, __m512i (&acc)[MR][NB]) {
    const PackedWeights& w = *t.w;
    for (int j = 0; j < NB; ++j) {
        int c0 = n0 + j * block_n;
        int left = w.n - c0;
        __mmask16 mask = left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
        if (t.c) {
            for (int i = 0; i < MR; ++i) _mm512_mask_storeu_epi32(t.c + static_cast<size_t>(i0 + i) * t.ldc + c0, mask, acc[i][j]);
            continue;
        }
        __m512i rs = _mm512_maskz_loadu_epi32(mask, w.row_sums.data() + c0);
        __m512 sw = _mm512_maskz_loadu_ps(mask, t.dq.scale_w + c0);
        __m512 bias = t.dq.bias ? _mm512_maskz_loadu_ps(mask, t.dq.bias + c0) : _mm512_setzero_ps();
        for (int i = 0; i < MR; ++i) {
            __m512i v = _mm512_sub_epi32(acc[i][j], _mm512_mullo_epi32(_mm512_set1_epi32(t.dq.zero_a[i0 + i]), rs));
            __m512 s = _mm512_mul_ps(_mm512_set1_ps(t.dq.scale_a[i0 + i]), sw);
            __m512 y = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(v), bias);
            _mm512_mask_storeu_ps(t.y + static_cast<size_t>(i0 + i) * t.ldc + c0, mask, y);
        }
    }
}

template <int MR, int NB, bool W4>
void run_tile(const GemmTask& t, int i0, int p) {
    __m512i acc[MR][NB];
    tile<MR, NB, W4>(t.a + static_cast<size_t>(i0) * t.lda, t.lda, t.w->panel(p), t.w->k_pad, acc);
    store<MR, NB>(t, i0, p * panel_n, acc);
}

template <int NB, bool W4>
void run_rows(const GemmTask& t, int i0, int rows, int p) {
    switch (rows) {
        case 1: return run_tile<1, NB, W4>(t, i0, p);
        case 2: return run_tile<2, NB, W4>(t, i0, p);
        case 3: return run_tile<3, NB, W4>(t, i0, p);
        case 4: return run_tile<4, NB, W4>(t, i0, p);
        case 5: return run_tile<5, NB, W4>(t, i0, p);
        default: return run_tile<6, NB, W4>(t, i0, p);
    }
}

template <bool W4>
void run_panel(const GemmTask& t, int p) {
    int nb = t.w->blocks_in_panel(p);
    for (int i0 = 0; i0 < t.m; i0 += max_rows) {
        int rows = t.m - i0 < max_rows ? t.m - i0 : max_rows;
        switch (nb) {
            case 1: run_rows<1, W4>(t, i0, rows, p); break;
            case 2: run_rows<2, W4>(t, i0, rows, p); break;
            case 3: run_rows<3, W4>(t, i0, rows, p); break;
            default: run_rows<4, W4>(t, i0, rows, p); break;
        }
    }
}

}  // namespace

void gemm_panels_avx512vnni(const GemmTask& t, int p0, int p1) {
    for (int p = p0; p < p1; ++p) {
        if (t.w->bits == 4) run_panel<true>(t, p);
        else run_panel<false>(t, p);
    }
}

}  // namespace tameq::kern

#pragma GCC diagnostic pop
#pragma GCC pop_options
