// Builds a Model from a TensorSource using the Hugging Face names of the family's slot table.
#include <filesystem>

#include "common/error.h"
#include "io/model_path.h"
#include "model/family.h"
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
    const Family& family = family_of(cfg);
    int64_t n = int64_t(embed_bf16.size());  // the integer engine's copy of embed (which it empties)
    for (const ModelRow& r : family.model) {
        if (r.table) n += int64_t((this->*r.table).size());
        if (r.norm) n += norm(this->*r.norm);
        if (r.linear && !(r.linear == &Model::lm_head && cfg.tie_embeddings)) n += lin(this->*r.linear);
    }
    for (const Layer& l : layers)
        for (const BlockRow& r : family.block) {
            if (r.norm) n += norm(l.*r.norm);
            for (const auto& [slot, expert] : row_slots(l, r)) n += lin(*slot);
        }
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
    // A linear stored inside a fused tensor: its rows of the [hf_rows x cols] weight (and bias).
    std::unique_ptr<Linear> fused_rows(const std::string& prefix, const BlockRow& r, const ModelConfig& c) const {
        const Shape s = r.shape(c);
        const int first = r.hf_first_row(c), total = r.hf_rows(c);
        const std::vector<float> w = src->load(prefix + ".weight", {total, s.cols});
        std::vector<float> mine(w.begin() + ptrdiff_t(first) * s.cols, w.begin() + ptrdiff_t(first + s.rows) * s.cols);
        std::vector<float> b;
        if (r.has_bias(c)) {
            const std::vector<float> all = src->load(prefix + ".bias", {total});
            b.assign(all.begin() + first, all.begin() + first + s.rows);
        }
        return std::make_unique<DenseLinear>(s.cols, s.rows, std::move(mine), std::move(b));
    }
    // offset: Family::norm_offset, added to the stored scale (Gemma's 1 + w).
    Norm norm(const std::string& prefix, int width, bool bias, float offset) const {
        Norm n;
        n.weight = src->load(prefix + ".weight", {width});
        if (offset != 0)
            for (float& w : n.weight) w += offset;
        if (bias) n.bias = src->load(prefix + ".bias", {width});
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
    const Family& family = family_of(c);
    Model m;
    m.cfg = c;
    m.source = impl_->path;
    for (const ModelRow& r : family.model) {
        if (!r.present_in(c)) continue;
        if (r.norm) {
            m.*r.norm = impl_->norm(r.hf, r.norm_width(c), r.has_bias(c), family.norm_offset);
            continue;
        }
        const Shape s = r.shape(c);
        if (r.table) {
            m.*r.table = impl_->src->load(r.hf, {s.rows, s.cols});
        } else if (r.linear == &Model::lm_head &&
                   (c.tie_embeddings || !impl_->src->has(std::string(r.hf) + ".weight"))) {
            if (!c.tie_embeddings && !family.head_may_be_missing)
                fail(impl_->path, "{}.weight missing and tie_word_embeddings is false", r.hf);
            m.lm_head = std::make_unique<DenseLinear>(s.cols, s.rows, m.embed);  // the embedding rows come first
        } else {
            m.*r.linear = impl_->linear(r.hf, s.cols, s.rows, r.has_bias(c));
        }
    }
    return m;
}

Layer ModelReader::load_layer(int i) const {
    const ModelConfig& c = impl_->cfg;
    if (i < 0 || i >= c.n_layers) fail(impl_->path, "layer {} out of range", i);
    const Family& family = family_of(c);
    Layer l;
    if (c.is_moe_layer(i)) l.experts.resize(size_t(c.n_experts));
    for (const BlockRow& r : family.block) {
        if (!r.present_at(c, i)) continue;
        const std::string name = block_tensor_name(family.hf_layer_prefix, i, r.hf);
        if (r.expert) {
            const Shape s = r.shape(c);
            for (int e = 0; e < c.n_experts; ++e)
                l.experts[size_t(e)].*r.expert = impl_->linear(
                    block_tensor_name(family.hf_layer_prefix, i, expert_row_name(r.hf, e).c_str()), s.cols, s.rows, false);
        } else if (r.norm) {
            l.*r.norm = impl_->norm(name, r.norm_width(c), r.has_bias(c), family.norm_offset);
        } else if (r.hf_rows) {
            l.*r.linear = impl_->fused_rows(name, r, c);
        } else {
            const Shape s = r.shape(c);
            l.*r.linear = impl_->linear(name, s.cols, s.rows, r.has_bias(c));
        }
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
