// tameq run MODEL --prompt TEXT -n N: generate text, streaming tokens, then report tokens/s.
#include <chrono>
#include <cstdio>
#include <memory>
#include <random>

#include <CLI/CLI.hpp>
#include <fmt/format.h>

#include "cli/commands.h"
#include "cli/model_args.h"
#include "common/error.h"
#include "eval/evaluate.h"
#include "model/engine.h"
#include "model/sampler.h"
#include "export/open_model.h"
#ifdef TAMEQ_HAVE_CUDA
#include "model/cuda_engine.h"
#endif

namespace tameq::cli {
namespace {

struct RunArgs {
    std::string model, tokenizer, prompt, engine = "int", device = "cpu";
    int n_predict = 64;
    float temperature = 0.8f;
    float top_p = 0.95f;
    int64_t seed = -1;
    bool no_bos = false;
};

using Clock = std::chrono::steady_clock;

void run_generate(const RunArgs& a) {
    if (a.n_predict < 0) fail("run", "-n must be >= 0");
    const Device device = parse_device(a.device);
    require_device(device);
    Model model = load_model(a.model);
    const std::string engine_desc = device == Device::Cpu ? select_engine(model, parse_engine(a.engine)) : "";
    if (!engine_desc.empty()) std::fprintf(stderr, "engine: %s\n", engine_desc.c_str());
    auto tok = open_tokenizer_for(a.model, a.tokenizer);
    const ModelConfig& c = model.cfg;
    const std::vector<int> prompt_ids = tok->encode(a.prompt, "--prompt");
    std::vector<int> ids;
    if (!a.no_bos) ids.push_back(c.bos_id);
    ids.insert(ids.end(), prompt_ids.begin(), prompt_ids.end());
    if (ids.empty()) fail("run", "empty prompt and --no-bos: nothing to condition on");
    const int ctx = std::min<int>(c.max_positions, int(ids.size()) + a.n_predict);
    if (int(ids.size()) > ctx) fail("run", "prompt of {} tokens exceeds the context of {}", ids.size(), c.max_positions);
    const uint64_t seed = a.seed >= 0 ? uint64_t(a.seed) : std::random_device{}();
    Sampler sampler(a.temperature, a.top_p, seed);
    // One forward for either device: n tokens at the current position, logits of the last.
    std::unique_ptr<Engine> cpu;
#ifdef TAMEQ_HAVE_CUDA
    std::unique_ptr<CudaEngine> gpu;
    if (device == Device::Cuda) {
        gpu = std::make_unique<CudaEngine>(model, ctx);
        std::fprintf(stderr, "engine: %s\n", gpu->describe().c_str());
    }
#endif
    if (device == Device::Cpu) cpu = std::make_unique<Engine>(model, ctx);
    int position = 0;
    std::vector<float> logits(size_t(c.vocab));
    auto forward = [&](const int* t, int n) {
#ifdef TAMEQ_HAVE_CUDA
        if (gpu) gpu->forward(t, n, logits.data(), true);
#endif
        if (cpu) cpu->forward(t, n, logits.data(), Logits::Last);
        position += n;
    };

    std::fputs(a.prompt.c_str(), stdout);
    std::fflush(stdout);
    const auto t0 = Clock::now();
    forward(ids.data(), int(ids.size()));
    const auto t1 = Clock::now();
    TokenStreamer stream(*tok, prompt_ids);  // so the first new token reads as mid-text
    int generated = 0;
    while (generated < a.n_predict && position < ctx) {
        const int next = sampler.sample(logits.data(), c.vocab);
        ++generated;
        if (next == c.eos_id) break;
        std::fputs(stream.push(next).c_str(), stdout);
        std::fflush(stdout);
        if (position >= ctx) break;
        forward(&next, 1);
    }
    std::fputs(stream.flush().c_str(), stdout);
    std::fputs("\n", stdout);
    std::fflush(stdout);  // the text ends before the timing line on a shared terminal or pipe
    const auto t2 = Clock::now();
    const double prefill_s = std::chrono::duration<double>(t1 - t0).count();
    const double decode_s = std::chrono::duration<double>(t2 - t1).count();
    std::fprintf(stderr, "prompt: %zu tokens in %.3f s (%.1f tokens/s); generated: %d tokens in %.3f s (%.1f tokens/s); seed %llu\n",
                 ids.size(), prefill_s, double(ids.size()) / prefill_s, generated, decode_s,
                 generated > 0 ? generated / decode_s : 0.0, (unsigned long long)seed);
}

const CommandRegistrar reg([](CLI::App& app) {
    auto args = std::make_shared<RunArgs>();
    CLI::App* cmd = app.add_subcommand("run", "Generate text from a prompt, streaming tokens");
    cmd->add_option("model", args->model, "Hugging Face directory or llama2.c .bin")->required();
    cmd->add_option("-p,--prompt", args->prompt, "prompt text (BOS is prepended)");
    cmd->add_option("-n,--n-predict", args->n_predict, "tokens to generate")->capture_default_str();
    cmd->add_option("--temp", args->temperature, "sampling temperature; 0 = greedy")->capture_default_str();
    cmd->add_option("--top-p", args->top_p, "nucleus sampling mass")->capture_default_str();
    cmd->add_option("--seed", args->seed, "random seed (default: random, printed at the end)");
    cmd->add_option("--tokenizer", args->tokenizer, "tokenizer file or directory (default: beside the model)");
    cmd->add_flag("--no-bos", args->no_bos, "do not prepend the BOS token");
    cmd->add_option("--engine", args->engine, "quantized models: int (integer kernels where they apply) or sim (simulated)")
        ->check(CLI::IsMember({"int", "sim"}))->capture_default_str();
    add_device_option(cmd, args->device);
    cmd->callback([args] { run_generate(*args); });
});

}  // namespace
}  // namespace tameq::cli
