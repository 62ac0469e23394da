#pragma once
// The per-path panel kernels behind gemm.h (internal). Each computes output panels [p0, p1) (64
// channels each) for all m rows, reading A up to w.k_pad bytes per row.
#include <cmath>
#include <cstdint>

#include "kernels/cpu/gemm.h"

namespace tameq::kern {

struct GemmTask {
    const uint8_t* a;
    int m, lda;
    const PackedWeights* w;
    int32_t* c;  // raw accumulators, or null when y is set
    float* y;    // dequantized output
    int ldc;     // row stride of c or y
    Dequant dq;
    bool grouped;  // per-group weight scales (y only; scalar and AVX-512 paths)
};

void gemm_panels_scalar(const GemmTask& t, int p0, int p1);
void gemm_panels_avx2(const GemmTask& t, int p0, int p1);
void gemm_panels_avxvnni(const GemmTask& t, int p0, int p1);
void gemm_panels_avx512vnni(const GemmTask& t, int p0, int p1);

// The grouped epilogue's step for group g of output (i, j): f = fma(scale_w[g, j], float(acc − za·gsum), f).
inline float group_step(const Dequant& dq, const PackedWeights& w, int i, int j, int g, int32_t acc, float f) {
    size_t at = static_cast<size_t>(g) * w.n + j;
    return std::fma(dq.scale_w[at], static_cast<float>(acc - dq.zero_a[i] * w.group_sums[at]), f);
}

// The epilogue of one output; the SIMD epilogues do the same three roundings (int→float, product of
// scales, one fma) so every path gives the same bits.
inline float dequant_one(const Dequant& dq, const PackedWeights& w, int i, int j, int32_t acc) {
    int32_t v = acc - dq.zero_a[i] * w.row_sums[j];
    return std::fma(dq.scale_a[i] * dq.scale_w[j], static_cast<float>(v), dq.bias ? dq.bias[j] : 0.0f);
}

}  // namespace tameq::kern
