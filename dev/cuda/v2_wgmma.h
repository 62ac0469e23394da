#pragma once
// v2 (lab only): the wgmma s8 GEMM, same contract as gemm_int8.h but k % 128 == 0. Not promoted to
// src/cuda until the lab has checked and timed it on a GPU.
#include <cstdint>

#include "cuda/device.h"

bool lab_wgmma_supports(int n, int k);
void lab_wgmma_s8_s32(const int8_t* a, const int8_t* w, int32_t* acc, int m, int n, int k, tameq::cuda::Stream s = nullptr);
void lab_wgmma_w8a8_bf16(const int8_t* a, const int8_t* w, const float* scale_a, const float* scale_w, uint16_t* y,
                         int m, int n, int k, tameq::cuda::Stream s = nullptr);
