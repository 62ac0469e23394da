#pragma once
// y = x · Wᵀ for a few rows of x against weights stored as bfloat16 (the upper half of an fp32). Every product
// is x · float(w), the FP32 product with the bf16 weight, so only the summation order differs between paths.
// This is the decode-time lm_head: at M = 1 it streams half the bytes of an FP32 matrix.
#include <cstdint>

namespace tameq::kern {

// Rows of x a GEMV call takes; larger batches go through an FP32 GEMM on converted weight blocks.
constexpr int kBf16GemvMaxRows = 4;

// y[n x out] = x[n x in] · Wᵀ (+ bias[out] when not null), W [out x in] bf16 row-major, n <= kBf16GemvMaxRows.
// Output rows are split over the kernel thread pool.
void bf16_gemv(const float* x, int n, const uint16_t* w, int out, int in, const float* bias, float* y);

// The scalar oracle (one output element per float accumulator, in order of k), on the caller's thread.
void bf16_gemv_scalar(const float* x, int n, const uint16_t* w, int out, int in, const float* bias, float* y);

}  // namespace tameq::kern
