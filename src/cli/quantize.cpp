// tameq quantize MODEL -o OUT ...: runs a recipe (rotation or channel method, bits, weight quantizer,
// calibration) and writes a quantized-model directory atomically. Same inputs and seed, same bytes out.
#include <algorithm>
#include <array>
#include <chrono>
#include <utility>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_args.h"
#include "common/interrupt.h"
#include "common/stage_profile.h"
#include "quant/quantized_format.h"
#include "quant/pipeline.h"
#include "quant/recipe.h"

namespace tameq::cli {
namespace {

struct QuantizeArgs {
    std::string model, out, tokenizer, recipe_text;
    bool profile = false;
    // What each recipe key's flag was given; a vector, so that a flag given twice is our one-line error.
    std::array<std::vector<std::string>, std::size(kRecipeKeys)> values;
};

void run_quantize(QuantizeArgs& a) {
    std::vector<std::pair<const RecipeKey*, std::string>> given;
    for (size_t i = 0; i < std::size(kRecipeKeys); ++i)
        for (const std::string& v : a.values[i]) given.emplace_back(&kRecipeKeys[i], v);
    const Recipe r = compose_recipe(a.recipe_text, given);
    install_interrupt_handler();
    StageProfile profile;
    if (a.profile) set_thread_profile(&profile);
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
    if (!report.migration.empty()) {
        // ot-search: the chosen α per block, attention norm / MLP norm (every loss is in tameq.json).
        std::string attn, mlp;
        for (const PipelineReport::Migration& m : report.migration)
            (m.tap == Tap::AttnIn ? attn : mlp) += fmt::format(" {:g}{}", m.choice.alpha,
                                                               m.choice.clip < 1.0f ? fmt::format("@{:g}", m.choice.clip) : "");
        fmt::print("ot-search alpha per layer: attention{}; MLP{}\n", attn, mlp);
    }
    if (!report.expert_tokens.empty()) {
        // GPTQ on a mixture: the calibration tokens routed to each expert, per sparse layer (each expert's count is
        // in tameq.json's "experts"); fallbacks were warned about as they happened.
        fmt::print("calibration tokens per expert (GPTQ Hessians), per layer: min / median / max, experts on RTN\n");
        for (size_t b = 0; b < report.expert_tokens.size();) {
            size_t e = b;
            std::vector<int64_t> tokens;
            int fallbacks = 0;
            for (; e < report.expert_tokens.size() && report.expert_tokens[e].layer == report.expert_tokens[b].layer; ++e) {
                tokens.push_back(report.expert_tokens[e].tokens);
                fallbacks += report.expert_tokens[e].rtn_fallback;
            }
            std::sort(tokens.begin(), tokens.end());
            fmt::print("  layer {}: {} experts, {} / {} / {} tokens, {} on RTN\n", report.expert_tokens[b].layer,
                       tokens.size(), tokens.front(), tokens[tokens.size() / 2], tokens.back(), fallbacks);
            b = e;
        }
    }
    if (a.profile) {
        set_thread_profile(nullptr);
        fmt::print("profile, per layer and outside the layer loop: wall seconds (cores used = CPU time / wall)\n{}",
                   profile.table());
    }
}

const CommandRegistrar reg([](CLI::App& app) {
    auto a = std::make_shared<QuantizeArgs>();
    CLI::App* cmd = app.add_subcommand("quantize", "Quantize a model with a recipe and write a quantized directory");
    cmd->add_option("model", a->model, "Hugging Face directory or llama2.c .bin")->required();
    cmd->add_option("-o,--output,--out", a->out, "output directory (written atomically)")->required();
    cmd->add_option("--recipe", a->recipe_text, "recipe keys as key=value,...; the flags below set the same keys (one way each)");
    // One flag per recipe key, all from the table: --KEY (and --ALIAS), bool keys as --KEY or --KEY=false.
    const Recipe defaults;
    for (size_t i = 0; i < std::size(kRecipeKeys); ++i) {
        const RecipeKey& k = kRecipeKeys[i];
        std::string names = fmt::format("--{}", k.key);
        if (!k.alias.empty()) names += fmt::format(",--{}", k.alias);
        const std::string range = recipe_key_range(k);
        const std::string help = range.empty() ? std::string(k.help) : fmt::format("{}; {}", k.help, range);
        CLI::Option* o = std::holds_alternative<bool Recipe::*>(k.field) ? cmd->add_flag(names, a->values[i], help)
                                                                          : cmd->add_option(names, a->values[i], help)->expected(1);
        o->type_name(recipe_key_kind(k))->default_str(recipe_key_value(defaults, k))->group("Recipe keys (tameq help recipe)");
        o->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
    }
    cmd->add_option("--tokenizer", a->tokenizer, "tokenizer file or directory (default: beside the model)");
    cmd->add_flag("--profile", a->profile, "print the wall and CPU time of each stage, per layer and in total");
    cmd->callback([a] { run_quantize(*a); });
});

}  // namespace
}  // namespace tameq::cli
