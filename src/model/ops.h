#pragma once
// Row-wise FP32 operations of the forward pass. x is [n x dim], rows contiguous.
#include <vector>

#include "io/hf_config.h"
#include "model/model.h"

namespace tameq {

// out = norm(x) * w (+ b): RMSNorm when norm.bias is empty and `layer_norm` is false, else LayerNorm.
void rms_norm(const float* x, int n, int dim, const Norm& norm, float eps, float* out);
void layer_norm(const float* x, int n, int dim, const Norm& norm, float eps, float* out);

// Hugging Face "rotate half" RoPE: pairs (i, i + head_dim/2) of each head, cos/sin tables in float32 as
// transformers computes them (inv_freq in float32, angle = float(pos) * inv_freq).
class RopeTable {
public:
    RopeTable() = default;
    // theta: the base (0: cfg.rope_theta; Gemma 3's sliding layers have their own).
    RopeTable(const ModelConfig& cfg, int max_positions, float theta = 0.0f);
    // Rotates x [n x n_heads*head_dim] for positions pos0 .. pos0+n-1 in place.
    void apply(float* x, int n, int n_heads, int pos0) const;
    int max_positions() const { return max_pos_; }
    // The tables themselves, [max_positions x head_dim/2] (the CUDA engine uploads them).
    const std::vector<float>& cos_table() const { return cos_; }
    const std::vector<float>& sin_table() const { return sin_; }

private:
    int head_dim_ = 0, max_pos_ = 0;
    std::vector<float> cos_, sin_;  // [max_pos x head_dim/2]
};

void silu_mul(float* gate, const float* up, size_t n);  // gate = silu(gate) * up
// gate = gelu_tanh(gate) * up, torch's gelu(approximate="tanh"): 0.5·x·(1 + tanh(√(2/π)·(x + 0.044715·x³))).
void gelu_tanh_mul(float* gate, const float* up, size_t n);
// x = cap · tanh(x / cap) (Gemma 2's soft-capping).
void soft_cap(float* x, size_t n, float cap);
void relu(float* x, size_t n);
void add_rows(float* x, const float* y, size_t n);     // x += y
void softmax_row(float* x, int n);

}  // namespace tameq
