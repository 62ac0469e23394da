// tameq eval ppl MODEL --data FILE: perplexity with the protocol of docs/DESIGN.md, optionally KL divergence
// and top-1 agreement against a reference model (--ref) on the same windows.
#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_args.h"
#include "common/error.h"
#include "common/interrupt.h"
#include "common/progress.h"
#include "eval/evaluate.h"
#include "quant/recipe.h"

namespace tameq::cli {
namespace {

struct PplArgs {
    std::string model, data, ref, tokenizer, recipe, calib, save_logits, save_windows, kl_base, engine = "int", device = "cpu";
    int ctx = 1024;
    int windows = 64;
    bool no_bos = false;
    bool lines = false;
    bool json = false;
};

void run_ppl(const PplArgs& a) {
    if (a.ctx < 2) fail("eval ppl", "--ctx must be at least 2");
    require_device(parse_device(a.device));  // before any file is read: no GPU is the first thing to say
    install_interrupt_handler();  // before any work: quantizing on the fly polls it too
    auto tok = open_tokenizer_for(a.model, a.tokenizer);
    Recipe recipe;
    if (!a.recipe.empty()) {
        // --calib is the recipe's calib key given as a flag: composed like quantize's flags (both ways is an error).
        std::vector<std::pair<const RecipeKey*, std::string>> flags;
        if (!a.calib.empty()) flags.emplace_back(find_recipe_key("calib"), a.calib);
        recipe = compose_recipe(a.recipe, flags);
    }
    EvalRequest req;
    req.model = a.model;
    req.recipe = a.recipe.empty() ? nullptr : &recipe;
    req.engine = parse_engine(a.engine);
    req.device = parse_device(a.device);
    req.data = a.data;
    req.windows = {.ctx = a.ctx, .windows = a.windows, .bos = !a.no_bos, .lines = a.lines};
    req.ref = a.ref;
    req.kl_base = a.kl_base;
    req.save_logits = a.save_logits;
    req.save_windows = a.save_windows;
    std::unique_ptr<Progress> progress;
    const RecipeEval e = evaluate_recipe(req, *tok, [&](int done, int total, double running_ppl) {
        if (!progress) progress = std::make_unique<Progress>("ppl", total);
        progress->update(done, fmt::format("PPL {:.4f}", running_ppl));
        throw_if_interrupted("eval ppl");
    });
    if (progress) progress->finish();
    const PplResult& r = e.ppl;
    const std::string& engine_desc = e.engine;
    const std::string& ref_name = e.ref;
    const int bos = e.cfg.bos_id;
    const int64_t text_tokens = e.text_tokens;
    const std::string bos_desc = a.no_bos ? "none" : fmt::format("prepended (id {}), never scored", bos);
    const std::string layout = a.lines ? fmt::format("{} non-empty lines, each its own sequence (max {})", r.windows, a.ctx)
                                       : fmt::format("{} windows of {}{}", r.windows, a.ctx, a.no_bos ? "" : " = BOS + " + std::to_string(a.ctx - 1));
    if (a.json) {
        nlohmann::json j = {{"model", a.model}, {"dataset", a.data}, {"ctx", a.ctx}, {"windows", r.windows},
                            {"lines", a.lines}, {"bos", bos_desc}, {"text_tokens", text_tokens},
                            {"tokens_scored", r.tokens_scored}, {"nll_mean", r.nll_mean}, {"ppl", r.ppl},
                            {"window_nll", r.window_nll}};
        if (!a.recipe.empty()) j["recipe"] = a.recipe;
        if (!engine_desc.empty()) j["engine"] = engine_desc;
        if (r.has_ref) {
            j["ref"] = ref_name;
            j["ref_ppl"] = r.ref_ppl;
            j["kl_mean"] = r.kl_mean;
            j["top1_agree"] = r.top1_agree;
        }
        fmt::print("{}\n", j.dump(2));
        return;
    }
    fmt::print("model     {} ({}, {:.1f}M parameters)\n", a.model, e.cfg.architecture, double(e.params) / 1e6);
    if (!a.recipe.empty()) fmt::print("recipe    {}\n", a.recipe);
    if (!engine_desc.empty()) fmt::print("engine    {}\n", engine_desc);
    fmt::print("dataset   {} ({} tokens)\n", a.data, text_tokens);
    fmt::print("layout    {}\n", layout);
    fmt::print("bos       {}\n", bos_desc);
    fmt::print("scored    {} tokens in {:.1f} s\n", r.tokens_scored, e.eval_seconds);
    fmt::print("PPL       {:.4f}\n", r.ppl);
    if (r.has_ref) {
        fmt::print("ref PPL   {:.4f} ({})\n", r.ref_ppl, ref_name);
        fmt::print("KL        {:.6f} nats/token (reference || model)\n", r.kl_mean);
        fmt::print("top-1     {:.2f}% agreement with the reference\n", 100.0 * r.top1_agree);
    }
}

const CommandRegistrar reg([](CLI::App& app) {
    CLI::App* eval = app.add_subcommand("eval", "Evaluate a model");
    eval->require_subcommand(1);
    auto args = std::make_shared<PplArgs>();
    CLI::App* cmd = eval->add_subcommand("ppl", "Perplexity (DESIGN.md protocol: BOS + ctx-1 tokens per window)");
    cmd->add_option("model", args->model, "Hugging Face directory or llama2.c .bin")->required();
    cmd->add_option("--data", args->data, "text file")->required();
    cmd->add_option("--ctx", args->ctx, "window length including BOS")->capture_default_str();
    cmd->add_option("--windows", args->windows, "number of windows (0 = all)")->capture_default_str();
    cmd->add_option("--ref", args->ref, "reference model for KL divergence and top-1 agreement (default with --recipe: the FP model)");
    cmd->add_option("--recipe", args->recipe, "quantize on the fly first: key=value,... (e.g. rotate=rh,w=4,a=4,kv=16,weights=gptq)");
    cmd->add_option("--calib", args->calib, "calibration text for --recipe (GPTQ, DFRot)");
    cmd->add_option("--save-logits", args->save_logits, "write this run's logits, to serve as a later run's --kl-base");
    cmd->add_option("--save-windows", args->save_windows, "write the token windows scored, as JSON (for scoring in another engine)");
    cmd->add_option("--kl-base", args->kl_base, "reference logits written by --save-logits (instead of --ref)");
    cmd->add_option("--tokenizer", args->tokenizer, "tokenizer file or directory (default: beside the model)");
    cmd->add_flag("--no-bos", args->no_bos, "windows of ctx text tokens without BOS (the first is context only)");
    cmd->add_flag("--lines", args->lines, "each non-empty line is one sequence (BOS + line), cache reset per line");
    cmd->add_flag("--json", args->json, "print the result as JSON");
    cmd->add_option("--engine", args->engine, "quantized models: int (integer kernels where they apply) or sim (simulated)")
        ->check(CLI::IsMember({"int", "sim"}))->capture_default_str();
    add_device_option(cmd, args->device);
    cmd->callback([args] { run_ppl(*args); });
});

}  // namespace
}  // namespace tameq::cli
