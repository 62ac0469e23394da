#include "transform/smoothquant.h"

#include <algorithm>
#include <cmath>

#include "common/error.h"
#include "model/family.h"

namespace tameq {

std::vector<float> smoothing_factors(const std::vector<float>& act_absmax, const std::vector<const Linear*>& readers,
                                     float alpha) {
    const size_t dim = act_absmax.size();
    std::vector<float> w_absmax(dim, 0.0f);
    for (const Linear* l : readers) {
        const DenseLinear& d = as_dense(*l);
        if (size_t(d.in_features()) != dim) fail("smoothquant", "reader has {} inputs for {} channels", d.in_features(), dim);
        for (int r = 0; r < d.out_features(); ++r)
            for (size_t c = 0; c < dim; ++c) w_absmax[c] = std::max(w_absmax[c], std::abs(d.weight[size_t(r) * dim + c]));
    }
    // The public code's floors (1e-5 on both maxima) keep dead channels finite.
    std::vector<float> s(dim);
    for (size_t j = 0; j < dim; ++j)
        s[j] = float(std::pow(double(std::max(act_absmax[j], 1e-5f)), alpha) /
                     std::pow(double(std::max(w_absmax[j], 1e-5f)), 1.0 - alpha));
    return s;
}

void scale_norm_channels(Norm& norm, const std::vector<Linear*>& readers, const std::vector<float>& s) {
    for (size_t j = 0; j < s.size(); ++j) {
        norm.weight[j] /= s[j];
        if (!norm.bias.empty()) norm.bias[j] /= s[j];
    }
    for (Linear* l : readers) {
        DenseLinear& d = as_dense(*l);
        const int in = d.in_features();
        for (int r = 0; r < d.out_features(); ++r)
            for (int c = 0; c < in; ++c) d.weight[size_t(r) * in + c] *= s[size_t(c)];
    }
}


void require_pre_norm(const ModelConfig& cfg, const char* method) {
    if (!cfg.pre_layer_norm)
        fail(method, "post-LayerNorm model (do_layer_norm_before = false, OPT-350M style): the norm's output is also "
                     "the residual stream, so a channel shift or scale folded into it would not be exact; refused");
}

std::pair<std::vector<float>, std::vector<float>> smoothquant_layer(const ModelConfig& cfg, Layer& l,
                                                                    const ChannelStatsTap& stats, float alpha) {
    require_pre_norm(cfg, "smoothquant");
    auto smooth = [&](Norm& norm, const std::vector<Linear*>& readers, Tap tap) {
        const std::vector<const Linear*> cr(readers.begin(), readers.end());
        std::vector<float> s = smoothing_factors(stats.at(tap).absmax(), cr, alpha);
        scale_norm_channels(norm, readers, s);
        return s;
    };
    auto a = smooth(l.attn_norm, linears_reading(l, Tap::AttnIn), Tap::AttnIn);
    auto m = smooth(l.mlp_norm, linears_reading(l, Tap::MlpIn), Tap::MlpIn);
    return {std::move(a), std::move(m)};
}

}  // namespace tameq
