// The Llama-family decoder block (Llama, Mistral, Qwen2, llama2.c), with QuaRot's optional online
// Hadamards (R3 on q/k after RoPE, R4 before down) and tap points for calibration:
//   h = x + o(attn(rope(q(n1)), rope(k(n1)), v(n1)))     n1 = rmsnorm(x)
//   x' = h + down(silu(gate(n2)) * up(n2))               n2 = rmsnorm(h)
#include <cstring>

#include "model/engine.h"
#include "model/fp_rows.h"
#include "numerics/massive.h"
#include "numerics/hadamard.h"

namespace tameq {

void llama_block(const Layer& l, float* x, BlockContext& ctx) {
    const ModelConfig& c = ctx.cfg;
    Scratch& s = ctx.s;
    const int n = ctx.n, hd = c.head_dim;
    const size_t nh = size_t(n) * c.hidden;

    ctx.observe(Tap::AttnResidual, x, c.hidden);
    // Table-1 diagnostic: the block's massive tokens stay in FP, judged by the residual's norm so that the
    // same tokens are found before and after a rotation.
    std::vector<uint8_t> massive;
    if (ctx.keep_massive_fp) massive = mark_massive_by_norm(x, n, c.hidden);
    FpRowScope fp_rows(ctx.keep_massive_fp ? &massive : nullptr);
    rms_norm(x, n, c.hidden, l.attn_norm, c.norm_eps, s.xn.data());
    ctx.observe(Tap::AttnIn, s.xn.data(), c.hidden);
    l.q->forward(s.xn.data(), n, s.q.data());
    float* k_rows = ctx.cache.k(ctx.cache_layer, ctx.pos0);
    float* v_rows = ctx.cache.v(ctx.cache_layer, ctx.pos0);
    l.k->forward(s.xn.data(), n, k_rows);
    l.v->forward(s.xn.data(), n, v_rows);
    ctx.rope.apply(s.q.data(), n, c.n_heads, ctx.pos0);
    ctx.rope.apply(k_rows, n, c.n_kv_heads, ctx.pos0);
    if (ctx.had_qk) {
        fwht_rows(s.q.data(), n * c.n_heads, hd);
        fwht_rows(k_rows, n * c.n_kv_heads, hd);
    }
    attend_and_project(l, x, ctx);

    ctx.observe(Tap::MlpResidual, x, c.hidden);
    rms_norm(x, n, c.hidden, l.mlp_norm, c.norm_eps, s.xn.data());
    ctx.observe(Tap::MlpIn, s.xn.data(), c.hidden);
    l.gate->forward(s.xn.data(), n, s.ff_a.data());
    l.up->forward(s.xn.data(), n, s.ff_b.data());
    silu_mul(s.ff_a.data(), s.ff_b.data(), size_t(n) * c.intermediate);
    if (ctx.had_down) fwht_rows(s.ff_a.data(), n, c.intermediate);
    ctx.observe(Tap::DownIn, s.ff_a.data(), c.intermediate);
    l.down->forward(s.ff_a.data(), n, s.tmp.data());
    add_rows(x, s.tmp.data(), nh);
}

}  // namespace tameq
