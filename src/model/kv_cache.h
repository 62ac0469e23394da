#pragma once
// Per-layer key/value cache, [layer][position][kv_heads * head_dim] in FP32. A policy may transform the
// rows as they are written (simulated KV quantization); attention always reads what is stored.
#include <cstddef>
#include <vector>

namespace tameq {

class KvPolicy {
public:
    virtual ~KvPolicy() = default;
    // rows: [n x n_kv_heads*head_dim], keys already rotated by RoPE.
    virtual void on_write(float* rows, int n, int n_kv_heads, int head_dim, bool is_key) const = 0;
};

class KvCache {
public:
    KvCache() = default;
    KvCache(int n_layers, int max_ctx, int kv_dim)
        : n_layers_(n_layers), max_ctx_(max_ctx), kv_dim_(kv_dim),
          k_(size_t(n_layers) * max_ctx * kv_dim), v_(k_.size()) {}

    float* k(int layer, int pos) { return &k_[(size_t(layer) * max_ctx_ + pos) * kv_dim_]; }
    float* v(int layer, int pos) { return &v_[(size_t(layer) * max_ctx_ + pos) * kv_dim_]; }
    int max_ctx() const { return max_ctx_; }
    int kv_dim() const { return kv_dim_; }

    const KvPolicy* policy = nullptr;

private:
    int n_layers_ = 0, max_ctx_ = 0, kv_dim_ = 0;
    std::vector<float> k_, v_;
};

}  // namespace tameq
