// tameq help recipe: every recipe key of quant/recipe.h's table, as a Markdown table that reads in a terminal.
// The README's "Recipe keys" section is this output (scripts/gen-readme-recipe.sh; a test keeps them equal).
#include <algorithm>
#include <array>
#include <memory>
#include <string>
#include <vector>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "common/error.h"
#include "quant/recipe.h"

namespace tameq::cli {
namespace {

std::string recipe_reference() {
    using Row = std::array<std::string, 5>;
    std::vector<Row> rows = {{"key", "alias", "value", "default", "meaning"}};
    const Recipe defaults;
    for (const RecipeKey& k : kRecipeKeys) {
        const std::string range = recipe_key_range(k);
        rows.push_back({std::string(k.key), std::string(k.alias),
                        range.empty() ? recipe_key_kind(k) : fmt::format("{} {}", recipe_key_kind(k), range),
                        recipe_key_value(defaults, k), std::string(k.help)});
    }
    std::array<size_t, 5> width{};
    for (const Row& r : rows)
        for (size_t c = 0; c < r.size(); ++c) width[c] = std::max(width[c], r[c].size());
    auto line = [&](const Row& r) {
        std::string s = "|";
        for (size_t c = 0; c < r.size(); ++c) s += fmt::format(" {:<{}} |", r[c], width[c]);
        return s + "\n";
    };
    std::string out =
        "Each key is set as `--recipe key=value,...` (quantize, eval ppl, sweep) or as a flag of `tameq quantize`:\n"
        "`--key value` (or `--alias value`); a bool flag alone means true, `--key=false` sets false. `--recipe` is\n"
        "read first, then the flags; a key given both ways is an error.\n\n";
    out += line(rows[0]);
    Row rule;
    for (size_t c = 0; c < rule.size(); ++c) rule[c] = std::string(width[c], '-');
    out += line(rule);
    for (size_t i = 1; i < rows.size(); ++i) out += line(rows[i]);
    return out;
}

const CommandRegistrar reg([](CLI::App& app) {
    auto topic = std::make_shared<std::string>();
    CLI::App* cmd = app.add_subcommand("help", "Reference: `tameq help recipe` lists every recipe key");
    cmd->add_option("topic", *topic, "recipe")->required();
    cmd->callback([topic] {
        if (*topic != "recipe") fail("help", "unknown topic '{}' (topics: recipe)", *topic);
        fmt::print("{}", recipe_reference());
    });
});

}  // namespace
}  // namespace tameq::cli
