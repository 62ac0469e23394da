#pragma once
// SmoothQuant (Xiao et al., 2023): migrate activation outliers into the weights with per-channel factors
// s_j = max|X_j|^α / max|W_j|^(1-α) (max|W_j| over every linear reading the norm), folded as X·diag(1/s)
// into the norm's affine parameters and W·diag(s) into the linears. Exact in floating point; the
// activations are then quantized per token. Pre-norm blocks only: a post-LN norm also feeds the residual.
#include <vector>

#include "model/model.h"
#include "calib/channel_stats.h"

namespace tameq {

// The factors for one norm's output channels; `act_absmax` is the calibration max |X_j|.
std::vector<float> smoothing_factors(const std::vector<float>& act_absmax, const std::vector<const Linear*>& readers,
                                     float alpha);

// norm.weight, norm.bias /= s_j and column j of every reader *= s_j: the readers' output is unchanged.
// OutlierTune folds its per-channel steps with the same operation.
void scale_norm_channels(Norm& norm, const std::vector<Linear*>& readers, const std::vector<float>& s);

// Both norms of one block from the stats of their outputs (Tap::AttnIn, Tap::MlpIn); returns the factors
// {attention, MLP}.
std::pair<std::vector<float>, std::vector<float>> smoothquant_layer(const ModelConfig& cfg, Layer& l,
                                                                    const ChannelStatsTap& stats, float alpha);

// Fails unless every norm output feeds only linears (pre-LN); the channel methods' folds are exact only there.
void require_pre_norm(const ModelConfig& cfg, const char* method);

}  // namespace tameq
