// Phi-3 (Phi3ForCausalLM): the Llama block (family_llama.cpp) over a checkpoint that fuses q, k and v into
// self_attn.qkv_proj [(heads + 2·kv_heads)·head_dim x hidden] and gate and up into mlp.gate_up_proj
// [2·intermediate x hidden] (transformers splits them in that order: q, k, v; gate, up). The slot table names
// the fused tensor and the rows each linear takes, so loading splits them and everything after loading — the
// quantized directory (canonical names q, k, v, gate, up), the passes, the engines — sees a Llama layer.
// Its RoPE is longrope (RopeTable), its window (when set) covers every layer (hf_config.cpp).
#include "model/family.h"

namespace tameq {
namespace {

int qkv_rows(const ModelConfig& c) { return q_dim(c) + 2 * kv_dim(c); }
int gate_up_rows(const ModelConfig& c) { return 2 * c.intermediate; }

const BlockRow kBlock[] = {
    {.norm = &Layer::attn_norm, .canonical = "attn_norm", .hf = "input_layernorm"},
    {.linear = &Layer::q, .canonical = "q", .hf = "self_attn.qkv_proj", .input = Tap::AttnIn,
     .shape = [](const ModelConfig& c) { return Shape{q_dim(c), c.hidden}; },
     .rope_heads = [](const ModelConfig& c) { return c.n_heads; }, .hf_rows = qkv_rows,
     .hf_first_row = [](const ModelConfig&) { return 0; }},
    {.linear = &Layer::k, .canonical = "k", .hf = "self_attn.qkv_proj", .input = Tap::AttnIn,
     .shape = [](const ModelConfig& c) { return Shape{kv_dim(c), c.hidden}; },
     .rope_heads = [](const ModelConfig& c) { return c.n_kv_heads; }, .hf_rows = qkv_rows,
     .hf_first_row = [](const ModelConfig& c) { return q_dim(c); }},
    {.linear = &Layer::v, .canonical = "v", .hf = "self_attn.qkv_proj", .input = Tap::AttnIn,
     .shape = [](const ModelConfig& c) { return Shape{kv_dim(c), c.hidden}; }, .hf_rows = qkv_rows,
     .hf_first_row = [](const ModelConfig& c) { return q_dim(c) + kv_dim(c); }},
    {.linear = &Layer::o, .canonical = "o", .hf = "self_attn.o_proj", .input = Tap::OIn,
     .shape = [](const ModelConfig& c) { return Shape{c.hidden, q_dim(c)}; }},
    {.norm = &Layer::mlp_norm, .canonical = "mlp_norm", .hf = "post_attention_layernorm"},
    {.linear = &Layer::gate, .canonical = "gate", .hf = "mlp.gate_up_proj", .input = Tap::MlpIn,
     .shape = [](const ModelConfig& c) { return Shape{c.intermediate, c.hidden}; }, .hf_rows = gate_up_rows,
     .hf_first_row = [](const ModelConfig&) { return 0; }},
    {.linear = &Layer::up, .canonical = "up", .hf = "mlp.gate_up_proj", .input = Tap::MlpIn,
     .shape = [](const ModelConfig& c) { return Shape{c.intermediate, c.hidden}; }, .hf_rows = gate_up_rows,
     .hf_first_row = [](const ModelConfig& c) { return c.intermediate; }},
    {.linear = &Layer::down, .canonical = "down", .hf = "mlp.down_proj", .input = Tap::DownIn,
     .shape = [](const ModelConfig& c) { return Shape{c.hidden, c.intermediate}; }},
};

}  // namespace

const Family& family_phi3() {
    static const Family f = [] {
        Family phi3 = family_llama();  // model rows (embed_tokens, norm, lm_head), block, hooks
        phi3.name = "phi3";
        phi3.block = kBlock;
        phi3.gguf_layer_prefix = nullptr;  // export-gguf writes llama.cpp's 'llama' architecture only
        return phi3;
    }();
    return f;
}

}  // namespace tameq
