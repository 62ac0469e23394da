// tameq export QUANTIZED_DIR --format compressed-tensors -o OUT [--drop-r3] [--dtype f32|bf16]: a tameq quantized directory as a
// compressed-tensors checkpoint that vLLM, SGLang and TGI load (export/compressed_tensors.h). The GGUF path
// of this command joins it here (--format gguf).
#include <filesystem>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "export/compressed_tensors.h"

namespace tameq::cli {
namespace {

namespace fs = std::filesystem;

struct ExportArgs {
    std::string model, output, format;
    bool drop_r3 = false;
    std::string dtype = "f32";
};

uintmax_t directory_bytes(const std::string& dir) {
    uintmax_t total = 0;
    for (const auto& e : fs::directory_iterator(dir))
        if (e.is_regular_file()) total += e.file_size();
    return total;
}

void run_export(const ExportArgs& a) {
    install_interrupt_handler();
    if (a.format != "compressed-tensors") fail("--format", "'{}': this build exports compressed-tensors", a.format);
    CompressedTensorsOptions o;
    o.drop_r3 = a.drop_r3;
    if (a.dtype != "f32" && a.dtype != "bf16") fail("--dtype", "'{}': f32 or bf16", a.dtype);
    o.bf16 = a.dtype == "bf16";
    for (const std::string& w : export_compressed_tensors(a.model, a.output, o)) fmt::print(stderr, "warning: {}\n", w);
    fmt::print("wrote {} (compressed-tensors, {:.1f} MB)\n", a.output, double(directory_bytes(a.output)) / 1e6);
}

const CommandRegistrar reg([](CLI::App& app) {
    auto args = std::make_shared<ExportArgs>();
    CLI::App* cmd = app.add_subcommand("export", "Write a quantized directory in a deploy format (compressed-tensors: vLLM, SGLang, TGI)");
    cmd->add_option("model", args->model, "quantized directory written by tameq quantize")->required();
    cmd->add_option("-o,--output", args->output, "directory to write (must not exist)")->required();
    cmd->add_option("--format", args->format, "compressed-tensors")->required();
    cmd->add_flag("--drop-r3", args->drop_r3,
                  "leave out R3 and the KV-cache codes (no compressed-tensors carrier); the engine's own KV-cache option replaces them");
    cmd->add_option("--dtype", args->dtype, "scales, norms, biases, embeddings: f32 (exact) or bf16 (the model dtype engines cast to)")
        ->capture_default_str();
    cmd->callback([args] { run_export(*args); });
});

}  // namespace
}  // namespace tameq::cli
