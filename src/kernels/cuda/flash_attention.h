#pragma once
// A tensor-core causal attention for prefill (FlashAttention-2's schedule on mma.sync): the CUDA engine's
// attention for chunks of many rows, beside causal_attention (llama_ops.h), which stays the kernel for decode
// rows and the fp32 oracle this one is tested against (tests/test_cuda_ops.cpp). No CUDA headers here.
#include "kernels/cuda/device.h"

namespace tameq::cuda {

// Whether flash_attention runs this head size (the kernel is compiled per size).
bool flash_attention_supports(int head_dim);

// The function of causal_attention with bf16 tensor-core products: q [n x n_heads·hd] (fp32) for positions
// pos0..pos0+n−1, k and v the fp32 cache [pos0+n x n_kv_heads·hd], out [n x n_heads·hd] (fp32). q, k, v and the
// softmax weights are rounded to bf16 for the two products; the scores, the online softmax and the output
// accumulate in fp32. n_heads a multiple of n_kv_heads (GQA), head_dim one that flash_attention_supports.
void flash_attention(const float* q, const float* k, const float* v, int n, int pos0, int n_heads, int n_kv_heads,
                     int head_dim, float* out, Stream s = nullptr);

}  // namespace tameq::cuda
