#include "model/int_linear.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/half.h"
#include "kernels/cpu/act_quant.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/gemm.h"
#include "model/bf16_linear.h"
#include "numerics/hadamard.h"

namespace tameq {

std::unique_ptr<IntLinear> IntLinear::from(const FakeQuantLinear& sim, std::string* why) {
    const QuantizedWeight* q = sim.weight();
    const ActQuant& act = sim.act();
    auto no = [&](const std::string& reason) {
        if (why) *why = reason;
        return std::unique_ptr<IntLinear>();
    };
    if (!q) return no("weights kept in floating point");
    if (!q->spec.symmetric) return no("asymmetric weights");
    if (!q->column_group.empty()) return no("act-order groups");
    if (q->spec.granularity == Granularity::PerTensor) return no("per-tensor weight grid");
    if (q->spec.granularity == Granularity::PerGroup && q->spec.group_size % 8 != 0) return no("group size not a multiple of 8");
    if (act.mode == ActQuant::Mode::None) return no("activations not quantized");
    if (act.mode == ActQuant::Mode::PerToken && act.spec.clip_ratio != 1.0f) return no("clipped activations");
    if (act.mode == ActQuant::Mode::PerChannelStatic) {
        if (!act.spec.symmetric) return no("asymmetric static activations");
        for (float s : act.channel_step)
            if (s != 1.0f) return no("static activation steps not folded into the weights");
    }
    const int in = sim.in_features(), out = sim.out_features();
    if (in > kern::max_k) return no("input wider than the kernel's accumulator bound");
    auto l = std::unique_ptr<IntLinear>(new IntLinear(in, out));
    const int group = q->spec.granularity == Granularity::PerGroup ? q->spec.group_size : 0;
    l->wbits_ = q->spec.bits;
    l->w_ = q->spec.bits <= 4 ? kern::pack_weights_s4(q->codes.data(), out, in, group)
                              : kern::pack_weights_s8(q->codes.data(), out, in, group);
    if (group) {
        const int groups = in / group;  // QuantizedWeight params are [out x groups]; the kernel wants [groups x out]
        l->scale_w_.resize(size_t(groups) * out);
        for (int r = 0; r < out; ++r)
            for (int g = 0; g < groups; ++g) l->scale_w_[size_t(g) * out + r] = q->params[size_t(r) * groups + g].scale;
    } else {
        for (const QParams& p : q->params) l->scale_w_.push_back(p.scale);
    }
    l->bias_ = sim.bias();
    l->act_ = act;
    return l;
}

void IntLinear::forward(const float* x, int n, float* y) const {
    const int in = in_features(), ld = w_.k_pad;
    codes_.assign(size_t(n) * ld, 0);  // padding columns meet zero weights, so their codes never count
    scale_a_.resize(size_t(n));
    zero_a_.resize(size_t(n));
    if (act_.mode == ActQuant::Mode::PerToken && hadamard_input_) {
        kern::hadamard_quantize_rows_u8(x, n, in, in, act_.spec.bits, act_.spec.symmetric, codes_.data(), ld,
                                        scale_a_.data(), zero_a_.data());
    } else if (act_.mode == ActQuant::Mode::PerToken) {
        kern::quantize_rows_u8(x, n, in, in, act_.spec.bits, act_.spec.symmetric, codes_.data(), ld, scale_a_.data(),
                               zero_a_.data());
    } else {
        // OutlierTune: the norm already emits x / Δ; its codes are round(x) clamped, stored shifted by +128.
        const float lo = float(qmin(act_.spec)), hi = float(qmax(act_.spec));
        for (int i = 0; i < n; ++i) {
            for (int j = 0; j < in; ++j)
                codes_[size_t(i) * ld + j] = uint8_t(int(std::clamp(std::nearbyint(x[size_t(i) * in + j]), lo, hi)) + 128);
            scale_a_[size_t(i)] = 1.0f;
            zero_a_[size_t(i)] = 128;
        }
    }
    const kern::Dequant dq{scale_a_.data(), zero_a_.data(), scale_w_.data(), bias_.empty() ? nullptr : bias_.data()};
    if (w_.group) kern::gemm_u8_f32_grouped(codes_.data(), n, ld, w_, dq, y, out_features());
    else kern::gemm_u8_f32(codes_.data(), n, ld, w_, dq, y, out_features());
}

bool IntLinear::accepts_input_hadamard() const {
    return act_.mode == ActQuant::Mode::PerToken && hadamard_size_supported(in_features());
}

std::string IntLinear::kind() const {
    return fmt::format("integer W{}A{}{} ({})", wbits_, act_.spec.bits, hadamard_input_ ? " + fused Hadamard" : "",
                       kern::path_name(kern::active_path()));
}

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
    if (m.online.had_down) {
        // R4 moves into the down linears only if every one of them can take it: had_down is model-wide.
        std::vector<IntLinear*> downs;
        for (Layer& l : m.layers)
            if (auto* il = dynamic_cast<IntLinear*>((l.down ? l.down : l.fc2).get())) downs.push_back(il);
        if (downs.size() == m.layers.size() &&
            std::all_of(downs.begin(), downs.end(), [](const IntLinear* il) { return il->accepts_input_hadamard(); })) {
            for (IntLinear* il : downs) il->fuse_input_hadamard();
            m.online.had_down = false;
            report.fused_hadamard = true;
        }
    }
    if (auto* kv = dynamic_cast<const FakeQuantKv*>(m.kv_policy.get());
        kv && !kv->spec().symmetric && kv->spec().granularity == Granularity::PerRow && !kv->spec().mse_search &&
        m.cfg.head_dim % 2 == 0) {
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
