#include "model/attention.h"
#include "model/engine.h"

namespace tameq {

void attend_and_project(const Layer& l, float* x, BlockContext& ctx) {
    const ModelConfig& c = ctx.cfg;
    Scratch& s = ctx.s;
    const int n = ctx.n, hd = c.head_dim;
    ctx.cache.commit(ctx.cache_layer, ctx.pos0, n);
    causal_attention(s.q.data(), n, ctx.pos0, ctx.cache.keys(ctx.cache_layer), ctx.cache.values(ctx.cache_layer),
                     c.n_heads, c.n_kv_heads, hd, s.attn.data(), s.scores, c.window_of(ctx.layer));
    ctx.observe(Tap::OIn, s.attn.data(), c.n_heads * hd);
    ctx.project(*l.o, s.attn.data(), s.tmp.data());
    add_rows(x, s.tmp.data(), size_t(n) * c.hidden);
}

}  // namespace tameq
