#pragma once
// Folds RMSNorm scales into the linears that read the norm's output (QuaRot's first step), leaving the
// norms scale-free so the residual stream can be rotated: RMSNorm(x)·diag(γ)·Wᵀ = RMSNorm(x)·(W·diag(γ))ᵀ.
// Llama family only (RMSNorm without bias); OPT's LayerNorm is refused, since its mean subtraction does not
// commute with a rotation.
#include "model/model.h"

namespace tameq {

void fold_layer_norm_scales(const Model& skeleton, Layer& l);  // attention and MLP norms of one block
void fold_final_norm_scale(Model& m);                          // final norm into lm_head
void fold_norm_scales(Model& m);                               // all of the above

}  // namespace tameq
