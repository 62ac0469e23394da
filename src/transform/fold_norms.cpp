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

void require_rotatable(const Model& m) {
    if (const std::string why = rotation_refusal(m.cfg); !why.empty())
        fail(m.source, "rotations are not exact for this {}: {}", m.cfg.architecture, why);
}

}  // namespace

void fold_layer_norm_scales(const Model& skeleton, Layer& l) {
    require_rotatable(skeleton);
    if (const Family& f = family_of(skeleton.cfg); f.to_rms_layer) f.to_rms_layer(skeleton.cfg, l);
    if (!l.attn_norm.bias.empty() || !l.mlp_norm.bias.empty()) fail(skeleton.source, "norm has a bias; cannot fold before rotating");
    fold(l.attn_norm, linears_reading(l, Tap::AttnIn));
    fold(l.mlp_norm, linears_reading(l, Tap::MlpIn));
}

void fold_final_norm_scale(Model& m) {
    require_rotatable(m);
    if (const Family& f = family_of(m.cfg); f.to_rms_skeleton) f.to_rms_skeleton(m);
    fold(m.final_norm, {m.lm_head.get()});
}

void fold_norm_scales(Model& m) {
    for (Layer& l : m.layers) fold_layer_norm_scales(m, l);
    fold_final_norm_scale(m);
}

}  // namespace tameq
