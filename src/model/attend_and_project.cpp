#include "model/attention.h"
#include "model/engine.h"

namespace tameq {

void attend(BlockContext& ctx) {
    const ModelConfig& c = ctx.cfg;
    Scratch& s = ctx.s;
    ctx.cache.commit(ctx.cache_layer, ctx.pos0, ctx.n);
    causal_attention(s.q.data(), ctx.n, ctx.pos0, ctx.cache.keys(ctx.cache_layer), ctx.cache.values(ctx.cache_layer),
                     c.n_heads, c.n_kv_heads, c.head_dim, s.attn.data(), s.scores, c.window_of(ctx.layer),
                     c.attention_scale(), c.attn_softcap);
    ctx.observe(Tap::OIn, s.attn.data(), c.n_heads * c.head_dim);
}

void attend_and_project(const Layer& l, float* x, BlockContext& ctx) {
    attend(ctx);
    ctx.project(*l.o, ctx.s.attn.data(), ctx.s.tmp.data());
    add_rows(x, ctx.s.tmp.data(), size_t(ctx.n) * ctx.cfg.hidden);
}

}  // namespace tameq
