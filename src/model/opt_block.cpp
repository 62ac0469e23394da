// The OPT decoder block. Pre-LN (OPT-125M and most sizes):
//   h = x + out_proj(attn(n1)),  n1 = LN1(x);   x' = h + fc2(relu(fc1(LN2(h))))
// Post-LN (OPT-350M, do_layer_norm_before = false):
//   h = LN1(x + out_proj(attn(x)));             x' = LN2(h + fc2(relu(fc1(h))))
#include <cstring>

#include "model/engine.h"
#include "model/fp_rows.h"
#include "numerics/massive.h"
#include "numerics/hadamard.h"

namespace tameq {

void opt_block(const Layer& l, float* x, BlockContext& ctx) {
    const ModelConfig& c = ctx.cfg;
    Scratch& s = ctx.s;
    const int n = ctx.n;
    const size_t nh = size_t(n) * c.hidden;
    const bool pre = c.pre_layer_norm;

    ctx.observe(Tap::AttnResidual, x, c.hidden);
    // Table-1 diagnostic: the block's massive tokens stay in FP, judged by the residual's norm so that the
    // same tokens are found before and after a rotation.
    std::vector<uint8_t> massive;
    if (ctx.keep_massive_fp) massive = mark_massive_by_norm(x, n, c.hidden);
    FpRowScope fp_rows(ctx.keep_massive_fp ? &massive : nullptr);
    const float* attn_in = x;
    if (pre) {
        layer_norm(x, n, c.hidden, l.attn_norm, c.norm_eps, s.xn.data());
        attn_in = s.xn.data();
    }
    ctx.observe(Tap::AttnIn, attn_in, c.hidden);
    l.q->forward(attn_in, n, s.q.data());
    float* k_rows = ctx.cache.k(ctx.cache_layer, ctx.pos0);
    float* v_rows = ctx.cache.v(ctx.cache_layer, ctx.pos0);
    l.k->forward(attn_in, n, k_rows);
    l.v->forward(attn_in, n, v_rows);
    attend_and_project(l, x, ctx);
    if (!pre) {
        layer_norm(x, n, c.hidden, l.attn_norm, c.norm_eps, s.tmp.data());
        std::memcpy(x, s.tmp.data(), nh * 4);
    }

    ctx.observe(Tap::MlpResidual, x, c.hidden);
    const float* mlp_in = x;
    if (pre) {
        layer_norm(x, n, c.hidden, l.mlp_norm, c.norm_eps, s.xn.data());
        mlp_in = s.xn.data();
    }
    ctx.observe(Tap::MlpIn, mlp_in, c.hidden);
    l.fc1->forward(mlp_in, n, s.ff_a.data());
    relu(s.ff_a.data(), size_t(n) * c.intermediate);
    if (ctx.had_down) fwht_rows(s.ff_a.data(), n, c.intermediate);
    ctx.observe(Tap::DownIn, s.ff_a.data(), c.intermediate);
    l.fc2->forward(s.ff_a.data(), n, s.tmp.data());
    add_rows(x, s.tmp.data(), nh);
    if (!pre) {
        layer_norm(x, n, c.hidden, l.mlp_norm, c.norm_eps, s.tmp.data());
        std::memcpy(x, s.tmp.data(), nh * 4);
    }
}

}  // namespace tameq
