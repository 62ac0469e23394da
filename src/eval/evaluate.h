#pragma once
// Evaluating a model or a recipe the one way `eval ppl` and `sweep` both do: quantize in memory (or load),
// pick the engine that runs the quantized linears, cut the text with the perplexity protocol
// (io/windows.h: text_windows) and score it (eval/perplexity.h), optionally against a reference. So a
// sweep row and an `eval ppl` run of the same recipe, engine and windows give the same numbers.
#include <cstdint>
#include <functional>
#include <string>

#include "eval/perplexity.h"
#include "io/windows.h"
#include "model/model.h"
#include "quant/pipeline.h"
#include "quant/recipe.h"

namespace tameq {

class Tokenizer;

// Which kernels run a quantized model's linears: the integer kernels where a layer's recipe has one, or the
// simulation (fake quantization in FP32) everywhere.
enum class EngineChoice { Int, Sim };
EngineChoice parse_engine(const std::string& name);  // "int" | "sim"; anything else fails naming it
const char* engine_name(EngineChoice e);             // "int" | "sim"

// Applies the choice to `m` (Int swaps in the integer kernels). Returns a one-line description of what
// runs ("" for an FP model: nothing is quantized).
std::string select_engine(Model& m, EngineChoice e);

// Where the model runs: the CPU engines, or the CUDA engine (model/cuda_engine.h: the Llama family, BF16 for
// FP models and W8A8 for 8-bit per-token recipes; anything else is refused, never run elsewhere silently).
enum class Device { Cpu, Cuda };
Device parse_device(const std::string& name);  // "cpu" | "cuda"; anything else fails naming it
// Fails with one line when this build or machine cannot run `d` (no CUDA build, no usable GPU).
void require_device(Device d);

struct EvalRequest {
    std::string model;               // checkpoint or quantized directory
    const Recipe* recipe = nullptr;  // set: quantize `model` in memory first
    EngineChoice engine = EngineChoice::Int;
    Device device = Device::Cpu;     // Cuda: the model (not its reference) runs on the GPU
    std::string data;                // evaluation text, cut by `windows`
    WindowSpec windows;
    const TextWindows* cut = nullptr;  // the windows already cut from `data` with `windows` (a sweep cuts once)
    // The reference of KL and top-1, at most one of: a model path (with a recipe the default is `model`
    // itself, unquantized), a model already loaded, logits saved by an earlier run's `save_logits`.
    std::string ref;
    const Model* ref_model = nullptr;
    std::string kl_base;
    std::string save_logits;  // write this run's logits here
    std::string save_windows; // write the token windows scored (a JSON array of arrays of ids), e.g. for llama.cpp
};

struct RecipeEval {
    PplResult ppl;
    std::string engine;        // select_engine's description ("" for an FP model)
    std::string ref;           // what KL and top-1 were measured against ("" without a reference)
    PipelineReport quant;      // with a recipe: the quantization
    ModelConfig cfg;           // of the evaluated model
    int64_t params = 0;
    int64_t text_tokens = 0;   // tokens of the text the windows were cut from
    double eval_seconds = 0;   // scoring only
};

// `on_window(done, total, running_ppl)` after each window (throwing from it stops the evaluation).
// Errors name "eval": a ctx the model cannot take, two references.
RecipeEval evaluate_recipe(const EvalRequest& req, const Tokenizer& tok,
                           const std::function<void(int, int, double)>& on_window = {});

}  // namespace tameq
