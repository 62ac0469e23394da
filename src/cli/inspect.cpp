// tameq inspect MODEL --calib FILE -o report.html [--json out.json]: where the activation outliers are and
// what rotations and symmetrization do to them, as a self-contained HTML page (and the same numbers as JSON).
#include <cstdio>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_args.h"
#include "common/files.h"
#include "common/progress.h"
#include "analysis/inspect.h"
#include "report/output.h"

namespace tameq::cli {
namespace {

struct InspectArgs {
    std::string model, tokenizer, out, json;
    std::string search;  // --ot-search wBaB
    InspectOptions opt;
};

void run_inspect(const InspectArgs& a) {
    // Say so now if the outputs cannot be written, not after the analysis.
    check_writable(a.out);
    if (!a.json.empty()) check_writable(a.json);
    auto tok = open_tokenizer_for(a.model, a.tokenizer);
    InspectOptions opt = a.opt;
    if (!a.search.empty()) std::sscanf(a.search.c_str(), "w%da%d", &opt.search_wbits, &opt.search_abits);
    std::unique_ptr<Progress> bar;
    std::string stage;
    const nlohmann::json r = inspect_model(a.model, *tok, opt, [&](const std::string& s, int done, int total) {
        if (s != stage) {
            if (bar) bar->finish();
            bar = std::make_unique<Progress>(s, total);
            stage = s;
        }
        bar->update(done);
    });
    if (bar) bar->finish();
    write_file_atomic(a.out, render_inspect_html(r));
    if (!a.json.empty()) write_file_atomic(a.json, r.dump(1) + "\n");
    const auto& b = r["bos"];
    const auto& e = b["error_when_massive"];
    auto num = [](const nlohmann::json& v) { return v.is_number() ? fmt::format("{:.3f}", v.get<double>()) : std::string("-"); };
    fmt::print("model     {} ({}, {} layers)\n", a.model, r["architecture"].get<std::string>(), r["n_layers"].get<int>());
    fmt::print("calib     {} ({} windows x {} tokens)\n", a.opt.calib_file, r["windows"].get<int>(), r["ctx"].get<int>());
    fmt::print("BOS       massive in {} of {} norm inputs, up to {:.0f}x the median |x|\n", b["marked_massive"].get<int>(),
               b["checks"].get<int>(), b["max_ratio"].get<double>());
    fmt::print("BOS error {}-bit per token where massive: none {}, RO {}, RH {}, DFRot {}\n", r["bits"].get<int>(), num(e["none"]),
               num(e["ro"]), num(e["rh"]), num(e["dfrot"]));
    if (r.contains("ot_search")) {
        std::string attn, mlp;
        for (const auto& l : r["layers"]) {
            attn += fmt::format(" {:g}", l["ot_search"]["attn_in"]["alpha"].get<double>());
            mlp += fmt::format(" {:g}", l["ot_search"]["mlp_in"]["alpha"].get<double>());
        }
        fmt::print("ot-search {} alpha per layer: attention{}; MLP{}\n", a.search, attn, mlp);
    }
    fmt::print("report    {}\n", a.out);
    if (!a.json.empty()) fmt::print("json      {}\n", a.json);
}

const CommandRegistrar reg([](CLI::App& app) {
    auto a = std::make_shared<InspectArgs>();
    CLI::App* cmd = app.add_subcommand("inspect", "HTML report of activation outliers and what each transform does to them");
    cmd->add_option("model", a->model, "Hugging Face directory or llama2.c .bin")->required();
    cmd->add_option("--calib", a->opt.calib_file, "calibration text (windows: BOS + ctx-1 tokens)")->required();
    cmd->add_option("--calib-windows", a->opt.windows, "calibration windows")->capture_default_str();
    cmd->add_option("--calib-ctx", a->opt.ctx, "window length including BOS (capped at the model's context)")->capture_default_str();
    cmd->add_option("--bits", a->opt.bits, "bits of the per-token activation quantizer in the error plots")->capture_default_str();
    cmd->add_flag("--a-sym", a->opt.symmetric, "symmetric per-token grid (default asymmetric, as evaluation)");
    cmd->add_option("--seed", a->opt.seed, "seed of RO and RH, as recipes use it")->capture_default_str();
    cmd->add_option("--dfrot-iters", a->opt.dfrot_iters, "DFRot refinement iterations (on the first window)")->capture_default_str();
    cmd->add_option("--ot-search", a->search, "also run method=ot-search's α search at these bits, e.g. w6a6")
        ->check([](const std::string& v) {
            int w = 0, x = 0;
            char tail = 0;
            return std::sscanf(v.c_str(), "w%da%d%c", &w, &x, &tail) == 2 ? std::string() : "expected wBaB, e.g. w6a6";
        });
    cmd->add_option("-o,--output", a->out, "the HTML report to write")->required();
    cmd->add_option("--json", a->json, "also write the numbers as JSON");
    cmd->add_option("--tokenizer", a->tokenizer, "tokenizer file or directory (default: beside the model)");
    cmd->callback([a] { run_inspect(*a); });
});

}  // namespace
}  // namespace tameq::cli
