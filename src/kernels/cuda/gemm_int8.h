#pragma once
// Our own integer tensor-core GEMMs (mma.sync m16n8k32 s8, sm_90a): W8A8 and W4A8 with int32 output or a
// fused per-token × per-channel dequant epilogue to bf16. The arithmetic is gemm_ref.h's contract.
//
// All pointers are device pointers, all matrices row-major: a [m x k] s8 activation codes, w [n x k] s8
// weight codes, w4 [n x k/2] int4 codes packed by pack_s4_gpu, acc / y [m x n], scale_a [m], scale_w [n],
// y in bf16 bits. Any m ≥ 1; k % 64 == 0 and n % 8 == 0 (checked: tameq::Error otherwise).
#include <cstdint>

#include "kernels/cuda/device.h"

namespace tameq::cuda {

void gemm_s8_s32(const int8_t* a, const int8_t* w, int32_t* acc, int m, int n, int k, Stream s = nullptr);
void gemm_w8a8_bf16(const int8_t* a, const int8_t* w, const float* scale_a, const float* scale_w, uint16_t* y,
                    int m, int n, int k, Stream s = nullptr);
void gemm_s4s8_s32(const int8_t* a, const uint8_t* w4, int32_t* acc, int m, int n, int k, Stream s = nullptr);
void gemm_w4a8_bf16(const int8_t* a, const uint8_t* w4, const float* scale_a, const float* scale_w, uint16_t* y,
                    int m, int n, int k, Stream s = nullptr);

// The same epilogue as a separate pass over int32 accumulators (for the cuBLASLt path); n % 2 == 0.
void dequant_bf16(const int32_t* acc, const float* scale_a, const float* scale_w, uint16_t* y, int m, int n,
                  Stream s = nullptr);

}  // namespace tameq::cuda
