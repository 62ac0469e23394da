#pragma once
// Per-path kernels behind kv_codes.h (internal).
#include <cstdint>

namespace tameq::kern {

void kv_decode_rows_scalar(const uint8_t* codes, const float* scale, const uint8_t* zero, int stride, int rows,
                           int head_dim, int bits, float* out);
void kv_decode_rows_avx2(const uint8_t* codes, const float* scale, const uint8_t* zero, int stride, int rows,
                         int head_dim, int bits, float* out);

}  // namespace tameq::kern
