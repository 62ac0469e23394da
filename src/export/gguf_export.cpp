#include "export/gguf_export.h"

#include <cblas.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/half.h"
#include "export/open_model.h"
#include "io/model_path.h"
#include "model/fake_quant.h"
#include "model/family.h"
#include "model/model.h"
#include "numerics/hadamard.h"
#include "numerics/schemes.h"

namespace tameq {
namespace {

namespace fs = std::filesystem;
using gguf::TensorType;

// Hugging Face Llama applies RoPE to the halves (i, i + d/2) of each head; llama.cpp's "llama" rotates
// adjacent pairs (2i, 2i + 1). Reordering q/k rows head by head (row i → 2i, i + d/2 → 2i + 1) makes the
// two the same, and qkᵀ is unchanged because q and k move together. Rows of any element type: `row_bytes`
// each, so FP rows, tameq's codes and their per-row grids all move the same way.
template <class T>
std::vector<T> interleave_rope_rows(const T* w, int n_heads, int head_dim, size_t row_len) {
    std::vector<T> out(size_t(n_heads) * head_dim * row_len);
    const int half = head_dim / 2;
    for (int h = 0; h < n_heads; ++h)
        for (int i = 0; i < half; ++i)
            for (int j = 0; j < 2; ++j) {
                const T* src = w + (size_t(h) * head_dim + size_t(j) * half + i) * row_len;
                std::copy(src, src + row_len, out.data() + (size_t(h) * head_dim + 2 * size_t(i) + j) * row_len);
            }
    return out;
}

// llama.cpp's "gpt2" vocabulary: byte-level BPE tokens and merges from tokenizer.json. Ids the tokenizer
// lacks (models whose embedding has more rows) get unique placeholder names, marked unused.
void add_bpe_tokenizer(gguf::Writer& w, const std::string& dir, const ModelConfig& c) {
    const std::string path = dir + "/tokenizer.json";
    if (!fs::exists(path)) fail(path, "a GGUF export needs the model's tokenizer.json (byte-level BPE)");
    const nlohmann::json j = read_json_file(path);
    const auto& model = j.at("model");
    if (model.value("type", "") != "BPE") fail(path, "only byte-level BPE tokenizers are exported (got '{}')", model.value("type", ""));
    enum : int32_t { kNormal = 1, kControl = 3, kUnused = 5 };
    std::vector<std::string> tokens(size_t(c.vocab));
    std::vector<int32_t> types(size_t(c.vocab), kUnused);
    auto set = [&](const std::string& s, int64_t id, int32_t type) {
        if (id < 0 || id >= c.vocab) fail(path, "token '{}' has id {} outside the model's vocabulary of {}", s, id, c.vocab);
        tokens[size_t(id)] = s;
        types[size_t(id)] = type;
    };
    for (const auto& [s, id] : model.at("vocab").items()) set(s, id.get<int64_t>(), kNormal);
    for (const auto& t : j.value("added_tokens", nlohmann::json::array()))
        set(t.at("content").get<std::string>(), t.at("id").get<int64_t>(), t.value("special", false) ? kControl : kNormal);
    for (size_t i = 0; i < tokens.size(); ++i)
        if (types[i] == kUnused) tokens[i] = fmt::format("[tameq_unused_{}]", i);
    std::vector<std::string> merges;
    for (const auto& m : model.at("merges"))  // "a b" (older files) or ["a", "b"]
        merges.push_back(m.is_string() ? m.get<std::string>() : m.at(0).get<std::string>() + " " + m.at(1).get<std::string>());
    w.add_string("tokenizer.ggml.model", "gpt2");
    w.add_string("tokenizer.ggml.pre", "gpt-2");
    w.add_strings("tokenizer.ggml.tokens", tokens);
    w.add_i32s("tokenizer.ggml.token_type", types);
    w.add_strings("tokenizer.ggml.merges", merges);
    w.add_u32("tokenizer.ggml.bos_token_id", uint32_t(c.bos_id));
    w.add_u32("tokenizer.ggml.eos_token_id", uint32_t(c.eos_id));
    w.add_bool("tokenizer.ggml.add_bos_token", true);
}

const GgufTarget& gguf_target(const WeightScheme& s) {
    for (const GgufTarget& t : kGgufTargets)
        if (std::string_view(t.format) == s.format->name) return t;
    fail("gguf", "no GGUF row for weight format {}", s.format->name);
}

float f16_round(float v) { return f16_to_f32(f32_to_f16(v)); }

class Exporter {
public:
    Exporter(const std::string& path, const GgufExportOptions& opt) : path_(path), opt_(opt) {}

    GgufExportSummary run(const std::string& out) {
        quantized_ = is_quantized_dir(path_);
        fp_type_ = gguf::parse_tensor_type(opt_.type);
        head_type_ = gguf::parse_tensor_type(!opt_.head_type.empty() ? opt_.head_type : quantized_ ? "f16" : opt_.type);
        if (!fs::is_directory(path_)) fail(path_, "a GGUF export reads a Hugging Face directory or a tameq quantized directory");
        m_ = load_model(path_);
        const ModelConfig& c = m_.cfg;
        const Family& family = family_of(c);
        if (!family.gguf_layer_prefix)
            fail(path_, "GGUF export supports the Llama family only, as llama.cpp's 'llama' architecture (got {}, whose "
                        "{} slot table has no GGUF names)", c.architecture, family.name);
        if (c.rope_scaling.type != "default") fail(path_, "RoPE scaling '{}' is not exported", c.rope_scaling.type);
        if (c.qk_norm) fail(path_, "llama.cpp's 'llama' architecture has no per-head q/k norms ({})", c.architecture);
        if (c.sliding_window > 0) fail(path_, "llama.cpp's 'llama' architecture has no sliding-window attention");
        check_online();

        gguf::Writer w;
        w.add_string("general.architecture", "llama");
        w.add_string("general.name", fs::path(path_).lexically_normal().filename().string());
        w.add_u32("llama.context_length", uint32_t(c.max_positions));
        w.add_u32("llama.embedding_length", uint32_t(c.hidden));
        w.add_u32("llama.block_count", uint32_t(c.n_layers));
        w.add_u32("llama.feed_forward_length", uint32_t(c.intermediate));
        w.add_u32("llama.attention.head_count", uint32_t(c.n_heads));
        w.add_u32("llama.attention.head_count_kv", uint32_t(c.n_kv_heads));
        w.add_u32("llama.attention.key_length", uint32_t(c.head_dim));
        w.add_u32("llama.attention.value_length", uint32_t(c.head_dim));
        w.add_u32("llama.rope.dimension_count", uint32_t(c.head_dim));
        w.add_f32("llama.rope.freq_base", c.rope_theta);
        w.add_f32("llama.attention.layer_norm_rms_epsilon", c.norm_eps);
        w.add_u32("llama.vocab_size", uint32_t(c.vocab));
        add_bpe_tokenizer(w, path_, c);

        // The family's slot table in llama.cpp's order: embeddings, the blocks, the head. Norms stay F32
        // (llama.cpp multiplies by them in F32).
        const uint64_t H = uint64_t(c.hidden);
        for (const ModelRow& r : family.model)
            if (r.table) {
                const Shape s = r.shape(c);
                w.add_tensor(r.gguf, {uint64_t(s.rows), uint64_t(s.cols)}, head_type_, (m_.*r.table).data());
            }
        for (size_t i = 0; i < m_.layers.size(); ++i) {
            const Layer& l = m_.layers[i];
            for (const BlockRow& r : family.block) {
                if (!r.present_in(c)) continue;  // Qwen3's q/k norms (refused above) in other configs
                const std::string name = block_tensor_name(family.gguf_layer_prefix, int(i), r.gguf);
                if (r.norm) add_norm(w, name, l.*r.norm, H);
                else add_linear(w, name, r, *(l.*r.linear), r.linear == &Layer::down);
            }
        }
        for (const ModelRow& r : family.model) {
            if (r.norm) add_norm(w, r.gguf, m_.*r.norm, H);
            if (r.linear) add_head(w, r.gguf, r, *(m_.*r.linear));
        }
        w.add_u32("general.file_type", gguf::file_type_of(majority_type()));
        w.write(out);
        summary_.tensors = w.n_tensors();
        summary_.bytes = fs::file_size(out);
        return summary_;
    }

private:
    void check_online() {
        const OnlineTransforms& on = m_.online;
        if (on.keep_massive_fp) fail(path_, "keep-massive (a diagnostic that skips quantization per token) has no llama.cpp carrier");
        if (on.had_qk) {
            if (!opt_.fold_online)
                fail(path_, "R3 (an online Hadamard on q/k after RoPE) has no llama.cpp carrier: quantize with kv=16 (or r3=none), "
                            "or export with --fold-online to drop it (it changes only the KV-cache codes)");
            summary_.notes.push_back("R3 dropped: llama.cpp's KV cache keeps its own types (--cache-type-k/-v)");
        }
        if (on.had_down) {
            if (!opt_.fold_online)
                fail(path_, "R4 (an online Hadamard before down_proj) has no llama.cpp carrier: quantize with r4=none, or export "
                            "with --fold-online to multiply it into down_proj (re-quantized by ggml's rule)");
            summary_.notes.push_back("R4 folded into down_proj, which is re-quantized by ggml's reference rule (not tameq's codes)");
        }
        if (m_.kv_policy)
            summary_.notes.push_back("the recipe's KV-cache quantization is not carried: llama.cpp chooses its cache type at run time");
    }

    void add_norm(gguf::Writer& w, const std::string& name, const Norm& n, uint64_t H) {
        if (!n.bias.empty()) fail(path_, "{}: llama.cpp's 'llama' norms have no bias (OutlierTune's shift lives there)", name);
        const float* data = n.weight.data();
        if (n.weight.empty()) {
            ones_.push_back(std::vector<float>(H, 1.0f));
            data = ones_.back().data();
        }
        w.add_tensor(name + ".weight", {H}, TensorType::F32, data);
    }

    // An FP matrix at `type`, q/k rows in llama.cpp's order.
    void add_fp(gguf::Writer& w, const std::string& name, const BlockRow& row, const float* data, TensorType type) {
        const ModelConfig& c = m_.cfg;
        const Shape s = row.shape(c);
        if (row.rope_heads) {
            keep_.push_back(interleave_rope_rows(data, row.rope_heads(c), c.head_dim, size_t(s.cols)));
            data = keep_.back().data();
        }
        w.add_tensor(name + ".weight", {uint64_t(s.rows), uint64_t(s.cols)}, type, data);
        if (gguf::is_block_type(type)) ++summary_.requantized_matrices;
        types_.push_back(type);
    }

    void add_head(gguf::Writer& w, const std::string& name, const ModelRow& row, const Linear& lin) {
        const auto* fq = dynamic_cast<const FakeQuantLinear*>(&lin);
        if (fq && fq->weight()) fail(path_, "{}: a quantized lm_head is not exported", name);
        const Shape s = row.shape(m_.cfg);
        w.add_tensor(name + ".weight", {uint64_t(s.rows), uint64_t(s.cols)}, head_type_,
                     fq ? fq->dense().weight.data() : as_dense(lin).weight.data());
    }

    void add_linear(gguf::Writer& w, const std::string& name, const BlockRow& row, const Linear& lin, bool is_down) {
        const auto* fq = dynamic_cast<const FakeQuantLinear*>(&lin);
        if (fq) {
            if (!fq->bias().empty()) fail(path_, "{}: llama.cpp's 'llama' architecture has no linear biases", name);
            if (fq->act().mode == ActQuant::Mode::PerChannelStatic)
                fail(path_, "{}: static per-channel activation codes (OutlierTune) have no llama.cpp carrier; "
                            "export a recipe with per-token activations (a=8) or none", name);
            if (fq->act().mode == ActQuant::Mode::PerToken && !noted_acts_) {
                summary_.notes.push_back(fmt::format(
                    "the recipe's {}-bit per-token activations are not carried: llama.cpp quantizes activations itself "
                    "(8-bit blocks of 32, Q8_0/Q8_1)", fq->act().spec.bits));
                noted_acts_ = true;
            }
        } else if (!as_dense(lin).bias.empty()) {
            fail(path_, "{}: llama.cpp's 'llama' architecture has no linear biases", name);
        }
        const QuantizedWeight* q = fq ? fq->weight() : nullptr;
        if (!q) {  // FP weights: an FP checkpoint, or a recipe that kept this linear in floating point
            add_fp(w, name, row, fq ? fq->dense().weight.data() : as_dense(lin).weight.data(), quantized_ ? head_type_ : fp_type_);
            return;
        }
        const WeightScheme scheme = weight_scheme(q->spec, !q->column_group.empty());
        const GgufTarget& target = gguf_target(scheme);
        if (target.refusal) fail(path_, "{}: {} weights: {}", name, scheme.name(), target.refusal);
        if (is_down && m_.online.had_down) {  // fold R4: W = (W·Hᵀ)·H, then ggml's rounding at the target type
            std::vector<float> wq = q->dequantize();
            std::vector<float> folded(wq.size());
            if (const int block = m_.online.had_down_block) {
                // I ⊗ H_B/√B is symmetric (Sylvester blocks), so W·H transforms each row's blocks in place.
                folded = wq;
                fwht_row_blocks(folded.data(), q->rows, q->cols, block);
            } else {
                const std::vector<float> h = hadamard_matrix(q->cols);
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, q->rows, q->cols, q->cols, 1.0f, wq.data(), q->cols,
                            h.data(), q->cols, 0.0f, folded.data(), q->cols);
            }
            keep_.push_back(std::move(folded));
            add_fp(w, name, row, keep_.back().data(), target.type);
            return;
        }
        w.add_encoded_tensor(name + ".weight", {uint64_t(q->rows), uint64_t(q->cols)}, target.type, encode(name, row, *q, target.type));
        ++summary_.exact_matrices;
        types_.push_back(target.type);
    }

    // tameq's codes as llama.cpp blocks: block j of row r takes the grid of the group holding its 32 columns.
    std::vector<uint8_t> encode(const std::string& name, const BlockRow& row, const QuantizedWeight& q, TensorType type) {
        constexpr int B = gguf::kQuantBlock;
        if (q.cols % B != 0) fail(path_, "{}: rows of {} do not split into llama.cpp's blocks of {}", name, q.cols, B);
        const bool grouped = q.spec.granularity == Granularity::PerGroup;
        if (q.spec.granularity == Granularity::PerTensor) fail(path_, "{}: per-tensor weight grids are not exported", name);
        if (grouped && q.spec.group_size % B != 0)
            fail(path_, "{}: weight groups of {} do not hold whole llama.cpp blocks of {}: quantize with --group 32 (or a multiple "
                        "of 32, or 0 = per channel)", name, q.spec.group_size, B);
        if (grouped && !q.column_group.empty())
            fail(path_, "{}: GPTQ act-order with groups gives each column its own group, which llama.cpp's contiguous blocks cannot "
                        "express: quantize with act-order=false, or group 0", name);
        const int groups = scheme_groups(q);
        // Per-row arrays in the stored row order; q/k rows then move to llama.cpp's order with their grids.
        std::vector<int8_t> codes = q.codes;
        std::vector<QParams> params = q.params;
        if (row.rope_heads) {
            const ModelConfig& c = m_.cfg;
            codes = interleave_rope_rows(q.codes.data(), row.rope_heads(c), c.head_dim, size_t(q.cols));
            params = interleave_rope_rows(q.params.data(), row.rope_heads(c), c.head_dim, size_t(groups));
        }
        const int blocks = q.cols / B;
        const size_t block_bytes = gguf::tensor_bytes(type, B);
        std::vector<uint8_t> out(size_t(q.rows) * blocks * block_bytes);
        for (int r = 0; r < q.rows; ++r)
            for (int j = 0; j < blocks; ++j) {
                const int g = grouped ? j * B / q.spec.group_size : 0;
                const QParams p = params[size_t(r) * groups + g];
                const int8_t* c = codes.data() + size_t(r) * q.cols + size_t(j) * B;
                uint8_t* o = out.data() + (size_t(r) * blocks + j) * block_bytes;
                const float d = check_scale(name, p.scale);
                switch (type) {
                    case TensorType::Q4_0: gguf::encode_q4_0_block(c, d, o); break;
                    case TensorType::Q4_1: gguf::encode_q4_1_block(c, d, -p.scale * p.zero, o); break;
                    case TensorType::Q8_0:
                        for (int i = 0; i < B; ++i)
                            if (c[i] < -127)
                                fail(path_, "{}: code {} lies outside Q8_0's ±127 (llama.cpp's int8 dot products assume it): quantize "
                                            "with w-narrow", name, int(c[i]));
                        gguf::encode_q8_0_block(c, d, o);
                        break;
                    default: fail(path_, "{}: no block encoder for {}", name, gguf::tensor_type_name(type));
                }
            }
        return out;
    }

    static int scheme_groups(const QuantizedWeight& q) {
        return q.spec.granularity == Granularity::PerGroup ? q.cols / q.spec.group_size : 1;
    }

    float check_scale(const std::string& name, float s) {
        const float d = f16_round(s);
        if (!(d > 0) || !std::isfinite(d))
            fail(path_, "{}: weight scale {} does not survive f16 (GGUF block scales are f16)", name, s);
        summary_.max_scale_rounding = std::max(summary_.max_scale_rounding, double(std::fabs(d - s) / s));
        return d;
    }

    TensorType majority_type() const {
        std::map<TensorType, int> n;
        for (TensorType t : types_) ++n[t];
        TensorType best = fp_type_;
        int most = 0;
        for (auto [t, k] : n)
            if (k > most) best = t, most = k;
        return best;
    }

    std::string path_;
    GgufExportOptions opt_;
    bool quantized_ = false;
    TensorType fp_type_ = TensorType::F16, head_type_ = TensorType::F16;
    Model m_;
    GgufExportSummary summary_;
    bool noted_acts_ = false;
    std::vector<std::vector<float>> keep_;  // buffers the writer reads at write(): q/k in llama.cpp order, folded down_proj
    std::vector<std::vector<float>> ones_;
    std::vector<TensorType> types_;         // of the block matrices, for general.file_type
};

}  // namespace

GgufExportSummary export_gguf(const std::string& model_path, const std::string& out, const GgufExportOptions& opt) {
    return Exporter(model_path, opt).run(out);
}

}  // namespace tameq
