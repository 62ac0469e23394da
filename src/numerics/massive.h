#pragma once
// Which tokens carry massive activations (Sun et al., 2024): the rules DFRot weighs rows by, that inspect
// counts, and that the keep-massive diagnostic exempts from activation quantization. Numerics, not a
// transform: the forward pass, calibration and analysis all ask the same rules.
#include <cstdint>
#include <vector>

#include "numerics/quantizer.h"

namespace tameq {

// The rule that marks the massive rows DFRot weighs by γ (a recipe's `marking` key).
enum class MassiveMarking {
    Magnitude,   // max|x| of the residual row above `ratio` × the median |x| of its window
    QuantError,  // unrotated per-token error of the normalized row under `act` below the scaled threshold
};

// Per-row squared error ‖x − Q(x)‖² of X [rows × C] under the per-token quantizer `act`, in double.
std::vector<double> per_row_quant_error(const float* X, int rows, int C, const QuantSpec& act);

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
// The same rule on squared per-token errors already computed (per_row_quant_error).
std::vector<uint8_t> mark_massive_by_quant_error(const std::vector<double>& squared_errors, float threshold);

}  // namespace tameq
