#pragma once
// DFRot's refinement of R1 (Xiang & Zhang, 2024): starting from RH, alternate per-token quantization
// targets B = Q(X_w·R) and the orthogonal Procrustes step R = U·Vᵀ from the SVD of X_wᵀ·B, where
// X_w = diag(w)·X weighs the rows with massive activations by γ. Also: how to mark those rows.
#include <cstdint>
#include <functional>
#include <vector>

#include "quant/quantizer.h"

namespace tameq {

// Per-row 4-bit-style error ‖x·R − Q(x·R)‖² of X [rows × C] under the per-token quantizer `act`
// (R = nullptr: unrotated). The quantity of DFRot's Figure 2.
std::vector<double> per_token_quant_error(const float* X, int rows, int C, const float* R, const QuantSpec& act);

// L(R) = Σ_i ‖w_i·x_i·R − Q(w_i·x_i·R)‖² (= Σ w_i²‖x_i R − Q(x_i R)‖² for the scale-free min-max grids).
// `w` may be empty (all ones).
double dfrot_loss(const float* X, int rows, int C, const std::vector<float>& w, const float* R, const QuantSpec& act);

struct DfrotResult {
    std::vector<float> rotation;  // the best R seen, C×C row-major (rows rotate as x·R)
    std::vector<double> losses;   // losses[t] = L(R_t), t = 0 (R0) .. iterations
    int best_iteration = 0;       // argmin of losses
};

// Called after each loss evaluation: t = 0 (R0) .. iterations.
using DfrotProgress = std::function<void(int t, int iterations, double loss)>;

// X: [rows × C] calibration activations (the normalized inputs of the norms), w: per-row weights (empty:
// all 1; γ for massive rows), R0: C×C orthogonal start (normally RH), act: the per-token quantizer of the
// evaluation (PerRow granularity). Runs `iterations` Procrustes steps; returns the best R of the
// iterations+1 evaluated, since re-quantization makes the loss non-monotone. Cost per step: two
// rows×C×C sgemms (one pass over X) and one C×C polar decomposition (polar_newton, ~8 LU inverses);
// memory: a few C×C matrices and a row block, X is not copied.
DfrotResult dfrot_refine(const float* X, int rows, int C, const std::vector<float>& w, const std::vector<float>& R0,
                         const QuantSpec& act, int iterations, const DfrotProgress& progress = {});

// Row subsampling for large problems (recipe key dfrot-rows): each step costs 4·rows·C² flops, so 131072
// rows at C = 4096 need ~19 s per step at this CPU's fp32 peak. Keeps every massive row (w_i ≠ 1) with its
// weight and draws n − #massive ordinary rows uniformly without replacement (seeded), each weighted by
// √(N_ordinary / n_drawn): the sample's loss is an unbiased estimate of the full loss. When the draw would
// cover every ordinary row, returns all rows unchanged. X is copied (n×C floats).
struct DfrotSample {
    std::vector<float> x;  // [rows × C]
    std::vector<float> w;  // per-row weights
    int rows = 0;
};
DfrotSample dfrot_sample_rows(const float* X, int rows, int C, const std::vector<float>& w, int n, uint64_t seed);

// Massive activations by magnitude (Sun et al., 2024: a few activations about 1000× the median magnitude
// at LLaMA scale). residual: [rows × C], the residual stream entering one norm for one layer's tokens.
// A row is massive when its largest |x| exceeds `ratio` × the median |x| over all rows·C elements.
// On gut-llama-27m / gut-opt-24m the first token reaches 131–302× / 128–183× where it is massive and
// every other token stays ≤ 42× / ≤ 40×, hence the default 100.
constexpr float kMassiveRatio = 100.0f;
std::vector<uint8_t> mark_massive_by_magnitude(const float* residual, int rows, int C, float ratio = kMassiveRatio);

// A rotation-invariant variant for rotated models, where the massive channels are spread out: a row is
// massive when its L2 norm exceeds `ratio` × the median row norm. On one E64 window, ratio 5 marks exactly the
// rows the magnitude rule marks on gut-llama-27m (first token 8–19× at layers 2–5, every other token ≤ 2.7×) and
// on gut-opt-24m the first token at layers 3–5 (5.5–6.1×; others ≤ 3.1×).
constexpr float kMassiveNormRatio = 5.0f;
std::vector<uint8_t> mark_massive_by_norm(const float* residual, int rows, int C, float ratio = kMassiveNormRatio);

// The public DFRot rule: a row is massive when its unrotated per-token error ‖x − Q(x)‖₂ (the norm, not
// squared; the public code quantizes symmetrically) is below a threshold, 8.5 at hidden 4096 and 4 bits.
// X must hold normalized rows (RMS ≈ 1), as the norms' outputs do: the error scales with the row. An
// ordinary (Gaussian-like) token's error is about √(C/12) · step, with step = max|x| / qmax and
// max|x| ≈ √(2 ln C), so the threshold is scaled the same way:
// 8.5 · √(C/4096 · ln C / ln 4096) · 15 / (2^b − 1). A 1-sparse token has error ≈ 0 at any size, but the
// rule misses denser massive tokens (ours keep only ~41 % of their energy in the top 4 channels).
constexpr float kQuantErrorThreshold4096 = 8.5f;
float scaled_quant_error_threshold(int C, int bits, float threshold_4096_4bit = kQuantErrorThreshold4096);
std::vector<uint8_t> mark_massive_by_quant_error(const float* X, int rows, int C, const QuantSpec& act,
                                                 float threshold);
// The same rule on squared per-token errors already computed (per_token_quant_error without rotation).
std::vector<uint8_t> mark_massive_by_quant_error(const std::vector<double>& squared_errors, float threshold);

// w_i = γ for marked rows, 1 otherwise.
std::vector<float> massive_row_weights(const std::vector<uint8_t>& massive, float gamma);

}  // namespace tameq
