// The OPT family: its slot table and its decoder block. Pre-LN (OPT-125M and most sizes):
//   h = x + out_proj(attn(n1)),  n1 = LN1(x);   x' = h + fc2(relu(fc1(LN2(h))))
// Post-LN (OPT-350M, do_layer_norm_before = false):
//   h = LN1(x + out_proj(attn(x)));             x' = LN2(h + fc2(relu(fc1(h))))
// Rotations (pre-LN only) go through SliceGPT's construction (to_rms_skeleton, to_rms_layer): every writer of
// the residual (token and position embeddings, out_proj, fc2, biases included) has its output's mean removed,
// so every LayerNorm sees a mean-free x and LN(x) = x/rms(x)·γ + β; γ and β fold into the readers (q, k, v, fc1,
// lm_head: W·diag(γ), b + W·β) and the norms run as RMSNorm (OnlineTransforms::layer_norm_as_rms).
#include <cstring>

#include <fmt/format.h>

#include "common/error.h"
#include "model/engine.h"
#include "model/family.h"
#include "numerics/hadamard.h"

namespace tameq {
namespace {

void opt_block(const Layer& l, float* x, BlockContext& ctx) {
    const ModelConfig& c = ctx.cfg;
    Scratch& s = ctx.s;
    const int n = ctx.n;
    const size_t nh = size_t(n) * c.hidden;
    const bool pre = c.pre_layer_norm;
    const bool layer_norm_mean = !ctx.online.layer_norm_as_rms;  // false once made mean-free (SliceGPT)

    ctx.observe(Tap::AttnResidual, x, c.hidden);
    ctx.mark_fp_rows(x);
    float* k_rows = ctx.cache.k(ctx.cache_layer, ctx.pos0);
    float* v_rows = ctx.cache.v(ctx.cache_layer, ctx.pos0);
    if (pre) {
        ctx.norm_and_project(x, l.attn_norm, layer_norm_mean, Tap::AttnIn,
                             {{l.q.get(), s.q.data()}, {l.k.get(), k_rows}, {l.v.get(), v_rows}});
    } else {
        ctx.observe(Tap::AttnIn, x, c.hidden);
        ctx.project(*l.q, x, s.q.data());
        ctx.project(*l.k, x, k_rows);
        ctx.project(*l.v, x, v_rows);
    }
    if (ctx.online.had_qk) {  // R3 (no RoPE here): the same orthonormal H on every q and k head leaves q·kᵀ unchanged
        fwht_rows(s.q.data(), n * c.n_heads, c.head_dim);
        fwht_rows(k_rows, n * c.n_kv_heads, c.head_dim);
    }
    attend_and_project(l, x, ctx);
    if (!pre) {
        layer_norm(x, n, c.hidden, l.attn_norm, c.norm_eps, s.tmp.data());
        std::memcpy(x, s.tmp.data(), nh * 4);
    }

    ctx.observe(Tap::MlpResidual, x, c.hidden);
    if (pre) {
        ctx.norm_and_project(x, l.mlp_norm, layer_norm_mean, Tap::MlpIn, {{l.fc1.get(), s.ff_a.data()}});
    } else {
        ctx.observe(Tap::MlpIn, x, c.hidden);
        ctx.project(*l.fc1, x, s.ff_a.data());
    }
    relu(s.ff_a.data(), size_t(n) * c.intermediate);
    if (ctx.online.had_down) fwht_row_blocks(s.ff_a.data(), n, c.intermediate, ctx.online.had_down_block);
    ctx.observe(Tap::DownIn, s.ff_a.data(), c.intermediate);
    ctx.project(*l.fc2, s.ff_a.data(), s.tmp.data());
    add_rows(x, s.tmp.data(), nh);
    if (!pre) {
        layer_norm(x, n, c.hidden, l.mlp_norm, c.norm_eps, s.tmp.data());
        std::memcpy(x, s.tmp.data(), nh * 4);
    }
}

std::string why_not_rotatable(const ModelConfig& c) {
    if (!c.pre_layer_norm)
        return "post-LN OPT (do_layer_norm_before=false): its LayerNorms sit on the residual stream itself, and a "
               "rotation does not commute with LayerNorm's mean subtraction";
    if (c.word_embed_proj_dim != c.hidden)
        return fmt::format("project_in/project_out (word_embed_proj_dim {} != hidden_size {}): the residual's "
                           "writer and reader there are not square, so no mean-free residual is exact through them",
                           c.word_embed_proj_dim, c.hidden);
    if (!c.final_layer_norm)
        return "no final LayerNorm (_remove_final_layer_norm): lm_head reads the raw residual, whose mean the "
               "mean-free construction removes";
    return {};
}

// Rows of a [rows x width] table, each an addition to the residual: each loses its mean over the width.
void center_rows(std::vector<float>& t, int width) {
    for (size_t r = 0; r + size_t(width) <= t.size(); r += size_t(width)) {
        double sum = 0.0;
        for (int j = 0; j < width; ++j) sum += t[r + size_t(j)];
        const float mean = float(sum / width);
        for (int j = 0; j < width; ++j) t[r + size_t(j)] -= mean;
    }
}

// A writer of the residual, y = W·a + b with W [hidden x in]: (I - 11ᵀ/hidden)·W and b - mean(b), i.e. each
// input column of W and the bias lose their mean over the outputs.
void center_writer(Linear& lin) {
    DenseLinear& d = as_dense(lin);
    const int out = d.out_features(), in = d.in_features();
    std::vector<double> col_sum(size_t(in), 0.0);
    for (int r = 0; r < out; ++r)
        for (int j = 0; j < in; ++j) col_sum[size_t(j)] += d.weight[size_t(r) * in + j];
    for (int r = 0; r < out; ++r)
        for (int j = 0; j < in; ++j) d.weight[size_t(r) * in + j] -= float(col_sum[size_t(j)] / out);
    if (!d.bias.empty()) center_rows(d.bias, out);
}

// LN(x)·Wᵀ + b on a mean-free x is x̂·(W·diag(γ))ᵀ + (b + W·β), x̂ = x/rms(x): fold γ and β into every reader,
// then leave the norm as a bare RMSNorm (unit weight, no bias).
void fold_affine(Norm& norm, const std::vector<Linear*>& readers) {
    const std::vector<float>& gamma = norm.weight;
    const std::vector<float>& beta = norm.bias;
    for (Linear* lin : readers) {
        DenseLinear& d = as_dense(*lin);
        const int out = d.out_features(), in = d.in_features();
        if (d.bias.empty()) d.bias.assign(size_t(out), 0.0f);
        for (int r = 0; r < out; ++r) {
            float* w = d.weight.data() + size_t(r) * in;
            double shift = 0.0;
            for (int j = 0; j < in; ++j) {
                if (!beta.empty()) shift += double(w[j]) * beta[size_t(j)];
                w[j] *= gamma[size_t(j)];
            }
            d.bias[size_t(r)] += float(shift);
        }
    }
    std::fill(norm.weight.begin(), norm.weight.end(), 1.0f);
    norm.bias.clear();
}

void to_rms_skeleton(Model& m) {
    if (const std::string why = why_not_rotatable(m.cfg); !why.empty()) fail(m.source, "rotations: {}", why);
    if (m.online.layer_norm_as_rms) return;  // already converted
    center_rows(m.embed, m.cfg.hidden);
    center_rows(m.pos_embed, m.cfg.hidden);
    fold_affine(m.final_norm, {m.lm_head.get()});
    m.online.layer_norm_as_rms = true;
}

void to_rms_layer(const ModelConfig& c, Layer& l) {
    if (const std::string why = why_not_rotatable(c); !why.empty()) fail("model", "rotations: {}", why);
    center_writer(*l.o);
    center_writer(*l.fc2);
    fold_affine(l.attn_norm, {l.q.get(), l.k.get(), l.v.get()});
    fold_affine(l.mlp_norm, {l.fc1.get()});
}

bool always(const ModelConfig&) { return true; }
// OPT-350M style: embeddings narrower than the residual stream, projected in and out.
bool projected(const ModelConfig& c) { return c.word_embed_proj_dim != c.hidden; }

const BlockRow kBlock[] = {
    {.norm = &Layer::attn_norm, .canonical = "attn_norm", .hf = "self_attn_layer_norm", .bias = always},
    {.linear = &Layer::q, .canonical = "q", .hf = "self_attn.q_proj", .input = Tap::AttnIn,
     .shape = [](const ModelConfig& c) { return Shape{q_dim(c), c.hidden}; }, .bias = always},
    {.linear = &Layer::k, .canonical = "k", .hf = "self_attn.k_proj", .input = Tap::AttnIn,
     .shape = [](const ModelConfig& c) { return Shape{kv_dim(c), c.hidden}; }, .bias = always},
    {.linear = &Layer::v, .canonical = "v", .hf = "self_attn.v_proj", .input = Tap::AttnIn,
     .shape = [](const ModelConfig& c) { return Shape{kv_dim(c), c.hidden}; }, .bias = always},
    {.linear = &Layer::o, .canonical = "o", .hf = "self_attn.out_proj", .input = Tap::OIn,
     .shape = [](const ModelConfig& c) { return Shape{c.hidden, q_dim(c)}; }, .bias = always},
    {.norm = &Layer::mlp_norm, .canonical = "mlp_norm", .hf = "final_layer_norm", .bias = always},
    {.linear = &Layer::fc1, .canonical = "fc1", .hf = "fc1", .input = Tap::MlpIn,
     .shape = [](const ModelConfig& c) { return Shape{c.intermediate, c.hidden}; }, .bias = always},
    {.linear = &Layer::fc2, .canonical = "fc2", .hf = "fc2", .input = Tap::DownIn,
     .shape = [](const ModelConfig& c) { return Shape{c.hidden, c.intermediate}; }, .bias = always},
};

const ModelRow kModel[] = {
    {.table = &Model::embed, .canonical = "embed", .hf = "model.decoder.embed_tokens.weight",
     .shape = [](const ModelConfig& c) { return Shape{c.vocab, c.word_embed_proj_dim}; }},
    {.table = &Model::pos_embed, .canonical = "pos_embed", .hf = "model.decoder.embed_positions.weight",
     .shape = [](const ModelConfig& c) { return Shape{c.max_positions + c.position_offset, c.hidden}; }},
    {.linear = &Model::project_in, .canonical = "project_in", .hf = "model.decoder.project_in",
     .shape = [](const ModelConfig& c) { return Shape{c.hidden, c.word_embed_proj_dim}; }, .present = projected},
    {.linear = &Model::project_out, .canonical = "project_out", .hf = "model.decoder.project_out",
     .shape = [](const ModelConfig& c) { return Shape{c.word_embed_proj_dim, c.hidden}; }, .present = projected},
    // Post-LN models (OPT-350M) and _remove_final_layer_norm have none.
    {.norm = &Model::final_norm, .canonical = "final_norm", .hf = "model.decoder.final_layer_norm", .bias = always,
     .present = [](const ModelConfig& c) { return c.pre_layer_norm && c.final_layer_norm; }},
    {.linear = &Model::lm_head, .canonical = "lm_head", .hf = "lm_head",
     .shape = [](const ModelConfig& c) { return Shape{c.vocab, c.word_embed_proj_dim}; }},
};

}  // namespace

const Family& family_opt() {
    static const Family f{
        .name = "opt",
        .block = kBlock,
        .model = kModel,
        .hf_layer_prefix = "model.decoder.layers.",
        .gguf_layer_prefix = nullptr,
        .forward_block = opt_block,
        .final_norm = layer_norm,
        .embed_width = [](const ModelConfig& c) { return c.word_embed_proj_dim; },
        .rope = false,
        .learned_positions = true,
        .head_may_be_missing = true,
        .rms_norm = false,
        .why_not_rotatable = why_not_rotatable,
        .to_rms_skeleton = to_rms_skeleton,
        .to_rms_layer = to_rms_layer,
    };
    return f;
}

}  // namespace tameq
