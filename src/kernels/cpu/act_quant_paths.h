#pragma once
// Per-row kernels behind act_quant.h (internal).
#include <cstdint>

#include "numerics/quantizer.h"

namespace tameq::kern {

// The grid find_qparams gives a row whose range is [lo, hi] (lo <= 0 <= hi).
QParams row_grid(float lo, float hi, const QuantSpec& spec);

void quantize_row_scalar(const float* x, int k, const QuantSpec& spec, uint8_t* q, float* scale, int32_t* zero);
void quantize_row_avx2(const float* x, int k, const QuantSpec& spec, uint8_t* q, float* scale, int32_t* zero);
void quantize_row_avx512(const float* x, int k, const QuantSpec& spec, uint8_t* q, float* scale, int32_t* zero);

}  // namespace tameq::kern
