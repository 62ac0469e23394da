#include "model/int_linear.h"

#include <algorithm>
#include <cmath>

#include <fmt/format.h>

#include "common/error.h"

#include "kernels/cpu/act_quant.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/gemm.h"
#include "kernels/scheme_kernels.h"
#include "numerics/hadamard.h"

namespace tameq {

namespace {

// The three activation paths of forward: dynamic per-token codes, OutlierTune's static codes, or none.
const char* activation_reason(const ActQuant& act) {
    if (act.mode == ActQuant::Mode::None) return "activations not quantized";
    if (act.mode == ActQuant::Mode::PerToken && act.spec.clip_ratio != 1.0f) return "clipped activations";
    if (act.mode == ActQuant::Mode::PerChannelStatic) {
        if (!act.spec.symmetric) return "asymmetric static activations";
        for (float s : act.channel_step)
            if (s != 1.0f) return "static activation steps not folded into the weights";
    }
    return nullptr;
}

}  // namespace

std::unique_ptr<IntLinear> IntLinear::from(const FakeQuantLinear& sim, std::string* why) {
    const QuantizedWeight* q = sim.weight();
    const ActQuant& act = sim.act();
    auto no = [&](const std::string& reason) {
        if (why) *why = reason;
        return std::unique_ptr<IntLinear>();
    };
    if (!q) return no("weights kept in floating point");
    const kern::CpuWeightKernel kernel = kern::cpu_weight_kernel(weight_scheme(q->spec, !q->column_group.empty()));
    if (!kernel.pack) return no(kernel.why_not);
    if (const char* reason = activation_reason(act)) return no(reason);
    const int in = sim.in_features(), out = sim.out_features();
    if (in > kern::max_k) return no("input wider than the kernel's accumulator bound");
    auto l = std::unique_ptr<IntLinear>(new IntLinear(in, out));
    const int group = q->spec.granularity == Granularity::PerGroup ? q->spec.group_size : 0;
    l->wbits_ = q->spec.bits;
    l->w_ = kernel.pack(q->codes.data(), out, in, group);
    l->gemm_ = kernel.gemm;
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
                                        scale_a_.data(), zero_a_.data(), hadamard_block_);
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
    gemm_(codes_.data(), n, ld, w_, dq, y, out_features());
}

void IntLinear::forward_codes(const uint8_t* codes, int n, float* y) const {
    if (!static_code_spec()) fail("model", "forward_codes on a linear that quantizes its input per token");
    scale_a_.assign(size_t(n), 1.0f);
    zero_a_.assign(size_t(n), 128);
    const kern::Dequant dq{scale_a_.data(), zero_a_.data(), scale_w_.data(), bias_.empty() ? nullptr : bias_.data()};
    gemm_(codes, n, w_.k_pad, w_, dq, y, out_features());
}

const IntLinear* shared_static_codes(std::span<const Linear* const> readers) {
    const IntLinear* first = nullptr;
    for (const Linear* l : readers) {
        const auto* il = dynamic_cast<const IntLinear*>(l);
        const QuantSpec* spec = il ? il->static_code_spec() : nullptr;
        if (!spec || qmin(*spec) < -128 || qmax(*spec) > 127) return nullptr;
        if (!first) {
            first = il;
            continue;
        }
        const QuantSpec& f = *first->static_code_spec();
        if (qmin(*spec) != qmin(f) || qmax(*spec) != qmax(f) || il->code_stride() != first->code_stride() ||
            il->in_features() != first->in_features())
            return nullptr;
    }
    return first;
}

bool IntLinear::accepts_input_hadamard(int block) const {
    const int in = in_features();
    const bool size_ok = block == 0 ? hadamard_size_supported(in) : block >= 2 && !(block & (block - 1)) && in % block == 0;
    return act_.mode == ActQuant::Mode::PerToken && size_ok;
}

std::string IntLinear::kind() const {
    const std::string had = !hadamard_input_ ? ""
                            : hadamard_block_ ? fmt::format(" + fused Hadamard (blocks of {})", hadamard_block_)
                                              : " + fused Hadamard";
    return fmt::format("integer W{}A{}{} ({})", wbits_, act_.spec.bits, had,
                       kern::path_name(kern::active_path()));
}

}  // namespace tameq
