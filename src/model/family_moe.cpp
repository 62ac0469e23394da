// The mixture-of-experts families, Mixtral (MixtralForCausalLM) and Qwen3-MoE (Qwen3MoeForCausalLM): the Llama
// block's attention (family_llama.cpp; Qwen3-MoE with Qwen3's per-head q/k norms) and, in the layers of
// ModelConfig::is_moe_layer, a sparse MLP instead of the dense one:
//   p = softmax(router(n2))                      in FP32 over all experts
//   S = the experts_per_token largest p, w_e = p_e (/ Σ_S p when norm_topk_prob: Mixtral always)
//   x' = h + Σ_{e∈S} w_e · down_e(silu(gate_e(n2)) * up_e(n2))
// as transformers' MixtralSparseMoeBlock / Qwen3MoeSparseMoeBlock compute it. Each expert runs on the rows routed
// to it only (gathered), so an expert's calibration (BlockTap::on_expert) sees exactly its tokens. Qwen3-MoE's
// layers outside is_moe_layer (mlp_only_layers, decoder_sparse_step) keep the dense SwiGLU of intermediate_size.
// The two tables differ in their checkpoint names only; the quantized directory names the slots alike
// ("router", "experts.E.gate/up/down"). The router stays floating point (Layer::router); R1, norm folding and
// smoothing fold into it as into any reader of the MLP norm, which leaves its logits, and so the routing, exact.
#include <algorithm>
#include <cmath>
#include <cstring>

#include "model/engine.h"
#include "model/family.h"
#include "numerics/hadamard.h"

namespace tameq {
namespace {

// Picks the experts of each of the n rows from router logits [n x E] into ids/weights [n x k].
void route(const float* logits, int n, const ModelConfig& c, std::vector<int>& ids, std::vector<float>& weights) {
    const int n_exp = c.n_experts, k = c.experts_per_token;
    ids.resize(size_t(n) * k);
    weights.resize(size_t(n) * k);
    std::vector<float> p(static_cast<size_t>(n_exp));
    std::vector<int> order(static_cast<size_t>(n_exp));
    for (int t = 0; t < n; ++t) {
        std::copy(logits + size_t(t) * n_exp, logits + size_t(t + 1) * n_exp, p.begin());
        softmax_row(p.data(), n_exp);
        for (int e = 0; e < n_exp; ++e) order[size_t(e)] = e;
        // torch.topk's order: largest first; equal probabilities keep the lower index first.
        std::partial_sort(order.begin(), order.begin() + k, order.end(), [&](int a, int b) {
            return p[size_t(a)] > p[size_t(b)] || (p[size_t(a)] == p[size_t(b)] && a < b);
        });
        float sum = 0;
        for (int j = 0; j < k; ++j) sum += p[size_t(order[size_t(j)])];
        for (int j = 0; j < k; ++j) {
            ids[size_t(t) * k + j] = order[size_t(j)];
            weights[size_t(t) * k + j] = c.norm_topk_prob ? p[size_t(order[size_t(j)])] / sum : p[size_t(order[size_t(j)])];
        }
    }
}

}  // namespace

void moe_experts(const Layer& l, BlockContext& ctx, float* out, std::vector<int>* chosen, std::vector<float>* chosen_weights) {
    const ModelConfig& c = ctx.cfg;
    Scratch& s = ctx.s;
    const int n = ctx.n, h = c.hidden, width = c.expert_intermediate, k = c.experts_per_token;
    std::vector<int> ids;
    std::vector<float> weights;
    route(s.router.data(), n, c, ids, weights);
    std::fill(out, out + ptrdiff_t(n) * h, 0.0f);
    std::vector<int> rows;
    std::vector<float> row_weight;
    std::vector<uint8_t> fp_rows;
    for (int e = 0; e < c.n_experts; ++e) {
        rows.clear();
        row_weight.clear();
        for (int t = 0; t < n; ++t)
            for (int j = 0; j < k; ++j)
                if (ids[size_t(t) * k + j] == e) {
                    rows.push_back(t);
                    row_weight.push_back(weights[size_t(t) * k + j]);
                }
        if (rows.empty()) continue;
        const int m = int(rows.size());
        for (int i = 0; i < m; ++i)
            std::memcpy(&s.expert_in[size_t(i) * h], &s.xn[size_t(rows[size_t(i)]) * h], size_t(h) * 4);
        fp_rows.clear();
        if (!ctx.fp_rows.empty())
            for (int t : rows) fp_rows.push_back(ctx.fp_rows[size_t(t)]);
        const Expert& ex = l.experts[size_t(e)];
        if (ctx.tap) ctx.tap->on_expert(ctx.layer, e, Tap::MlpIn, s.expert_in.data(), m, h);
        ex.gate->forward_keeping_fp(s.expert_in.data(), m, s.ff_a.data(), fp_rows);
        ex.up->forward_keeping_fp(s.expert_in.data(), m, s.ff_b.data(), fp_rows);
        silu_mul(s.ff_a.data(), s.ff_b.data(), size_t(m) * width);
        if (ctx.online.had_down) fwht_row_blocks(s.ff_a.data(), m, width, ctx.online.had_down_block);
        if (ctx.tap) ctx.tap->on_expert(ctx.layer, e, Tap::DownIn, s.ff_a.data(), m, width);
        ex.down->forward_keeping_fp(s.ff_a.data(), m, s.expert_out.data(), fp_rows);
        for (int i = 0; i < m; ++i) {
            float* dst = out + size_t(rows[size_t(i)]) * h;
            const float* y = &s.expert_out[size_t(i) * h];
            for (int j = 0; j < h; ++j) dst[j] += row_weight[size_t(i)] * y[j];
        }
    }
    if (chosen) *chosen = std::move(ids);
    if (chosen_weights) *chosen_weights = std::move(weights);
}

namespace {

void sparse_mlp(const Layer& l, float* x, BlockContext& ctx) {
    Scratch& s = ctx.s;
    const int h = ctx.cfg.hidden;
    ctx.observe(Tap::MlpResidual, x, h);
    // The router is a DenseLinear, so the norm writes s.xn in FP32 (no shared static codes) for the experts too.
    ctx.norm_and_project(x, l.mlp_norm, false, Tap::MlpIn, {{l.router.get(), s.router.data()}});
    moe_experts(l, ctx, s.moe_out.data());
    add_rows(x, s.moe_out.data(), size_t(ctx.n) * h);
}

void moe_block(const Layer& l, float* x, BlockContext& ctx) {
    llama_attention(l, x, ctx);
    if (l.router) sparse_mlp(l, x, ctx);
    else llama_mlp(l, x, ctx);
}

bool qk_norm(const ModelConfig& c) { return c.qk_norm; }
int head_width(const ModelConfig& c) { return c.head_dim; }
bool moe_layer(const ModelConfig& c, int layer) { return c.is_moe_layer(layer); }
bool dense_layer(const ModelConfig& c, int layer) { return !c.is_moe_layer(layer); }
Shape q_shape(const ModelConfig& c) { return {q_dim(c), c.hidden}; }
Shape kv_shape(const ModelConfig& c) { return {kv_dim(c), c.hidden}; }
Shape o_shape(const ModelConfig& c) { return {c.hidden, q_dim(c)}; }
Shape dense_in(const ModelConfig& c) { return {c.intermediate, c.hidden}; }
Shape dense_out(const ModelConfig& c) { return {c.hidden, c.intermediate}; }
Shape router_shape(const ModelConfig& c) { return {c.n_experts, c.hidden}; }
Shape expert_in(const ModelConfig& c) { return {c.expert_intermediate, c.hidden}; }
Shape expert_out(const ModelConfig& c) { return {c.hidden, c.expert_intermediate}; }
int q_heads(const ModelConfig& c) { return c.n_heads; }
int kv_heads(const ModelConfig& c) { return c.n_kv_heads; }

// The attention rows and the norms, shared by both tables (neither family has attention biases in transformers).
#define TAMEQ_MOE_ATTENTION_ROWS                                                                                      \
    {.norm = &Layer::attn_norm, .canonical = "attn_norm", .hf = "input_layernorm"},                                  \
        {.linear = &Layer::q, .canonical = "q", .hf = "self_attn.q_proj", .input = Tap::AttnIn, .shape = q_shape,   \
         .rope_heads = q_heads},                                                                                     \
        {.linear = &Layer::k, .canonical = "k", .hf = "self_attn.k_proj", .input = Tap::AttnIn, .shape = kv_shape,  \
         .rope_heads = kv_heads},                                                                                    \
        {.linear = &Layer::v, .canonical = "v", .hf = "self_attn.v_proj", .input = Tap::AttnIn, .shape = kv_shape}, \
        {.norm = &Layer::q_norm, .canonical = "q_norm", .hf = "self_attn.q_norm", .present = qk_norm,              \
         .width = head_width},                                                                                       \
        {.norm = &Layer::k_norm, .canonical = "k_norm", .hf = "self_attn.k_norm", .present = qk_norm,              \
         .width = head_width},                                                                                       \
        {.linear = &Layer::o, .canonical = "o", .hf = "self_attn.o_proj", .input = Tap::OIn, .shape = o_shape},     \
        {.norm = &Layer::mlp_norm, .canonical = "mlp_norm", .hf = "post_attention_layernorm"}

const BlockRow kMixtralBlock[] = {
    TAMEQ_MOE_ATTENTION_ROWS,
    {.linear = &Layer::router, .canonical = "router", .hf = "block_sparse_moe.gate", .input = Tap::MlpIn,
     .shape = router_shape, .in_layer = moe_layer},
    // w1 = gate_proj, w3 = up_proj, w2 = down_proj (MixtralBlockSparseTop2MLP: w2(silu(w1(x)) * w3(x))).
    {.canonical = "experts.*.gate", .hf = "block_sparse_moe.experts.*.w1", .input = Tap::MlpIn, .shape = expert_in,
     .expert = &Expert::gate, .in_layer = moe_layer},
    {.canonical = "experts.*.up", .hf = "block_sparse_moe.experts.*.w3", .input = Tap::MlpIn, .shape = expert_in,
     .expert = &Expert::up, .in_layer = moe_layer},
    {.canonical = "experts.*.down", .hf = "block_sparse_moe.experts.*.w2", .input = Tap::DownIn, .shape = expert_out,
     .expert = &Expert::down, .in_layer = moe_layer},
};

const BlockRow kQwen3MoeBlock[] = {
    TAMEQ_MOE_ATTENTION_ROWS,
    {.linear = &Layer::router, .canonical = "router", .hf = "mlp.gate", .input = Tap::MlpIn, .shape = router_shape,
     .in_layer = moe_layer},
    {.canonical = "experts.*.gate", .hf = "mlp.experts.*.gate_proj", .input = Tap::MlpIn, .shape = expert_in,
     .expert = &Expert::gate, .in_layer = moe_layer},
    {.canonical = "experts.*.up", .hf = "mlp.experts.*.up_proj", .input = Tap::MlpIn, .shape = expert_in,
     .expert = &Expert::up, .in_layer = moe_layer},
    {.canonical = "experts.*.down", .hf = "mlp.experts.*.down_proj", .input = Tap::DownIn, .shape = expert_out,
     .expert = &Expert::down, .in_layer = moe_layer},
    // mlp_only_layers and the layers decoder_sparse_step skips: Qwen3MoeMLP of intermediate_size.
    {.linear = &Layer::gate, .canonical = "gate", .hf = "mlp.gate_proj", .input = Tap::MlpIn, .shape = dense_in,
     .in_layer = dense_layer},
    {.linear = &Layer::up, .canonical = "up", .hf = "mlp.up_proj", .input = Tap::MlpIn, .shape = dense_in,
     .in_layer = dense_layer},
    {.linear = &Layer::down, .canonical = "down", .hf = "mlp.down_proj", .input = Tap::DownIn, .shape = dense_out,
     .in_layer = dense_layer},
};

#undef TAMEQ_MOE_ATTENTION_ROWS

Family moe_family(const char* name, std::span<const BlockRow> block) {
    Family f = family_llama();  // model rows (embed_tokens, norm, lm_head) and hooks
    f.name = name;
    f.block = block;
    f.gguf_layer_prefix = nullptr;  // export-gguf writes llama.cpp's dense 'llama' architecture only
    f.forward_block = moe_block;
    return f;
}

}  // namespace

const Family& family_mixtral() {
    static const Family f = moe_family("mixtral", kMixtralBlock);
    return f;
}

const Family& family_qwen3_moe() {
    static const Family f = moe_family("qwen3_moe", kQwen3MoeBlock);
    return f;
}

}  // namespace tameq
