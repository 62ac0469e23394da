#pragma once
// Per-path kernels behind attend_one.h (internal).
namespace tameq::kern {

// hd a multiple of 8.
void attend_one_query_avx2(const float* q, const float* k, int k_stride, const float* v, int v_stride, int len, int hd,
                           float scale, float* scores, float* out);

}  // namespace tameq::kern
