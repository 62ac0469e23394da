#pragma once
// Searched migration (`method=ot-search`): OutlierTune's symmetrization and static codes emitted by the norm,
// with SmoothQuant's migration strength α chosen per norm → linears group from the error the group really
// suffers once weights and activations are both quantized.
//
// For one group (a norm and the linears reading it), after OutlierTune's shift z (exact):
//   s_j(α) = m_j^α / w_j^(1-α)                 m_j = max|x_j - z_j|, w_j = max |W_{:,j}| over the readers
//   Δ(α, p) = p · max_j (m_j / s_j) / q_max    one static step for the migrated activations x / s
//   step_j = s_j · Δ                            folded: W columns · step_j, the norm's weight and bias / step_j
// so the norm emits x_j / step_j, rounded and clamped to [-2^(b-1), 2^(b-1)-1] as OutlierTune's codes are: the
// run-time cost is OutlierTune's whatever α is chosen. α = 1, p = 1 is OutlierTune exactly (step_j = m_j/q_max,
// all of each channel's range moved into the weights); α = 0 moves none (every weight column max equal); in
// between is SmoothQuant's migration with a static per-tensor activation step (its O3 setting). The loss of a
// candidate is Σ over the readers of ‖X Wᵀ − Q(X̃) Q(W̃)ᵀ‖² on kept calibration rows (the readers' weights
// quantized with the recipe's weight grid: RTN, or GPTQ when the recipe uses it), as AWQ's and SmoothQuant's
// scale searches measure it.
#include <string>
#include <vector>

#include "calib/channel_stats.h"
#include "model/model.h"
#include "numerics/quantizer.h"

namespace tameq {

struct MigrationSearchOptions {
    QuantSpec weight;             // the recipe's weight grid (RTN during the search; GPTQ may follow)
    int act_bits = 8;             // static codes of the norm output
    std::vector<float> alphas;    // candidates, each in [0, 1]
    std::vector<float> clips;     // candidates p of the static step, each in (0, 1]; {1}: no clipping
    bool symmetrize = true;       // OutlierTune's shift first (false: z = 0, for engines whose norms have no bias)
    // Score candidates with GPTQ'd weights (the Hessian of the migrated kept rows) instead of RTN: what a
    // weights=gptq recipe will really do to them (GPTQ absorbs much of the weight error a large α causes).
    bool gptq = false;
    float gptq_damp = 0.01f;
};

// The α grid lo, lo + (hi - lo)/steps, ..., hi (steps = 0: lo alone). Fails unless 0 <= lo <= hi <= 1.
std::vector<float> alpha_grid(float lo, float hi, int steps);

// What one group got.
struct MigrationChoice {
    float alpha = 1.0f, clip = 1.0f;
    std::vector<double> loss_by_alpha;  // [alphas], the best clip for each α
    double loss = 0;                    // of the choice
    double loss_outliertune = 0;        // of α = 1, p = 1 (OutlierTune's own fold), for comparison
    int rows = 0;                       // calibration rows the loss was measured on
};

// Shifts, searches and folds one group in place: afterwards the norm emits the static codes (step 1 on every
// channel). `r` holds the norm output's ranges and its kept rows (ChannelStatsTap with the tap kept).
MigrationChoice migrate_norm_group(Norm& norm, const std::vector<Linear*>& readers, const ChannelRange& r,
                                   const MigrationSearchOptions& o);

}  // namespace tameq
