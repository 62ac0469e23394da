// tameq info MODEL: what a checkpoint holds (architecture, shapes, parameters, storage, tokenizer).
#include <filesystem>

#include <CLI/CLI.hpp>
#include <cblas.h>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_args.h"
#include "kernels/cpu/dispatch.h"
#include "export/compressed_tensors.h"
#include "export/open_model.h"
#include "model/family.h"
#include "quant/quantized_format.h"

namespace tameq::cli {
namespace {

struct InfoArgs {
    std::string model, tokenizer;
};

uint64_t bytes_on_disk(const std::string& path) {
    namespace fs = std::filesystem;
    if (!fs::is_directory(path)) return fs::file_size(path);
    uint64_t total = 0;
    for (const auto& e : fs::directory_iterator(path))
        if (e.is_regular_file() && e.path().extension() == ".safetensors") total += e.file_size();
    return total;
}

void run_info(const InfoArgs& a) {
    Model m = load_model(a.model);
    const ModelConfig& c = m.cfg;
    auto tok = open_tokenizer_for(a.model, a.tokenizer);
    const bool llama = c.family != ArchFamily::OPT;  // rotary, RMSNorm, gated FFN (Llama, Gemma)
    const bool gemma = c.family == ArchFamily::Gemma;
    const char* family_name = gemma ? "Gemma" : llama ? "Llama" : "OPT";
    fmt::print("model         {}\n", a.model);
    fmt::print("architecture  {} ({} family)\n", c.architecture, family_name);
    fmt::print("parameters    {} ({:.1f}M)\n", m.n_params(), double(m.n_params()) / 1e6);
    fmt::print("weights       {:.1f} MB on disk\n", double(bytes_on_disk(a.model)) / 1e6);
    fmt::print("layers        {}\n", c.n_layers);
    fmt::print("hidden        {}\n", c.hidden);
    fmt::print("heads         {} query, {} key/value (head_dim {})\n", c.n_heads, c.n_kv_heads, c.head_dim);
    fmt::print("ffn           {} {}\n", c.intermediate, gemma ? "GeGLU (tanh GELU)" : llama ? "SwiGLU" : "ReLU");
    fmt::print("vocab         {}\n", c.vocab);
    fmt::print("context       {}\n", c.max_positions);
    if (llama) {
        const RopeScaling& rs = c.rope_scaling;
        std::string scaling;
        if (rs.type == "llama3") scaling = fmt::format(", llama3 scaling x{}", rs.factor);
        if (rs.type == "longrope")
            scaling = fmt::format(", longrope x{} (original context {}, attention factor {:.4f})", rs.factor,
                                  rs.original_max_position, rs.attention_factor);
        if (c.rope_theta_sliding > 0) scaling += fmt::format(", theta {} in the sliding layers", c.rope_theta_sliding);
        fmt::print("rope          theta {}{}\n", c.rope_theta, scaling);
        fmt::print("norm          RMSNorm eps {}{}\n", c.norm_eps, gemma ? ", scale stored as w of (1 + w)" : "");
        if (gemma) {
            fmt::print("post-norms    RMSNorm on the attention and MLP outputs before the residual add\n");
            fmt::print("embeddings    scaled by sqrt(hidden) = {:.4f}\n", family_of(c).embed_scale(c));
            fmt::print("attn scale    query_pre_attn_scalar^-1/2 = {}^-1/2\n", c.query_pre_attn_scalar);
        }
        if (c.attn_softcap > 0 || c.final_softcap > 0)
            fmt::print("soft-capping  attention scores {}, final logits {}\n",
                       c.attn_softcap > 0 ? fmt::format("{}", c.attn_softcap) : "none",
                       c.final_softcap > 0 ? fmt::format("{}", c.final_softcap) : "none");
        fmt::print("biases        q/k/v {}, o {}, mlp {}\n", c.qkv_bias, c.o_bias, c.mlp_bias);
        if (c.fused_projections) fmt::print("checkpoint    fused qkv_proj and gate_up_proj, split at load\n");
        if (c.n_experts > 0) {
            std::string sparse;
            for (int i = 0; i < c.n_layers; ++i)
                if (c.is_moe_layer(i)) sparse += (sparse.empty() ? "" : ",") + std::to_string(i);
            fmt::print("experts       {} SwiGLU experts of width {}, top-{} per token (softmax over all, {}), "
                       "floating-point router; in layers {} of 0..{}, dense elsewhere\n",
                       c.n_experts, c.expert_intermediate, c.experts_per_token,
                       c.norm_topk_prob ? "renormalised over the chosen" : "not renormalised", sparse, c.n_layers - 1);
        }
        if (c.qk_norm) fmt::print("q/k norm      RMSNorm over head_dim {} on every q and k head, before RoPE\n", c.head_dim);
        if (c.sliding_window > 0) {
            std::string layers;
            for (int i = 0; i < c.n_layers; ++i)
                if (c.window_of(i)) layers += (layers.empty() ? "" : ",") + std::to_string(i);
            fmt::print("attention     sliding window of {} tokens in layers {} of 0..{}, full elsewhere\n",
                       c.sliding_window, layers, c.n_layers - 1);
        }
    } else {
        fmt::print("norm          LayerNorm, {}\n", c.pre_layer_norm ? "pre-LN" : "post-LN");
        fmt::print("positions     learned, offset {}\n", c.position_offset);
        if (c.word_embed_proj_dim != c.hidden) fmt::print("embed proj    {}\n", c.word_embed_proj_dim);
    }
    fmt::print("lm_head       {}\n", c.tie_embeddings ? "tied to the embeddings" : "separate");
    fmt::print("bos / eos     {} / {}\n", c.bos_id, c.eos_id);
    fmt::print("tokenizer     {}\n", tok->describe());
    // Which kernels this process computes with (README, "Environment variables"): OpenBLAS's core after the
    // AVX-512 re-execution, and the integer-kernel path.
    fmt::print("compute       OpenBLAS {} ({} threads), integer kernels {}\n", openblas_get_corename(),
               openblas_get_num_threads(), kern::path_name(kern::active_path()));
    if (is_quantized_dir(a.model)) {
        const Recipe r = quantized_recipe(a.model);
        fmt::print("quantized     {} (tameq format v{})\n", r.summary(), kQuantFormatVersion);
        const std::string r4 = !m.online.had_down        ? ""
                               : m.online.had_down_block ? fmt::format(", online Hadamard before down_proj (blocks of {})", m.online.had_down_block)
                                                         : ", online Hadamard before down_proj";
        const std::string r1 = r.rotate == Rotation::Inner ? "none (rotate=inner), R2 on v/o" : std::string(choice_name(r.rotate));
        fmt::print("rotation      R1 {}{}\n", r1, r4);
        if (m.online.had_qk) fmt::print("              online Hadamard on q/k after RoPE\n");
        if (m.online.layer_norm_as_rms)
            fmt::print("              residual made mean-free, LayerNorms run as RMSNorm (affine terms folded)\n");
        if (r.wbits < 16)
            fmt::print("weights       {}-bit {} {}, {}\n", r.wbits, r.w_asym ? "asymmetric" : "symmetric",
                       r.w_group ? fmt::format("groups of {}", r.w_group) : "per output channel", choice_name(r.weights));
        if (r.abits < 16)
            fmt::print("activations   {}-bit {} per token{}\n", r.abits, r.a_sym ? "symmetric" : "asymmetric",
                       r.a_clip < 1 ? fmt::format(", clip {}", r.a_clip) : "");
        if (r.kvbits < 16) fmt::print("KV cache      {}-bit asymmetric per (token, head)\n", r.kvbits);
        if (!r.calib_file.empty()) fmt::print("calibration   {} ({} windows of {})\n", r.calib_file, r.calib_windows, r.calib_ctx);
    }
    if (is_compressed_tensors_dir(a.model))
        fmt::print("quantized     compressed-tensors checkpoint, read as tameq's simulation{}\n",
                   m.online.had_down ? " (R4 before down_proj from transform_config)" : "");
}

const CommandRegistrar reg([](CLI::App& app) {
    auto args = std::make_shared<InfoArgs>();
    CLI::App* cmd = app.add_subcommand("info", "Describe a model: architecture, shapes, parameters, tokenizer");
    cmd->add_option("model", args->model, "Hugging Face directory or llama2.c .bin")->required();
    cmd->add_option("--tokenizer", args->tokenizer, "tokenizer file or directory (default: beside the model)");
    cmd->callback([args] { run_info(*args); });
});

}  // namespace
}  // namespace tameq::cli
