// tameq quantized directory -> compressed-tensors directory, without re-quantizing: the codes and grids are
// tameq's, renumbered to compressed-tensors' signed code range (asymmetric codes and zero points shift by
// 2^(b-1); the dequantized value (q - z)·s is unchanged).
#include <filesystem>
#include <fstream>
#include <map>
#include <unistd.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"
#include "common/interrupt.h"
#include "export/compressed_tensors.h"
#include "export/compressed_tensors_spec.h"
#include "io/model_path.h"
#include "io/safetensors_writer.h"
#include "model/fake_quant.h"
#include "model/family.h"
#include "quant/quantized_format.h"

namespace tameq {
namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// The output's temporary directory, removed unless commit() renamed it into place.
class StagingDir {
public:
    explicit StagingDir(std::string out) : out_(std::move(out)), tmp_(out_ + ".tmp-" + std::to_string(::getpid())) {
        fs::remove_all(tmp_);
        std::error_code ec;
        fs::create_directory(tmp_, ec);
        if (ec) fail(out_, "cannot create {} ({})", tmp_, ec.message());
    }
    ~StagingDir() {
        if (!committed_) {
            std::error_code ec;
            fs::remove_all(tmp_, ec);
        }
    }
    const std::string& path() const { return tmp_; }
    void commit() {
        fs::rename(tmp_, out_);
        committed_ = true;
    }

private:
    std::string out_, tmp_;
    bool committed_ = false;
};

// Refusals that the recipe alone decides, before anything is loaded or written.
void check_recipe(const Recipe& r, const CompressedTensorsOptions& o, const std::string& meta, std::vector<std::string>& warnings) {
    if (r.wbits == 16)
        fail(meta, "weights kept in floating point ({}): compressed-tensors engines run quantized weights; quantize with --wbits 8 or 4",
             r.summary());
    if (r.abits != 16 && r.abits != 8 && r.abits != 4) {
        if (r.wbits == 6 && r.abits == 6)
            fail(meta, "W6A6 has no compressed-tensors engine (vLLM's integer schemes take 8- or 4-bit activations); re-quantize as W6A8 (--abits 8)");
        fail(meta, "{}-bit activations have no compressed-tensors engine (vLLM's integer schemes take 8- or 4-bit activations); re-quantize with --abits 8",
             r.abits);
    }
    if (r.a_clip != 1.0f)
        fail(meta, "a-clip={}: compressed-tensors' dynamic activation quantizers have no clip ratio; re-quantize with a-clip=1", r.a_clip);
    if (r.keep_massive_fp) fail(meta, "keep-massive is a diagnostic no engine runs; re-quantize without it");
    if (r.kvbits < 16) {
        if (!o.drop_r3)
            fail(meta,
                 "KV{} cache codes (and R3, the online Hadamard on q/k that serves them) have no compressed-tensors carrier an engine "
                 "runs: vLLM applies transforms only at a linear's input or output; export with --drop-r3 to leave both out and use "
                 "the engine's own KV-cache quantization (vLLM: --kv-cache-dtype fp8)",
                 r.kvbits);
        warnings.push_back(fmt::format(
            "--drop-r3: the export leaves out R3 and the KV{} cache codes (the FP attention is unchanged); quantize the cache with the "
            "engine's own option (vLLM: --kv-cache-dtype fp8), which runs on unrotated keys",
            r.kvbits));
    }
}

// A floating-point tensor in F32, or in BF16 (what a checkpoint in the model's dtype holds).
void put_fp(SafeTensorsWriter& w, bool bf16, const std::string& name, const std::vector<int64_t>& shape, const std::vector<float>& v) {
    if (bf16) w.add_bf16(name, shape, v);
    else w.add_f32(name, shape, v);
}

struct LinearTensors {
    json scheme;  // weights / input_activations (no targets)
    std::string format;
};

// Writes one quantized linear's tensors under `name` and returns its scheme.
LinearTensors put_linear(SafeTensorsWriter& w, bool bf16, const std::string& name, const FakeQuantLinear& fq, const std::string& file) {
    const QuantizedWeight& q = *fq.weight();
    const int rows = q.rows, cols = q.cols, bits = q.spec.bits;
    if (q.spec.granularity == Granularity::PerTensor) fail(file, "{}: per-tensor weight grids are not exported", name);
    const bool g_idx = !q.column_group.empty();
    const ActQuant& a = fq.act();
    LinearTensors out;
    out.scheme = {{"weights", ct::weight_args(q.spec, g_idx)}, {"input_activations", nullptr}, {"output_activations", nullptr}};
    if (a.mode == ActQuant::Mode::PerToken) {
        out.scheme["input_activations"] = ct::dynamic_token_args(a.spec);
    } else if (a.mode == ActQuant::Mode::PerChannelStatic) {
        // OutlierTune with ot-fold: the steps are in the weights and the norm, every channel's step is 1.
        const float step = a.channel_step.at(0);
        for (float s : a.channel_step)
            if (s != step)
                fail(file, "{}: static per-channel activation steps (ot-fold=false) have no compressed-tensors scheme; re-quantize with ot-fold=true",
                     name);
        out.scheme["input_activations"] = ct::static_tensor_args(a.spec);
        w.add_f32(name + ".input_scale", {1}, {step});
    }
    const int groups = int(q.params.size()) / rows;
    const int offset = q.spec.symmetric ? 0 : 1 << (bits - 1);  // tameq's asymmetric codes are unsigned
    std::vector<int8_t> codes(q.codes.size());
    for (size_t i = 0; i < codes.size(); ++i) codes[i] = int8_t(q.codes[i] - offset);
    std::vector<float> scales(q.params.size());
    std::vector<int8_t> zeros(q.params.size());
    for (size_t i = 0; i < q.params.size(); ++i) {
        scales[i] = q.params[i].scale;
        const float z = q.params[i].zero - float(offset);
        if (z != std::nearbyint(z) || z < -float(1 << (bits - 1)) || z >= float(1 << (bits - 1)))
            fail(file, "{}: zero point {} is not a {}-bit integer code", name, q.params[i].zero, bits);
        zeros[i] = int8_t(z);
    }
    const bool int8 = bits == 8 && q.spec.symmetric && !g_idx && q.spec.granularity == Granularity::PerRow && a.active();
    out.format = int8 ? ct::kIntQuantized : ct::kPackQuantized;
    if (int8) {
        w.add(name + ".weight", DType::I8, {rows, cols}, codes.data(), codes.size());
    } else {
        const std::vector<int32_t> packed = ct_pack_rows(codes.data(), rows, cols, bits);
        w.add(name + ".weight_packed", DType::I32, {rows, ct_packed_words(cols, bits)}, packed.data(), packed.size() * 4);
        const int64_t shape[2] = {rows, cols};
        w.add(name + ".weight_shape", DType::I64, {2}, shape, sizeof shape);
    }
    // vLLM keeps int-quantized weight scales in float32 (compressed_tensors_w8a8_int8.py), the others in the model dtype.
    put_fp(w, bf16 && !int8, name + ".weight_scale", {rows, groups}, scales);
    if (!q.spec.symmetric) {
        if (int8) {
            w.add(name + ".weight_zero_point", DType::I8, {rows, groups}, zeros.data(), zeros.size());
        } else {
            const std::vector<int32_t> zp = ct_pack_columns(zeros.data(), rows, groups, bits);
            w.add(name + ".weight_zero_point", DType::I32, {ct_packed_words(rows, bits), groups}, zp.data(), zp.size() * 4);
        }
    }
    if (g_idx) {
        std::vector<int32_t> g(q.column_group.begin(), q.column_group.end());
        w.add(name + ".weight_g_idx", DType::I32, {cols}, g.data(), g.size() * 4);
    }
    out.scheme["format"] = out.format;
    return out;
}

void put_dense(SafeTensorsWriter& w, bool bf16, const std::string& name, const Linear& l) {
    const DenseLinear& d = as_dense(l);
    put_fp(w, bf16, name + ".weight", {d.out_features(), d.in_features()}, d.weight);
    if (!d.bias.empty()) put_fp(w, bf16, name + ".bias", {d.out_features()}, d.bias);
}

void write_json(const std::string& path, const json& j) {
    std::ofstream out(path);
    out << j.dump(2) << "\n";
    if (!out) fail(path, "write failed");
}

}  // namespace

std::vector<std::string> export_compressed_tensors(const std::string& quantized_dir_in, const std::string& out_dir_in,
                                                   const CompressedTensorsOptions& options) {
    std::string qdir = quantized_dir_in, out = out_dir_in;
    while (qdir.size() > 1 && qdir.back() == '/') qdir.pop_back();
    while (out.size() > 1 && out.back() == '/') out.pop_back();
    if (!is_quantized_dir(qdir))
        fail(qdir, "not a tameq quantized directory (no {}); `tameq quantize MODEL -o DIR` writes one", kQuantizedMarker);
    if (out.empty()) fail("export", "empty output path");
    if (fs::exists(out)) fail(out, "exists; refusing to replace it");
    const fs::path parent = fs::absolute(out).parent_path();
    if (!fs::is_directory(parent)) fail(out, "cannot write: {} is not a directory", parent.string());
    const std::string meta = qdir + "/" + kQuantizedMarker;
    std::vector<std::string> warnings;
    const Recipe recipe = quantized_recipe(qdir);
    check_recipe(recipe, options, meta, warnings);

    Model m = load_quantized_model(qdir);
    const ModelConfig& c = m.cfg;
    const Family& family = family_of(c);
    // tameq holds Gemma's norms as 1 + w; the checkpoint would need w back, which this writer does not do yet.
    if (family.norm_offset != 0)
        fail(meta, "exporting {} to compressed-tensors is not supported yet (its norms are held as 1 + w and would "
                   "have to be written back as w)", c.architecture);
    // The per-layer loop below writes one module per plain row; experts would need one per expert under the HF names
    // vLLM's fused-MoE loaders read (and the router in the ignore list), which it does not write yet.
    if (c.n_experts > 0)
        fail(meta, "exporting the mixture-of-experts {} to compressed-tensors is not supported yet (its experts and "
                   "router have no writer)", c.architecture);
    if (m.online.layer_norm_as_rms)  // vLLM's OPT runs LayerNorm, which a rotated residual no longer allows
        fail(meta, "a rotated {} runs its LayerNorms as RMSNorm, which compressed-tensors cannot carry", c.architecture);
    if (m.online.had_qk && !options.drop_r3) fail(meta, "R3 has no compressed-tensors carrier; export with --drop-r3");
    for (const BlockRow& r : family.block)
        if (r.hf_rows)  // engines load the fused tensor, which would have to be re-fused from the split linears
            fail(meta, "{}: exporting a checkpoint with fused projections ({}) is not supported yet", c.architecture, r.hf);
    // The transform written below is the full H_n; a block-diagonal R4 would need the scheme's head_dim (the
    // block size), which neither this writer nor tameq's reader handles yet.
    if (m.online.had_down && m.online.had_down_block)
        fail(meta, "block-diagonal R4 (r4=block={}) is not exported to compressed-tensors yet; quantize with r4=full or r4=none",
             m.online.had_down_block);

    // Config groups: one per distinct scheme; each block row's modules must share one scheme.
    std::map<std::string, std::pair<json, std::vector<std::string>>> groups;  // scheme text -> (scheme, targets)
    std::map<const BlockRow*, std::string> row_scheme;
    std::string format;
    std::vector<std::string> shards;
    const bool bf16 = options.bf16;
    StagingDir staging(out);

    for (int i = 0; i < c.n_layers; ++i) {
        throw_if_interrupted("export");
        SafeTensorsWriter w;
        w.set_metadata("format", "pt");
        const Layer& l = m.layers[size_t(i)];
        for (const BlockRow& r : family.block) {
            if (!r.present_in(c)) continue;  // e.g. Qwen3's q/k norms on a Llama checkpoint
            const std::string name = ct::module_name(family, i, r);
            if (r.norm) {
                const Norm& n = l.*r.norm;
                put_fp(w, bf16, name + ".weight", {int64_t(n.weight.size())}, n.weight);
                if (!n.bias.empty()) {
                    if (!r.has_bias(c))
                        fail(meta, "{}: the norm carries a bias (OutlierTune's symmetrization shift) that {} has no place for; re-quantize with symmetrize=false",
                             name, c.architecture);
                    put_fp(w, bf16, name + ".bias", {int64_t(n.bias.size())}, n.bias);
                }
                continue;
            }
            if (!r.present_in(c) || !(l.*r.linear)) continue;
            const Linear& lin = *(l.*r.linear);
            const auto* fq = dynamic_cast<const FakeQuantLinear*>(&lin);
            const std::vector<float>& bias = fq ? fq->bias() : as_dense(lin).bias;
            if (!bias.empty() && !r.has_bias(c))
                fail(meta, "{}: the linear carries a bias (a channel method's shift) that {} does not have (config.json); re-quantize with symmetrize=false",
                     name, c.architecture);
            if (!fq || !fq->weight()) fail(meta, "{}: weights in floating point inside a quantized recipe are not exported", name);
            LinearTensors t = put_linear(w, bf16, name, *fq, meta);
            if (!bias.empty()) put_fp(w, bf16, name + ".bias", {int64_t(bias.size())}, bias);
            if (format.empty()) format = t.format;
            if (t.format != format) fail(meta, "{}: mixes {} and {} linears", name, format, t.format);
            const std::string text = t.scheme.dump();
            if (auto it = row_scheme.find(&r); it == row_scheme.end()) {
                row_scheme[&r] = text;
                auto& g = groups[text];
                g.first = t.scheme;
                g.second.push_back(ct::row_target(r));
            } else if (it->second != text) {
                fail(meta, "{}: quantized differently from layer 0's {}; compressed-tensors targets name one scheme per projection",
                     name, r.hf);
            }
            if (r.linear == &Layer::down && m.online.had_down) {
                const int n = lin.in_features();
                w.add_bf16(name + "." + ct::kR4Scheme + "_input.weight", {n, n}, ct::r4_transform_matrix(n));
            }
        }
        const std::string shard = fmt::format("model-layer-{:04d}.safetensors", i);
        w.write(staging.path() + "/" + shard);
        shards.push_back(shard);
    }

    // Embeddings, final norm, lm_head (kept in floating point: the "ignore" list).
    bool tied = c.tie_embeddings;
    {
        SafeTensorsWriter w;
        w.set_metadata("format", "pt");
        for (const ModelRow& r : family.model) {
            if (r.table && !(m.*r.table).empty()) {
                const std::vector<float>& t = m.*r.table;
                const int64_t cols = r.shape(c).cols;
                put_fp(w, bf16, r.hf, {int64_t(t.size()) / cols, cols}, t);
            } else if (r.norm) {
                const Norm& n = m.*r.norm;
                if (!n.weight.empty()) put_fp(w, bf16, std::string(r.hf) + ".weight", {int64_t(n.weight.size())}, n.weight);
                if (!n.bias.empty()) put_fp(w, bf16, std::string(r.hf) + ".bias", {int64_t(n.bias.size())}, n.bias);
            } else if (r.linear && m.*r.linear) {
                // A tied head stays tied only if the transforms left it equal to the embedding (R1 folds the final norm into it).
                if (r.linear == &Model::lm_head && tied && as_dense(*m.lm_head).weight == m.embed) continue;
                if (r.linear == &Model::lm_head) tied = false;
                put_dense(w, bf16, r.hf, *(m.*r.linear));
            }
        }
        w.write(staging.path() + "/model-embed-head.safetensors");
        shards.push_back("model-embed-head.safetensors");
    }
    json weight_map = json::object();
    uintmax_t total = 0;
    for (const std::string& shard : shards) {
        SafeTensors st = SafeTensors::open(staging.path() + "/" + shard);
        for (const std::string& name : st.names()) weight_map[name] = shard;
        total += fs::file_size(staging.path() + "/" + shard);
    }
    write_json(staging.path() + "/model.safetensors.index.json", {{"metadata", {{"total_size", total}}}, {"weight_map", weight_map}});

    json config_groups = json::object();
    for (const auto& [text, g] : groups) {
        const json& ia = g.first.at("input_activations");
        if (format == ct::kPackQuantized && !ia.is_null() && ia.at("dynamic") == true && ia.at("symmetric") == false) {
            warnings.push_back(
                "asymmetric per-token activations: vLLM's pack-quantized schemes with activation quantization (compressed_tensors_wNa8.py, "
                "compressed_tensors_wNa4.py) take symmetric ones only; re-quantize with --a-sym to serve this model there");
            break;
        }
    }
    for (const auto& [text, g] : groups) {
        const json& ia = g.first.at("input_activations");
        if (!ia.is_null() && ia.at("num_bits") == 4 && g.first.at("weights").at("actorder") == "group") {
            warnings.push_back("act-order groups with 4-bit activations: vLLM's WNA4 scheme (compressed_tensors_wNa4.py) takes no g_idx; "
                               "re-quantize without --act-order to serve this model there");
            break;
        }
    }
    int gi = 0;
    for (auto& [text, g] : groups) {
        json scheme = g.first;
        scheme["targets"] = g.second;
        config_groups[fmt::format("group_{}", gi++)] = scheme;
    }
    json transform_config = json::object();
    if (m.online.had_down) {
        const int n = c.intermediate;
        const BlockRow* down = nullptr;
        for (const BlockRow& r : family.block)
            if (r.linear == &Layer::down) down = &r;
        if (!down) fail(meta, "R4 on a family without down_proj");
        transform_config = {{"config_groups",
                             {{ct::kR4Scheme,
                               {{"type", ct::r4_transform_type(n)},
                                {"apply", json::array({{{"targets", {ct::row_target(*down)}}, {"location", "input"}, {"inverse", false}, {"ignore", json::array()}}})},
                                {"randomize", false},
                                {"requires_grad", false},
                                {"head_dim", nullptr},
                                {"precision", "torch.float32"}}}}}};
    }
    const std::string config_path = qdir + "/config.json";
    json config = read_json_file(config_path);
    config["tie_word_embeddings"] = tied;
    config["quantization_config"] = {{"config_groups", config_groups},
                                     {"format", format},
                                     {"global_compression_ratio", nullptr},
                                     {"ignore", {"lm_head"}},
                                     {"kv_cache_scheme", nullptr},
                                     {"quant_method", ct::kQuantMethod},
                                     {"quantization_status", "compressed"},
                                     {"sparsity_config", json::object()},
                                     {"transform_config", transform_config},
                                     {"version", ct::kVersion}};
    write_json(staging.path() + "/config.json", config);
    for (const char* f : {"tokenizer.json", "tokenizer.model", "tokenizer_config.json", "special_tokens_map.json", "generation_config.json",
                          "vocab.json", "merges.txt", "vocab.bpe", "encoder.json"})
        if (fs::exists(fs::path(qdir) / f)) fs::copy_file(fs::path(qdir) / f, fs::path(staging.path()) / f);
    throw_if_interrupted("export");
    staging.commit();
    return warnings;
}

}  // namespace tameq
