#pragma once
// v2 (lab only): the wgmma s8 GEMM, same contract as gemm_int8.h but k % 128 == 0, in four variants (the
// shared-memory layout and whether one wgmma group stays in flight) that the lab checks and times. Not
// promoted to src/cuda.
#include <cstdint>

#include "kernels/cuda/device.h"

struct LabWgmma {
    bool swizzle;   // 128-byte swizzled operand tiles instead of no-swizzle core matrices
    bool inflight;  // keep one k-tile's wgmma group in flight instead of draining every k-tile
};

bool lab_wgmma_supports(int n, int k);
void lab_wgmma_s8_s32(LabWgmma v, const int8_t* a, const int8_t* w, int32_t* acc, int m, int n, int k,
                      tameq::cuda::Stream s = nullptr);
void lab_wgmma_w8a8_bf16(LabWgmma v, const int8_t* a, const int8_t* w, const float* scale_a, const float* scale_w,
                         uint16_t* y, int m, int n, int k, tameq::cuda::Stream s = nullptr);
