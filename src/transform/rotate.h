#pragma once
// QuaRot's rotations of a norm-folded Llama-family model (row-vector convention x' = x·R):
//   R1 on the residual stream: embeddings E·R1; readers (q, k, v, gate, up, lm_head) W·R1;
//      writers (o, down) R1ᵀ·W and their biases.
//   R2 per head on v/o: v rows of each KV head R2ᵀ·W_v,h; o columns of each head W_o,h·R2.
//   R4 online before down_proj: weights W·Hᵀ offline, fwht on the activations in the forward pass.
//   R3 online on q and k after RoPE (no weight change).
// Each leaves the FP32 function unchanged up to rounding.
#include <vector>

#include "model/model.h"

namespace tameq {

void rotate_residual(Model& m, const std::vector<float>& r1);  // needs fold_norm_scales first
void rotate_heads_vo(Model& m, const std::vector<float>& r2);  // r2: head_dim x head_dim
void add_online_hadamard_down(Model& m);
void add_online_hadamard_qk(Model& m);

}  // namespace tameq
