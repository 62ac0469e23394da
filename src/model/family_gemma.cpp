// The Gemma family: Gemma 2 (Gemma2ForCausalLM) and Gemma 3's text model (Gemma3ForCausalLM), as transformers'
// modeling_gemma2.py / modeling_gemma3.py compute them:
//   h  = x + pa(o(attn(rope(qn(q(n1))), rope(kn(k(n1))), v(n1))))     n1 = rmsnorm(x)
//   x' = h + pf(down(gelu_tanh(gate(n2)) * up(n2)))                   n2 = rmsnorm(h)
// Every RMSNorm computes x/rms(x)·(1 + w) with w as stored; the loader adds the 1 (Family::norm_offset), so all
// norms here, the passes and the integer engine see ordinary RMSNorm scales. pa and pf are the post-norms on the
// attention's and the MLP's outputs (HF post_attention_layernorm and post_feedforward_layernorm: note the former
// is *not* Llama's pre-MLP norm, which Gemma calls pre_feedforward_layernorm). qn/kn: Gemma 3's per-head norms.
// attn: scores scaled by query_pre_attn_scalar^-1/2, soft-capped in Gemma 2 (attn_logit_softcapping), through the
// sliding window in the layers layer_types marks; Gemma 3's sliding layers take their own RoPE base (the engines
// pick the table per layer). Embeddings are multiplied by √hidden; the tied lm_head is the unscaled table; Gemma 2
// soft-caps the final logits (Engine::forward).
// Rotations of the residual (R1) are not exact: pa and pf normalize o's and down's outputs, so a rotation folded
// into o's and down's rows would have to pass through an RMSNorm with a per-channel scale, which only commutes
// with it when the scale is uniform. R2 (v/o heads), R3 (q/k after RoPE) and R4 (before down) stay exact:
// no norm sits between v and o, q·kᵀ is unchanged under R3 whatever the scale and cap, and R4's H·Hᵀ = I acts
// inside the MLP.
#include <cmath>

#include "common/error.h"
#include "model/engine.h"
#include "model/family.h"
#include "numerics/hadamard.h"

namespace tameq {
namespace {

void gemma_block(const Layer& l, float* x, BlockContext& ctx) {
    const ModelConfig& c = ctx.cfg;
    Scratch& s = ctx.s;
    const int n = ctx.n, hd = c.head_dim;
    const size_t nh = size_t(n) * c.hidden;

    ctx.observe(Tap::AttnResidual, x, c.hidden);
    ctx.mark_fp_rows(x);
    float* k_rows = ctx.cache.k(ctx.cache_layer, ctx.pos0);
    float* v_rows = ctx.cache.v(ctx.cache_layer, ctx.pos0);
    ctx.norm_and_project(x, l.attn_norm, false, Tap::AttnIn,
                         {{l.q.get(), s.q.data()}, {l.k.get(), k_rows}, {l.v.get(), v_rows}});
    if (!l.q_norm.weight.empty()) {
        rms_norm(s.q.data(), n * c.n_heads, hd, l.q_norm, c.norm_eps, s.q.data());
        rms_norm(k_rows, n * c.n_kv_heads, hd, l.k_norm, c.norm_eps, k_rows);
    }
    ctx.rope.apply(s.q.data(), n, c.n_heads, ctx.pos0);
    ctx.rope.apply(k_rows, n, c.n_kv_heads, ctx.pos0);
    if (ctx.online.had_qk) {
        fwht_rows(s.q.data(), n * c.n_heads, hd);
        fwht_rows(k_rows, n * c.n_kv_heads, hd);
    }
    attend(ctx);
    ctx.project(*l.o, s.attn.data(), s.tmp.data());
    rms_norm(s.tmp.data(), n, c.hidden, l.post_attn_norm, c.norm_eps, s.tmp.data());
    add_rows(x, s.tmp.data(), nh);

    ctx.observe(Tap::MlpResidual, x, c.hidden);
    ctx.norm_and_project(x, l.mlp_norm, false, Tap::MlpIn, {{l.gate.get(), s.ff_a.data()}, {l.up.get(), s.ff_b.data()}});
    gelu_tanh_mul(s.ff_a.data(), s.ff_b.data(), size_t(n) * c.intermediate);
    if (ctx.online.had_down) fwht_row_blocks(s.ff_a.data(), n, c.intermediate, ctx.online.had_down_block);
    ctx.observe(Tap::DownIn, s.ff_a.data(), c.intermediate);
    ctx.project(*l.down, s.ff_a.data(), s.tmp.data());
    rms_norm(s.tmp.data(), n, c.hidden, l.post_mlp_norm, c.norm_eps, s.tmp.data());
    add_rows(x, s.tmp.data(), nh);
}

bool attention_bias(const ModelConfig& c) { return c.qkv_bias; }
bool qk_norm(const ModelConfig& c) { return c.qk_norm; }
int head_width(const ModelConfig& c) { return c.head_dim; }

// The Llama family's canonical names for the slots both have (the quantized directory, tameq.json), the
// post-norms under their own.
const BlockRow kBlock[] = {
    {.norm = &Layer::attn_norm, .canonical = "attn_norm", .hf = "input_layernorm"},
    {.linear = &Layer::q, .canonical = "q", .hf = "self_attn.q_proj", .input = Tap::AttnIn,
     .shape = [](const ModelConfig& c) { return Shape{q_dim(c), c.hidden}; }, .bias = attention_bias,
     .rope_heads = [](const ModelConfig& c) { return c.n_heads; }},
    {.linear = &Layer::k, .canonical = "k", .hf = "self_attn.k_proj", .input = Tap::AttnIn,
     .shape = [](const ModelConfig& c) { return Shape{kv_dim(c), c.hidden}; }, .bias = attention_bias,
     .rope_heads = [](const ModelConfig& c) { return c.n_kv_heads; }},
    {.linear = &Layer::v, .canonical = "v", .hf = "self_attn.v_proj", .input = Tap::AttnIn,
     .shape = [](const ModelConfig& c) { return Shape{kv_dim(c), c.hidden}; }, .bias = attention_bias},
    {.norm = &Layer::q_norm, .canonical = "q_norm", .hf = "self_attn.q_norm", .present = qk_norm, .width = head_width},
    {.norm = &Layer::k_norm, .canonical = "k_norm", .hf = "self_attn.k_norm", .present = qk_norm, .width = head_width},
    {.linear = &Layer::o, .canonical = "o", .hf = "self_attn.o_proj", .input = Tap::OIn,
     .shape = [](const ModelConfig& c) { return Shape{c.hidden, q_dim(c)}; }, .bias = attention_bias},
    {.norm = &Layer::post_attn_norm, .canonical = "post_attn_norm", .hf = "post_attention_layernorm"},
    {.norm = &Layer::mlp_norm, .canonical = "mlp_norm", .hf = "pre_feedforward_layernorm"},
    {.linear = &Layer::gate, .canonical = "gate", .hf = "mlp.gate_proj", .input = Tap::MlpIn,
     .shape = [](const ModelConfig& c) { return Shape{c.intermediate, c.hidden}; }},
    {.linear = &Layer::up, .canonical = "up", .hf = "mlp.up_proj", .input = Tap::MlpIn,
     .shape = [](const ModelConfig& c) { return Shape{c.intermediate, c.hidden}; }},
    {.linear = &Layer::down, .canonical = "down", .hf = "mlp.down_proj", .input = Tap::DownIn,
     .shape = [](const ModelConfig& c) { return Shape{c.hidden, c.intermediate}; }},
    {.norm = &Layer::post_mlp_norm, .canonical = "post_mlp_norm", .hf = "post_feedforward_layernorm"},
};

const ModelRow kModel[] = {
    {.table = &Model::embed, .canonical = "embed", .hf = "model.embed_tokens.weight",
     .shape = [](const ModelConfig& c) { return Shape{c.vocab, c.hidden}; }},
    {.norm = &Model::final_norm, .canonical = "final_norm", .hf = "model.norm"},
    {.linear = &Model::lm_head, .canonical = "lm_head", .hf = "lm_head",
     .shape = [](const ModelConfig& c) { return Shape{c.vocab, c.hidden}; }},
};

std::string why_not_rotatable(const ModelConfig& c) {
    return fmt::format("{}'s post-attention and post-feedforward RMSNorms normalize o_proj's and down_proj's outputs "
                       "before the residual add, so a residual rotation cannot be folded through them (R1 needs every "
                       "residual writer to be a bare linear)", c.architecture);
}

}  // namespace

const Family& family_gemma() {
    static const Family f{
        .name = "gemma",
        .block = kBlock,
        .model = kModel,
        .hf_layer_prefix = "model.layers.",
        .gguf_layer_prefix = nullptr,  // export-gguf writes llama.cpp's 'llama' architecture only
        .forward_block = gemma_block,
        .final_norm = rms_norm,
        .embed_width = [](const ModelConfig& c) { return c.hidden; },
        .rope = true,
        .learned_positions = false,
        .head_may_be_missing = true,  // tied (tie_word_embeddings defaults to true)
        .rms_norm = true,
        .why_not_rotatable = why_not_rotatable,
        .norm_offset = 1.0f,
        .embed_scale = [](const ModelConfig& c) { return float(std::sqrt(double(c.hidden))); },
    };
    return f;
}

}  // namespace tameq
