#pragma once
#include <vector>

namespace tameq {

// Causal multi-head attention with grouped KV heads over a cache.
// q: [n x n_heads*hd] for positions pos0..pos0+n-1; k/v: the cache rows of positions 0..pos0+n-1,
// row stride kv_dim. out: [n x n_heads*hd]. `scores` is scratch, grown as needed.
void causal_attention(const float* q, int n, int pos0, const float* k, const float* v, int n_heads, int n_kv_heads,
                      int hd, float* out, std::vector<float>& scores);

}  // namespace tameq
