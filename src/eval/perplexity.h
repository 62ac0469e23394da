#pragma once
// Perplexity with the protocol of DESIGN.md (E64: ctx 1024, 64 windows, BOS prepended, BOS never scored),
// plus KL divergence and top-1 agreement against a reference model evaluated on the same windows.
#include <cstdint>
#include <functional>
#include <vector>

#include "model/model.h"

namespace tameq {

// Consecutive windows of ctx-1 tokens, each prefixed with `bos`; at most `max_windows` (0 = all that fit).
std::vector<std::vector<int>> make_windows(const std::vector<int>& ids, int ctx, int max_windows, int bos);

struct PplResult {
    int windows = 0;
    int64_t tokens_scored = 0;
    double nll_mean = 0.0;
    double ppl = 0.0;
    std::vector<double> window_nll;  // mean NLL per window
    bool has_ref = false;            // the fields below are filled only with a reference model
    double ref_ppl = 0.0;
    double kl_mean = 0.0;            // mean over scored tokens of KL(P_ref || P_model), nats
    double top1_agree = 0.0;         // fraction of scored tokens where both argmaxes agree
};

// Scores every sequence: the prediction of token t+1 from tokens 0..t for t = 0..len-2 (so a leading BOS
// is context only). `on_window(done, total)` reports progress.
PplResult evaluate_ppl(const Model& model, const std::vector<std::vector<int>>& sequences, const Model* ref = nullptr,
                       const std::function<void(int, int, double)>& on_window = {});

}  // namespace tameq
