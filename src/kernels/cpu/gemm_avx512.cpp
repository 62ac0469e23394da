// The AVX-512 VNNI path: vpdpbusd on zmm, 16 output channels per register. A tile is MR rows × NB
// blocks of accumulators (up to 6 × 4 = 24 zmm); each K step loads NB weight vectors once and
// broadcasts 4 activation bytes per row. Up to 6 rows run one tile over the panel's whole K (GEMV);
// more rows run K blocks outermost (run_panel), per-group scales run groups outermost (run_panel_grouped).
#include <immintrin.h>

#include <algorithm>
#include <cstring>
#include <type_traits>
#include <vector>

#include "kernels/cpu/gemm_paths.h"
#include "kernels/cpu/target.h"

TAMEQ_TARGET_BEGIN("avx512f,avx512bw,avx512vl,avx512vnni,fma")

namespace tameq::kern {

namespace {

constexpr int max_rows = 6;
// Bytes of K per block when M spans several row tiles: a 64-channel s8 sub-panel is then 16 KiB and
// stays in L1 while every row tile passes over it (the whole panel, K bytes × 64, would not).
constexpr int k_block = 256;

inline __m512i broadcast4(const uint8_t* p) {
    int32_t q;
    std::memcpy(&q, p, 4);
    return _mm512_set1_epi32(q);
}

// Every loop over rows and blocks carries an unroll pragma: fully unrolled, GCC keeps each
// accumulator in a register across the K loop; otherwise it round-trips them through the stack.

// acc[i][j] += Σ_k a[i, k]·w[block j, k] over `steps` steps of the panel layout (4 k for s8, 8 for s4).
// s4 accumulates 16× the product: each nibble is moved to the top of its byte, where as an s8 it
// reads 16·w exactly, so no sign extension is needed; the caller shifts the factor out at the end.
template <int MR, int NB, bool W4>
inline void accumulate(const uint8_t* a, int lda, const uint8_t* wp, int steps, __m512i (&acc)[MR][NB]) {
    if constexpr (!W4) {
        for (int g = 0; g < steps; ++g) {
            const uint8_t* wg = wp + static_cast<size_t>(g) * NB * 64;
            __m512i wv[NB];
#pragma GCC unroll 8
            for (int j = 0; j < NB; ++j) wv[j] = _mm512_load_si512(wg + j * 64);
#pragma GCC unroll 8
            for (int i = 0; i < MR; ++i) {
                __m512i av = broadcast4(a + static_cast<size_t>(i) * lda + 4 * g);
#pragma GCC unroll 8
                for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], av, wv[j]);
            }
        }
    } else {
        const __m512i top = _mm512_set1_epi8(static_cast<char>(0xF0));
        for (int g = 0; g < steps; ++g) {
            const uint8_t* wg = wp + static_cast<size_t>(g) * NB * 64;
            __m512i wv[NB];
#pragma GCC unroll 8
            for (int j = 0; j < NB; ++j) wv[j] = _mm512_and_si512(_mm512_slli_epi16(_mm512_load_si512(wg + j * 64), 4), top);
#pragma GCC unroll 8
            for (int i = 0; i < MR; ++i) {
                __m512i av = broadcast4(a + static_cast<size_t>(i) * lda + 8 * g);
#pragma GCC unroll 8
                for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], av, wv[j]);
            }
#pragma GCC unroll 8
            for (int j = 0; j < NB; ++j) wv[j] = _mm512_and_si512(_mm512_load_si512(wg + j * 64), top);
#pragma GCC unroll 8
            for (int i = 0; i < MR; ++i) {
                __m512i av = broadcast4(a + static_cast<size_t>(i) * lda + 8 * g + 4);
#pragma GCC unroll 8
                for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_dpbusd_epi32(acc[i][j], av, wv[j]);
            }
        }
    }
}

// Writes rows [i0, i0 + MR) × blocks of panel p: raw accumulators or the dequantizing epilogue.
template <int MR, int NB>
inline void store(const GemmTask& t, int i0, int p, bool w4, __m512i (&acc)[MR][NB]) {
    const PackedWeights& w = *t.w;
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) {
        int c0 = p * panel_n + j * block_n;
        int left = w.n - c0;
        __mmask16 mask = left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
        if (w4) {
#pragma GCC unroll 8
            for (int i = 0; i < MR; ++i) acc[i][j] = _mm512_srai_epi32(acc[i][j], 4);
        }
        if (t.c) {
#pragma GCC unroll 8
            for (int i = 0; i < MR; ++i) _mm512_mask_storeu_epi32(t.c + static_cast<size_t>(i0 + i) * t.ldc + c0, mask, acc[i][j]);
            continue;
        }
        __m512i rs = _mm512_maskz_loadu_epi32(mask, w.row_sums.data() + c0);
        __m512 sw = _mm512_maskz_loadu_ps(mask, t.dq.scale_w + c0);
        __m512 bias = t.dq.bias ? _mm512_maskz_loadu_ps(mask, t.dq.bias + c0) : _mm512_setzero_ps();
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) {
            __m512i v = _mm512_sub_epi32(acc[i][j], _mm512_mullo_epi32(_mm512_set1_epi32(t.dq.zero_a[i0 + i]), rs));
            __m512 s = _mm512_mul_ps(_mm512_set1_ps(t.dq.scale_a[i0 + i]), sw);
            __m512 y = _mm512_fmadd_ps(s, _mm512_cvtepi32_ps(v), bias);
            _mm512_mask_storeu_ps(t.y + static_cast<size_t>(i0 + i) * t.ldc + c0, mask, y);
        }
    }
}

// Few rows (decode, GEMV): one pass over the panel's whole K, s4 unpacked in registers.
template <int MR, int NB, bool W4>
void direct_tile(const GemmTask& t, int i0, int p) {
    __m512i acc[MR][NB];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
        for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_setzero_si512();
    accumulate<MR, NB, W4>(t.a + static_cast<size_t>(i0) * t.lda, t.lda, t.w->panel(p), t.w->k_pad / (W4 ? 8 : 4), acc);
    store<MR, NB>(t, i0, p, W4, acc);
}

// One K block of one row tile; partial sums wait in `partial` ([row][block][16] int32) between blocks.
template <int MR, int NB>
void blocked_tile(const GemmTask& t, int i0, int p, const uint8_t* wsub, int kb, int steps, bool first, bool last, bool w4,
                  int32_t* partial) {
    __m512i acc[MR][NB];
    int32_t* part = partial + static_cast<size_t>(i0) * NB * 16;
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
        for (int j = 0; j < NB; ++j) acc[i][j] = first ? _mm512_setzero_si512() : _mm512_loadu_si512(part + (i * NB + j) * 16);
    accumulate<MR, NB, false>(t.a + static_cast<size_t>(i0) * t.lda + kb, t.lda, wsub, steps, acc);
    if (last) return store<MR, NB>(t, i0, p, w4, acc);
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
        for (int j = 0; j < NB; ++j) _mm512_storeu_si512(part + (i * NB + j) * 16, acc[i][j]);
}

// s4 steps [s0, s0 + steps) of a panel of NB blocks → the s8 layout, as 16·w, into out.
void unpack_s4_block(const uint8_t* panel, int nb, int s0, int steps, uint8_t* out) {
    const __m512i top = _mm512_set1_epi8(static_cast<char>(0xF0));
    for (int s = 0; s < steps; ++s)
        for (int j = 0; j < nb; ++j) {
            __m512i x = _mm512_load_si512(panel + (static_cast<size_t>(s0 + s) * nb + j) * 64);
            _mm512_store_si512(out + (static_cast<size_t>(2 * s) * nb + j) * 64, _mm512_and_si512(_mm512_slli_epi16(x, 4), top));
            _mm512_store_si512(out + (static_cast<size_t>(2 * s + 1) * nb + j) * 64, _mm512_and_si512(x, top));
        }
}

// One aligned zmm worth of bytes (std::vector honours the alignment of its element type).
struct alignas(64) Line {
    uint8_t bytes[64];
};

template <typename F>
void with_rows(int rows, F&& f) {
    switch (rows) {
        case 1: return f(std::integral_constant<int, 1>{});
        case 2: return f(std::integral_constant<int, 2>{});
        case 3: return f(std::integral_constant<int, 3>{});
        case 4: return f(std::integral_constant<int, 4>{});
        case 5: return f(std::integral_constant<int, 5>{});
        default: return f(std::integral_constant<int, 6>{});
    }
}

template <typename F>
void with_blocks(int nb, F&& f) {
    switch (nb) {
        case 1: return f(std::integral_constant<int, 1>{});
        case 2: return f(std::integral_constant<int, 2>{});
        case 3: return f(std::integral_constant<int, 3>{});
        default: return f(std::integral_constant<int, 4>{});
    }
}

template <bool W4>
void run_panel(const GemmTask& t, int p) {
    const PackedWeights& w = *t.w;
    int nb = w.blocks_in_panel(p);
    if (t.m <= max_rows) {
        return with_blocks(nb, [&](auto NB) { with_rows(t.m, [&](auto MR) { direct_tile<MR(), NB(), W4>(t, 0, p); }); });
    }
    // Many rows: K blocks outermost so each weight sub-panel is loaded into L1 once for all row tiles;
    // s4 is unpacked once per block instead of once per row tile.
    thread_local std::vector<int32_t> partial;
    thread_local std::vector<Line> unpacked;
    partial.resize(static_cast<size_t>(t.m) * nb * 16);
    if (W4) unpacked.resize(static_cast<size_t>(k_block) / 4 * nb);
    for (int kb = 0; kb < w.k_pad; kb += k_block) {
        int len = std::min(k_block, w.k_pad - kb);
        const uint8_t* wsub = w.panel(p) + static_cast<size_t>(kb) / 4 * nb * 64;
        if (W4) {
            unpack_s4_block(w.panel(p), nb, kb / 8, len / 8, unpacked.data()->bytes);
            wsub = unpacked.data()->bytes;
        }
        bool first = kb == 0, last = kb + len >= w.k_pad;
        with_blocks(nb, [&](auto NB) {
            for (int i0 = 0; i0 < t.m; i0 += max_rows)
                with_rows(std::min(max_rows, t.m - i0), [&](auto MR) {
                    blocked_tile<MR(), NB()>(t, i0, p, wsub, kb, len / 4, first, last, W4, partial.data());
                });
        });
    }
}

// Per-group scales: one group of one row tile, reading the group's weights at wg in the s8 layout
// (packed s4 when W4). shift: the weights are 16·w (s4, in registers or unpacked), so the group's
// sum is shifted right by 4. The float partial sums f wait in `partial` between groups.
template <int MR, int NB, bool W4>
void group_tile(const GemmTask& t, int i0, int p, int g, const uint8_t* wg, bool shift, float* partial) {
    const PackedWeights& w = *t.w;
    __m512i acc[MR][NB];
#pragma GCC unroll 8
    for (int i = 0; i < MR; ++i)
#pragma GCC unroll 8
        for (int j = 0; j < NB; ++j) acc[i][j] = _mm512_setzero_si512();
    accumulate<MR, NB, W4>(t.a + static_cast<size_t>(i0) * t.lda + static_cast<size_t>(g) * w.group, t.lda, wg,
                           w.group / (W4 ? 8 : 4), acc);
    bool first = g == 0, last = g == w.k / w.group - 1;
#pragma GCC unroll 8
    for (int j = 0; j < NB; ++j) {
        int c0 = p * panel_n + j * block_n;
        int left = w.n - c0;
        __mmask16 mask = left >= 16 ? static_cast<__mmask16>(0xFFFF) : static_cast<__mmask16>((1u << left) - 1);
        size_t at = static_cast<size_t>(g) * w.n + c0;
        __m512i gs = _mm512_maskz_loadu_epi32(mask, w.group_sums.data() + at);
        __m512 sw = _mm512_maskz_loadu_ps(mask, t.dq.scale_w + at);
        __m512 bias = t.dq.bias ? _mm512_maskz_loadu_ps(mask, t.dq.bias + c0) : _mm512_setzero_ps();
#pragma GCC unroll 8
        for (int i = 0; i < MR; ++i) {
            __m512i v = shift ? _mm512_srai_epi32(acc[i][j], 4) : acc[i][j];
            v = _mm512_sub_epi32(v, _mm512_mullo_epi32(_mm512_set1_epi32(t.dq.zero_a[i0 + i]), gs));
            float* part = partial + (static_cast<size_t>(i0 + i) * NB + j) * 16;
            __m512 f = _mm512_fmadd_ps(sw, _mm512_cvtepi32_ps(v), first ? _mm512_setzero_ps() : _mm512_loadu_ps(part));
            if (!last) {
                _mm512_storeu_ps(part, f);
                continue;
            }
            __m512 y = _mm512_fmadd_ps(_mm512_set1_ps(t.dq.scale_a[i0 + i]), f, bias);
            _mm512_mask_storeu_ps(t.y + static_cast<size_t>(i0 + i) * t.ldc + c0, mask, y);
        }
    }
}

// Groups outermost, so each group's weights (group × 64 channels) stay in L1 while the row tiles pass
// over them; with several row tiles, s4 groups are unpacked once into an L1 buffer as in run_panel.
template <bool W4>
void run_panel_grouped(const GemmTask& t, int p) {
    const PackedWeights& w = *t.w;
    int nb = w.blocks_in_panel(p);
    int steps = w.group / (W4 ? 8 : 4);
    bool unpack = W4 && t.m > max_rows;
    thread_local std::vector<float> partial;
    thread_local std::vector<Line> unpacked;
    partial.resize(static_cast<size_t>(t.m) * nb * 16);
    if (unpack) unpacked.resize(static_cast<size_t>(w.group) / 4 * nb);
    with_blocks(nb, [&](auto NB) {
        for (int g = 0; g < w.k / w.group; ++g) {
            const uint8_t* wg = w.panel(p) + static_cast<size_t>(g) * steps * nb * 64;
            if (unpack) {
                unpack_s4_block(w.panel(p), nb, g * steps, steps, unpacked.data()->bytes);
                wg = unpacked.data()->bytes;
            }
            for (int i0 = 0; i0 < t.m; i0 += max_rows)
                with_rows(std::min(max_rows, t.m - i0), [&](auto MR) {
                    if (W4 && !unpack) group_tile<MR(), NB(), true>(t, i0, p, g, wg, true, partial.data());
                    else group_tile<MR(), NB(), false>(t, i0, p, g, wg, W4, partial.data());
                });
        }
    });
}

}  // namespace

void gemm_panels_avx512vnni(const GemmTask& t, int p0, int p1) {
    for (int p = p0; p < p1; ++p) {
        bool w4 = t.w->bits == 4;
        if (t.grouped) w4 ? run_panel_grouped<true>(t, p) : run_panel_grouped<false>(t, p);
        else w4 ? run_panel<true>(t, p) : run_panel<false>(t, p);
    }
}

}  // namespace tameq::kern

TAMEQ_TARGET_END
