#pragma once
// `tameq inspect`: where a model's activation outliers are and what each transform does to them.
// Streams calibration windows through the model one block at a time (quant/layer_runner.h); the taps
// reduce every window's activations to statistics at once, so besides the runner's hidden states only
// a bounded sample of per-token points (for the scatter plots) is kept.
//
// Per layer and per linear input: max |x| per channel and per token with percentiles; massive-activation
// tokens (position, token, channels, ratio to the median |x|); the per-token 4-bit error ‖xR − Q(xR)‖₂
// of the normalized norm inputs under no rotation, RO, RH and DFRot's refined R (DFRot's Figures 2–3);
// per-channel min/max of the norm outputs before and after OutlierTune's symmetrization; kurtosis of
// activations and weights before and after each transform (fold + R1, R2 per head, R4, symmetrization);
// optionally the migration search of method=ot-search per norm group (its loss for each α).
#include <cstdint>
#include <functional>
#include <string>

#include <nlohmann/json.hpp>

#include "transform/dfrot.h"

namespace tameq {

class Tokenizer;

struct InspectOptions {
    std::string calib_file;
    int windows = 8;
    int ctx = 1024;               // capped at the model's context
    int bits = 4;                 // the per-token activation quantizer of the error plots
    bool symmetric = false;       // asymmetric by default, as evaluation quantizes (recipes' a-sym)
    uint64_t seed = 0;            // RO, RH (and DFRot's start, RH) as recipes draw them
    int dfrot_iters = 100;        // DFRot refinement on the first window, massive rows weighted by γ
    float dfrot_gamma = 100.0f;
    float massive_ratio = kMassiveRatio;  // a token is massive when max|x| > ratio × median|x| of its window
    int scatter_tokens = 1024;    // per-token points kept for the plots: the first windows' tokens, up to this many
    // method=ot-search's loss against α per layer and norm group at W<search_wbits>A<search_abits> (RTN weights,
    // per channel, MSE clip search; α = 0, 0.1, ..., 1); 0: not run. Pre-LN models only.
    int search_wbits = 0, search_abits = 0;
};

// The whole analysis as JSON (the --json output and the input of render_inspect_html). `progress`
// receives a stage name, done and total.
using InspectProgress = std::function<void(const std::string& stage, int done, int total)>;
nlohmann::json inspect_model(const std::string& model_path, const Tokenizer& tok, const InspectOptions& opt,
                             const InspectProgress& progress = {});

// The self-contained HTML page of an inspect_model result.
std::string render_inspect_html(const nlohmann::json& report);

}  // namespace tameq
