// tameq export-gguf MODEL -o F.gguf --type f32|f16|q8_0|q4_0: a Llama-family FP checkpoint as a GGUF file
// that llama.cpp loads (arch "llama"), so both engines can be timed on the same weights.
#include <filesystem>
#include <fstream>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "common/error.h"
#include "io/gguf_writer.h"
#include "export/open_model.h"
#include "quant/quantized_format.h"
#include "model/family.h"
#include "model/model.h"

namespace tameq::cli {
namespace {

namespace fs = std::filesystem;

struct ExportArgs {
    std::string model, output, type = "q8_0";
};

// Hugging Face Llama applies RoPE to the halves (i, i + d/2) of each head; llama.cpp's "llama" rotates
// adjacent pairs (2i, 2i + 1). Reordering q/k rows head by head (row i → 2i, i + d/2 → 2i + 1) makes the
// two the same, and qkᵀ is unchanged because q and k move together.
std::vector<float> interleave_rope_rows(const std::vector<float>& w, int n_heads, int head_dim, int cols) {
    std::vector<float> out(w.size());
    const int half = head_dim / 2;
    for (int h = 0; h < n_heads; ++h)
        for (int i = 0; i < half; ++i)
            for (int j = 0; j < 2; ++j) {
                const float* src = w.data() + (size_t(h) * head_dim + size_t(j) * half + i) * cols;
                std::copy(src, src + cols, out.data() + (size_t(h) * head_dim + 2 * size_t(i) + j) * cols);
            }
    return out;
}

// llama.cpp's "gpt2" vocabulary: byte-level BPE tokens and merges from tokenizer.json. Ids the tokenizer
// lacks (models whose embedding has more rows) get unique placeholder names, marked unused.
void add_bpe_tokenizer(gguf::Writer& w, const std::string& dir, const ModelConfig& c) {
    const std::string path = dir + "/tokenizer.json";
    std::ifstream in(path);
    if (!in) fail(path, "export-gguf needs the model's tokenizer.json");
    nlohmann::json j;
    try {
        j = nlohmann::json::parse(in);
    } catch (const nlohmann::json::exception& e) {
        fail(path, "not valid JSON: {}", e.what());
    }
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

void run_export(const ExportArgs& a) {
    const gguf::TensorType type = gguf::parse_tensor_type(a.type);
    if (!fs::is_directory(a.model)) fail(a.model, "export-gguf reads a Hugging Face directory");
    if (is_quantized_dir(a.model)) fail(a.model, "is a tameq quantized directory; export-gguf takes an FP checkpoint");
    const Model m = load_model(a.model);
    const ModelConfig& c = m.cfg;
    const Family& family = family_of(c);
    if (!family.gguf_layer_prefix)
        fail(a.model, "export-gguf supports the Llama family only, as llama.cpp's 'llama' architecture (got {}, whose "
                      "{} slot table has no GGUF names)", c.architecture, family.name);
    if (c.qkv_bias || c.o_bias || c.mlp_bias) fail(a.model, "llama.cpp's 'llama' architecture has no linear biases");
    if (c.rope_scaling.type != "default") fail(a.model, "RoPE scaling '{}' is not exported", c.rope_scaling.type);
    if (c.qk_norm) fail(a.model, "llama.cpp's 'llama' architecture has no per-head q/k norms ({})", c.architecture);
    if (c.sliding_window > 0) fail(a.model, "llama.cpp's 'llama' architecture has no sliding-window attention");

    gguf::Writer w;
    w.add_string("general.architecture", "llama");
    w.add_string("general.name", fs::path(a.model).lexically_normal().filename().string());
    w.add_u32("general.file_type", gguf::file_type_of(type));
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
    add_bpe_tokenizer(w, a.model, c);

    // The family's slot table in llama.cpp's order: embeddings, the blocks, the head. Norms stay F32 (llama.cpp
    // multiplies by them in F32); every matrix takes the requested type.
    const uint64_t H = uint64_t(c.hidden);
    std::vector<std::vector<float>> permuted;  // q/k in llama.cpp's row order, alive until write()
    permuted.reserve(2 * m.layers.size());
    auto add_linear = [&](const std::string& name, const auto& row, const Linear& lin) {
        const Shape s = row.shape(c);
        const float* data = as_dense(lin).weight.data();
        if (row.rope_heads) {
            permuted.push_back(interleave_rope_rows(as_dense(lin).weight, row.rope_heads(c), c.head_dim, s.cols));
            data = permuted.back().data();
        }
        w.add_tensor(name + ".weight", {uint64_t(s.rows), uint64_t(s.cols)}, type, data);
    };
    for (const ModelRow& r : family.model)
        if (r.table) {
            const Shape s = r.shape(c);
            w.add_tensor(r.gguf, {uint64_t(s.rows), uint64_t(s.cols)}, type, (m.*r.table).data());
        }
    for (size_t i = 0; i < m.layers.size(); ++i) {
        const Layer& l = m.layers[i];
        for (const BlockRow& r : family.block) {
            if (!r.present_in(c)) continue;  // Qwen3's q/k norms (refused above) in other configs
            const std::string name = block_tensor_name(family.gguf_layer_prefix, int(i), r.gguf);
            if (r.norm) w.add_tensor(name + ".weight", {H}, gguf::TensorType::F32, (l.*r.norm).weight.data());
            else add_linear(name, r, *(l.*r.linear));
        }
    }
    for (const ModelRow& r : family.model) {
        if (r.norm) w.add_tensor(std::string(r.gguf) + ".weight", {H}, gguf::TensorType::F32, (m.*r.norm).weight.data());
        if (r.linear) add_linear(r.gguf, r, *(m.*r.linear));
    }
    w.write(a.output);
    fmt::print("wrote {} ({}, {} tensors, {:.1f} MB)\n", a.output, a.type, w.n_tensors(), double(fs::file_size(a.output)) / 1e6);
}

const CommandRegistrar reg([](CLI::App& app) {
    auto args = std::make_shared<ExportArgs>();
    CLI::App* cmd = app.add_subcommand("export-gguf", "Write a Llama-family FP checkpoint as GGUF for llama.cpp");
    cmd->add_option("model", args->model, "Hugging Face directory (FP weights, byte-level BPE tokenizer.json)")->required();
    cmd->add_option("-o,--output", args->output, "GGUF file to write")->required();
    cmd->add_option("--type", args->type, "matrix storage: f32, f16, q8_0 or q4_0")->capture_default_str();
    cmd->callback([args] { run_export(*args); });
});

}  // namespace
}  // namespace tameq::cli
