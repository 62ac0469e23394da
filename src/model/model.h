#pragma once
// An LLM's weights in FP32 (norm parameters, embeddings) plus one Linear per projection.
// Llama-family and OPT share this struct; fields a family does not use stay empty.
#include <array>
#include <memory>
#include <string>
#include <vector>

#include "io/hf_config.h"
#include "model/kv_cache.h"
#include "model/linear.h"

namespace tameq {

struct Norm {
    std::vector<float> weight;  // [hidden]
    std::vector<float> bias;    // [hidden]; empty for RMSNorm (a transform may add one, e.g. OutlierTune's shift)
};

// One expert of a mixture-of-experts MLP: a SwiGLU down(silu(gate(x)) * up(x)) of the config's expert width.
struct Expert {
    std::unique_ptr<Linear> gate, up, down;
};

struct Layer {
    Norm attn_norm;  // Llama input_layernorm / OPT self_attn_layer_norm
    Norm mlp_norm;   // Llama post_attention_layernorm / OPT final_layer_norm
    Norm q_norm, k_norm;  // Qwen3, Gemma 3: RMSNorm [head_dim] shared by every q (k) head, before RoPE; empty otherwise
    // Gemma: RMSNorms on the attention's and the MLP's outputs before they join the residual (HF
    // post_attention_layernorm, post_feedforward_layernorm); empty otherwise.
    Norm post_attn_norm, post_mlp_norm;
    std::unique_ptr<Linear> q, k, v, o;
    std::unique_ptr<Linear> gate, up, down;  // Llama SwiGLU: down(silu(gate(x)) * up(x))
    std::unique_ptr<Linear> fc1, fc2;        // OPT ReLU FFN: fc2(relu(fc1(x)))
    // Mixture of experts (a layer of ModelConfig::is_moe_layer) instead of gate/up/down: the router
    // [experts x hidden] reads the MLP norm's output like gate/up do, and stays floating point (it picks experts; it
    // is not a projection the schemes quantize), so linears() leaves it out while the transforms that fold into
    // the norm's readers (linears_reading) include it.
    std::unique_ptr<Linear> router;
    std::vector<Expert> experts;

    // Every quantizable projection slot, experts' included, for passes that treat them alike (a family's unused
    // slots are null).
    std::vector<std::unique_ptr<Linear>*> linears() {
        std::vector<std::unique_ptr<Linear>*> out = {&q, &k, &v, &o, &gate, &up, &down, &fc1, &fc2};
        for (Expert& e : experts) out.insert(out.end(), {&e.gate, &e.up, &e.down});
        return out;
    }
    std::vector<const std::unique_ptr<Linear>*> linears() const {
        std::vector<const std::unique_ptr<Linear>*> out = {&q, &k, &v, &o, &gate, &up, &down, &fc1, &fc2};
        for (const Expert& e : experts) out.insert(out.end(), {&e.gate, &e.up, &e.down});
        return out;
    }
};

// What a recipe adds to the forward pass itself rather than to the weights; the model carries it, the blocks
// obey it (written to a quantized directory's tameq.json as "online").
struct OnlineTransforms {
    // Online Hadamard transforms of rotation recipes (QuaRot's R4 and R3); the matching inverse is folded
    // into the weights, so the FP result is unchanged.
    bool had_down = false;  // R4: fwht on down_proj's input (weights hold W·Hᵀ)
    // R4's size: 0 = the whole input row (QuaRot's m·2^k), B = block-diagonal I ⊗ H_B/√B (fwht_row_blocks).
    int had_down_block = 0;
    bool had_qk = false;    // R3: fwht per head on q and k after RoPE (qkᵀ unchanged; helps KV quantization)
    // DFRot's Table 1 diagnostic: tokens whose residual is massive skip activation quantization.
    bool keep_massive_fp = false;
    // Integer engine only (set by use_integer_kernels, never written to tameq.json): a pre-norm whose readers
    // all take the same static codes emits them itself (kern::norm_codes_u8), and the readers' GEMMs read them
    // (BlockContext::norm_and_project). False runs the same model through the FP32 norm and each reader's own
    // quantization pass, with bit-identical results.
    bool norm_codes = false;
    // The family's LayerNorms run as RMSNorm (no mean subtraction; their affine terms were folded into the
    // readers): set when a LayerNorm model (OPT) was made mean-free for rotations (Family::to_rms_skeleton). A
    // rotated residual is no longer mean-free, so the mean subtraction must go; on the mean-free residual it
    // was a no-op and LayerNorm's variance (eps included) is exactly RMSNorm's mean square.
    bool layer_norm_as_rms = false;
};

struct Model {
    ModelConfig cfg;
    std::string source;                  // the path it was loaded from
    std::vector<float> embed;            // [vocab x embed_dim]; empty once the integer engine moved it to embed_bf16
    std::vector<uint16_t> embed_bf16;    // the integer engine's BF16 copy of embed (half the resident bytes)
    std::vector<float> pos_embed;        // OPT: [max_positions + offset x hidden]
    std::unique_ptr<Linear> project_in;  // OPT when word_embed_proj_dim != hidden
    std::unique_ptr<Linear> project_out;
    std::vector<Layer> layers;
    Norm final_norm;                     // empty weight: no final norm (OPT _remove_final_layer_norm)
    std::unique_ptr<Linear> lm_head;     // [vocab x embed_dim]; a copy of embed when tied

    OnlineTransforms online;
    // Applied to K/V rows as they enter the cache (simulated KV-cache quantization); null = FP32 cache.
    std::shared_ptr<const KvPolicy> kv_policy;

    int64_t n_params() const;
};

// Loads a Hugging Face directory (config.json + safetensors) or a llama2.c checkpoint file (the FP model).
// Any model path, quantized directories included: load_model in export/open_model.h.
Model load_checkpoint(const std::string& path);

// Streaming access for passes that must not hold the whole model (quantization of large checkpoints):
// each call reads one piece from the mmap'd safetensors and converts it to FP32.
class ModelReader {
public:
    explicit ModelReader(const std::string& path);
    ~ModelReader();
    const ModelConfig& config() const;
    // Everything but the layers.
    Model load_skeleton() const;
    Layer load_layer(int i) const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
};

}  // namespace tameq
