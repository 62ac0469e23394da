#include "transform/fold_norms.h"

#include "common/error.h"
#include "model/family.h"

namespace tameq {
namespace {

void scale_columns(Linear& l, const std::vector<float>& gamma) {
    DenseLinear& d = as_dense(l);
    const int in = d.in_features();
    for (int r = 0; r < d.out_features(); ++r)
        for (int c = 0; c < in; ++c) d.weight[size_t(r) * in + c] *= gamma[size_t(c)];
}

void fold(Norm& norm, const std::vector<Linear*>& readers) {
    for (Linear* l : readers) scale_columns(*l, norm.weight);
    std::fill(norm.weight.begin(), norm.weight.end(), 1.0f);
}

void require_rmsnorm(const Model& m) {
    if (!family_of(m.cfg).rms_norm)
        fail(m.source, "rotations need RMSNorm (Llama family); {} uses LayerNorm, whose mean subtraction does not "
                       "commute with a rotation", m.cfg.architecture);
}

}  // namespace

void fold_layer_norm_scales(const Model& skeleton, Layer& l) {
    require_rmsnorm(skeleton);
    if (!l.attn_norm.bias.empty() || !l.mlp_norm.bias.empty()) fail(skeleton.source, "norm has a bias; cannot fold before rotating");
    fold(l.attn_norm, linears_reading(l, Tap::AttnIn));
    fold(l.mlp_norm, linears_reading(l, Tap::MlpIn));
}

void fold_final_norm_scale(Model& m) {
    require_rmsnorm(m);
    fold(m.final_norm, {m.lm_head.get()});
}

void fold_norm_scales(Model& m) {
    for (Layer& l : m.layers) fold_layer_norm_scales(m, l);
    fold_final_norm_scale(m);
}

}  // namespace tameq
