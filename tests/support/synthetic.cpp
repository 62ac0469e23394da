#include "support/synthetic.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <functional>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/rng.h"
#include "io/safetensors_writer.h"
#include "model/family.h"

namespace tameq {
namespace {

using json = nlohmann::json;

struct Gaussian {
    Rng rng;
    float next(float std) {
        // Box–Muller; the cosine branch only, so the stream is a plain function of the seed.
        const double u1 = 1.0 - rng.uniform(), u2 = rng.uniform();
        return float(std * std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2));
    }
};

// GPT-2's byte -> printable code point table, as UTF-8 strings.
std::vector<std::string> byte_level_alphabet() {
    std::vector<int> cps(256, -1);
    int next = 256;
    for (int b = 0; b < 256; ++b) {
        const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
        cps[size_t(b)] = printable ? b : next++;
    }
    std::vector<std::string> out;
    for (int cp : cps) {
        std::string s;
        if (cp < 0x80) s += char(cp);
        else {
            s += char(0xC0 | (cp >> 6));
            s += char(0x80 | (cp & 0x3F));
        }
        out.push_back(s);
    }
    return out;
}

json tokenizer_json() {
    json vocab = json::object();
    const char* specials[] = {"<unk>", "<s>", "</s>", "<pad>"};
    json added = json::array();
    for (int i = 0; i < 4; ++i) {
        vocab[specials[i]] = i;
        added.push_back({{"id", i}, {"content", specials[i]}, {"single_word", false}, {"lstrip", false}, {"rstrip", false},
                         {"normalized", false}, {"special", true}});
    }
    int id = 4;
    for (const std::string& s : byte_level_alphabet()) vocab[s] = id++;
    json byte_level = {{"type", "ByteLevel"}, {"add_prefix_space", false}, {"trim_offsets", true}, {"use_regex", true}};
    return {{"version", "1.0"},
            {"added_tokens", added},
            {"normalizer", nullptr},
            {"pre_tokenizer", byte_level},
            {"post_processor", nullptr},
            {"decoder", byte_level},
            {"model", {{"type", "BPE"}, {"vocab", vocab}, {"merges", json::array()}}}};
}


}  // namespace

ModelConfig tiny_config(ArchFamily family, int n_layers) {
    ModelConfig c;
    c.family = family;
    c.hidden = 64;
    c.n_layers = n_layers;
    c.n_heads = 4;
    c.head_dim = 16;
    c.vocab = 272;
    c.max_positions = 128;
    if (family == ArchFamily::Llama) {
        c.architecture = "LlamaForCausalLM";
        c.n_kv_heads = 2;
        c.intermediate = 192;
        c.bos_id = 1;
    } else {
        c.architecture = "OPTForCausalLM";
        c.n_kv_heads = 4;
        c.intermediate = 256;
        c.word_embed_proj_dim = 64;
        c.tie_embeddings = true;
        c.qkv_bias = c.o_bias = c.mlp_bias = true;
        c.bos_id = 2;
    }
    return c;
}

ModelConfig llama2_7b_shaped(int n_layers) {
    ModelConfig c = tiny_config(ArchFamily::Llama, n_layers);
    c.hidden = 4096;
    c.n_heads = c.n_kv_heads = 32;
    c.head_dim = 128;
    c.intermediate = 11008;
    c.vocab = 32000;
    c.max_positions = 4096;
    return c;
}

void write_synthetic_model(const std::string& dir, const SyntheticSpec& spec) {
    const ModelConfig& c = spec.cfg;
    if (c.vocab < 260) fail(dir, "synthetic model needs vocab >= 260 (byte tokenizer), got {}", c.vocab);
    std::filesystem::create_directories(dir);
    Gaussian g{Rng(spec.seed)};
    // Every tensor in draw order with the function that draws it. The tensors are declared first and drawn one at
    // a time on the way to the file, so a 7B-shaped checkpoint never sits in memory; the draw order (embedding
    // tables, then per layer its norms and then its linears, then the final norm and head) is what every test's
    // synthetic weights were made with.
    struct Draw {
        std::string name;
        std::vector<int64_t> shape;
        std::function<std::vector<float>()> values;
    };
    std::vector<Draw> draws;
    auto randn = [&g](int64_t n, float std) {
        std::vector<float> v(static_cast<size_t>(n));
        for (float& x : v) x = g.next(std);
        return v;
    };
    auto around_one = [randn](int64_t n) {
        std::vector<float> v = randn(n, 0.1f);
        for (float& x : v) x += 1.0f;
        return v;
    };
    auto linear = [&](const std::string& p, int in, int out, bool bias) {
        const float std = spec.init_std;
        draws.push_back({p + ".weight", {out, in}, [=] { return randn(int64_t(in) * out, std); }});
        if (bias) draws.push_back({p + ".bias", {out}, [=] { return randn(out, std); }});
    };
    const Family& family = family_of(c);
    const int h = c.hidden;
    auto norm = [&](const std::string& p, bool bias) {
        draws.push_back({p + ".weight", {h}, [=] { return around_one(h); }});
        if (bias) draws.push_back({p + ".bias", {h}, [=] { return randn(h, 0.1f); }});
    };
    for (const ModelRow& r : family.model) {
        if (!r.table) continue;
        const Shape s = r.shape(c);
        const bool embed = r.table == &Model::embed;
        const float massive = embed ? spec.massive_value : 0.0f;
        const size_t massive_at = size_t(c.bos_id) * s.cols + 3;
        draws.push_back({r.hf, {s.rows, s.cols}, [=] {
                             std::vector<float> t = randn(int64_t(s.rows) * s.cols, embed ? 1.0f : 0.1f);
                             if (massive != 0.0f) t[massive_at] = massive;
                             return t;
                         }});
    }
    for (int i = 0; i < c.n_layers; ++i) {
        for (const BlockRow& r : family.block)
            if (r.norm) norm(block_tensor_name(family.hf_layer_prefix, i, r.hf), r.has_bias(c));
        for (const BlockRow& r : family.block) {
            if (!r.linear) continue;
            const Shape s = r.shape(c);
            linear(block_tensor_name(family.hf_layer_prefix, i, r.hf), s.cols, s.rows, r.has_bias(c));
        }
    }
    for (const ModelRow& r : family.model) {
        if (!r.present_in(c) || r.table) continue;
        const Shape s = r.norm ? Shape{} : r.shape(c);
        if (r.norm) norm(r.hf, r.has_bias(c));
        else if (r.linear != &Model::lm_head || !c.tie_embeddings) linear(r.hf, s.cols, s.rows, r.has_bias(c));
    }
    SafeTensorsStreamWriter w;
    for (const Draw& d : draws) w.declare(d.name, spec.bf16 ? DType::BF16 : DType::F32, d.shape);
    w.set_metadata("format", "pt");
    w.open(dir + "/model.safetensors");
    for (const Draw& d : draws) {
        if (spec.bf16) w.write_bf16(d.name, d.values());
        else w.write_f32(d.name, d.values());
    }
    w.close();
    std::ofstream(dir + "/config.json") << hf_config_text(c);
    std::ofstream(dir + "/tokenizer.json") << tokenizer_json().dump() << "\n";
}

}  // namespace tameq
