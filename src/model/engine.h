#pragma once
// Runs a Model token by token or in batched prefill, with a KV cache. The per-family block lives in
// llama_block.cpp / opt_block.cpp; this file only sequences embed → blocks → final norm → lm_head.
#include <vector>

#include "model/block_tap.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/ops.h"

namespace tameq {

// Buffers reused across calls so a forward allocates nothing once warm.
struct Scratch {
    std::vector<float> xn, q, k, v, attn, tmp, ff_a, ff_b, scores;
    void ensure(const ModelConfig& cfg, int n);
};

struct BlockContext {
    const ModelConfig& cfg;
    const RopeTable& rope;
    KvCache& cache;
    Scratch& s;
    int layer;        // index in the model (taps)
    int cache_layer;  // index in the cache (0 when a runner caches one layer at a time)
    int pos0;  // position of the first of the n rows
    int n;
    bool had_down = false;
    bool had_qk = false;
    BlockTap* tap = nullptr;
    bool keep_massive_fp = false;

    void observe(Tap where, const float* x, int dim) const {
        if (tap) tap->on(layer, where, x, n, dim);
    }
};

// Shared tail of every family's attention: the KV policy on the n new cache rows (already written, keys
// rotated), causal attention over the cache, o_proj, and the residual add into x. q is in ctx.s.q.
void attend_and_project(const Layer& l, float* x, BlockContext& ctx);

// x: the residual stream [n x hidden], updated in place.
void llama_block(const Layer& l, float* x, BlockContext& ctx);
void opt_block(const Layer& l, float* x, BlockContext& ctx);

// Token (and for OPT, learned position) embeddings of tokens at positions pos0.. into x [n x hidden].
void embed_tokens(const Model& m, const int* tokens, int n, int pos0, float* x);

enum class Logits { All, Last, None };

class Engine {
public:
    explicit Engine(const Model& model, int max_ctx = 0);  // 0: the model's max_positions

    // Feeds n tokens at the current position and advances it. logits: [n x vocab] for All, [vocab] for Last.
    void forward(const int* tokens, int n, float* logits, Logits mode = Logits::All);
    void reset() { pos_ = 0; }
    int position() const { return pos_; }
    int max_ctx() const { return cache_.max_ctx(); }
    const Model& model() const { return model_; }
    KvCache& cache() { return cache_; }

    // Observer of the activations inside every block (calibration, inspection); not owned.
    BlockTap* tap = nullptr;

private:
    const Model& model_;
    RopeTable rope_;
    KvCache cache_;
    Scratch scratch_;
    std::vector<float> x_, head_in_;
    int pos_ = 0;
};

}  // namespace tameq
