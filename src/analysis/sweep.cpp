#include "analysis/sweep.h"

#include <chrono>
#include <cmath>
#include <ctime>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "common/error.h"
#include "common/files.h"
#include "eval/evaluate.h"
#include "io/tokenizer.h"
#include "numerics/schemes.h"
#include "export/open_model.h"

namespace tameq {
namespace {

namespace fs = std::filesystem;
using nlohmann::json;

std::string trim(const std::string& s) {
    const size_t a = s.find_first_not_of(" \t\r\n"), b = s.find_last_not_of(" \t\r\n");
    return a == std::string::npos ? "" : s.substr(a, b - a + 1);
}

uint64_t fnv1a(const std::string& s) {
    uint64_t h = 1469598103934665603ull;
    for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
    return h;
}

// Everything written to DIR: the rows so far, whether all recipes are done, how it was made.
json sweep_document(const SweepOptions& opt, const json& rows, int total) {
    const std::time_t now = std::time(nullptr);
    char date[32];
    std::strftime(date, sizeof date, "%Y-%m-%d %H:%M UTC", std::gmtime(&now));
    return {{"tool", "tameq sweep"}, {"model", opt.model}, {"data", opt.data}, {"calib", opt.calib}, {"ctx", opt.ctx},
            {"windows", opt.windows}, {"engine", engine_name(opt.engine)}, {"kl_base", opt.kl_base}, {"recipes", opt.recipes}, {"finished", int(rows.size())}, {"total", total},
            {"complete", int(rows.size()) == total}, {"date", date}, {"rows", rows}};
}

}  // namespace

std::vector<std::string> split_recipes(const std::string& list) {
    std::vector<std::string> out;
    std::stringstream ss(list);
    std::string item;
    while (std::getline(ss, item, ';')) {
        item = trim(item);
        if (item.empty()) continue;
        sweep_recipe(item, "");  // fail now, naming the bad key, rather than after an hour of other recipes
        if (std::find(out.begin(), out.end(), item) != out.end()) fail("sweep", "recipe '{}' is listed twice", item);
        out.push_back(item);
    }
    if (out.empty()) fail("sweep", "--recipes is empty (example: \"fp;rotate=rh,w=4,a=4\")");
    return out;
}

Recipe sweep_recipe(const std::string& text, const std::string& calib) {
    Recipe r = text == "fp" ? Recipe{} : parse_recipe(text);
    if (!calib.empty() && r.calib_file.empty() && r.needs_calibration()) r.calib_file = calib;
    return r;
}

double model_size_mb(const Model& fp, const Recipe& r) {
    if (r.wbits >= 16) return double(fp.n_params() * 2) / 1e6;
    QuantSpec w;
    w.bits = r.wbits;
    w.symmetric = !r.w_asym;
    w.granularity = r.w_group > 0 ? Granularity::PerGroup : Granularity::PerRow;
    w.group_size = r.w_group;
    const WeightScheme scheme = weight_scheme(w, r.act_order && r.w_group > 0);
    int64_t linear_weights = 0, quant_bytes = 0;
    for (const Layer& l : fp.layers)
        for (const auto* lin : l.linears()) {
            if (!*lin) continue;
            const int in = (*lin)->in_features(), out = (*lin)->out_features();
            // Quantizing fails on such a layer, with the stage's message, before this row is written.
            if (!scheme.fits(in)) return std::nan("");
            linear_weights += int64_t(in) * out;
            quant_bytes += scheme.bytes(out, in, GridWidth::F16);
        }
    return double((fp.n_params() - linear_weights) * 2 + quant_bytes) / 1e6;
}

std::string sweep_key(const SweepOptions& opt, const std::string& recipe) {
    json canon = {{"model", fs::weakly_canonical(opt.model).string()}, {"data", fs::weakly_canonical(opt.data).string()},
                  {"ctx", opt.ctx}, {"windows", opt.windows}, {"engine", engine_name(opt.engine)},
                  {"kl_base", opt.kl_base.empty() ? "" : fs::weakly_canonical(opt.kl_base).string()}};
    if (recipe == "fp") canon["recipe"] = "fp";
    else canon["recipe"] = sweep_recipe(recipe, opt.calib.empty() ? "" : fs::weakly_canonical(opt.calib).string());
    return fmt::format("{:016x}", fnv1a(canon.dump()));
}

json run_sweep(const SweepOptions& opt, const Tokenizer& tok, const SweepHooks& hooks) {
    auto say = [&](const std::string& s) {
        if (hooks.message) hooks.message(s);
    };
    auto stop_if_interrupted = [&](const std::string& where) {
        if (hooks.interrupted && hooks.interrupted())
            fail("sweep", "interrupted {}; finished recipes are kept in {}: run the same command again to continue", where,
                 (fs::path(opt.out_dir) / "runs").string());
    };
    const fs::path dir(opt.out_dir), runs = dir / "runs";
    std::error_code ec;
    fs::create_directories(runs, ec);
    if (ec || !fs::is_directory(runs)) fail(opt.out_dir, "cannot create the output directory: {}", ec ? ec.message() : "not a directory");
    check_writable((dir / "sweep.html").string());

    const int total = int(opt.recipes.size());
    json rows = json::array();
    std::vector<std::string> todo;
    for (const auto& text : opt.recipes) {
        const fs::path row_file = runs / (sweep_key(opt, text) + ".json");
        if (fs::exists(runs / (sweep_key(opt, text) + ".running")))
            say(fmt::format("recipe '{}' was interrupted last time: running it again", text));
        if (fs::exists(row_file)) {
            json row = json::parse(read_file(row_file.string()), nullptr, false);
            if (!row.is_discarded() && row.contains("ppl")) {
                rows.push_back(row);
                continue;
            }
        }
        todo.push_back(text);
    }
    if (!rows.empty())
        say(fmt::format("resuming: {} of {} recipes already finished (in {}), skipping them", rows.size(), total, runs.string()));

    std::unique_ptr<Model> fp;
    const WindowSpec spec{.ctx = opt.ctx, .windows = opt.windows, .bos = true, .lines = false};
    TextWindows windows;
    if (!todo.empty()) {
        fp = std::make_unique<Model>(load_model(opt.model));
        if (opt.ctx < 2 || opt.ctx > fp->cfg.max_positions)
            fail("sweep", "--ctx {} must be in 2..{} (the model's context)", opt.ctx, fp->cfg.max_positions);
        if (opt.windows < 1) fail("sweep", "--windows must be at least 1");
        windows = text_windows(opt.data, tok, spec, fp->cfg.bos_id);  // eval ppl's windows, cut once
    }
    // The reports keep the order of --recipes, whatever was cached.
    auto in_recipe_order = [&] {
        json ordered = json::array();
        for (const auto& t : opt.recipes)
            for (const auto& r : rows)
                if (r["recipe"] == t) ordered.push_back(r);
        return ordered;
    };
    for (const auto& text : todo) {
        const std::string key = sweep_key(opt, text);
        const fs::path marker = runs / (key + ".running");
        write_file_atomic(marker.string(), text + "\n");
        const Recipe recipe = sweep_recipe(text, opt.calib);
        const std::string label = text == "fp" ? "FP" : recipe.summary();
        auto on_window = [&](int done, int n, double) {
            if (hooks.progress) hooks.progress("eval " + label, done, n);
            stop_if_interrupted(fmt::format("while evaluating recipe '{}'", text));
        };
        json row = {{"recipe", text}, {"label", label}, {"key", key}, {"wbits", recipe.wbits}, {"abits", recipe.abits},
                    {"kvbits", recipe.kvbits}, {"size_mb", model_size_mb(*fp, recipe)}};
        const auto t0 = std::chrono::steady_clock::now();
        try {
            stop_if_interrupted(fmt::format("before recipe '{}'", text));
            // The FP row is the reference itself, unless the reference is a file (then it checks the file).
            const bool fp_row = text == "fp";
            EvalRequest req;
            req.model = opt.model;
            req.recipe = fp_row ? nullptr : &recipe;
            req.engine = opt.engine;
            req.data = opt.data;
            req.windows = spec;
            req.cut = &windows;
            req.ref_model = opt.kl_base.empty() && !fp_row ? fp.get() : nullptr;
            req.kl_base = opt.kl_base;
            const RecipeEval e = evaluate_recipe(req, tok, on_window);
            const PplResult& r = e.ppl;
            row.update({{"engine", engine_name(opt.engine)}, {"engine_description", e.engine}});
            if (r.has_ref)
                row.update({{"ppl", r.ppl}, {"fp_ppl", r.ref_ppl}, {"delta_ppl", r.ppl - r.ref_ppl}, {"kl", r.kl_mean},
                            {"top1", r.top1_agree}, {"quant_seconds", e.quant.seconds}, {"tokens_scored", r.tokens_scored}});
            else
                row.update({{"ppl", r.ppl}, {"fp_ppl", r.ppl}, {"delta_ppl", 0.0}, {"kl", 0.0}, {"top1", 1.0},
                            {"quant_seconds", 0.0}, {"tokens_scored", r.tokens_scored}});
        } catch (const Error&) {
            // Only an interruption leaves the marker; a recipe that cannot run on this model is not "interrupted".
            if (!(hooks.interrupted && hooks.interrupted())) fs::remove(marker, ec);
            stop_if_interrupted(fmt::format("during recipe '{}'", text));  // the sweep's message, not the stage's
            throw;
        }
        row["seconds"] = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        write_file_atomic((runs / (key + ".json")).string(), row.dump(2) + "\n");
        fs::remove(marker, ec);
        rows.push_back(row);
        say(fmt::format("finished {} ({} of {}): PPL {:.4f}, ΔPPL {:+.4f}, KL {:.5f}, top-1 {:.2f}%", label, rows.size(), total,
                        row["ppl"].get<double>(), row["delta_ppl"].get<double>(), row["kl"].get<double>(),
                        100 * row["top1"].get<double>()));
        if (hooks.save) hooks.save(sweep_document(opt, in_recipe_order(), total));
    }
    const json doc = sweep_document(opt, in_recipe_order(), total);
    if (hooks.save) hooks.save(doc);
    return doc;
}

}  // namespace tameq
