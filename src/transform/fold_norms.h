#pragma once
// Folds every RMSNorm scale into the linears that read the norm's output (QuaRot's first step), leaving
// the norms scale-free so the residual stream can be rotated: RMSNorm(x)·diag(γ)·Wᵀ = RMSNorm(x)·(W·diag(γ))ᵀ.
#include "model/model.h"

namespace tameq {

// Llama family only (RMSNorm without bias); throws for OPT, whose LayerNorm is not rotation-invariant.
void fold_norm_scales(Model& m);

}  // namespace tameq
