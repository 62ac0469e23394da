// Builds a Model from a TensorSource using each family's Hugging Face tensor names.
#include <filesystem>

#include "common/error.h"
#include "io/model_path.h"
#include "model/model.h"
#include "model/tensor_source.h"

namespace tameq {
namespace fs = std::filesystem;

int64_t Model::n_params() const {
    auto lin = [](const std::unique_ptr<Linear>& l) -> int64_t {
        if (!l) return 0;
        int64_t n = int64_t(l->in_features()) * l->out_features();
        if (auto* d = dynamic_cast<const DenseLinear*>(l.get())) n += int64_t(d->bias.size());
        return n;
    };
    auto norm = [](const Norm& n) { return int64_t(n.weight.size() + n.bias.size()); };
    int64_t n = int64_t(embed.size() + embed_bf16.size() + pos_embed.size()) + lin(project_in) + lin(project_out) + norm(final_norm);
    if (!cfg.tie_embeddings) n += lin(lm_head);
    for (const Layer& l : layers)
        n += norm(l.attn_norm) + norm(l.mlp_norm) + lin(l.q) + lin(l.k) + lin(l.v) + lin(l.o) + lin(l.gate) + lin(l.up) +
             lin(l.down) + lin(l.fc1) + lin(l.fc2);
    return n;
}

struct ModelReader::Impl {
    ModelConfig cfg;
    std::string path;
    std::unique_ptr<TensorSource> src;

    std::unique_ptr<Linear> linear(const std::string& prefix, int in, int out, bool bias) const {
        std::vector<float> w = src->load(prefix + ".weight", {out, in});
        std::vector<float> b;
        if (bias) b = src->load(prefix + ".bias", {out});
        return std::make_unique<DenseLinear>(in, out, std::move(w), std::move(b));
    }
    Norm norm(const std::string& prefix, bool bias) const {
        Norm n;
        n.weight = src->load(prefix + ".weight", {cfg.hidden});
        if (bias) n.bias = src->load(prefix + ".bias", {cfg.hidden});
        return n;
    }
};

ModelReader::ModelReader(const std::string& path) : impl_(std::make_unique<Impl>()) {
    impl_->path = path;
    if (!fs::exists(path)) fail(path, "no such file or directory");
    if (is_quantized_dir(path)) fail(path, "is already a quantized model; start from the original checkpoint");
    if (fs::is_directory(path)) {
        impl_->cfg = load_hf_config(path);
        impl_->src = open_safetensors_source(path);
    } else if (path.ends_with(".bin")) {
        impl_->src = open_llama2c_source(path, impl_->cfg);
    } else {
        fail(path, "not a model: expected a Hugging Face directory (config.json + safetensors) or a llama2.c .bin file");
    }
}

ModelReader::~ModelReader() = default;

const ModelConfig& ModelReader::config() const { return impl_->cfg; }

Model ModelReader::load_skeleton() const {
    const ModelConfig& c = impl_->cfg;
    Model m;
    m.cfg = c;
    m.source = impl_->path;
    if (c.family == ArchFamily::Llama) {
        m.embed = impl_->src->load("model.embed_tokens.weight", {c.vocab, c.hidden});
        m.final_norm = impl_->norm("model.norm", false);
        if (c.tie_embeddings || !impl_->src->has("lm_head.weight")) {
            if (!c.tie_embeddings) fail(impl_->path, "lm_head.weight missing and tie_word_embeddings is false");
            m.lm_head = std::make_unique<DenseLinear>(c.hidden, c.vocab, m.embed);
        } else {
            m.lm_head = impl_->linear("lm_head", c.hidden, c.vocab, false);
        }
    } else {
        const int e = c.word_embed_proj_dim;
        m.embed = impl_->src->load("model.decoder.embed_tokens.weight", {c.vocab, e});
        m.pos_embed = impl_->src->load("model.decoder.embed_positions.weight", {c.max_positions + c.position_offset, c.hidden});
        if (e != c.hidden) {
            m.project_in = impl_->linear("model.decoder.project_in", e, c.hidden, false);
            m.project_out = impl_->linear("model.decoder.project_out", c.hidden, e, false);
        }
        if (c.pre_layer_norm && c.final_layer_norm) m.final_norm = impl_->norm("model.decoder.final_layer_norm", true);
        if (c.tie_embeddings || !impl_->src->has("lm_head.weight"))
            m.lm_head = std::make_unique<DenseLinear>(e, c.vocab, m.embed);
        else
            m.lm_head = impl_->linear("lm_head", e, c.vocab, false);
    }
    return m;
}

Layer ModelReader::load_layer(int i) const {
    const ModelConfig& c = impl_->cfg;
    if (i < 0 || i >= c.n_layers) fail(impl_->path, "layer {} out of range", i);
    const Impl& r = *impl_;
    Layer l;
    const int q_dim = c.n_heads * c.head_dim, kv_dim = c.n_kv_heads * c.head_dim;
    if (c.family == ArchFamily::Llama) {
        const std::string p = "model.layers." + std::to_string(i) + ".";
        l.attn_norm = r.norm(p + "input_layernorm", false);
        l.mlp_norm = r.norm(p + "post_attention_layernorm", false);
        l.q = r.linear(p + "self_attn.q_proj", c.hidden, q_dim, c.qkv_bias);
        l.k = r.linear(p + "self_attn.k_proj", c.hidden, kv_dim, c.qkv_bias);
        l.v = r.linear(p + "self_attn.v_proj", c.hidden, kv_dim, c.qkv_bias);
        l.o = r.linear(p + "self_attn.o_proj", q_dim, c.hidden, c.o_bias);
        l.gate = r.linear(p + "mlp.gate_proj", c.hidden, c.intermediate, c.mlp_bias);
        l.up = r.linear(p + "mlp.up_proj", c.hidden, c.intermediate, c.mlp_bias);
        l.down = r.linear(p + "mlp.down_proj", c.intermediate, c.hidden, c.mlp_bias);
    } else {
        const std::string p = "model.decoder.layers." + std::to_string(i) + ".";
        l.attn_norm = r.norm(p + "self_attn_layer_norm", true);
        l.mlp_norm = r.norm(p + "final_layer_norm", true);
        l.q = r.linear(p + "self_attn.q_proj", c.hidden, q_dim, true);
        l.k = r.linear(p + "self_attn.k_proj", c.hidden, kv_dim, true);
        l.v = r.linear(p + "self_attn.v_proj", c.hidden, kv_dim, true);
        l.o = r.linear(p + "self_attn.out_proj", q_dim, c.hidden, true);
        l.fc1 = r.linear(p + "fc1", c.hidden, c.intermediate, true);
        l.fc2 = r.linear(p + "fc2", c.intermediate, c.hidden, true);
    }
    return l;
}

Model load_checkpoint(const std::string& path) {
    ModelReader reader(path);
    Model m = reader.load_skeleton();
    m.layers.reserve(size_t(reader.config().n_layers));
    for (int i = 0; i < reader.config().n_layers; ++i) m.layers.push_back(reader.load_layer(i));
    return m;
}

}  // namespace tameq
