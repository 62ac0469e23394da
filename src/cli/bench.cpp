// tameq bench MODEL [-p 512,2048] [-n 128] [-r 5] [-t 1,2]: llama-bench's measurement for tameq's engines.
// For every prompt length and thread count: prefill of the prompt (tokens/s, time to the first token's logits)
// and decode of n tokens after it, each repetition from an empty cache, after one untimed warm-up. Speed does not
// depend on the token values, so prompts are seeded random ids and generation is greedy; no tokenizer is read.
#include <sys/resource.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <map>
#include <memory>
#include <random>

#include <CLI/CLI.hpp>
#include <cblas.h>
#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/commands.h"
#include "cli/model_args.h"
#include "common/error.h"
#include "eval/evaluate.h"
#include "export/open_model.h"
#include "kernels/cpu/thread_pool.h"
#include "model/engine.h"
#ifdef TAMEQ_HAVE_CUDA
#include "model/cuda_engine.h"
#endif

namespace tameq::cli {
namespace {

struct BenchArgs {
    std::string model, engine = "int", device = "cpu";
    std::vector<int> prompts{512}, threads;
    int n_gen = 128;
    int reps = 5;
    int64_t seed = 1;
    bool json = false;
};

using Clock = std::chrono::steady_clock;

// One engine behind the two calls the benchmark makes: reset, and n tokens in with the last row's logits out.
class Runner {
public:
    Runner(const Model& m, Device d, int ctx) {
#ifdef TAMEQ_HAVE_CUDA
        if (d == Device::Cuda) {
            gpu_ = std::make_unique<CudaEngine>(m, ctx);
            return;
        }
#endif
        (void)d;
        cpu_ = std::make_unique<Engine>(m, ctx);
    }
    void reset() {
        if (cpu_) cpu_->reset();
#ifdef TAMEQ_HAVE_CUDA
        if (gpu_) gpu_->reset();
#endif
    }
    // Returns after the logits are on the host (for the GPU: after the device finished the forward).
    void forward(const int* t, int n, float* logits) {
        if (cpu_) cpu_->forward(t, n, logits, Logits::Last);
#ifdef TAMEQ_HAVE_CUDA
        if (gpu_) gpu_->forward(t, n, logits, true);
#endif
    }
    std::string describe() const {
#ifdef TAMEQ_HAVE_CUDA
        if (gpu_) return gpu_->describe();
#endif
        return "";
    }

private:
    std::unique_ptr<Engine> cpu_;
#ifdef TAMEQ_HAVE_CUDA
    std::unique_ptr<CudaEngine> gpu_;
#endif
};

struct Stats {
    double mean = 0, sd = 0;
};
Stats stats_of(const std::vector<double>& v) {
    Stats s;
    for (double x : v) s.mean += x;
    s.mean /= double(v.size());
    for (double x : v) s.sd += (x - s.mean) * (x - s.mean);
    s.sd = v.size() > 1 ? std::sqrt(s.sd / double(v.size() - 1)) : 0.0;
    return s;
}

// Which kernel runs each linear of the blocks, and lm_head: "kind × count" over the whole model.
std::string linear_kinds(const Model& m) {
    std::map<std::string, int> count;
    for (const Layer& l : m.layers)
        for (const std::unique_ptr<Linear>* slot : l.linears())
            if (*slot) ++count[(*slot)->kind()];
    std::string out;
    for (const auto& [kind, n] : count) out += fmt::format("{}{} × {}", out.empty() ? "" : ", ", n, kind);
    if (m.lm_head) out += fmt::format("; lm_head {}", m.lm_head->kind());
    return out;
}

int argmax(const std::vector<float>& v) { return int(std::max_element(v.begin(), v.end()) - v.begin()); }

void run_bench(const BenchArgs& a) {
    if (a.n_gen < 0) fail("bench", "-n must be >= 0, got {}", a.n_gen);
    if (a.reps < 1) fail("bench", "-r must be >= 1, got {}", a.reps);
    for (int p : a.prompts)
        if (p < 1) fail("bench", "-p: prompt lengths must be >= 1, got {}", p);
    for (int t : a.threads)
        if (t < 1) fail("bench", "-t: thread counts must be >= 1, got {}", t);
    const Device device = parse_device(a.device);
    require_device(device);
    Model model = load_model(a.model);
    const ModelConfig& c = model.cfg;
    const int ctx = *std::max_element(a.prompts.begin(), a.prompts.end()) + a.n_gen;
    if (ctx > c.max_positions)
        fail(a.model, "-p {} with -n {} needs a context of {} tokens; the model holds {}",
             *std::max_element(a.prompts.begin(), a.prompts.end()), a.n_gen, ctx, c.max_positions);
    std::string engine = device == Device::Cpu ? select_engine(model, parse_engine(a.engine)) : "";
    Runner runner(model, device, ctx);
    if (device == Device::Cuda) engine = runner.describe();
    if (engine.empty()) engine = "FP32";
    const std::vector<int> threads = a.threads.empty() ? std::vector<int>{kern::num_threads()} : a.threads;

    std::mt19937 rng(uint32_t(a.seed));
    std::uniform_int_distribution<int> token(0, c.vocab - 1);
    std::vector<float> logits(size_t(c.vocab));
    nlohmann::json rows = nlohmann::json::array();
    if (!a.json) {
        fmt::print("model: {}\nengine: {}\nlinears: {}\n\n", a.model, engine,
                   device == Device::Cpu ? linear_kinds(model) : "on the GPU (see engine)");
        fmt::print("| threads | test | tokens/s | ms (pp: time to the first token's logits) |\n|---|---|---|---|\n");
    }
    for (int t : threads) {
        if (device == Device::Cpu) {
            kern::set_num_threads(t);
            openblas_set_num_threads(t);
        }
        for (int p : a.prompts) {
            std::vector<int> prompt(static_cast<size_t>(p));
            prompt[0] = c.bos_id;
            for (int i = 1; i < p; ++i) prompt[size_t(i)] = token(rng);
            std::vector<double> pp_s, tg_s;
            for (int rep = -1; rep < a.reps; ++rep) {  // rep -1: the warm-up, not recorded
                runner.reset();
                const auto t0 = Clock::now();
                runner.forward(prompt.data(), p, logits.data());
                const auto t1 = Clock::now();
                for (int g = 0; g < a.n_gen; ++g) {
                    const int next = argmax(logits);
                    runner.forward(&next, 1, logits.data());
                }
                const auto t2 = Clock::now();
                if (rep < 0) continue;
                pp_s.push_back(std::chrono::duration<double>(t1 - t0).count());
                tg_s.push_back(std::chrono::duration<double>(t2 - t1).count());
            }
            std::vector<double> pp_rate, tg_rate;
            for (double s : pp_s) pp_rate.push_back(p / s);
            for (double s : tg_s) tg_rate.push_back(a.n_gen / s);
            const Stats ppr = stats_of(pp_rate), pps = stats_of(pp_s);
            rows.push_back({{"threads", t}, {"test", fmt::format("pp{}", p)}, {"prompt", p}, {"tokens_per_s", ppr.mean},
                            {"tokens_per_s_sd", ppr.sd}, {"ms", pps.mean * 1e3}});  // a pp row's ms is the time to the first token's logits
            if (!a.json)
                fmt::print("| {} | pp{} | {:.1f} ± {:.1f} | {:.2f} |\n", t, p, ppr.mean, ppr.sd, pps.mean * 1e3);
            if (a.n_gen > 0) {
                const Stats tgr = stats_of(tg_rate), tgs = stats_of(tg_s);
                rows.push_back({{"threads", t}, {"test", fmt::format("tg{} @ pp{}", a.n_gen, p)}, {"prompt", p},
                                {"generated", a.n_gen}, {"tokens_per_s", tgr.mean}, {"tokens_per_s_sd", tgr.sd},
                                {"ms", tgs.mean * 1e3}});
                if (!a.json)
                    fmt::print("| {} | tg{} @ pp{} | {:.1f} ± {:.1f} | {:.2f} |\n", t, a.n_gen, p, tgr.mean, tgr.sd,
                               tgs.mean * 1e3);
            }
            std::fflush(stdout);
        }
    }
    rusage ru{};
    getrusage(RUSAGE_SELF, &ru);
    const double peak_mib = double(ru.ru_maxrss) / 1024.0;  // Linux reports KiB
    if (a.json) {
        const nlohmann::json out = {{"model", a.model}, {"engine", engine}, {"device", a.device},
                                    {"repetitions", a.reps}, {"peak_rss_mib", peak_mib}, {"rows", rows}};
        fmt::print("{}\n", out.dump(2));
    } else {
        fmt::print("\n{} repetitions after one warm-up, each from an empty cache; peak resident memory {:.1f} MiB\n",
                   a.reps, peak_mib);
    }
}

const CommandRegistrar reg([](CLI::App& app) {
    auto args = std::make_shared<BenchArgs>();
    CLI::App* cmd = app.add_subcommand("bench", "Prefill and decode speed of a model (llama-bench's measurement)");
    cmd->add_option("model", args->model, "Hugging Face directory, llama2.c .bin or quantized directory")->required();
    cmd->add_option("-p,--prompt", args->prompts, "prompt lengths in tokens, comma-separated")
        ->delimiter(',')->capture_default_str();
    cmd->add_option("-n,--n-gen", args->n_gen, "tokens generated after each prompt (0: prefill only)")->capture_default_str();
    cmd->add_option("-r,--repetitions", args->reps, "timed repetitions of each test")->capture_default_str();
    cmd->add_option("-t,--threads", args->threads, "CPU thread counts, comma-separated (default: TAMEQ_THREADS or all cores)")
        ->delimiter(',');
    cmd->add_option("--seed", args->seed, "seed of the random prompt tokens")->capture_default_str();
    cmd->add_option("--engine", args->engine, "quantized models: int (integer kernels where they apply) or sim (simulated)")
        ->check(CLI::IsMember({"int", "sim"}))->capture_default_str();
    cmd->add_flag("--json", args->json, "print the rows as JSON instead of a table");
    add_device_option(cmd, args->device);
    cmd->callback([args] { run_bench(*args); });
});

}  // namespace
}  // namespace tameq::cli
