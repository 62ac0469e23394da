#pragma once
#include <vector>

#include "model/kv_cache.h"

namespace tameq {

// Causal multi-head attention with grouped KV heads over one layer of a cache.
// q: [n x n_heads*hd] for positions pos0..pos0+n-1; k/v: the layer's rows of positions 0..pos0+n-1, FP32
// (row stride n_kv_heads*hd) or codes, which are decoded one kv head at a time into a tile
// (scale · (code − zero), the simulated cache's values). out: [n x n_heads*hd]. `scratch` is grown as needed.
// window > 0: sliding-window attention, the query at position p sees keys p − window + 1 .. p (transformers'
// sliding_window); only the rows some query can see are read (and decoded), so decode costs O(window).
// scale: the factor of q·kᵀ (0: head_dim^-1/2); softcap > 0: scores become softcap · tanh(score / softcap) before
// the mask and softmax (Gemma 2's attn_logit_softcapping).
void causal_attention(const float* q, int n, int pos0, const KvRows& k, const KvRows& v, int n_heads, int n_kv_heads,
                      int hd, float* out, std::vector<float>& scratch, int window = 0, float scale = 0.0f,
                      float softcap = 0.0f);

}  // namespace tameq
