#pragma once
// QuaRot's rotations of a norm-folded model (row-vector convention x' = x·R): the Llama family, or OPT after
// fold_norm_scales made its residual mean-free and its norms RMSNorm:
//   R1 on the residual stream: embeddings (and OPT's learned positions) E·R1; readers (q, k, v, gate, up or
//      fc1, lm_head) W·R1; writers (o, down or fc2) R1ᵀ·W and their biases.
//   R2 per head on v/o: v rows of each KV head R2ᵀ·W_v,h; o columns of each head W_o,h·R2.
//   R4 online before down_proj: weights W·Hᵀ offline, fwht on the activations in the forward pass; H is
//      QuaRot's full H_n (block 0) or the block-diagonal I ⊗ H_B/√B (B a power of two dividing n).
//   R3 online on q and k after RoPE (no weight change).
// Each leaves the FP32 function unchanged up to rounding.
#include <vector>

#include "model/model.h"

namespace tameq {

// R1 as the folds apply it: a dense n×n matrix (RO, DFRot, a file), or QuaRot's RH kept as its signs s, so that
// x·R = fwht_rows(x ⊙ s) costs O(n log n) per row instead of O(n²) (a 7B layer's folds: ~1.7 TFLOP dense).
// Both give the same rotation; they differ in rounding only (the transform is exact in its ±1 arithmetic).
struct ResidualRotation {
    std::vector<float> dense;  // row-major n×n; empty when `signs` holds an RH
    std::vector<float> signs;  // RH: diag(s)·H_nᵀ/√n, random_hadamard(n, seed)'s matrix

    ResidualRotation() = default;
    ResidualRotation(std::vector<float> matrix) : dense(std::move(matrix)) {}  // NOLINT: a matrix is a rotation
    static ResidualRotation hadamard(std::vector<float> s) {
        ResidualRotation r;
        r.signs = std::move(s);
        return r;
    }
    bool structured() const { return !signs.empty(); }
};

// Per block, for streaming (norms of `l` must be folded):
void rotate_layer_residual(const Model& skeleton, Layer& l, const ResidualRotation& r1);
void rotate_layer_heads_vo(const Model& skeleton, Layer& l, const std::vector<float>& r2);  // r2: head_dim²
void fold_layer_hadamard_down(Layer& l, int block = 0);
// Embeddings and lm_head (the final norm must be folded).
void rotate_skeleton_residual(Model& m, const ResidualRotation& r1);

// Whole-model versions (fold_norm_scales first).
void rotate_residual(Model& m, const ResidualRotation& r1);
void rotate_heads_vo(Model& m, const std::vector<float>& r2);
void add_online_hadamard_down(Model& m, int block = 0);  // folds W·Hᵀ, sets m.online.had_down(_block)
void add_online_hadamard_qk(Model& m);    // sets m.online.had_qk

}  // namespace tameq
