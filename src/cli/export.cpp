// tameq export MODEL --format gguf -o F.gguf: a model in the container another engine runs. GGUF (llama.cpp):
// an FP checkpoint rounded by ggml's reference quantizers (--type), or a tameq quantized directory written
// with the codes tameq chose (export/gguf_export.h).
#include <filesystem>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "export/gguf_export.h"

namespace tameq::cli {
namespace {

struct ExportArgs {
    std::string model, output, format = "gguf";
    GgufExportOptions gguf;
};

void run_export(const ExportArgs& a) {
    if (std::filesystem::exists(a.output)) fail(a.output, "exists; remove it or choose another output");
    if (a.format != "gguf") fail("--format", "'{}' is not one of: gguf", a.format);
    install_interrupt_handler();
    const GgufExportSummary s = export_gguf(a.model, a.output, a.gguf);
    for (const std::string& n : s.notes) fmt::print(stderr, "warning: {}\n", n);
    fmt::print("wrote {} ({} tensors, {:.1f} MB", a.output, s.tensors, double(s.bytes) / 1e6);
    if (s.exact_matrices) fmt::print("; {} matrices from tameq's codes, f16 block scales within {:.2e} relative", s.exact_matrices,
                                     s.max_scale_rounding);
    if (s.requantized_matrices) fmt::print("; {} matrices rounded by ggml's rule", s.requantized_matrices);
    fmt::print(")\n");
}

const CommandRegistrar reg([](CLI::App& app) {
    auto args = std::make_shared<ExportArgs>();
    CLI::App* cmd = app.add_subcommand("export", "Write a model for another engine: GGUF for llama.cpp");
    cmd->add_option("model", args->model, "Hugging Face directory (Llama family) or tameq quantized directory")->required();
    cmd->add_option("-o,--output", args->output, "file to write (must not exist)")->required();
    cmd->add_option("--format", args->format, "gguf")->capture_default_str();
    cmd->add_option("--type", args->gguf.type, "FP checkpoint: matrix type, rounded by ggml's rule (f32, f16, q8_0, q4_0, q4_1)")
        ->capture_default_str();
    cmd->add_option("--head-type", args->gguf.head_type,
                    "embeddings and lm_head (f32, f16, q8_0, q4_0, q4_1; default: --type for FP checkpoints, f16 for quantized)");
    cmd->add_flag("--fold-online", args->gguf.fold_online,
                  "multiply R4 into down_proj (re-quantized by ggml's rule) and drop R3, instead of refusing them");
    cmd->callback([args] { run_export(*args); });
});

}  // namespace
}  // namespace tameq::cli
