// The OPT family: its slot table and its decoder block. Pre-LN (OPT-125M and most sizes):
//   h = x + out_proj(attn(n1)),  n1 = LN1(x);   x' = h + fc2(relu(fc1(LN2(h))))
// Post-LN (OPT-350M, do_layer_norm_before = false):
//   h = LN1(x + out_proj(attn(x)));             x' = LN2(h + fc2(relu(fc1(h))))
#include <cstring>

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

    ctx.observe(Tap::AttnResidual, x, c.hidden);
    ctx.mark_fp_rows(x);
    float* k_rows = ctx.cache.k(ctx.cache_layer, ctx.pos0);
    float* v_rows = ctx.cache.v(ctx.cache_layer, ctx.pos0);
    if (pre) {
        ctx.norm_and_project(x, l.attn_norm, true, Tap::AttnIn,
                             {{l.q.get(), s.q.data()}, {l.k.get(), k_rows}, {l.v.get(), v_rows}});
    } else {
        ctx.observe(Tap::AttnIn, x, c.hidden);
        ctx.project(*l.q, x, s.q.data());
        ctx.project(*l.k, x, k_rows);
        ctx.project(*l.v, x, v_rows);
    }
    attend_and_project(l, x, ctx);
    if (!pre) {
        layer_norm(x, n, c.hidden, l.attn_norm, c.norm_eps, s.tmp.data());
        std::memcpy(x, s.tmp.data(), nh * 4);
    }

    ctx.observe(Tap::MlpResidual, x, c.hidden);
    if (pre) {
        ctx.norm_and_project(x, l.mlp_norm, true, Tap::MlpIn, {{l.fc1.get(), s.ff_a.data()}});
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
    };
    return f;
}

}  // namespace tameq
