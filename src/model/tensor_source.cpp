#include "model/tensor_source.h"

#include <cstring>
#include <map>

#include "common/error.h"
#include "common/mapped_file.h"
#include "io/safetensors.h"
#include "model/family.h"

namespace tameq {

namespace {

class SafeTensorsSource : public TensorSource {
public:
    explicit SafeTensorsSource(const std::string& path) : st_(SafeTensors::open(path)) {}
    bool has(const std::string& name) const override { return st_.has(name); }
    std::vector<float> load(const std::string& name, const std::vector<int64_t>& shape) const override {
        return st_.load_f32(name, shape);
    }
    std::string dtype_summary() const override {
        std::map<std::string, int> count;
        for (const auto& n : st_.names()) count[dtype_name(st_.get(n).dtype)]++;
        std::string s;
        for (const auto& [d, c] : count) s += (s.empty() ? "" : ", ") + d + " x" + std::to_string(c);
        return s;
    }

private:
    SafeTensors st_;
};

class Llama2cSource : public TensorSource {
public:
    Llama2cSource(const std::string& path, ModelConfig& cfg) : file_(path) {
        const size_t header_bytes = 7 * sizeof(int32_t);
        if (file_.size() < header_bytes) fail(path, "truncated llama2.c checkpoint ({} bytes)", file_.size());
        int32_t h[7];
        std::memcpy(h, file_.data(), header_bytes);
        const int dim = h[0], hidden = h[1], n_layers = h[2], n_heads = h[3], n_kv = h[4], seq_len = h[6];
        const bool shared_classifier = h[5] > 0;
        const int vocab = shared_classifier ? h[5] : -h[5];
        if (dim <= 0 || hidden <= 0 || n_layers <= 0 || n_heads <= 0 || n_kv <= 0 || vocab <= 0 || seq_len <= 0 ||
            dim % n_heads || n_heads % n_kv || dim > (1 << 16) || hidden > (1 << 18) || n_layers > 1024 || vocab > (1 << 22))
            fail(path, "not a llama2.c checkpoint (implausible header {} {} {} {} {} {} {})", h[0], h[1], h[2], h[3], h[4],
                 h[5], h[6]);
        cfg = ModelConfig{};
        cfg.architecture = "llama2.c";
        cfg.family = ArchFamily::Llama;
        cfg.hidden = dim;
        cfg.intermediate = hidden;
        cfg.n_layers = n_layers;
        cfg.n_heads = n_heads;
        cfg.n_kv_heads = n_kv;
        cfg.head_dim = dim / n_heads;
        cfg.vocab = vocab;
        cfg.max_positions = seq_len;
        cfg.norm_eps = 1e-5f;
        cfg.rope_theta = 10000.0f;
        cfg.tie_embeddings = shared_classifier;
        cfg.bos_id = 1;
        cfg.eos_id = 2;
        cfg_ = cfg;

        // The v0 layout, in file order.
        const int64_t L = n_layers, kv_dim = int64_t(dim) / n_heads * n_kv, hs = dim / n_heads;
        size_t off = header_bytes;
        auto take = [&](const std::string& key, std::vector<int64_t> shape) {
            int64_t n = 1;
            for (auto d : shape) n *= d;
            entries_[key] = {off, shape};
            off += size_t(n) * 4;
        };
        take("emb", {vocab, dim});
        take("rms_att", {L, dim});
        take("wq", {L, dim, dim});
        take("wk", {L, kv_dim, dim});
        take("wv", {L, kv_dim, dim});
        take("wo", {L, dim, dim});
        take("rms_ffn", {L, dim});
        take("w1", {L, hidden, dim});
        take("w2", {L, dim, hidden});
        take("w3", {L, hidden, dim});
        take("rms_final", {dim});
        off += size_t(seq_len) * size_t(hs) / 2 * 4 * 2;  // legacy freq_cis_real/imag tables, unused
        if (!shared_classifier) take("wcls", {vocab, dim});
        if (off > file_.size())
            fail(path, "truncated llama2.c checkpoint: the header implies {} bytes, the file has {}", off, file_.size());
    }

    bool has(const std::string& name) const override { return resolve(name).key != nullptr; }

    std::vector<float> load(const std::string& name, const std::vector<int64_t>& shape) const override {
        Ref r = resolve(name);
        if (!r.key) fail(file_.path(), "tensor '{}' not found", name);
        const Entry& e = entries_.at(r.key);
        std::vector<int64_t> one(e.shape.begin() + (r.layer >= 0 ? 1 : 0), e.shape.end());
        if (one != shape)
            fail(file_.path(), "tensor '{}' has shape {}, config implies {}", name, shape_str(one), shape_str(shape));
        int64_t n = 1;
        for (auto d : one) n *= d;
        std::vector<float> out(static_cast<size_t>(n));
        std::memcpy(out.data(), file_.data() + e.offset + size_t(std::max(r.layer, 0)) * size_t(n) * 4, size_t(n) * 4);
        if (r.permute_heads > 0) out = unpermute_rope(out, r.permute_heads, int(one[1]));
        return out;
    }

    std::string dtype_summary() const override { return "F32 (llama2.c)"; }

private:
    struct Entry {
        size_t offset;
        std::vector<int64_t> shape;
    };
    struct Ref {
        const char* key = nullptr;
        int layer = -1;
        int permute_heads = 0;
    };

    // A Hugging Face name to its llama2.c key, by the Llama family's slot table.
    Ref resolve(const std::string& name) const {
        const Family& family = family_llama();
        auto hf_name = [](const auto& r) { return r.table ? std::string(r.hf) : std::string(r.hf) + ".weight"; };
        for (const ModelRow& r : family.model) {
            if (!r.llama2c || name != hf_name(r)) continue;
            if (r.linear == &Model::lm_head && cfg_.tie_embeddings) return {"emb", -1, 0};  // the shared classifier
            return {r.llama2c, -1, 0};
        }
        int layer = -1, consumed = 0;
        const std::string prefix = std::string(family.hf_layer_prefix) + "%d.%n";
        if (std::sscanf(name.c_str(), prefix.c_str(), &layer, &consumed) != 1 || consumed == 0) return {};
        if (layer < 0 || layer >= cfg_.n_layers) return {};
        for (const BlockRow& r : family.block)
            if (r.llama2c && name.compare(size_t(consumed), std::string::npos, hf_name(r)) == 0)
                return {r.llama2c, layer, r.rope_heads ? r.rope_heads(cfg_) : 0};
        return {};
    }

    // llama2.c rotates pairs (2i, 2i+1) of each head; Hugging Face rotates (i, i + head_dim/2).
    // Reordering each head's output rows to [even..., odd...] makes the two identical.
    static std::vector<float> unpermute_rope(const std::vector<float>& w, int heads, int cols) {
        const int rows = int(w.size() / size_t(cols)), hd = rows / heads;
        std::vector<float> out(w.size());
        for (int h = 0; h < heads; ++h)
            for (int j = 0; j < hd; ++j) {
                int src = j < hd / 2 ? 2 * j : 2 * (j - hd / 2) + 1;
                std::memcpy(&out[size_t(h * hd + j) * cols], &w[size_t(h * hd + src) * cols], size_t(cols) * 4);
            }
        return out;
    }

    MappedFile file_;
    ModelConfig cfg_;
    std::map<std::string, Entry> entries_;
};

}  // namespace

std::unique_ptr<TensorSource> open_safetensors_source(const std::string& path) {
    return std::make_unique<SafeTensorsSource>(path);
}

std::unique_ptr<TensorSource> open_llama2c_source(const std::string& path, ModelConfig& cfg) {
    return std::make_unique<Llama2cSource>(path, cfg);
}

}  // namespace tameq
