#pragma once
// OutlierTune (Wang et al., 2024) on the two norms of a pre-norm block:
//  1. symmetrization: z_j = mean over calibration samples of (max_j + min_j) / 2 of the norm's output is
//     subtracted from the norm's bias (an RMSNorm gains a bias vector) and W·z is added to the bias of every
//     reader (created where the model has none), so a one-sided channel shrinks to half its width. Exact.
//  2. pre-executed dequantization: Δ_j = m_j / q_max (m_j = max |x_j - z_j|, q_max = 2^(b-1) - 1) is
//     multiplied into weight column j and 1/Δ_j folded into the norm's weight and bias, so the norm emits
//     values whose static per-channel step is 1: integer codes once rounded and clamped to [-2^(b-1), 2^(b-1)-1].
// With fold = false the steps are only returned (simulate them as static steps Δ on the unfolded input).
#include <vector>

#include "model/model.h"
#include "calib/channel_stats.h"

namespace tameq {

struct OutlierTuneOptions {
    int bits = 8;             // activation bits of the norm outputs (16: the folds alone)
    bool symmetrize = true;
    bool clip_search = false; // m_j from the MSE clip search instead of the max (needs kept rows)
    bool fold = true;         // fold Δ into weights and norm; false: leave the model as is after the shift
};

// What one norm got: shift z and step Δ per channel.
struct ChannelSteps {
    std::vector<float> shift, step;
};

// norm.bias -= z (created if absent); every reader's bias += W·z (created if absent).
void symmetrize_norm(Norm& norm, const std::vector<Linear*>& readers, const std::vector<float>& z);

// Δ_j = m_j / q_max from the stats of one norm's output (zero-range channels get Δ = 1).
ChannelSteps outliertune_steps(const ChannelRange& r, const OutlierTuneOptions& o);

// Both norms of one block ({attention, MLP}), from the stats of their outputs (Tap::AttnIn, Tap::MlpIn).
std::pair<ChannelSteps, ChannelSteps> outliertune_layer(const ModelConfig& cfg, Layer& l, const ChannelStatsTap& stats,
                                                        const OutlierTuneOptions& o);

}  // namespace tameq
