// The Llama family (Llama, Mistral, Qwen2, Qwen3, llama2.c): its slot table and its decoder block, with QuaRot's
// optional online Hadamards (R3 on q/k after RoPE, R4 before down) and tap points for calibration:
//   h = x + o(attn(rope(qn(q(n1))), rope(kn(k(n1))), v(n1)))     n1 = rmsnorm(x)
//   x' = h + down(silu(gate(n2)) * up(n2))                       n2 = rmsnorm(h)
// qn/kn: Qwen3's q_norm/k_norm, one RMSNorm over head_dim applied to every head (identity elsewhere). attn:
// causal, through the layer's sliding window where the config has one (Mistral, Qwen2/3 use_sliding_window).
// Why the rotations stay exact with qn/kn: R1 acts on q/k's input side only (W·R1 and n1·R1 give the same q);
// R2 touches v and o, which no per-head norm sits between; R3 is applied online after RoPE, i.e. after qn/kn,
// to q and k alike, so q·kᵀ is unchanged. Only a rotation folded into q/k's *output* rows would have to commute
// with qn/kn and RoPE, and tameq folds none.
#include "model/engine.h"
#include "model/family.h"
#include "numerics/hadamard.h"

namespace tameq {

void llama_attention(const Layer& l, float* x, BlockContext& ctx) {
    const ModelConfig& c = ctx.cfg;
    Scratch& s = ctx.s;
    const int n = ctx.n, hd = c.head_dim;

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
    attend_and_project(l, x, ctx);
}

void llama_mlp(const Layer& l, float* x, BlockContext& ctx) {
    const ModelConfig& c = ctx.cfg;
    Scratch& s = ctx.s;
    const int n = ctx.n;
    const size_t nh = size_t(n) * c.hidden;
    ctx.observe(Tap::MlpResidual, x, c.hidden);
    ctx.norm_and_project(x, l.mlp_norm, false, Tap::MlpIn, {{l.gate.get(), s.ff_a.data()}, {l.up.get(), s.ff_b.data()}});
    silu_mul(s.ff_a.data(), s.ff_b.data(), size_t(n) * c.intermediate);
    if (ctx.online.had_down) fwht_row_blocks(s.ff_a.data(), n, c.intermediate, ctx.online.had_down_block);
    ctx.observe(Tap::DownIn, s.ff_a.data(), c.intermediate);
    ctx.project(*l.down, s.ff_a.data(), s.tmp.data());
    add_rows(x, s.tmp.data(), nh);
}

namespace {

void llama_block(const Layer& l, float* x, BlockContext& ctx) {
    llama_attention(l, x, ctx);
    llama_mlp(l, x, ctx);
}

bool qkv_bias(const ModelConfig& c) { return c.qkv_bias; }
bool o_bias(const ModelConfig& c) { return c.o_bias; }
bool mlp_bias(const ModelConfig& c) { return c.mlp_bias; }
bool qk_norm(const ModelConfig& c) { return c.qk_norm; }
int head_width(const ModelConfig& c) { return c.head_dim; }

const BlockRow kBlock[] = {
    {.norm = &Layer::attn_norm, .canonical = "attn_norm", .hf = "input_layernorm", .llama2c = "rms_att", .gguf = "attn_norm"},
    {.linear = &Layer::q, .canonical = "q", .hf = "self_attn.q_proj", .llama2c = "wq", .gguf = "attn_q", .input = Tap::AttnIn,
     .shape = [](const ModelConfig& c) { return Shape{q_dim(c), c.hidden}; }, .bias = qkv_bias,
     .rope_heads = [](const ModelConfig& c) { return c.n_heads; }},
    {.linear = &Layer::k, .canonical = "k", .hf = "self_attn.k_proj", .llama2c = "wk", .gguf = "attn_k", .input = Tap::AttnIn,
     .shape = [](const ModelConfig& c) { return Shape{kv_dim(c), c.hidden}; }, .bias = qkv_bias,
     .rope_heads = [](const ModelConfig& c) { return c.n_kv_heads; }},
    {.linear = &Layer::v, .canonical = "v", .hf = "self_attn.v_proj", .llama2c = "wv", .gguf = "attn_v", .input = Tap::AttnIn,
     .shape = [](const ModelConfig& c) { return Shape{kv_dim(c), c.hidden}; }, .bias = qkv_bias},
    // Qwen3's per-head norms (llama.cpp's GGUF names; export-gguf refuses them, its 'llama' architecture has none).
    {.norm = &Layer::q_norm, .canonical = "q_norm", .hf = "self_attn.q_norm", .gguf = "attn_q_norm", .present = qk_norm,
     .width = head_width},
    {.norm = &Layer::k_norm, .canonical = "k_norm", .hf = "self_attn.k_norm", .gguf = "attn_k_norm", .present = qk_norm,
     .width = head_width},
    {.linear = &Layer::o, .canonical = "o", .hf = "self_attn.o_proj", .llama2c = "wo", .gguf = "attn_output", .input = Tap::OIn,
     .shape = [](const ModelConfig& c) { return Shape{c.hidden, q_dim(c)}; }, .bias = o_bias},
    {.norm = &Layer::mlp_norm, .canonical = "mlp_norm", .hf = "post_attention_layernorm", .llama2c = "rms_ffn", .gguf = "ffn_norm"},
    {.linear = &Layer::gate, .canonical = "gate", .hf = "mlp.gate_proj", .llama2c = "w1", .gguf = "ffn_gate", .input = Tap::MlpIn,
     .shape = [](const ModelConfig& c) { return Shape{c.intermediate, c.hidden}; }, .bias = mlp_bias},
    {.linear = &Layer::up, .canonical = "up", .hf = "mlp.up_proj", .llama2c = "w3", .gguf = "ffn_up", .input = Tap::MlpIn,
     .shape = [](const ModelConfig& c) { return Shape{c.intermediate, c.hidden}; }, .bias = mlp_bias},
    {.linear = &Layer::down, .canonical = "down", .hf = "mlp.down_proj", .llama2c = "w2", .gguf = "ffn_down", .input = Tap::DownIn,
     .shape = [](const ModelConfig& c) { return Shape{c.hidden, c.intermediate}; }, .bias = mlp_bias},
};

const ModelRow kModel[] = {
    {.table = &Model::embed, .canonical = "embed", .hf = "model.embed_tokens.weight", .llama2c = "emb", .gguf = "token_embd.weight",
     .shape = [](const ModelConfig& c) { return Shape{c.vocab, c.hidden}; }},
    {.norm = &Model::final_norm, .canonical = "final_norm", .hf = "model.norm", .llama2c = "rms_final", .gguf = "output_norm"},
    // llama2.c's shared classifier is "emb" itself (tie_embeddings), else "wcls".
    {.linear = &Model::lm_head, .canonical = "lm_head", .hf = "lm_head", .llama2c = "wcls", .gguf = "output",
     .shape = [](const ModelConfig& c) { return Shape{c.vocab, c.hidden}; }},
};

}  // namespace

const Family& family_llama() {
    static const Family f{
        .name = "llama",
        .block = kBlock,
        .model = kModel,
        .hf_layer_prefix = "model.layers.",
        .gguf_layer_prefix = "blk.",
        .forward_block = llama_block,
        .final_norm = rms_norm,
        .embed_width = [](const ModelConfig& c) { return c.hidden; },
        .rope = true,
        .learned_positions = false,
        .head_may_be_missing = false,
        .rms_norm = true,
    };
    return f;
}

}  // namespace tameq
