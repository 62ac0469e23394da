// tameq quantize MODEL -o OUT ...: runs a recipe (rotation or channel method, bits, weight quantizer,
// calibration) and writes a quantized-model directory atomically. Same inputs and seed, same bytes out.
#include <chrono>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_args.h"
#include "common/interrupt.h"
#include "quant/quantized_format.h"
#include "quant/pipeline.h"

namespace tameq::cli {
namespace {

struct QuantizeArgs {
    std::string model, out, tokenizer, recipe_text;
    Recipe r;
};

void run_quantize(QuantizeArgs& a) {
    Recipe r = a.recipe_text.empty() ? a.r : parse_recipe(a.recipe_text);
    if (r.calib_file.empty()) r.calib_file = a.r.calib_file;  // --calib also serves a --recipe
    if (!a.r.rotation_file.empty()) {
        r.rotate = "file";
        r.rotation_file = a.r.rotation_file;
    }
    r.validate();
    install_interrupt_handler();
    auto tok = open_tokenizer_for(a.model, a.tokenizer);
    const std::string tok_source = a.tokenizer.empty() ? a.model : a.tokenizer;
    QuantizedDirWriter writer(a.out, a.model, tok_source, r);
    const PipelineReport report = quantize_model(a.model, r, *tok, writer);
    throw_if_interrupted("quantize");
    writer.finish(report);
    fmt::print("wrote {} ({}) in {:.1f} s", a.out, r.summary(), report.seconds);
    if (report.dfrot_rows)
        fmt::print("; DFRot: {} rows, {} marked massive, loss {:.4g} -> {:.4g} in {:.1f} s", report.dfrot_rows,
                   report.dfrot_massive_rows, report.dfrot_losses.front(),
                   *std::min_element(report.dfrot_losses.begin(), report.dfrot_losses.end()), report.dfrot_seconds);
    fmt::print("\n");
}

const CommandRegistrar reg([](CLI::App& app) {
    auto a = std::make_shared<QuantizeArgs>();
    CLI::App* cmd = app.add_subcommand("quantize", "Quantize a model with a recipe and write a quantized directory");
    cmd->add_option("model", a->model, "Hugging Face directory or llama2.c .bin")->required();
    cmd->add_option("-o,--out", a->out, "output directory (written atomically)")->required();
    cmd->add_option("--recipe", a->recipe_text, "the whole recipe as key=value,... (instead of the flags below)");
    cmd->add_option("--method", a->r.method, "rtn | outliertune | smoothquant")->capture_default_str();
    cmd->add_option("--rotate", a->r.rotate, "R1: none | ro | rh | dfrot")->capture_default_str();
    cmd->add_option("--rotation-file", a->r.rotation_file, "R1 from a safetensors file holding one [hidden, hidden] F32 tensor");
    cmd->add_option("--wbits", a->r.wbits, "weight bits (2..8, 16 = keep)")->capture_default_str();
    cmd->add_option("--abits", a->r.abits, "activation bits (2..8, 16 = keep)")->capture_default_str();
    cmd->add_option("--kvbits", a->r.kvbits, "KV-cache bits (2..8, 16 = keep)")->capture_default_str();
    cmd->add_option("--weights", a->r.weights, "rtn | gptq")->capture_default_str();
    cmd->add_option("--group", a->r.w_group, "weight group size (0 = per output channel)")->capture_default_str();
    cmd->add_flag("--w-asym", a->r.w_asym, "asymmetric weight grids");
    cmd->add_flag("--act-order", a->r.act_order, "GPTQ act-order");
    cmd->add_option("--a-clip", a->r.a_clip, "activation clip ratio")->capture_default_str();
    cmd->add_option("--kv-clip", a->r.kv_clip, "KV-cache clip ratio")->capture_default_str();
    cmd->add_option("--calib", a->r.calib_file, "calibration text (GPTQ, DFRot, channel methods)");
    cmd->add_option("--calib-windows", a->r.calib_windows, "calibration windows")->capture_default_str();
    cmd->add_option("--calib-ctx", a->r.calib_ctx, "calibration window length (BOS included)")->capture_default_str();
    cmd->add_option("--seed", a->r.seed, "seed of RO/RH/R2")->capture_default_str();
    cmd->add_option("--gamma", a->r.dfrot_gamma, "DFRot weight of massive tokens")->capture_default_str();
    cmd->add_option("--dfrot-iters", a->r.dfrot_iters, "DFRot iterations")->capture_default_str();
    cmd->add_option("--dfrot-windows", a->r.dfrot_windows, "DFRot calibration windows")->capture_default_str();
    cmd->add_option("--marking", a->r.dfrot_marking, "massive-token rule: magnitude | quant-error")->capture_default_str();
    cmd->add_option("--tokenizer", a->tokenizer, "tokenizer file or directory (default: beside the model)");
    cmd->callback([a] { run_quantize(*a); });
});

}  // namespace
}  // namespace tameq::cli
