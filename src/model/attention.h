#pragma once
#include <vector>

#include "model/kv_cache.h"

namespace tameq {

// Causal multi-head attention with grouped KV heads over one layer of a cache.
// q: [n x n_heads*hd] for positions pos0..pos0+n-1; k/v: the layer's rows of positions 0..pos0+n-1, FP32
// (row stride n_kv_heads*hd) or codes, which are decoded one kv head at a time into a [len x hd] tile
// (scale · (code − zero), the simulated cache's values). out: [n x n_heads*hd]. `scratch` is grown as needed.
void causal_attention(const float* q, int n, int pos0, const KvRows& k, const KvRows& v, int n_heads, int n_kv_heads,
                      int hd, float* out, std::vector<float>& scratch);

}  // namespace tameq
