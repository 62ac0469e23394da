#include "calib/dfrot_rows.h"

#include <algorithm>

#include "calib/layer_runner.h"
#include "model/family.h"
#include "model/ops.h"

namespace tameq {

void normalize_rows(const float* x, int n, int dim, ArchFamily family, float eps, float* out) {
    Norm unit{std::vector<float>(size_t(dim), 1.0f), {}};
    if (family_of(family).rms_norm) return rms_norm(x, n, dim, unit, eps, out);
    unit.bias.assign(size_t(dim), 0.0f);
    layer_norm(x, n, dim, unit, eps, out);
}

int DfrotRows::massive_rows() const { return int(std::count(massive.begin(), massive.end(), uint8_t(1))); }

void DfrotRowsTap::on(int, Tap where, const float* x, int n, int dim) {
    if (where != Tap::AttnResidual && where != Tap::MlpResidual) return;
    rows.cols = dim;  // the residual stream: always the hidden size
    const size_t first = rows.x.size();
    rows.x.resize(first + size_t(n) * dim);
    float* xn = rows.x.data() + first;
    normalize_rows(x, n, dim, opt_.family, opt_.eps, xn);
    // Magnitude marks the raw residual (the massive channels are what the norm divides away); the public
    // code's rule asks the normalized row, whose error it measured.
    const std::vector<uint8_t> marks =
        opt_.marking == MassiveMarking::Magnitude
            ? mark_massive_by_magnitude(x, n, dim, opt_.ratio)
            : mark_massive_by_quant_error(xn, n, dim, opt_.act, scaled_quant_error_threshold(dim, opt_.act.bits));
    rows.massive.insert(rows.massive.end(), marks.begin(), marks.end());
}

DfrotRows collect_dfrot_rows(const ModelReader& reader, const std::vector<std::vector<int>>& windows,
                             const DfrotRowsOptions& opt, const std::function<void(int, int)>& progress) {
    const int layers = reader.config().n_layers;
    Model skeleton = reader.load_skeleton();
    LayerRunner runner(skeleton, windows);
    DfrotRowsTap tap(opt);
    for (int i = 0; i < layers; ++i) {
        runner.run(reader.load_layer(i), i, &tap, true);
        if (progress) progress(i + 1, layers);
    }
    return std::move(tap.rows);
}

}  // namespace tameq
