// tameq export MODEL --format {gguf,compressed-tensors} -o OUT: a model in the container another engine runs.
//   gguf (llama.cpp): an FP checkpoint rounded by ggml's reference quantizers (--type), or a tameq quantized
//     directory written with the codes tameq chose (export/gguf_export.h).
//   compressed-tensors (vLLM, SGLang, TGI): a tameq quantized directory as a Hugging Face checkpoint with
//     quantization_config (export/compressed_tensors.h).
#include <filesystem>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "export/compressed_tensors.h"
#include "export/gguf_export.h"

namespace tameq::cli {
namespace {

namespace fs = std::filesystem;

struct ExportArgs {
    std::string model, output, format = "gguf";
    GgufExportOptions gguf;
    bool drop_r3 = false;
    std::string dtype = "f32";
};

uintmax_t directory_bytes(const std::string& dir) {
    uintmax_t total = 0;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file()) total += e.file_size();
    return total;
}

void run_gguf(const ExportArgs& a) {
    const GgufExportSummary s = export_gguf(a.model, a.output, a.gguf);
    for (const std::string& n : s.notes) fmt::print(stderr, "warning: {}\n", n);
    fmt::print("wrote {} ({} tensors, {:.1f} MB", a.output, s.tensors, double(s.bytes) / 1e6);
    if (s.exact_matrices) fmt::print("; {} matrices from tameq's codes, f16 block scales within {:.2e} relative", s.exact_matrices,
                                     s.max_scale_rounding);
    if (s.requantized_matrices) fmt::print("; {} matrices rounded by ggml's rule", s.requantized_matrices);
    fmt::print(")\n");
}

void run_compressed_tensors(const ExportArgs& a) {
    CompressedTensorsOptions o;
    o.drop_r3 = a.drop_r3;
    if (a.dtype != "f32" && a.dtype != "bf16") fail("--dtype", "'{}': f32 or bf16", a.dtype);
    o.bf16 = a.dtype == "bf16";
    for (const std::string& w : export_compressed_tensors(a.model, a.output, o)) fmt::print(stderr, "warning: {}\n", w);
    fmt::print("wrote {} (compressed-tensors, {:.1f} MB)\n", a.output, double(directory_bytes(a.output)) / 1e6);
}

void run_export(const ExportArgs& a) {
    if (a.format != "gguf" && a.format != "compressed-tensors") fail("--format", "'{}' is not one of: gguf, compressed-tensors", a.format);
    if (fs::exists(a.output)) fail(a.output, "exists; refusing to replace it");
    install_interrupt_handler();
    if (a.format == "gguf") run_gguf(a);
    else run_compressed_tensors(a);
}

const CommandRegistrar reg([](CLI::App& app) {
    auto args = std::make_shared<ExportArgs>();
    CLI::App* cmd = app.add_subcommand("export", "Write a model for another engine: GGUF (llama.cpp) or compressed-tensors (vLLM, SGLang, TGI)");
    cmd->add_option("model", args->model, "tameq quantized directory (or, for gguf, a Llama-family Hugging Face directory)")->required();
    cmd->add_option("-o,--output", args->output, "file (gguf) or directory (compressed-tensors) to write; must not exist")->required();
    cmd->add_option("--format", args->format, "gguf or compressed-tensors")->capture_default_str();
    cmd->add_option("--type", args->gguf.type, "gguf, FP checkpoint: matrix type, rounded by ggml's rule (f32, f16, q8_0, q4_0, q4_1)")
        ->capture_default_str();
    cmd->add_option("--head-type", args->gguf.head_type,
                    "gguf: embeddings and lm_head (f32, f16, q8_0, q4_0, q4_1; default: --type for FP checkpoints, f16 for quantized)");
    cmd->add_flag("--fold-online", args->gguf.fold_online,
                  "gguf: multiply R4 into down_proj (re-quantized by ggml's rule) and drop R3, instead of refusing them");
    cmd->add_flag("--drop-r3", args->drop_r3,
                  "compressed-tensors: leave out R3 and the KV-cache codes (no compressed-tensors carrier); the engine's own KV-cache option replaces them");
    cmd->add_option("--dtype", args->dtype,
                    "compressed-tensors: scales, norms, biases, embeddings: f32 (exact) or bf16 (the model dtype engines cast to)")
        ->capture_default_str();
    cmd->callback([args] { run_export(*args); });
});

}  // namespace
}  // namespace tameq::cli
