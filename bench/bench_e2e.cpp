// End-to-end speed and memory of the engine: prefill (tokens/s over one batched forward of the prompt) and
// decode (tokens/s over single-token steps after the prompt), with the process's resident memory.
// A Google Benchmark file rather than a CLI subcommand: it sits with the other benchmarks, prints and writes
// JSON the same way, and peak RSS stays per configuration because scripts/bench-llamacpp.sh runs one
// process per model. FP models run the FP32 path; quantized directories run the integer kernels.
//   TAMEQ_E2E_MODELS='fp32=DIR;w4a8=DIR2' TAMEQ_THREADS=2 OPENBLAS_NUM_THREADS=2 build/tameq_bench --benchmark_filter=E2E
// Without TAMEQ_E2E_MODELS: ../shared/models/gut-llama-27m. TAMEQ_E2E_PROMPT (512) and TAMEQ_E2E_GEN (128) set the
// token counts. TAMEQ_E2E_MAKE_SYNTHETIC=DIR:LAYERS first writes a random model with Llama-2-7B layer shapes to
// DIR (BF16, unless DIR already holds one), so a script can quantize and export it.
#include <benchmark/benchmark.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>

#include "common/rng.h"
#include "export/open_model.h"
#include "quant/quantized_format.h"
#include "model/engine.h"
#include "support/synthetic.h"
#include "model/int_engine.h"

namespace {

using namespace tameq;

int env_int(const char* name, int fallback) {
    const char* v = std::getenv(name);
    return v && *v ? std::atoi(v) : fallback;
}

double rss_mb() {
    long pages = 0, resident = 0;
    if (FILE* f = std::fopen("/proc/self/statm", "r")) {
        if (std::fscanf(f, "%ld %ld", &pages, &resident) != 2) resident = 0;
        std::fclose(f);
    }
    return double(resident) * double(sysconf(_SC_PAGESIZE)) / 1e6;
}

double peak_rss_mb() {
    rusage u{};
    getrusage(RUSAGE_SELF, &u);
    return double(u.ru_maxrss) * 1024.0 / 1e6;  // ru_maxrss is in KiB on Linux
}

// One model per label, loaded on first use and kept (prefill and decode share it).
Model& model_for(const std::string& path) {
    static std::map<std::string, std::unique_ptr<Model>> cache;
    auto& slot = cache[path];
    if (!slot) {
        slot = std::make_unique<Model>(load_model(path));
        if (is_quantized_dir(path)) {
            const IntegerReport r = use_integer_kernels(*slot);
            std::fprintf(stderr, "%s: integer kernels for %d linears, simulated for %d%s%s\n", path.c_str(), r.integer,
                         r.simulated, r.simulated ? ": " : "", r.first_reason.c_str());
        }
    }
    return *slot;
}

std::vector<int> prompt_tokens(const Model& m, int n) {
    std::vector<int> t(static_cast<size_t>(n));
    Rng rng(3);
    for (int& x : t) x = 4 + int(rng.next_u64() % uint64_t(m.cfg.vocab - 4));  // past the specials
    return t;
}

int argmax(const std::vector<float>& v) { return int(std::max_element(v.begin(), v.end()) - v.begin()); }

void add_memory_counters(benchmark::State& state) {
    state.counters["rss_MB"] = rss_mb();
    state.counters["peak_rss_MB"] = peak_rss_mb();
}

void BM_E2E_Prefill(benchmark::State& state, const std::string& path) {
    Model& m = model_for(path);
    const int n = env_int("TAMEQ_E2E_PROMPT", 512);
    const auto tokens = prompt_tokens(m, n);
    Engine engine(m, n + env_int("TAMEQ_E2E_GEN", 128));
    std::vector<float> logits(size_t(m.cfg.vocab));
    for (auto _ : state) {
        engine.reset();
        engine.forward(tokens.data(), n, logits.data(), Logits::Last);
    }
    state.counters["tokens/s"] = benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate);
    add_memory_counters(state);
}

// Each iteration: the prompt (untimed), then `gen` greedy single-token steps (timed).
void BM_E2E_Decode(benchmark::State& state, const std::string& path) {
    Model& m = model_for(path);
    const int n = env_int("TAMEQ_E2E_PROMPT", 512), gen = env_int("TAMEQ_E2E_GEN", 128);
    const auto tokens = prompt_tokens(m, n);
    Engine engine(m, n + gen);
    std::vector<float> logits(size_t(m.cfg.vocab));
    for (auto _ : state) {
        engine.reset();
        engine.forward(tokens.data(), n, logits.data(), Logits::Last);
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < gen; ++i) {
            const int next = argmax(logits);
            engine.forward(&next, 1, logits.data(), Logits::Last);
        }
        state.SetIterationTime(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    state.counters["tokens/s"] = benchmark::Counter(gen, benchmark::Counter::kIsIterationInvariantRate);
    add_memory_counters(state);
}

void make_synthetic(const std::string& spec) {
    const auto colon = spec.rfind(':');
    const std::string dir = spec.substr(0, colon);
    if (std::filesystem::exists(dir + "/config.json")) return;
    SyntheticSpec s;
    s.cfg = llama2_7b_shaped(colon == std::string::npos ? 2 : std::atoi(spec.c_str() + colon + 1));
    s.bf16 = true;
    write_synthetic_model(dir, s);
}

// Registers one prefill and one decode benchmark per model of TAMEQ_E2E_MODELS before benchmark_main runs.
const int registered = [] {
    if (const char* s = std::getenv("TAMEQ_E2E_MAKE_SYNTHETIC")) make_synthetic(s);
    std::string list = std::getenv("TAMEQ_E2E_MODELS") ? std::getenv("TAMEQ_E2E_MODELS") : "";
    if (list.empty()) {
        const std::string path = std::string(TAMEQ_SHARED_DIR) + "/models/gut-llama-27m";
        if (!std::filesystem::exists(path)) return 0;
        list = "gut_llama_27m_fp32=" + path;
    }
    int n = 0;
    for (size_t pos = 0; pos < list.size();) {
        size_t end = list.find(';', pos);
        if (end == std::string::npos) end = list.size();
        const std::string item = list.substr(pos, end - pos);
        pos = end + 1;
        const auto eq = item.find('=');
        if (eq == std::string::npos || eq + 1 == item.size()) continue;  // "label=" registers nothing
        const std::string label = item.substr(0, eq), path = item.substr(eq + 1);
        benchmark::RegisterBenchmark(("E2E_Prefill/" + label).c_str(), BM_E2E_Prefill, path)
            ->Unit(benchmark::kMillisecond)->UseRealTime()->MinTime(1.0);
        benchmark::RegisterBenchmark(("E2E_Decode/" + label).c_str(), BM_E2E_Decode, path)
            ->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(2);
        ++n;
    }
    return n;
}();

}  // namespace
