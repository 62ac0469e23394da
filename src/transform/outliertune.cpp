#include "transform/outliertune.h"

#include "common/error.h"
#include "model/family.h"
#include "transform/smoothquant.h"

namespace tameq {

void symmetrize_norm(Norm& norm, const std::vector<Linear*>& readers, const std::vector<float>& z) {
    if (norm.bias.empty()) norm.bias.assign(norm.weight.size(), 0.0f);
    for (size_t j = 0; j < z.size(); ++j) norm.bias[j] -= z[j];
    for (Linear* l : readers) {
        DenseLinear& d = as_dense(*l);
        const int in = d.in_features();
        if (d.bias.empty()) d.bias.assign(size_t(d.out_features()), 0.0f);
        for (int r = 0; r < d.out_features(); ++r) {
            double acc = 0;
            for (int c = 0; c < in; ++c) acc += double(d.weight[size_t(r) * in + c]) * z[size_t(c)];
            d.bias[size_t(r)] += float(acc);
        }
    }
}

ChannelSteps outliertune_steps(const ChannelRange& r, const OutlierTuneOptions& o) {
    if (o.bits < 2 || o.bits > 16) fail("outliertune", "activation bits {} out of range (2..16)", o.bits);
    ChannelSteps s;
    s.shift = o.symmetrize ? r.mean_midpoint() : std::vector<float>(size_t(r.dim), 0.0f);
    const std::vector<float> m = o.clip_search ? mse_clipped_range(r, s.shift, o.bits) : r.absmax_after_shift(s.shift);
    const float qmax = float((1 << (o.bits - 1)) - 1);
    s.step.resize(m.size());
    for (size_t j = 0; j < m.size(); ++j) s.step[j] = m[j] > 0.0f ? m[j] / qmax : 1.0f;
    return s;
}

std::pair<ChannelSteps, ChannelSteps> outliertune_layer(const ModelConfig& cfg, Layer& l, const ChannelStatsTap& stats,
                                                        const OutlierTuneOptions& o) {
    require_pre_norm(cfg, "outliertune");
    auto tune = [&](Norm& norm, const std::vector<Linear*>& readers, Tap tap) {
        ChannelSteps s = outliertune_steps(stats.at(tap), o);
        if (o.symmetrize) symmetrize_norm(norm, readers, s.shift);
        if (o.fold) scale_norm_channels(norm, readers, s.step);
        return s;
    };
    auto a = tune(l.attn_norm, linears_reading(l, Tap::AttnIn), Tap::AttnIn);
    auto m = tune(l.mlp_norm, linears_reading(l, Tap::MlpIn), Tap::MlpIn);
    return {std::move(a), std::move(m)};
}

}  // namespace tameq
