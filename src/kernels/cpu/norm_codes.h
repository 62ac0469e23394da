#pragma once
// The norm that emits static activation codes (OutlierTune's pre-executed dequantization, and every recipe
// whose static steps are folded to 1 into the norm's affine terms and the readers' weight columns): RMSNorm or
// LayerNorm, the affine γ (+β), then round-to-nearest-even and clamp, in one pass, as u8 codes shifted by +128
// (zero point 128, step 1: the form gemm_u8_f32 takes). The codes are exactly those of the unfused path, the
// FP32 norm of model/ops.cpp followed by clamp(nearbyint(y), lo, hi): the norm's row statistics below are
// the ones ops.cpp uses, summed in the same order on every kernel path.
#include <cstdint>

namespace tameq::kern {

enum class RowNorm { rms, layer };

struct NormAffine {
    RowNorm kind = RowNorm::rms;
    const float* gamma = nullptr;  // [k]
    const float* beta = nullptr;   // [k], or null: no bias (plain RMSNorm)
    float eps = 1e-5f;
};

// RMSNorm's 1/sqrt(mean(x²) + eps) of one row, and LayerNorm's mean and 1/sqrt(var + eps): sums in double,
// in index order (float(1 / sqrt(var + eps)) for LayerNorm, 1.0f / sqrtf(float(ss / k) + eps) for RMSNorm, as
// transformers' float32 modules round them). The summation order is part of the result.
float rms_inv_scale(const float* x, int k, float eps);
void layer_norm_stats(const float* x, int k, float eps, float* mean, float* inv);

// x: [m x k] floats (row stride ldx). q: [m x k] codes (row stride ldq), each clamp(nearbyint(y), code_lo,
// code_hi) + 128 with y the norm's FP32 output; -128 <= code_lo <= 0 <= code_hi <= 127. Columns k..ldq-1 of q
// are left alone.
void norm_codes_u8(const float* x, int m, int k, int ldx, const NormAffine& norm, int code_lo, int code_hi, uint8_t* q,
                   int ldq);

}  // namespace tameq::kern
