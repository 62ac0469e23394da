#pragma once
// DFRot's calibration rows: the residual stream entering every norm of every layer, normalized with a unit
// scale (what the folded norm hands the rotated linears), and which rows are massive. The quantization
// pipeline refines R1 on them (transform/dfrot.h) and `tameq inspect` does the same for its figures.
#include <cstdint>
#include <functional>
#include <vector>

#include "io/hf_config.h"
#include "model/block_tap.h"
#include "model/model.h"
#include "numerics/massive.h"
#include "numerics/quantizer.h"

namespace tameq {

// What a rotation sees of a norm input x [n × dim]: the norm with a unit scale (the scale is folded into the
// next linears): RMSNorm for Llama, centered LayerNorm for OPT (as QuaRot turns LayerNorm into RMSNorm).
void normalize_rows(const float* x, int n, int dim, ArchFamily family, float eps, float* out);

struct DfrotRowsOptions {
    ArchFamily family = ArchFamily::Llama;
    float eps = 1e-5f;  // the model's norm epsilon
    MassiveMarking marking = MassiveMarking::Magnitude;
    float ratio = kMassiveRatio;  // Magnitude
    QuantSpec act;                // QuantError: the per-token grid (its bits scale the threshold)
};

struct DfrotRows {
    int cols = 0;
    std::vector<float> x;          // [rows × cols], normalized
    std::vector<uint8_t> massive;  // [rows], 1 where the rule marked the row
    int rows() const { return cols ? int(x.size() / size_t(cols)) : 0; }
    int massive_rows() const;
};

// Appends the rows of every residual tap it sees (the other taps are ignored).
class DfrotRowsTap : public BlockTap {
public:
    explicit DfrotRowsTap(DfrotRowsOptions opt) : opt_(std::move(opt)) {}
    void on(int layer, Tap where, const float* x, int n, int dim) override;
    DfrotRows rows;

private:
    DfrotRowsOptions opt_;
};

// Runs `windows` through the FP model at `reader` one block at a time and collects every layer's rows.
// `progress(done, total)` is called after each layer.
DfrotRows collect_dfrot_rows(const ModelReader& reader, const std::vector<std::vector<int>>& windows,
                             const DfrotRowsOptions& opt, const std::function<void(int, int)>& progress = {});

}  // namespace tameq
