#pragma once
// Runs a Model token by token or in batched prefill, with a KV cache. The per-family block lives in
// the family's file (family_llama.cpp, family_opt.cpp); this file only sequences embed → blocks → final
// norm → lm_head.
#include <cstdint>
#include <initializer_list>
#include <span>
#include <vector>

#include "model/block_tap.h"
#include "model/kv_cache.h"
#include "model/model.h"
#include "model/ops.h"

namespace tameq {

// Buffers reused across calls so a forward allocates nothing once warm.
struct Scratch {
    std::vector<float> xn, q, k, v, attn, tmp, ff_a, ff_b, scores;
    // Mixture of experts: router logits [n x experts], one expert's gathered input rows and output, the sum of
    // the experts' weighted outputs [n x hidden].
    std::vector<float> router, expert_in, expert_out, moe_out;
    std::vector<uint8_t> fp_rows;
    std::vector<uint8_t> codes;  // static codes a norm emits for all its readers (OnlineTransforms::norm_codes)
    void ensure(const ModelConfig& cfg, int n);
};

// What one block's forward needs besides its Layer; built with designated initializers.
struct BlockContext {
    const ModelConfig& cfg;
    const RopeTable& rope;
    KvCache& cache;
    Scratch& s;
    int layer;        // index in the model (taps)
    int cache_layer;  // index in the cache (0 when a runner caches one layer at a time)
    int pos0;         // position of the first of the n rows
    int n;
    OnlineTransforms online;
    BlockTap* tap = nullptr;
    // Rows (tokens) that every linear of the block keeps out of activation quantization; empty: none.
    // Set by the block (mark_fp_rows) for the keep-massive diagnostic.
    std::span<const uint8_t> fp_rows = {};

    void observe(Tap where, const float* x, int dim) const {
        if (tap) tap->on(layer, where, x, n, dim);
    }
    // DFRot's Table 1 diagnostic, when online.keep_massive_fp: the tokens of the residual x entering the block
    // that are massive, judged by the residual's norm so that the same tokens are found before and after a
    // rotation, stay in floating point in all the block's linears.
    void mark_fp_rows(const float* x);
    // y [n x out] = lin(x [n x in]), honouring fp_rows.
    void project(const Linear& lin, const float* x, float* y) const { lin.forward_keeping_fp(x, n, y, fp_rows); }

    // One pre-norm and every linear that reads it: reader.y = reader.linear(norm(x)), the norm's output observed
    // at `where`; LayerNorm when is_layer_norm, else RMSNorm (with the norm's bias when it has one). When
    // online.norm_codes, no tap observes, no row stays in FP and every reader is an IntLinear taking the same
    // static codes (shared_static_codes), the norm emits the codes once into s.codes and each GEMM reads them;
    // otherwise the norm writes s.xn in FP32 and each reader quantizes it. Both give the same codes.
    struct NormReader {
        const Linear* linear;
        float* y;
    };
    void norm_and_project(const float* x, const Norm& norm, bool is_layer_norm, Tap where,
                          std::initializer_list<NormReader> readers);
};

// Shared tail of every family's attention: the KV policy on the n new cache rows (already written, keys
// rotated), causal attention over the cache, o_proj, and the residual add into x. q is in ctx.s.q.
void attend_and_project(const Layer& l, float* x, BlockContext& ctx);
// Its first half: the KV policy and attention, the result in ctx.s.attn (observed at OIn), for blocks that
// treat o_proj's output before the residual add (Gemma's post-attention norm).
void attend(BlockContext& ctx);

// The halves of the Llama block (family_llama.cpp), which the mixture-of-experts families share: attention with
// its residual add (taps AttnResidual, AttnIn, OIn), and the dense SwiGLU MLP with its own (MlpResidual, MlpIn,
// DownIn).
void llama_attention(const Layer& l, float* x, BlockContext& ctx);
void llama_mlp(const Layer& l, float* x, BlockContext& ctx);
// A mixture-of-experts MLP (family_moe.cpp) on the normalised rows in ctx.s.xn [n x hidden], whose router logits
// are in ctx.s.router [n x experts]: out [n x hidden] = Σ over each row's chosen experts of weight · expert(row).
// chosen / weights, when given, receive the routing [n x experts_per_token], largest probability first.
void moe_experts(const Layer& l, BlockContext& ctx, float* out, std::vector<int>* chosen = nullptr,
                 std::vector<float>* weights = nullptr);

// Token (and for learned positions, position) embeddings of tokens at positions pos0.. into x [n x hidden].
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
    RopeTable rope_, rope_sliding_;  // rope_sliding_: Gemma 3's sliding layers (ModelConfig::local_rope)
    KvCache cache_;
    Scratch scratch_;
    std::vector<float> x_, head_in_;
    int pos_ = 0;
};

}  // namespace tameq
