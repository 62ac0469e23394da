#pragma once
// `tameq sweep`: several recipes on one model, each quantized in memory and scored as `eval ppl` scores it
// (eval/evaluate.h: the same windows, engine and reference) against the FP model or saved reference logits
// (PPL, ΔPPL, KL, top-1), plus model size at the recipe's bits and the quantization time. Resumable: each finished recipe's row is stored as DIR/runs/<key>.json, where the
// key hashes everything that determines the row, and a rerun skips it; a recipe that was started but not
// finished leaves DIR/runs/<key>.running, so the next run says it was interrupted and runs it again.
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "eval/evaluate.h"
#include "model/model.h"
#include "quant/recipe.h"

namespace tameq {

class Tokenizer;

struct SweepOptions {
    std::string model, data, calib, out_dir;
    int ctx = 1024, windows = 64;
    EngineChoice engine = EngineChoice::Int;  // as eval ppl's default
    std::string kl_base;  // reference logits saved by `eval ppl --save-logits`, instead of the FP model's
    std::vector<std::string> recipes;  // "fp" or "key=value,..." (quant/recipe.h)
};

// "fp;rotate=rh,w=4,a=4" → {"fp", "rotate=rh,w=4,a=4"}: split on ';', trimmed, empties dropped. Every
// recipe is parsed here, so an unknown key fails before any work (the parser lists the valid keys).
std::vector<std::string> split_recipes(const std::string& list);

// The recipe of a sweep entry ("fp": no quantization), with the sweep's calibration file.
Recipe sweep_recipe(const std::string& text, const std::string& calib);

// The deployable size of the model at the recipe's weight bits: the decoder linears as the scheme table
// counts them (WeightScheme::bytes at GridWidth::F16: codes as stored, two per byte at <= 4 bits, one
// otherwise, plus one FP16 scale, and zero point when asymmetric, per output row and group); everything else
// (embeddings, lm_head, norms, biases) at 16 bits. FP ("fp" or w=16) is the 16-bit checkpoint. The quantized
// directory is larger: F32 grids (WeightScheme::bytes at GridWidth::F32) and F32 everything else.
double model_size_mb(const Model& fp, const Recipe& r);

// The stable key of one row: a hash of the model, data, ctx, windows, engine, reference and the canonical recipe.
std::string sweep_key(const SweepOptions& opt, const std::string& recipe);

struct SweepHooks {
    std::function<bool()> interrupted;                    // polled often; true stops with tameq::Error
    std::function<void(const std::string&)> message;      // one line of news (resumed, skipped, finished rows)
    std::function<void(const std::string&, int, int)> progress;  // stage, done, total
    std::function<void(const nlohmann::json&)> save;      // the document so far, after every finished recipe
};

// Runs the sweep and returns {"rows": [...], ...}; hands the document to hooks.save after every finished
// recipe (the CLI writes DIR/sweep.{json,csv,html}: report/sweep_report.h). An interruption throws tameq::Error after saving what is finished.
nlohmann::json run_sweep(const SweepOptions& opt, const Tokenizer& tok, const SweepHooks& hooks);

}  // namespace tameq
