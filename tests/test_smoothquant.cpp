#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "channel_test_util.h"
#include "export/open_model.h"
#include "quant/pipeline.h"
#include "transform/smoothquant.h"

using namespace tameq;
using namespace tameq::test;

TEST(SmoothQuant, FactorsFollowTheFormula) {
    // Two readers share the input; max|W_j| is taken over both: column 0 → 0.5, column 1 → 2.
    DenseLinear a(2, 1, {0.5f, -1.0f}), b(2, 2, {0.1f, 2.0f, -0.2f, 0.3f});
    const auto s = smoothing_factors({4.0f, 1.0f}, {&a, &b}, 0.5f);
    EXPECT_NEAR(s[0], 2.0f / std::sqrt(0.5f), 1e-6);
    EXPECT_NEAR(s[1], 1.0f / std::sqrt(2.0f), 1e-6);
    const auto s8 = smoothing_factors({4.0f, 0.0f}, {&a, &b}, 0.8f);
    EXPECT_NEAR(s8[0], std::pow(4.0f, 0.8f) / std::pow(0.5f, 0.2f), 1e-5);
    EXPECT_NEAR(s8[1], std::pow(1e-5f, 0.8f) / std::pow(2.0f, 0.2f), 1e-9);  // dead channel: the 1e-5 floor
}

TEST(SmoothQuant, FoldAt16BitsLeavesLogitsUnchanged) {
    for (ArchFamily family : {ArchFamily::Llama, ArchFamily::OPT}) {
        const bool llama = family == ArchFamily::Llama;
        const TinyModel t = make_tiny(family, llama ? "sq_llama" : "sq_opt", 40.0f);
        const Model fp = load_model(t.dir);
        const auto tokens = probe_tokens();
        const auto ref = logits_of(fp, tokens);
        for (const char* alpha : {"0.5", "0.8"}) {
            SCOPED_TRACE(std::string(llama ? "llama alpha " : "opt alpha ") + alpha);
            Recipe r = parse_recipe(std::string("method=smoothquant,w=16,a=16,calib-windows=4,alpha=") + alpha +
                                    ",calib=" + t.calib);
            const Model q = quantize_in_memory(t.dir, r, *load_tokenizer(t.dir));
            EXPECT_NE(q.layers[0].attn_norm.weight, fp.layers[0].attn_norm.weight);
            EXPECT_LT(rel_diff(ref, logits_of(q, tokens)), 1e-5);
        }
    }
}

TEST(SmoothQuant, SmoothedRangesAreDividedByTheFactors) {
    // max|X_j / s_j| = max|X_j|^(1-α) · max|W_j|^(1-α): the planted outlier channel's range shrinks the most.
    const TinyModel t = make_tiny(ArchFamily::Llama, "sq_ranges", 40.0f);
    Model m = load_model(t.dir);
    const auto tokens = probe_tokens(64);
    for (int layer : {0, 1}) {
        const ChannelStatsTap stats = layer_stats(m, layer, tokens);
        Layer& l = m.layers[size_t(layer)];
        const auto before = stats.at(Tap::MlpIn).absmax();
        const auto [sa, sm] = smoothquant_layer(m.cfg, l, stats, 0.5f);
        const auto after = layer_stats(m, layer, tokens).at(Tap::MlpIn).absmax();
        float ratio_before = 0, ratio_after = 0;
        for (size_t j = 0; j < before.size(); ++j) {
            EXPECT_NEAR(after[j], before[j] / sm[j], 1e-4 * before[j] / sm[j]);
            ratio_before = std::max(ratio_before, before[j] / before[0]);
            ratio_after = std::max(ratio_after, after[j] / after[0]);
        }
        EXPECT_LT(ratio_after, ratio_before);
    }
}
