#pragma once
// GPTQ (Frantar et al., 2023) for one linear layer: quantize W column by column and push each column's
// rounding error onto the columns not yet quantized through the inverse Hessian of the layer's inputs,
// in blocks of columns with lazy batched updates. Follows the public GPTQ/QuaRot `fasterquant` step by step
// (dead columns, damping, act-order, group grids), so results are comparable with that code.
#include <cstdint>
#include <vector>

#include "numerics/quantizer.h"

namespace tameq {

struct GptqOptions {
    float damp_percent = 0.01f;  // added to the diagonal: damp_percent * mean(diag(H))
    int block_size = 128;        // columns per lazy-update block
    bool act_order = false;      // quantize columns in order of decreasing H_ii
    bool static_groups = false;  // group grids from the original weights, before act-order (packable without a column map)
};

// H = 2/n * sum over calibration rows x of x xᵀ, kept as a running average as GPTQ's add_batch does
// (GPTQ counts sequences where this counts rows; GPTQ's result does not depend on H's scale).
class HessianAccumulator {
public:
    explicit HessianAccumulator(int cols);
    void add(const float* x, int rows);  // x: [rows x cols], row-major
    const std::vector<float>& h() const;  // [cols x cols], symmetric, row-major
    int64_t count() const { return count_; }
    int cols() const { return cols_; }

private:
    int cols_;
    int64_t count_ = 0;
    mutable std::vector<float> h_;  // add() keeps the upper triangle; h() mirrors it when asked
    mutable bool mirrored_ = true;
};

// Quantizes W [rows x cols] (row-major, out x in) in place onto the grid of `spec` using the Hessian
// H [cols x cols]. Per-row / per-tensor grids are found on the original weights (with the spec's clip and
// MSE search); per-group grids, as in the public code, on the partly updated weights when the group's first
// column comes up (or on the original weights with static_groups). Returns the grids: rows * groups_per_row
// entries, row-major (one entry for PerTensor). With act_order and non-static groups, group g holds the
// g-th run of group_size columns in quantization order; `column_group`, when given, receives every
// column's group index (c / group_size otherwise; 0 for all columns without groups).
// Columns with H_ii == 0 (never active) are set to zero. Throws tameq::Error if H is not positive
// definite after damping.
std::vector<QParams> gptq_quantize(float* W, int rows, int cols, const float* H, const QuantSpec& spec,
                                   const GptqOptions& opt, std::vector<int>* column_group = nullptr);

}  // namespace tameq
