#pragma once
// Dynamic per-token activation quantization for the integer GEMM: float rows → u8 codes, one scale and
// zero point per row. The codes are exactly quantize_code(x, find_qparams(row, spec), spec) of
// quant/quantizer.h for spec = QuantSpec{bits, symmetric, PerRow} (no clipping, no MSE search), so the
// integer engine sees the codes the simulated one does.
#include <cstdint>

namespace tameq::kern {

// x: [m x k] floats (row stride ldx). q: [m x k] u8 codes (row stride ldq); scale, zero: m entries.
// Asymmetric grids give codes in [0, 2^bits − 1] and their zero point; symmetric grids give the s8
// codes shifted by +128 and zero = 128, the form gemm_u8_f32 takes. bits in 2..8.
void quantize_rows_u8(const float* x, int m, int k, int ldx, int bits, bool symmetric, uint8_t* q, int ldq,
                      float* scale, int32_t* zero);

// The same after the orthonormal Walsh–Hadamard transform of each row (numerics/hadamard.h
// fwht_rows, so k must be a supported size), fused: one pass over x, which is left unchanged.
// block > 0: the block-diagonal transform I ⊗ H_block/√block instead (fwht_row_blocks; a power of two
// dividing k); the codes and grid are still per whole row.
void hadamard_quantize_rows_u8(const float* x, int m, int k, int ldx, int bits, bool symmetric, uint8_t* q, int ldq,
                               float* scale, int32_t* zero, int block = 0);

}  // namespace tameq::kern
