#include "model/engine.h"

#include <algorithm>
#include <cstring>
#include <iterator>

#include "common/error.h"
#include "common/half.h"
#include "kernels/cpu/norm_codes.h"
#include "model/family.h"
#include "model/int_linear.h"
#include "numerics/massive.h"

namespace tameq {

const char* tap_name(Tap t) {
    switch (t) {
        case Tap::AttnResidual: return "attn_residual";
        case Tap::AttnIn: return "attn_in";
        case Tap::OIn: return "o_in";
        case Tap::MlpResidual: return "mlp_residual";
        case Tap::MlpIn: return "mlp_in";
        case Tap::DownIn: return "down_in";
    }
    return "?";
}

}  // namespace tameq

namespace tameq {

void Scratch::ensure(const ModelConfig& cfg, int n) {
    const size_t q_dim = size_t(cfg.n_heads) * cfg.head_dim, kv_dim = size_t(cfg.n_kv_heads) * cfg.head_dim;
    const size_t rows = size_t(n);
    if (xn.size() < rows * cfg.hidden) {
        xn.resize(rows * cfg.hidden);
        tmp.resize(rows * cfg.hidden);
        q.resize(rows * q_dim);
        attn.resize(rows * q_dim);
        k.resize(rows * kv_dim);
        v.resize(rows * kv_dim);
        ff_a.resize(rows * cfg.widest_mlp());
        ff_b.resize(rows * cfg.widest_mlp());
        if (cfg.n_experts > 0) {
            router.resize(rows * cfg.n_experts);
            expert_in.resize(rows * cfg.hidden);
            expert_out.resize(rows * cfg.hidden);
            moe_out.resize(rows * cfg.hidden);
        }
    }
}

Engine::Engine(const Model& model, int max_ctx) : model_(model) {
    const ModelConfig& c = model.cfg;
    if (max_ctx <= 0) max_ctx = c.max_positions;
    const Family& family = family_of(c);
    if (max_ctx > c.max_positions && family.learned_positions)
        fail(model.source, "context {} exceeds the {} learned positions", max_ctx, c.max_positions);
    if (family.rope) rope_ = RopeTable(c, max_ctx);
    if (family.rope && c.rope_theta_sliding > 0) rope_sliding_ = RopeTable(c, max_ctx, c.rope_theta_sliding);
    cache_ = KvCache(c.n_layers, max_ctx, c.n_kv_heads, c.head_dim, model.kv_policy.get());
}

void BlockContext::mark_fp_rows(const float* x) {
    if (!online.keep_massive_fp) return;
    s.fp_rows = mark_massive_by_norm(x, n, cfg.hidden);
    fp_rows = s.fp_rows;
}

void BlockContext::norm_and_project(const float* x, const Norm& norm, bool is_layer_norm, Tap where,
                                    std::initializer_list<NormReader> readers) {
    const int k = cfg.hidden;
    if (online.norm_codes && !tap && fp_rows.empty()) {
        const Linear* linears[8];
        size_t count = 0;
        for (const NormReader& r : readers)
            if (count < std::size(linears)) linears[count++] = r.linear;
        if (const IntLinear* first = count == readers.size() ? shared_static_codes({linears, count}) : nullptr) {
            const QuantSpec& spec = *first->static_code_spec();
            const int ld = first->code_stride();
            s.codes.resize(size_t(n) * ld);
            for (int i = 0; i < n && ld > k; ++i) std::memset(&s.codes[size_t(i) * ld + k], 0, size_t(ld - k));
            const kern::NormAffine affine{is_layer_norm ? kern::RowNorm::layer : kern::RowNorm::rms, norm.weight.data(),
                                          norm.bias.empty() ? nullptr : norm.bias.data(), cfg.norm_eps};
            kern::norm_codes_u8(x, n, k, k, affine, qmin(spec), qmax(spec), s.codes.data(), ld);
            for (const NormReader& r : readers) static_cast<const IntLinear*>(r.linear)->forward_codes(s.codes.data(), n, r.y);
            return;
        }
    }
    if (is_layer_norm)
        layer_norm(x, n, k, norm, cfg.norm_eps, s.xn.data());
    else
        rms_norm(x, n, k, norm, cfg.norm_eps, s.xn.data());
    observe(where, s.xn.data(), k);
    for (const NormReader& r : readers) project(*r.linear, s.xn.data(), r.y);
}

void embed_tokens(const Model& m, const int* tokens, int n, int pos0, float* x) {
    const ModelConfig& c = m.cfg;
    const Family& family = family_of(c);
    const int e = family.embed_width(c);
    std::vector<float> raw;
    float* dst = x;
    if (m.project_in) {
        raw.resize(size_t(n) * e);
        dst = raw.data();
    }
    for (int i = 0; i < n; ++i) {
        if (tokens[i] < 0 || tokens[i] >= c.vocab) fail(m.source, "token id {} outside the vocabulary of {}", tokens[i], c.vocab);
        if (!m.embed.empty()) {
            std::memcpy(dst + size_t(i) * e, &m.embed[size_t(tokens[i]) * e], size_t(e) * 4);
        } else {
            const uint16_t* row = &m.embed_bf16[size_t(tokens[i]) * e];
            std::transform(row, row + e, dst + size_t(i) * e, bf16_to_f32);
        }
    }
    if (family.embed_scale) {  // as transformers does it: the scale rounded to the hidden states' dtype (fp32)
        const float scale = family.embed_scale(c);
        for (size_t i = 0; i < size_t(n) * e; ++i) dst[i] *= scale;
    }
    if (m.project_in) m.project_in->forward(raw.data(), n, x);
    if (family.learned_positions)
        for (int i = 0; i < n; ++i)
            add_rows(x + size_t(i) * c.hidden, &m.pos_embed[size_t(pos0 + i + c.position_offset) * c.hidden],
                     size_t(c.hidden));
}

void Engine::forward(const int* tokens, int n, float* logits, Logits mode) {
    const ModelConfig& c = model_.cfg;
    if (n <= 0) return;
    if (pos_ + n > cache_.max_ctx())
        fail(model_.source, "context full: {} + {} tokens exceed the context of {}", pos_, n, cache_.max_ctx());
    x_.resize(size_t(n) * c.hidden);
    scratch_.ensure(c, n);
    embed_tokens(model_, tokens, n, pos_, x_.data());
    cache_.begin_write(pos_, n);
    const Family& family = family_of(c);
    for (int l = 0; l < c.n_layers; ++l) {
        BlockContext ctx{.cfg = c, .rope = c.local_rope(l) ? rope_sliding_ : rope_, .cache = cache_, .s = scratch_, .layer = l, .cache_layer = l,
                         .pos0 = pos_, .n = n, .online = model_.online, .tap = tap};
        family.forward_block(model_.layers[size_t(l)], x_.data(), ctx);
    }
    pos_ += n;
    if (mode == Logits::None) return;
    // Only the rows whose logits are wanted go through the final norm and lm_head.
    const int rows = mode == Logits::All ? n : 1;
    const float* last = x_.data() + size_t(n - rows) * c.hidden;
    head_in_.resize(size_t(rows) * c.hidden);
    if (model_.final_norm.weight.empty()) std::memcpy(head_in_.data(), last, size_t(rows) * c.hidden * 4);
    else (model_.online.layer_norm_as_rms ? rms_norm : family.final_norm)(last, rows, c.hidden, model_.final_norm,
                                                                           c.norm_eps, head_in_.data());
    if (model_.project_out) {
        std::vector<float> projected(size_t(rows) * c.word_embed_proj_dim);
        model_.project_out->forward(head_in_.data(), rows, projected.data());
        model_.lm_head->forward(projected.data(), rows, logits);
    } else {
        model_.lm_head->forward(head_in_.data(), rows, logits);
    }
    if (c.final_softcap > 0) soft_cap(logits, size_t(rows) * c.vocab, c.final_softcap);
}

}  // namespace tameq
