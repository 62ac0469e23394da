#pragma once
// The quantization pipeline of docs/DESIGN.md, streamed one decoder block at a time:
//   load block i (mmap) → transform (fold norms, R1, R2, R4) → calibrate on block i-1's quantized outputs
//   → quantize weights (RTN/GPTQ) → run the calibration windows through it → hand it to the sink.
// Embeddings, final norm and lm_head are transformed first (calibration runs on them) and handed over last.
#include <functional>
#include <string>
#include <vector>

#include "model/model.h"
#include "quant/migration_search.h"
#include "quant/recipe.h"

namespace tameq {

class Tokenizer;

struct PipelineReport {
    double seconds = 0;
    double dfrot_seconds = 0;
    int dfrot_rows = 0, dfrot_massive_rows = 0;  // rows of X and how many the marking rule weighted by γ
    std::vector<double> dfrot_losses;
    int calib_windows = 0;
    struct Migration {
        int layer;
        Tap tap;  // the norm output: Tap::AttnIn or Tap::MlpIn
        MigrationChoice choice;
    };
    std::vector<Migration> migration;  // method=ot-search: what each norm group chose, in block order
    // Mixtures of experts: the calibration tokens each expert of each sparse layer was routed (GPTQ: its Hessians
    // come from those tokens alone), in layer and expert order; an expert whose tokens number fewer than
    // expert_gptq_min_tokens of a linear's input width has that linear quantized by RTN instead (rtn_fallback).
    struct ExpertTokens {
        int layer, expert;
        int64_t tokens;
        bool rtn_fallback;
    };
    std::vector<ExpertTokens> expert_tokens;
};

// The fewest routed calibration tokens for which an expert's linear of `in_features` inputs takes GPTQ: below its
// input width the Hessian XᵀX has rank < in_features, so GPTQ's error feedback would rest on the damping term
// alone in the missing directions (noise fitted to a handful of tokens); RTN needs no Hessian.
inline int64_t expert_gptq_min_tokens(int in_features) { return in_features; }

// Receives the model in pieces: each finished layer in order, then the skeleton (everything but the layers,
// with the online-transform flags and KV policy set).
class QuantSink {
public:
    virtual ~QuantSink() = default;
    virtual void skeleton(Model&& m) = 0;
    virtual void layer(int index, Layer&& l) = 0;
};

// Runs the recipe on the checkpoint at `model_path`. `tok` encodes the calibration text.
PipelineReport quantize_model(const std::string& model_path, const Recipe& recipe, const Tokenizer& tok, QuantSink& sink);

// Convenience: the whole quantized (simulated) model in memory, for evaluation.
Model quantize_in_memory(const std::string& model_path, const Recipe& recipe, const Tokenizer& tok,
                         PipelineReport* report = nullptr);

}  // namespace tameq
