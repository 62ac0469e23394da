#pragma once
// Decode attention for one query row of one head: out[hd] = softmax(scale · q·Kᵀ) · V over `len` cached rows.
// At M = 1 the two products are a GEMV each; calling sgemm for them per head cost more in call overhead and
// scalar exp than the arithmetic (a third of a decode step on gut-llama-27m).
namespace tameq::kern {

// k/v: row j at k + j·k_stride (floats); scores: len floats of scratch; out: hd floats.
void attend_one_query(const float* q, const float* k, int k_stride, const float* v, int v_stride, int len, int hd,
                      float scale, float* scores, float* out);

// The scalar oracle: the same three steps with std::exp, in index order.
void attend_one_query_scalar(const float* q, const float* k, int k_stride, const float* v, int v_stride, int len,
                             int hd, float scale, float* scores, float* out);

}  // namespace tameq::kern
