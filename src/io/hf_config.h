#pragma once
// The model hyper-parameters every loader fills in: Hugging Face config.json
// (Llama, Mistral, Qwen2, Qwen3, OPT) or a llama2.c checkpoint header.
#include <string>
#include <vector>

namespace tameq {

// Llama covers Mistral, Qwen2, Qwen3, Phi-3 and the mixtures of experts Mixtral and Qwen3-MoE: the same block with optional q/k/v biases, per-head q/k norms
// (Qwen3), sliding-window layers (Mistral, Phi-3, Qwen2/3 use_sliding_window) and fused projections in the
// checkpoint (Phi-3, whose tensors the phi3 family's slot table names). Gemma covers Gemma 2 and Gemma 3 (text):
// (1 + w) norms, post-attention/post-MLP norms, GeGLU, √hidden embeddings (family_gemma.cpp).
enum class ArchFamily { Llama, OPT, Gemma };

struct RopeScaling {
    std::string type = "default";  // "default", "llama3" or "longrope"
    float factor = 1.0f;
    float low_freq_factor = 1.0f;
    float high_freq_factor = 4.0f;
    int original_max_position = 8192;
    // longrope (Phi-3): per-frequency divisors of inv_freq [head_dim/2], short_factor for contexts up to
    // original_max_position and long_factor beyond; cos and sin are scaled by attention_factor.
    std::vector<float> short_factor, long_factor;
    float attention_factor = 1.0f;
};

struct ModelConfig {
    std::string architecture;  // as written in config.json, e.g. "LlamaForCausalLM"
    ArchFamily family = ArchFamily::Llama;
    int hidden = 0;
    int n_layers = 0;
    int n_heads = 0;
    int n_kv_heads = 0;
    int head_dim = 0;
    int intermediate = 0;  // SwiGLU width (Llama) or ffn_dim (OPT)
    int vocab = 0;
    int max_positions = 0;
    float norm_eps = 1e-5f;
    float rope_theta = 10000.0f;
    RopeScaling rope_scaling;
    bool tie_embeddings = false;
    bool qkv_bias = false;  // Qwen2, Llama attention_bias
    bool o_bias = false;    // Llama attention_bias
    bool mlp_bias = false;  // Llama mlp_bias
    bool fused_projections = false;  // Phi-3: the checkpoint holds qkv_proj and gate_up_proj (split at load)
    bool qk_norm = false;   // Qwen3: RMSNorm over head_dim on every q and k head, before RoPE (q_norm, k_norm)
    // Sliding-window attention: a query at position p sees the keys of positions p - sliding_window + 1 .. p in
    // the layers marked in sliding_layers ([n_layers]); 0: every layer attends to all earlier positions.
    int sliding_window = 0;
    std::vector<bool> sliding_layers;
    int window_of(int layer) const {
        return sliding_window > 0 && sliding_layers[size_t(layer)] ? sliding_window : 0;
    }
    // Gemma 3: the RoPE base of the sliding layers (rope_parameters.sliding_attention); 0: rope_theta everywhere.
    float rope_theta_sliding = 0.0f;
    bool local_rope(int layer) const { return rope_theta_sliding > 0 && sliding_layers[size_t(layer)]; }
    // Gemma: queries are scaled by query_pre_attn_scalar^-1/2 instead of head_dim^-1/2 (0: head_dim).
    float query_pre_attn_scalar = 0.0f;
    float attention_scale() const;
    // Gemma 2 soft-capping, cap · tanh(x / cap): of the attention scores before the mask and softmax, and of the
    // final logits. 0: none.
    float attn_softcap = 0.0f;
    float final_softcap = 0.0f;
    // Mixture of experts (Mixtral, Qwen3-MoE): the MLP of the layers marked in moe_layers ([n_layers]) is a router
    // [n_experts x hidden] and n_experts SwiGLU experts of width expert_intermediate, of which each token takes the
    // experts_per_token with the largest softmax(router) probabilities, weighted by them (renormalised over the
    // chosen ones when norm_topk_prob). Other layers keep the dense MLP of width `intermediate`. 0: no experts.
    int n_experts = 0;
    int experts_per_token = 0;
    int expert_intermediate = 0;
    bool norm_topk_prob = true;
    std::vector<bool> moe_layers;
    bool is_moe_layer(int layer) const { return n_experts > 0 && moe_layers[size_t(layer)]; }
    // The widest SwiGLU of any layer (scratch buffers): the dense MLP's or an expert's.
    int widest_mlp() const { return n_experts > 0 && expert_intermediate > intermediate ? expert_intermediate : intermediate; }
    // OPT only
    int word_embed_proj_dim = 0;  // == hidden unless OPT-350M style project_in/out
    bool pre_layer_norm = true;   // do_layer_norm_before
    bool final_layer_norm = true; // !_remove_final_layer_norm
    int position_offset = 2;      // OPT learned positions start at index 2
    int bos_id = 1;
    int eos_id = 2;
};

// The architectures parse_hf_config accepts, as config.json spells them, comma-separated.
const char* supported_architectures();

// Parses `path` (a config.json, or a directory holding one). Errors name the file.
ModelConfig load_hf_config(const std::string& path);
// Same, from text; `file` names it in errors. Exposed for fuzzing.
ModelConfig parse_hf_config(const std::string& text, const std::string& file);
// A config.json that parse_hf_config reads back as `c` (for quantized directories of llama2.c models and
// synthetic checkpoints).
std::string hf_config_text(const ModelConfig& c);

}  // namespace tameq
