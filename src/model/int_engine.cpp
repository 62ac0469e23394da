#include "model/int_engine.h"

#include <algorithm>

#include "common/half.h"
#include "kernels/scheme_kernels.h"
#include "model/bf16_linear.h"
#include "model/family.h"
#include "model/fake_quant.h"
#include "model/int_linear.h"

namespace tameq {

int count_simulated_linears(const Model& m) {
    int n = 0;
    for (const Layer& l : m.layers)
        for (const auto* p : l.linears())
            if (*p && dynamic_cast<const FakeQuantLinear*>(p->get())) ++n;
    return n;
}

IntegerReport use_integer_kernels(Model& m) {
    IntegerReport report;
    if (m.online.keep_massive_fp) {
        // The keep-massive diagnostic lets marked rows skip activation quantization (Linear::forward_keeping_fp), which only the
        // simulated linears honour; integer kernels would quantize them and silently report another experiment.
        report.simulated = count_simulated_linears(m);
        report.first_reason = "keep-massive diagnostic (massive rows stay in floating point)";
        return report;
    }
    for (Layer& l : m.layers)
        for (auto* p : l.linears()) {
            if (!*p) continue;
            auto* sim = dynamic_cast<FakeQuantLinear*>(p->get());
            if (!sim) continue;
            std::string why;
            if (auto il = IntLinear::from(*sim, &why)) {
                *p = std::move(il);
                ++report.integer;
            } else {
                if (report.simulated++ == 0) report.first_reason = why;
            }
        }
    // Static-code recipes (OutlierTune, ot-search): the norm emits its readers' codes once.
    const bool pre_norm = m.cfg.pre_layer_norm;
    for (Layer& l : m.layers)
        for (Tap input : {Tap::AttnIn, Tap::MlpIn}) {
            const std::vector<Linear*> readers = linears_reading(l, input);
            const std::vector<const Linear*> linears(readers.begin(), readers.end());
            if (pre_norm && !linears.empty() && shared_static_codes(linears)) ++report.norm_code_groups;
        }
    m.online.norm_codes = report.norm_code_groups > 0;
    if (m.online.had_down) {
        // R4 moves into the down linears only if every one of them can take it: had_down is model-wide.
        std::vector<IntLinear*> downs;
        size_t n_downs = 0;
        for (Layer& l : m.layers)
            for (Linear* d : down_projections(l)) {
                ++n_downs;
                if (auto* il = dynamic_cast<IntLinear*>(d)) downs.push_back(il);
            }
        if (downs.size() == n_downs &&
            std::all_of(downs.begin(), downs.end(), [&](const IntLinear* il) { return il->accepts_input_hadamard(m.online.had_down_block); })) {
            for (IntLinear* il : downs) il->fuse_input_hadamard(m.online.had_down_block);
            m.online.had_down = false;
            m.online.had_down_block = 0;
            report.fused_hadamard = true;
        }
    }
    if (auto* kv = dynamic_cast<const FakeQuantKv*>(m.kv_policy.get());
        kv && kern::cpu_kv_codes_reason(kv->spec(), m.cfg.head_dim).empty()) {
        m.kv_policy = std::make_shared<FakeQuantKv>(kv->spec(), true);
        report.kv_codes = true;
    }
    if (report.integer > 0 && dynamic_cast<const DenseLinear*>(m.lm_head.get())) {
        // The head's rounding only moves the logits (by ~2⁻⁹ relative per weight). The embeddings feed every
        // quantized layer, where a rounded input flips 4-bit codes and the flips compound (1.5% of PPL on the
        // demo model at W4A4): they go to BF16 only when that is exact, i.e. unrotated BF16 checkpoints.
        m.lm_head = std::make_unique<Bf16Linear>(as_dense(*m.lm_head));
        report.head_bf16 = true;
        std::vector<uint16_t> embed(m.embed.size());
        std::transform(m.embed.begin(), m.embed.end(), embed.begin(), f32_to_bf16);
        bool exact = true;
        for (size_t i = 0; i < embed.size() && exact; ++i) exact = bf16_to_f32(embed[i]) == m.embed[i];
        if (exact) {
            m.embed_bf16 = std::move(embed);
            std::vector<float>().swap(m.embed);
            report.embed_bf16 = true;
        }
    }
    return report;
}

}  // namespace tameq
