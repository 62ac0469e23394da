#pragma once
// Per-path pieces of norm_codes.h (internal): the rows' statistics, then the codes of one row given them.
#include <algorithm>
#include <cmath>
#include <cstdint>

#include "kernels/cpu/norm_codes.h"

namespace tameq::kern {

// mean (LayerNorm only; left alone for RMSNorm) and inv of rows 0..m-1, as rms_inv_scale / layer_norm_stats.
void norm_stats_scalar(const float* x, int m, int k, int ldx, const NormAffine& norm, float* mean, float* inv);
// The same sums in the same order, four rows per 256-bit lane group (the order within each row is unchanged).
void norm_stats_avx2(const float* x, int m, int k, int ldx, const NormAffine& norm, float* mean, float* inv);

void norm_codes_row_scalar(const float* x, int k, const NormAffine& norm, float mean, float inv, int code_lo, int code_hi,
                           uint8_t* q);
void norm_codes_row_avx2(const float* x, int k, const NormAffine& norm, float mean, float inv, int code_lo, int code_hi,
                         uint8_t* q);
void norm_codes_row_avx512(const float* x, int k, const NormAffine& norm, float mean, float inv, int code_lo,
                           int code_hi, uint8_t* q);

// The norm's FP32 output at column j, in ops.cpp's order of operations: (x·inv)·γ (+β) for RMSNorm,
// ((x − mean)·inv)·γ + β for LayerNorm. The SIMD paths repeat these operations lane by lane (no FMA).
inline float norm_value(float x, int j, const NormAffine& norm, float mean, float inv) {
    float y = norm.kind == RowNorm::layer ? (x - mean) * inv * norm.gamma[j] : x * inv * norm.gamma[j];
    if (norm.beta) y += norm.beta[j];
    return y;
}

inline uint8_t static_code(float y, int code_lo, int code_hi) {
    return static_cast<uint8_t>(
        static_cast<int>(std::clamp(std::nearbyint(y), static_cast<float>(code_lo), static_cast<float>(code_hi))) + 128);
}

}  // namespace tameq::kern
