#pragma once
// Runs a Model token by token or in batched prefill, with a KV cache. The per-family block lives in
// llama_block.cpp / opt_block.cpp; this file only sequences embed → blocks → final norm → lm_head.
#include <functional>
#include <vector>

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
    int layer;
    int pos0;  // position of the first of the n rows
    int n;
};

// x: the residual stream [n x hidden], updated in place.
void llama_block(const Layer& l, float* x, BlockContext& ctx);
void opt_block(const Layer& l, float* x, BlockContext& ctx);

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

    // Called with each block's input residual [n x hidden] (inspection and calibration hooks).
    std::function<void(int layer, const float* x, int n)> on_block_input;

private:
    void embed(const int* tokens, int n, float* x) const;

    const Model& model_;
    RopeTable rope_;
    KvCache cache_;
    Scratch scratch_;
    std::vector<float> x_, head_in_;
    int pos_ = 0;
};

}  // namespace tameq
