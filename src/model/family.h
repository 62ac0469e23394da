#pragma once
// A model family: what tameq knows about one decoder architecture, kept in one file per family
// (family_llama.cpp, family_opt.cpp) so that loaders, writers, the engines and the quantization passes ask
// the family instead of branching on ArchFamily.
//
// A new family provides, in its own src/model/family_<name>.cpp:
//   - its slot table: one BlockRow per tensor of a decoder block (which norm or linear of Layer holds it)
//     and one ModelRow per model-level tensor (embeddings, learned positions, final norm, lm_head,
//     project_in/out), each with its canonical name (the quantized directory), its Hugging Face name, its
//     llama2.c and GGUF names where the family is read or written in those formats, the tap that observes
//     a linear's input, its shape as a function of the config, its bias, and for q/k the heads RoPE rotates
//     (llama2.c and GGUF order those rows differently from Hugging Face);
//   - its decoder block (the forward of one Layer over the residual stream) and hooks: the final norm,
//     the width of the token embeddings, whether positions are rotary or learned;
//   - a `const Family& family_<name>()` declared below and its case in family_of (family.cpp).
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "io/hf_config.h"
#include "model/block_tap.h"
#include "model/model.h"

namespace tameq {

struct BlockContext;

// Rows x columns of a tensor as stored (Hugging Face layout): a linear's weight is [out x in], an embedding
// table [entries x width]. Norms are [hidden] unless their row has a width function (Qwen3's per-head norms).
struct Shape {
    int rows = 0, cols = 0;
};

// One tensor of the slot table. Owner is Layer (a block's tensors) or Model (the model-level ones).
template <class Owner>
struct SlotRow {
    // The member of Owner that holds it: exactly one is set.
    std::unique_ptr<Linear> Owner::*linear = nullptr;
    Norm Owner::*norm = nullptr;
    std::vector<float> Owner::*table = nullptr;  // embedding tables (Model only)
    // Names. Linear and norm rows name the prefix of ".weight" / ".bias"; table rows the whole tensor. A
    // block row's names follow its layer's prefix ("layers.3.", Family::hf_layer_prefix + "3.", ...).
    // Null: the format does not hold this tensor (or the family is not read or written in it).
    const char* canonical = nullptr;  // the quantized directory's tensors and tameq.json keys
    const char* hf = nullptr;         // Hugging Face safetensors
    const char* llama2c = nullptr;    // llama2.c v0 checkpoint: the key of the (layer-stacked) tensor
    const char* gguf = nullptr;       // GGUF, as export-gguf writes it
    Tap input = Tap::AttnIn;          // linear rows of a block: the tap that observes the input
    Shape (*shape)(const ModelConfig&) = nullptr;     // linear and table rows
    bool (*bias)(const ModelConfig&) = nullptr;       // null: never a bias
    bool (*present)(const ModelConfig&) = nullptr;    // null: always present
    int (*rope_heads)(const ModelConfig&) = nullptr;  // q and k: the heads whose output rows RoPE rotates
    int (*width)(const ModelConfig&) = nullptr;       // norm rows: the norm's length; null: hidden
    // Fused Hugging Face tensors (Phi-3's qkv_proj, gate_up_proj): this linear is rows [hf_first_row(c),
    // hf_first_row(c) + shape.rows) of the stored [hf_rows(c) x cols] tensor `hf`. Null: the tensor is its own.
    int (*hf_rows)(const ModelConfig&) = nullptr;
    int (*hf_first_row)(const ModelConfig&) = nullptr;
    // Mixture-of-experts rows (Layer only): instead of `linear`, the member of every Expert in Layer::experts, one
    // tensor per expert; the row's names hold '*' where the expert's index goes ("block_sparse_moe.experts.*.w1").
    std::unique_ptr<Linear> Expert::*expert = nullptr;
    // Block rows present in some layers only (Qwen3-MoE's dense and sparse MLPs); null: in every layer.
    bool (*in_layer)(const ModelConfig&, int layer) = nullptr;

    bool has_bias(const ModelConfig& c) const { return bias && bias(c); }
    int norm_width(const ModelConfig& c) const { return width ? width(c) : c.hidden; }
    bool present_in(const ModelConfig& c) const { return !present || present(c); }
    bool present_at(const ModelConfig& c, int layer) const { return present_in(c) && (!in_layer || in_layer(c, layer)); }
    bool is_linear() const { return linear || expert; }
};
using BlockRow = SlotRow<Layer>;
using ModelRow = SlotRow<Model>;

struct Family {
    const char* name;
    std::span<const BlockRow> block;  // in the block's order of computation
    std::span<const ModelRow> model;  // embeddings first, lm_head last
    const char* hf_layer_prefix;      // before the layer index of block rows: "model.layers."
    const char* gguf_layer_prefix;    // null: no GGUF export
    // x: the residual stream [n x hidden], updated in place.
    void (*forward_block)(const Layer& l, float* x, BlockContext& ctx);
    void (*final_norm)(const float* x, int n, int dim, const Norm& norm, float eps, float* out);
    int (*embed_width)(const ModelConfig&);  // width of the token embedding table
    bool rope;                // rotary positions: the engines build a RopeTable
    bool learned_positions;   // Model::pos_embed is added to the embeddings and bounds the context
    bool head_may_be_missing; // an untied lm_head absent from the checkpoint is the embedding (as transformers does)
    bool rms_norm;            // RMSNorm without bias: what rotations and norm folding need
    // Rotations (R1) need every residual reader behind an affine-free RMSNorm. Families whose norms are LayerNorms
    // convert to that exactly (OPT: SliceGPT's mean-free residual) before their scales are folded, in two halves so
    // the streaming pipeline can apply them: the model-level tensors (which sets Model::online.layer_norm_as_rms)
    // and one block. Null: the family's norms already are RMSNorm (Llama). why_not_rotatable returns the reason a
    // config cannot be converted exactly, empty when it can; null: every config can.
    std::string (*why_not_rotatable)(const ModelConfig&) = nullptr;
    void (*to_rms_skeleton)(Model& m) = nullptr;
    void (*to_rms_layer)(const ModelConfig& c, Layer& l) = nullptr;
    // Gemma's checkpoints store a norm's scale as w of x/rms(x)·(1 + w): the loader adds this offset to every
    // stored norm weight, so the engines and passes see an ordinary RMSNorm scale. Writers of the family's own
    // checkpoint format must subtract it again (or refuse).
    float norm_offset = 0.0f;
    // The token embeddings are multiplied by this (Gemma: √hidden); null: 1. The tied lm_head is the unscaled table.
    float (*embed_scale)(const ModelConfig&) = nullptr;
};

const Family& family_llama();
const Family& family_phi3();  // the Llama block over Phi-3's fused checkpoint tensors
const Family& family_opt();
const Family& family_gemma();  // Gemma 2 and Gemma 3 (text)
const Family& family_mixtral();    // family_moe.cpp: the Llama attention, experts in block_sparse_moe
const Family& family_qwen3_moe();  // family_moe.cpp: Qwen3's attention, experts in mlp, some layers dense
const Family& family_of(ArchFamily f);
const Family& family_of(const ModelConfig& c);
// The family whose block rows `l` fills (a Layer does not carry its config).
const Family& family_of(const Layer& l);

// Widths of the attention projections' outputs, for the families' shape functions.
inline int q_dim(const ModelConfig& c) { return c.n_heads * c.head_dim; }
inline int kv_dim(const ModelConfig& c) { return c.n_kv_heads * c.head_dim; }

// Empty when R1 is exact for c (its family's norms are RMSNorm or convert to it), else why not.
std::string rotation_refusal(const ModelConfig& c);

// The linears of l whose input is observed at `input` (the readers of a norm's output: AttnIn, MlpIn), in table
// order, every expert's included (for MlpIn: a MoE layer's router and each expert's gate and up).
std::vector<Linear*> linears_reading(Layer& l, Tap input);
// The linears of l that write the residual stream: o and the MLP's down projections (down, fc2 or every expert's
// down).
std::vector<Linear*> residual_writers(Layer& l);
// The MLP's down projections of l (R4 folds into them): down, fc2 or every expert's down.
std::vector<Linear*> down_projections(Layer& l);

// The slots a linear block row names in l: one for a plain row, one per expert of l for an expert row (none when
// l has no experts), each with its expert index (-1 for a plain row). Absent slots are null.
struct RowSlot {
    std::unique_ptr<Linear>* slot;
    int expert;
};
std::vector<RowSlot> row_slots(Layer& l, const BlockRow& r);
std::vector<std::pair<const std::unique_ptr<Linear>*, int>> row_slots(const Layer& l, const BlockRow& r);
// A row's name for one expert: `name` with '*' replaced by the index (unchanged for expert -1).
std::string expert_row_name(const char* name, int expert);

// "<prefix><layer>.<name>", the name of a block row in a format.
std::string block_tensor_name(const char* layer_prefix, int layer, const char* name);

}  // namespace tameq
