#pragma once
// Kernel launchers (gemm_int8.cu), called by gemm_int8.cpp once it has checked the shapes.
#include <cstdint>

#include "kernels/cuda/device.h"

namespace tameq::cuda::detail {

// w is s8 [n x k] when w4 is false, packed int4 [n x k/2] when true; y == nullptr writes int32 to acc.
void launch_mma_gemm(const int8_t* a, const void* w, bool w4, const float* scale_a, const float* scale_w,
                     int32_t* acc, uint16_t* y, int m, int n, int k, Stream s);
void launch_dequant(const int32_t* acc, const float* scale_a, const float* scale_w, uint16_t* y, int m, int n,
                    Stream s);

}  // namespace tameq::cuda::detail
