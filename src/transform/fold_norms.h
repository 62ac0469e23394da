#pragma once
// Folds RMSNorm scales into the linears that read the norm's output (QuaRot's first step), leaving the
// norms scale-free so the residual stream can be rotated: RMSNorm(x)·diag(γ)·Wᵀ = RMSNorm(x)·(W·diag(γ))ᵀ.
// LayerNorm families first convert to RMSNorm through their Family::to_rms_* hooks (OPT: SliceGPT's mean-free
// residual, which also folds the norms' biases); configs where that is not exact (post-LN OPT,
// project_in/out) are refused with the family's reason.
#include "model/model.h"

namespace tameq {

void fold_layer_norm_scales(const Model& skeleton, Layer& l);  // attention and MLP norms of one block
void fold_final_norm_scale(Model& m);                          // final norm into lm_head
void fold_norm_scales(Model& m);                               // all of the above

}  // namespace tameq
