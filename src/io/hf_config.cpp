#include "io/hf_config.h"

#include <cmath>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "common/error.h"
#include "common/files.h"

namespace tameq {
using json = nlohmann::json;

namespace {

struct Reader {
    const json& j;
    const std::string& file;

    bool has(const char* key) const { return j.contains(key) && !j[key].is_null(); }
    int get_int(const char* key) const {
        if (!has(key)) fail(file, "missing '{}'", key);
        if (!j[key].is_number_integer()) fail(file, "'{}' must be an integer, got {}", key, j[key].dump());
        int64_t v = j[key].get<int64_t>();
        if (v <= 0 || v > (int64_t(1) << 30)) fail(file, "'{}' = {} is out of range", key, v);
        return int(v);
    }
    int get_int(const char* key, int dflt) const { return has(key) ? get_int(key) : dflt; }
    float get_float(const json& obj, const char* key, float dflt) const {  // null: dflt
        if (!obj.contains(key) || obj[key].is_null()) return dflt;
        if (!obj[key].is_number()) fail(file, "'{}' must be a number, got {}", key, obj[key].dump());
        return obj[key].get<float>();
    }
    bool get_bool(const char* key, bool dflt) const {
        if (!has(key)) return dflt;
        if (!j[key].is_boolean()) fail(file, "'{}' must be true or false, got {}", key, j[key].dump());
        return j[key].get<bool>();
    }
    std::string get_string(const char* key, const std::string& dflt) const {
        if (!has(key)) return dflt;
        if (!j[key].is_string()) fail(file, "'{}' must be a string, got {}", key, j[key].dump());
        return j[key].get<std::string>();
    }
};

// transformers' _compute_longrope_parameters: factor = max_position_embeddings / original_max_position_embeddings
// when the config has the latter (Phi-3), else the object's "factor"; attention_factor, unless given,
// sqrt(1 + ln(factor) / ln(original)) (1 when factor <= 1).
void parse_longrope(const Reader& r, const json& scaling, ModelConfig& c) {
    RopeScaling& s = c.rope_scaling;
    s.type = "longrope";
    const float partial = r.get_float(scaling, "partial_rotary_factor", r.get_float(r.j, "partial_rotary_factor", 1.0f));
    if (partial != 1.0f) fail(r.file, "partial_rotary_factor {} is not supported (only 1.0)", partial);
    for (auto [key, out] : {std::pair{"short_factor", &s.short_factor}, std::pair{"long_factor", &s.long_factor}}) {
        if (!scaling.contains(key) || !scaling[key].is_array() || scaling[key].size() != size_t(c.head_dim / 2))
            fail(r.file, "longrope needs '{}': an array of head_dim/2 = {} numbers", key, c.head_dim / 2);
        for (const json& v : scaling[key]) {
            if (!v.is_number() || !(v.get<float>() > 0)) fail(r.file, "'{}' holds {}: expected positive numbers", key, v.dump());
            out->push_back(v.get<float>());
        }
    }
    int original = r.get_int("original_max_position_embeddings", 0);
    if (!original && scaling.contains("original_max_position_embeddings") &&
        scaling["original_max_position_embeddings"].is_number_integer())
        original = scaling["original_max_position_embeddings"].get<int>();
    if (original > 0) {
        s.factor = float(c.max_positions) / float(original);
    } else {
        original = c.max_positions;
        s.factor = r.get_float(scaling, "factor", 1.0f);
    }
    s.original_max_position = original;
    const float dflt = s.factor <= 1.0f ? 1.0f : std::sqrt(1.0f + std::log(s.factor) / std::log(float(original)));
    s.attention_factor = r.get_float(scaling, "attention_factor", dflt);
}

void parse_rope(const Reader& r, ModelConfig& c) {
    const json& j = r.j;
    // Newer transformers write {"rope_parameters": {"rope_theta": ..., "rope_type": ...}}; older write
    // rope_theta at the top level and an optional rope_scaling object.
    const json* scaling = nullptr;
    if (r.has("rope_parameters")) {
        if (!j["rope_parameters"].is_object()) fail(r.file, "'rope_parameters' must be an object");
        scaling = &j["rope_parameters"];
        c.rope_theta = r.get_float(*scaling, "rope_theta", c.rope_theta);
    }
    c.rope_theta = r.get_float(j, "rope_theta", c.rope_theta);
    if (r.has("rope_scaling")) {
        if (!j["rope_scaling"].is_object()) fail(r.file, "'rope_scaling' must be an object");
        scaling = &j["rope_scaling"];
    }
    if (!(c.rope_theta > 0)) fail(r.file, "rope_theta must be positive");
    if (!scaling) return;
    std::string type = "default";
    for (const char* key : {"rope_type", "type"})
        if (scaling->contains(key) && (*scaling)[key].is_string()) type = (*scaling)[key].get<std::string>();
    if (type == "default") return;
    if (type == "longrope") return parse_longrope(r, *scaling, c);
    if (type != "llama3") fail(r.file, "unsupported rope scaling type '{}' (supported: default, llama3, longrope)", type);
    RopeScaling& s = c.rope_scaling;
    s.type = type;
    s.factor = r.get_float(*scaling, "factor", 8.0f);
    s.low_freq_factor = r.get_float(*scaling, "low_freq_factor", 1.0f);
    s.high_freq_factor = r.get_float(*scaling, "high_freq_factor", 4.0f);
    if (scaling->contains("original_max_position_embeddings")) {
        const json& v = (*scaling)["original_max_position_embeddings"];
        if (!v.is_number_integer() || v.get<int64_t>() <= 0)
            fail(r.file, "'original_max_position_embeddings' must be a positive integer");
        s.original_max_position = int(v.get<int64_t>());
    }
    if (!(s.factor > 0) || !(s.high_freq_factor > s.low_freq_factor))
        fail(r.file, "llama3 rope scaling needs factor > 0 and high_freq_factor > low_freq_factor");
}

// layer_types: "sliding_attention" or "full_attention" per layer, into c.sliding_layers.
void mark_layer_types(const Reader& r, ModelConfig& c) {
    const json& types = r.j["layer_types"];
    if (!types.is_array() || types.size() != size_t(c.n_layers))
        fail(r.file, "'layer_types' must be an array of num_hidden_layers = {} strings", c.n_layers);
    for (size_t i = 0; i < types.size(); ++i) {
        const std::string t = types[i].is_string() ? types[i].get<std::string>() : "";
        if (t != "sliding_attention" && t != "full_attention")
            fail(r.file, "'layer_types'[{}] = {}: expected \"full_attention\" or \"sliding_attention\"", i, types[i].dump());
        c.sliding_layers[i] = t == "sliding_attention";
    }
}

// Gemma 2 and 3 always window their sliding layers (no use_sliding_window switch); transformers 5 writes
// layer_types, which tameq requires rather than re-deriving each version's default pattern.
void parse_gemma_layer_types(const Reader& r, ModelConfig& c) {
    c.sliding_window = r.get_int("sliding_window");
    if (!r.has("layer_types")) fail(r.file, "missing 'layer_types' (which {} layers slide)", c.architecture);
    mark_layer_types(r, c);
}

// Gemma 3's rope_parameters hold one object per layer type ({"full_attention": {...}, "sliding_attention": {...}});
// older configs give rope_theta and rope_local_base_freq. Only unscaled RoPE is supported for either type.
bool parse_gemma3_rope(const Reader& r, ModelConfig& c) {
    const json& j = r.j;
    if (!r.has("rope_parameters") || !j["rope_parameters"].is_object() || !j["rope_parameters"].contains("full_attention")) {
        if (!r.has("rope_local_base_freq")) return false;
        c.rope_theta = r.get_float(j, "rope_theta", c.rope_theta);
        c.rope_theta_sliding = r.get_float(j, "rope_local_base_freq", 10000.0f);
        if (r.has("rope_scaling")) fail(r.file, "rope_scaling is not supported for {}", c.architecture);
        return true;
    }
    const json& p = j["rope_parameters"];
    for (auto [type, theta] : {std::pair{"full_attention", &c.rope_theta}, std::pair{"sliding_attention", &c.rope_theta_sliding}}) {
        if (!p.contains(type) || !p[type].is_object()) fail(r.file, "'rope_parameters' needs an object '{}'", type);
        const json& o = p[type];
        const std::string kind = o.contains("rope_type") && o["rope_type"].is_string() ? o["rope_type"].get<std::string>() : "default";
        if (kind != "default")
            fail(r.file, "rope_parameters.{}: rope_type '{}' is not supported for {} (only default)", type, kind, c.architecture);
        if (!o.contains("rope_theta")) fail(r.file, "rope_parameters.{}: missing 'rope_theta'", type);
        *theta = r.get_float(o, "rope_theta", 0.0f);
        if (!(*theta > 0)) fail(r.file, "rope_parameters.{}.rope_theta must be positive", type);
    }
    return true;
}

// Which layers attend through a sliding window, as transformers decides it: Mistral and Phi-3 window every layer when
// sliding_window is set; Qwen2/Qwen3 only when use_sliding_window is true, and then the layers that
// layer_types marks "sliding_attention" (or, without layer_types, those from max_window_layers on); Gemma by layer_types.
void parse_sliding_window(const Reader& r, ModelConfig& c) {
    const std::string& a = c.architecture;
    c.sliding_layers.assign(size_t(c.n_layers), false);
    // no use_sliding_window switch
    const bool every_layer = a == "MistralForCausalLM" || a == "Phi3ForCausalLM" || a == "MixtralForCausalLM";
    if (c.family == ArchFamily::Gemma) return parse_gemma_layer_types(r, c);
    if (a == "LlamaForCausalLM" || !r.has("sliding_window")) return;
    if (!every_layer && !r.get_bool("use_sliding_window", false)) return;
    c.sliding_window = r.get_int("sliding_window");
    if (r.has("layer_types")) {
        mark_layer_types(r, c);
    } else {
        const int first = every_layer ? 0 : r.get_int("max_window_layers", 0);
        for (int i = first; i < c.n_layers; ++i) c.sliding_layers[size_t(i)] = true;
    }
}

// The experts of Mixtral (every layer; each expert as wide as intermediate_size) and Qwen3-MoE (the layers
// not in mlp_only_layers whose index + 1 is a multiple of decoder_sparse_step, as transformers' decoder layer
// decides; experts of moe_intermediate_size). transformers 5 names the count num_local_experts for both; Qwen3-MoE
// checkpoints written before it say num_experts.
void parse_experts(const Reader& r, ModelConfig& c) {
    const bool mixtral = c.architecture == "MixtralForCausalLM";
    c.n_experts = r.has("num_local_experts") ? r.get_int("num_local_experts") : r.get_int("num_experts");
    c.experts_per_token = r.get_int("num_experts_per_tok");
    if (c.experts_per_token > c.n_experts)
        fail(r.file, "'num_experts_per_tok' = {} exceeds the {} experts", c.experts_per_token, c.n_experts);
    c.expert_intermediate = mixtral ? c.intermediate : r.get_int("moe_intermediate_size");
    c.norm_topk_prob = mixtral || r.get_bool("norm_topk_prob", false);
    c.moe_layers.assign(size_t(c.n_layers), true);
    if (mixtral) return;
    const int step = r.get_int("decoder_sparse_step", 1);
    for (int i = 0; i < c.n_layers; ++i) c.moe_layers[size_t(i)] = (i + 1) % step == 0;
    if (!r.has("mlp_only_layers")) return;
    const json& dense = r.j["mlp_only_layers"];
    if (!dense.is_array()) fail(r.file, "'mlp_only_layers' must be an array of layer indices");
    for (const json& v : dense) {
        if (!v.is_number_integer() || v.get<int64_t>() < 0 || v.get<int64_t>() >= c.n_layers)
            fail(r.file, "'mlp_only_layers' holds {}: expected layer indices below {}", v.dump(), c.n_layers);
        c.moe_layers[size_t(v.get<int64_t>())] = false;
    }
}

}  // namespace

const char* supported_architectures() {
    return "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM, Phi3ForCausalLM, "
           "MixtralForCausalLM, Qwen3MoeForCausalLM, Gemma2ForCausalLM, Gemma3ForCausalLM, OPTForCausalLM";
}

ModelConfig parse_hf_config(const std::string& text, const std::string& file) {
    json j;
    try {
        j = json::parse(text);
    } catch (const json::exception& e) {
        fail(file, "invalid JSON: {}", e.what());
    }
    if (!j.is_object()) fail(file, "config is not a JSON object");
    Reader r{j, file};
    ModelConfig c;
    if (!r.has("architectures") || !j["architectures"].is_array() || j["architectures"].empty() ||
        !j["architectures"][0].is_string())
        fail(file, "missing 'architectures'");
    c.architecture = j["architectures"][0].get<std::string>();
    const std::string& a = c.architecture;
    const bool moe = a == "MixtralForCausalLM" || a == "Qwen3MoeForCausalLM";
    if (a == "LlamaForCausalLM" || a == "MistralForCausalLM" || a == "Qwen2ForCausalLM" || a == "Qwen3ForCausalLM" ||
        a == "Phi3ForCausalLM" || moe) {
        c.family = ArchFamily::Llama;
    } else if (a == "Gemma2ForCausalLM" || a == "Gemma3ForCausalLM") {
        c.family = ArchFamily::Gemma;
    } else if (a == "OPTForCausalLM") {
        c.family = ArchFamily::OPT;
    } else {
        fail(file, "unsupported architecture '{}' (supported: {})", a, supported_architectures());
    }
    c.hidden = r.get_int("hidden_size");
    c.n_layers = r.get_int("num_hidden_layers");
    c.n_heads = r.get_int("num_attention_heads");
    c.vocab = r.get_int("vocab_size");
    c.max_positions = r.get_int("max_position_embeddings", 2048);
    c.tie_embeddings = r.get_bool("tie_word_embeddings", c.family != ArchFamily::Llama);
    if (r.has("bos_token_id") && j["bos_token_id"].is_number_integer()) c.bos_id = j["bos_token_id"].get<int>();
    if (r.has("eos_token_id") && j["eos_token_id"].is_number_integer()) c.eos_id = j["eos_token_id"].get<int>();

    if (c.family == ArchFamily::Gemma) {
        c.n_kv_heads = r.get_int("num_key_value_heads", c.n_heads);
        c.head_dim = r.get_int("head_dim", c.hidden / c.n_heads);
        c.intermediate = r.get_int("intermediate_size");
        c.norm_eps = r.get_float(j, "rms_norm_eps", 1e-6f);
        if (a != "Gemma3ForCausalLM" || !parse_gemma3_rope(r, c)) parse_rope(r, c);
        if (c.rope_scaling.type != "default")
            fail(file, "rope scaling '{}' is not supported for {}", c.rope_scaling.type, a);
        const std::string act = r.get_string("hidden_activation", "gelu_pytorch_tanh");
        if (act != "gelu_pytorch_tanh")
            fail(file, "unsupported hidden_activation '{}' for {} (supported: gelu_pytorch_tanh)", act, a);
        if (!r.has("query_pre_attn_scalar")) fail(file, "missing 'query_pre_attn_scalar' (the attention scale of {})", a);
        c.query_pre_attn_scalar = r.get_float(j, "query_pre_attn_scalar", 0.0f);
        if (!(c.query_pre_attn_scalar > 0)) fail(file, "'query_pre_attn_scalar' must be positive");
        if (r.get_bool("use_bidirectional_attention", false))
            fail(file, "use_bidirectional_attention is not supported (tameq runs causal decoders)");
        c.attn_softcap = r.get_float(j, "attn_logit_softcapping", 0.0f);
        c.final_softcap = r.get_float(j, "final_logit_softcapping", 0.0f);
        if (c.attn_softcap < 0 || c.final_softcap < 0) fail(file, "soft-capping values must be positive or null");
        c.qkv_bias = c.o_bias = r.get_bool("attention_bias", false);
        c.qk_norm = a == "Gemma3ForCausalLM";
        parse_sliding_window(r, c);
    } else if (c.family == ArchFamily::Llama) {
        c.n_kv_heads = r.get_int("num_key_value_heads", c.n_heads);
        c.head_dim = r.get_int("head_dim", c.hidden / c.n_heads);
        c.intermediate = r.get_int("intermediate_size");
        c.norm_eps = r.get_float(j, "rms_norm_eps", 1e-6f);
        parse_rope(r, c);
        std::string act = r.get_string("hidden_act", "silu");
        if (act != "silu") fail(file, "unsupported hidden_act '{}' for {} (supported: silu)", act, a);
        const bool attention_bias = r.get_bool("attention_bias", false);
        c.qkv_bias = a == "Qwen2ForCausalLM" || attention_bias;
        // Qwen3's attention_bias covers q/k/v and o alike; Llama's too.
        c.o_bias = attention_bias;
        c.mlp_bias = r.get_bool("mlp_bias", false);
        c.qk_norm = a == "Qwen3ForCausalLM" || a == "Qwen3MoeForCausalLM";
        c.fused_projections = a == "Phi3ForCausalLM";
        parse_sliding_window(r, c);
        if (moe) parse_experts(r, c);
    } else {
        c.sliding_layers.assign(size_t(c.n_layers), false);
        c.n_kv_heads = c.n_heads;
        if (c.hidden % c.n_heads) fail(file, "hidden_size {} is not a multiple of num_attention_heads {}", c.hidden, c.n_heads);
        c.head_dim = c.hidden / c.n_heads;
        c.intermediate = r.get_int("ffn_dim");
        c.norm_eps = 1e-5f;  // OPT's LayerNorm uses torch's default
        c.word_embed_proj_dim = r.get_int("word_embed_proj_dim", c.hidden);
        c.pre_layer_norm = r.get_bool("do_layer_norm_before", true);
        c.final_layer_norm = !r.get_bool("_remove_final_layer_norm", false);
        std::string act = r.get_string("activation_function", "relu");
        if (act != "relu") fail(file, "unsupported activation_function '{}' for OPT (supported: relu)", act);
        if (!r.get_bool("enable_bias", true)) fail(file, "OPT without biases (enable_bias=false) is not supported");
        if (!r.get_bool("layer_norm_elementwise_affine", true))
            fail(file, "OPT without LayerNorm affine parameters is not supported");
        c.qkv_bias = c.o_bias = c.mlp_bias = true;
    }
    if (c.n_heads % c.n_kv_heads) fail(file, "num_attention_heads {} is not a multiple of num_key_value_heads {}", c.n_heads, c.n_kv_heads);
    if (c.head_dim % 2) fail(file, "head_dim {} must be even", c.head_dim);
    if (c.bos_id < 0 || c.bos_id >= c.vocab) fail(file, "bos_token_id {} outside the vocabulary", c.bos_id);
    return c;
}

float ModelConfig::attention_scale() const {
    return 1.0f / std::sqrt(query_pre_attn_scalar > 0 ? query_pre_attn_scalar : float(head_dim));
}

std::string hf_config_text(const ModelConfig& c) {
    json j;
    if (c.family == ArchFamily::Llama) {
        const bool known = c.architecture == "MistralForCausalLM" || c.architecture == "Qwen2ForCausalLM" ||
                           c.architecture == "Qwen3ForCausalLM" || c.architecture == "Phi3ForCausalLM" ||
                           c.n_experts > 0;
        j = {{"architectures", {known ? c.architecture : "LlamaForCausalLM"}}, {"hidden_size", c.hidden},
             {"num_hidden_layers", c.n_layers}, {"num_attention_heads", c.n_heads}, {"num_key_value_heads", c.n_kv_heads},
             {"head_dim", c.head_dim}, {"intermediate_size", c.intermediate}, {"vocab_size", c.vocab},
             {"max_position_embeddings", c.max_positions}, {"rms_norm_eps", c.norm_eps}, {"rope_theta", c.rope_theta},
             {"tie_word_embeddings", c.tie_embeddings}, {"hidden_act", "silu"}, {"bos_token_id", c.bos_id},
             {"eos_token_id", c.eos_id}, {"attention_bias", c.o_bias}, {"mlp_bias", c.mlp_bias}};
        if (c.rope_scaling.type == "llama3")
            j["rope_scaling"] = {{"rope_type", "llama3"}, {"factor", c.rope_scaling.factor},
                                 {"low_freq_factor", c.rope_scaling.low_freq_factor},
                                 {"high_freq_factor", c.rope_scaling.high_freq_factor},
                                 {"original_max_position_embeddings", c.rope_scaling.original_max_position}};
        if (c.rope_scaling.type == "longrope")
            j["rope_scaling"] = {{"rope_type", "longrope"}, {"short_factor", c.rope_scaling.short_factor},
                                 {"long_factor", c.rope_scaling.long_factor},
                                 {"factor", c.rope_scaling.factor},
                                 {"attention_factor", c.rope_scaling.attention_factor},
                                 {"original_max_position_embeddings", c.rope_scaling.original_max_position}};
        if (c.sliding_window > 0) {
            json types = json::array();
            for (bool s : c.sliding_layers) types.push_back(s ? "sliding_attention" : "full_attention");
            j["sliding_window"] = c.sliding_window;
            j["use_sliding_window"] = true;
            j["layer_types"] = types;
        }
        if (c.n_experts > 0) {
            json dense = json::array();
            for (int i = 0; i < c.n_layers; ++i)
                if (!c.moe_layers[size_t(i)]) dense.push_back(i);
            j["num_local_experts"] = c.n_experts;
            j["num_experts_per_tok"] = c.experts_per_token;
            j["moe_intermediate_size"] = c.expert_intermediate;
            j["norm_topk_prob"] = c.norm_topk_prob;
            j["mlp_only_layers"] = dense;
            j["decoder_sparse_step"] = 1;
        }
    } else if (c.family == ArchFamily::Gemma) {
        json types = json::array();
        for (bool s : c.sliding_layers) types.push_back(s ? "sliding_attention" : "full_attention");
        auto cap = [](float v) { return v > 0 ? json(v) : json(nullptr); };
        j = {{"architectures", {c.architecture}}, {"hidden_size", c.hidden}, {"num_hidden_layers", c.n_layers},
             {"num_attention_heads", c.n_heads}, {"num_key_value_heads", c.n_kv_heads}, {"head_dim", c.head_dim},
             {"intermediate_size", c.intermediate}, {"vocab_size", c.vocab}, {"max_position_embeddings", c.max_positions},
             {"rms_norm_eps", c.norm_eps}, {"tie_word_embeddings", c.tie_embeddings},
             {"hidden_activation", "gelu_pytorch_tanh"}, {"bos_token_id", c.bos_id}, {"eos_token_id", c.eos_id},
             {"attention_bias", c.o_bias}, {"query_pre_attn_scalar", c.query_pre_attn_scalar},
             {"attn_logit_softcapping", cap(c.attn_softcap)}, {"final_logit_softcapping", cap(c.final_softcap)},
             {"sliding_window", c.sliding_window}, {"layer_types", types}};
        if (c.rope_theta_sliding > 0)
            j["rope_parameters"] = {{"full_attention", {{"rope_type", "default"}, {"rope_theta", c.rope_theta}}},
                                    {"sliding_attention", {{"rope_type", "default"}, {"rope_theta", c.rope_theta_sliding}}}};
        else
            j["rope_parameters"] = {{"rope_type", "default"}, {"rope_theta", c.rope_theta}};
    } else {
        j = {{"architectures", {"OPTForCausalLM"}}, {"hidden_size", c.hidden}, {"num_hidden_layers", c.n_layers},
             {"num_attention_heads", c.n_heads}, {"ffn_dim", c.intermediate}, {"vocab_size", c.vocab},
             {"max_position_embeddings", c.max_positions}, {"word_embed_proj_dim", c.word_embed_proj_dim},
             {"do_layer_norm_before", c.pre_layer_norm}, {"_remove_final_layer_norm", !c.final_layer_norm},
             {"activation_function", "relu"}, {"enable_bias", true}, {"tie_word_embeddings", c.tie_embeddings},
             {"bos_token_id", c.bos_id}, {"eos_token_id", c.eos_id}};
    }
    return j.dump(2) + "\n";
}

ModelConfig load_hf_config(const std::string& path_in) {
    std::filesystem::path path(path_in);
    if (std::filesystem::is_directory(path)) path /= "config.json";
    return parse_hf_config(read_file(path.string()), path.string());
}

}  // namespace tameq
