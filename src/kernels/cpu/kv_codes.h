#pragma once
// Codes of the quantized KV cache (numerics/schemes.h, kKvFormats): one head row of head_dim values on an
// asymmetric grid, stored 4-bit packed (bits <= 4; byte i holds dim i in its low nibble and dim i + head_dim/2
// in its high one, so a vector of bytes unpacks to two contiguous runs) or one byte per value.
#include <cstddef>
#include <cstdint>

#include "numerics/quantizer.h"
#include "numerics/schemes.h"

namespace tameq::kern {

using ::tameq::kv_row_bytes;

// quantize_code of every value of x [head_dim] on grid p, packed into out [kv_row_bytes].
void kv_encode_row(const float* x, int head_dim, const QuantSpec& spec, QParams p, uint8_t* out);

// Dequantizes `rows` head rows into out [rows x head_dim]: row r's codes start at codes + r·stride·row_bytes
// and its grid is scale[r·stride], zero[r·stride] (stride = n_kv_heads walks one head over positions).
// Values are scale · (code − zero), as dequantize_code computes them, on every path.
void kv_decode_rows(const uint8_t* codes, const float* scale, const uint8_t* zero, int stride, int rows, int head_dim,
                    int bits, float* out);

}  // namespace tameq::kern
