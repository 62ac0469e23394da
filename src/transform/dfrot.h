#pragma once
// DFRot's refinement of R1 (Xiang & Zhang, 2024): starting from RH, alternate per-token quantization
// targets B = Q(X_w·R) and the orthogonal Procrustes step R = U·Vᵀ from the SVD of X_wᵀ·B, where
// X_w = diag(w)·X weighs the rows with massive activations by γ (marked by numerics/massive.h).
#include <cstdint>
#include <functional>
#include <vector>

#include "calib/dfrot_rows.h"
#include "numerics/massive.h"
#include "numerics/quantizer.h"

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

// w_i = γ for marked rows, 1 otherwise.
std::vector<float> massive_row_weights(const std::vector<uint8_t>& massive, float gamma);

// R1 refined on collected rows (calib/dfrot_rows.h) as recipes and `tameq inspect` run DFRot: from
// random_hadamard(C, seed), massive rows weighted by γ, and with 0 < sample_rows < rows on
// dfrot_sample_rows' sample drawn with the same seed.
struct DfrotR1Options {
    float gamma = 100.0f;
    int iterations = 100;
    int sample_rows = 0;  // 0: every row
    uint64_t seed = 0;
    QuantSpec act;        // the per-token activation grid refined for
};
DfrotResult refine_dfrot_r1(const DfrotRows& rows, const DfrotR1Options& opt, const DfrotProgress& progress = {});

}  // namespace tameq
