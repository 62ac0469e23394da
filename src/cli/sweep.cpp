// tameq sweep MODEL --recipes "fp;rotate=rh,w=4,a=4;..." --data FILE -o DIR: quantize and score several
// recipes, print a table, write DIR/sweep.{html,csv,json}. Finished recipes are kept in DIR/runs, so an
// interrupted sweep (Ctrl-C stops it cleanly; a kill leaves a marker) continues where it stopped.
#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_args.h"
#include "analysis/sweep.h"
#include "common/interrupt.h"
#include "common/progress.h"
#include "report/sweep_report.h"

namespace tameq::cli {
namespace {

struct SweepArgs {
    std::string model, tokenizer, recipes, engine = "int";
    SweepOptions opt;
};

void run_sweep_cmd(SweepArgs& a) {
    a.opt.recipes = split_recipes(a.recipes);
    auto tok = open_tokenizer_for(a.model, a.tokenizer);
    a.opt.model = a.model;
    a.opt.engine = parse_engine(a.engine);
    install_interrupt_handler(
        "\ntameq: sweep: stopping (finished recipes are kept; press Ctrl-C again to stop at once)\n");
    std::unique_ptr<Progress> bar;
    std::string stage;
    SweepHooks hooks;
    hooks.interrupted = interrupted;
    hooks.save = [&](const nlohmann::json& doc) { write_sweep_reports(a.opt.out_dir, doc); };
    hooks.message = [&](const std::string& s) {
        if (bar) bar->finish();
        bar.reset();
        stage.clear();
        fmt::print(stderr, "sweep: {}\n", s);
    };
    hooks.progress = [&](const std::string& s, int done, int total) {
        if (s != stage) {
            if (bar) bar->finish();
            bar = std::make_unique<Progress>(s, total);
            stage = s;
        }
        bar->update(done);
    };
    const nlohmann::json doc = run_sweep(a.opt, *tok, hooks);
    if (bar) bar->finish();
    fmt::print("model     {}\n", a.model);
    fmt::print("dataset   {} (ctx {}, {} windows, BOS prepended and never scored)\n", a.opt.data, a.opt.ctx, a.opt.windows);
    fmt::print("engine    {}{}\n", a.engine == "int" ? "integer kernels where they apply" : "simulated quantization",
               a.opt.kl_base.empty() ? "" : ", KL against " + a.opt.kl_base);
    fmt::print("{}", sweep_table(doc));
    fmt::print("report    {}/sweep.html, sweep.csv, sweep.json\n", a.opt.out_dir);
}

const CommandRegistrar reg([](CLI::App& app) {
    auto a = std::make_shared<SweepArgs>();
    CLI::App* cmd = app.add_subcommand("sweep", "Quantize and evaluate several recipes; table, HTML, CSV and JSON (resumable)");
    cmd->add_option("model", a->model, "Hugging Face directory or llama2.c .bin")->required();
    cmd->add_option("--recipes", a->recipes, "';'-separated recipes: fp or key=value,... (e.g. \"fp;rotate=rh,w=4,a=4\")")->required();
    cmd->add_option("--data", a->opt.data, "evaluation text")->required();
    cmd->add_option("--calib", a->opt.calib, "calibration text for recipes that need it (GPTQ, DFRot)");
    cmd->add_option("--ctx", a->opt.ctx, "window length including BOS")->capture_default_str();
    cmd->add_option("--windows", a->opt.windows, "evaluation windows")->capture_default_str();
    cmd->add_option("-o,--output", a->opt.out_dir, "output directory (rows of finished recipes are kept in DIR/runs)")->required();
    cmd->add_option("--tokenizer", a->tokenizer, "tokenizer file or directory (default: beside the model)");
    cmd->add_option("--engine", a->engine, "quantized models: int (integer kernels where they apply) or sim (simulated)")
        ->check(CLI::IsMember({"int", "sim"}))->capture_default_str();
    cmd->add_option("--kl-base", a->opt.kl_base, "reference logits written by eval ppl --save-logits (instead of the FP model)");
    cmd->callback([a] { run_sweep_cmd(*a); });
});

}  // namespace
}  // namespace tameq::cli
