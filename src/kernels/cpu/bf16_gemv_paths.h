#pragma once
// Per-path kernels behind bf16_gemv.h (internal): output rows [r0, r1).
#include <cstdint>

namespace tameq::kern {

void bf16_gemv_rows_scalar(const float* x, int n, const uint16_t* w, int out, int in, const float* bias, float* y,
                           int r0, int r1);
void bf16_gemv_rows_avx2(const float* x, int n, const uint16_t* w, int out, int in, const float* bias, float* y,
                         int r0, int r1);

}  // namespace tameq::kern
