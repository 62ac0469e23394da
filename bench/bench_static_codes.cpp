// Static activation codes emitted by the norm (issue 17, item 2) against per-token W8A8 and FP32, in one run:
// prefill (128 and 512 tokens, one batched forward, last logits) and decode (single-token steps after a
// 128-token prompt) on gut-llama-27m, gut-opt-24m and a random model with Llama-2-7B layer shapes (1 layer,
// 32000 vocabulary), at 1 and 2 threads. Variants per model:
//   fp32         the FP32 engine (OpenBLAS sgemm)
//   w8a8_token   per-token symmetric W8A8 RTN (`w=8,a=8,a-sym=true`): every linear quantizes its input
//   w8a8_static  OutlierTune W8A8 (`method=outliertune,w=8,a=8,a-sym=true`): each pre-norm emits the static
//                codes once for q/k/v (gate/up, fc1); o and down stay per-token
//   w8a8_static_unfused  the same model with OnlineTransforms::norm_codes off (FP32 norm, each reader
//                quantizes), to separate the fused kernel from the static grid
// and the stages of one 7B-shaped layer at n tokens (FP32 RMSNorm, one per-token quantization pass, the fused
// norm + codes pass, each GEMM). At exit it prints the ratios static/per-token per (model, mode, threads).
//   build/tameq_bench --benchmark_filter=StaticCodes      (TAMEQ_STATIC_7B=0 leaves the 7B-shaped model out)
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/rng.h"
#include "export/open_model.h"
#include "io/tokenizer.h"
#include "kernels/cpu/act_quant.h"
#include "kernels/cpu/norm_codes.h"
#include "kernels/cpu/thread_pool.h"
#include "model/engine.h"
#include "model/fake_quant.h"
#include "model/int_engine.h"
#include "model/int_linear.h"
#include "quant/pipeline.h"
#include "support/synthetic.h"

namespace {

using namespace tameq;

const char* const kVariants[] = {"fp32", "w8a8_token", "w8a8_static", "w8a8_static_unfused"};

std::string calib_text() { return std::string(TAMEQ_SHARED_DIR) + "/data/gutenberg/calib.txt"; }

// The 7B-shaped checkpoint, written once to a temporary directory (BF16, 1 layer).
std::string synthetic_7b_dir() {
    static const std::string dir = [] {
        const std::string d = (std::filesystem::temp_directory_path() / "tameq-static-codes-7b-1layer").string();
        if (!std::filesystem::exists(d + "/config.json")) {
            SyntheticSpec s;
            s.cfg = llama2_7b_shaped(1);
            s.bf16 = true;
            write_synthetic_model(d, s);
        }
        return d;
    }();
    return dir;
}

std::string model_dir(const std::string& model) {
    return model == "llama2_7b_shape_1layer" ? synthetic_7b_dir() : std::string(TAMEQ_SHARED_DIR) + "/models/" + model;
}

// One model per (model, variant), built on first use and kept.
Model& model_for(const std::string& model, const std::string& variant) {
    static std::map<std::string, std::unique_ptr<Model>> cache;
    static std::map<std::string, bool> emits;  // use_integer_kernels' verdict, before the unfused variant turns it off
    const std::string base = variant == "w8a8_static_unfused" ? "w8a8_static" : variant;
    auto& slot = cache[model + "/" + base];
    if (!slot) {
        const std::string dir = model_dir(model);
        if (base == "fp32") {
            slot = std::make_unique<Model>(load_model(dir));
        } else {
            const std::string recipe = base == "w8a8_token" ? "w=8,a=8,a-sym=true" : "method=outliertune,w=8,a=8,a-sym=true";
            // The 7B-shaped model's tokenizer is byte-level: 4 windows of 256 bytes are enough for its random weights.
            const std::string calib = model == "llama2_7b_shape_1layer" ? ",calib-windows=4,calib-ctx=256" : ",calib-windows=16";
            auto tok = load_tokenizer(dir);
            slot = std::make_unique<Model>(quantize_in_memory(dir, parse_recipe(recipe + calib + ",calib=" + calib_text()), *tok));
            const IntegerReport r = use_integer_kernels(*slot);
            std::fprintf(stderr, "%s %s: %d integer linears, %d simulated%s%s, %d norms emit static codes\n", model.c_str(),
                         base.c_str(), r.integer, r.simulated, r.simulated ? ": " : "", r.first_reason.c_str(),
                         r.norm_code_groups);
        }
        emits[model + "/" + base] = slot->online.norm_codes;
    }
    slot->online.norm_codes = variant == "w8a8_static" && emits[model + "/" + base];
    return *slot;
}

std::vector<int> prompt_tokens(const Model& m, int n) {
    std::vector<int> t(static_cast<size_t>(n));
    Rng rng(3);
    for (int& x : t) x = 4 + int(rng.next_u64() % uint64_t(m.cfg.vocab - 4));
    return t;
}

void set_threads(int t) {
    kern::set_num_threads(t);
    openblas_set_num_threads(t);
}

// Seconds per iteration of each benchmark, by (model, mode, threads) then variant, for the ratio table.
std::map<std::string, std::map<std::string, double>>& seconds() {
    static std::map<std::string, std::map<std::string, double>> s;
    return s;
}

void BM_StaticCodes_Prefill(benchmark::State& state, std::string model, std::string variant, int n) {
    set_threads(int(state.range(0)));
    Model& m = model_for(model, variant);
    const auto tokens = prompt_tokens(m, n);
    Engine engine(m, n);
    std::vector<float> logits(static_cast<size_t>(m.cfg.vocab));
    double total = 0;
    for (auto _ : state) {
        const auto t0 = std::chrono::steady_clock::now();
        engine.reset();
        engine.forward(tokens.data(), n, logits.data(), Logits::Last);
        total += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    }
    state.counters["tokens/s"] = benchmark::Counter(n, benchmark::Counter::kIsIterationInvariantRate);
    seconds()[model + " prefill " + std::to_string(n) + " t" + std::to_string(state.range(0))][variant] =
        total / double(state.iterations());
}

// Each iteration: a 128-token prompt (untimed), then `steps` single-token steps (timed).
void BM_StaticCodes_Decode(benchmark::State& state, std::string model, std::string variant, int steps) {
    set_threads(int(state.range(0)));
    Model& m = model_for(model, variant);
    const int n = 128;
    const auto tokens = prompt_tokens(m, n + steps);
    Engine engine(m, n + steps);
    std::vector<float> logits(static_cast<size_t>(m.cfg.vocab));
    double total = 0;
    for (auto _ : state) {
        engine.reset();
        engine.forward(tokens.data(), n, logits.data(), Logits::Last);
        const auto t0 = std::chrono::steady_clock::now();
        for (int i = 0; i < steps; ++i) engine.forward(&tokens[size_t(n + i)], 1, logits.data(), Logits::Last);
        const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        state.SetIterationTime(s);
        total += s;
    }
    state.counters["tokens/s"] = benchmark::Counter(steps, benchmark::Counter::kIsIterationInvariantRate);
    seconds()[model + " decode t" + std::to_string(state.range(0))][variant] = total / double(state.iterations());
}

// The stages of one 7B-shaped layer at n tokens, each alone: what the static codes save (2 FP32 norms and 5
// per-token passes become 2 fused passes) against what stays (the GEMMs, o's and down's per-token passes).
void BM_StaticCodes_Stage(benchmark::State& state, std::string stage, int n) {
    set_threads(int(state.range(0)));
    const Model& m = model_for("llama2_7b_shape_1layer", "w8a8_static");
    const Layer& l = m.layers[0];
    const int k = m.cfg.hidden;
    Rng rng(9);
    std::vector<float> x(size_t(n) * std::max(k, m.cfg.intermediate)), y(size_t(n) * m.cfg.intermediate);
    for (float& v : x) v = float(rng.uniform() * 4 - 2);
    std::vector<uint8_t> q(size_t(n) * m.cfg.intermediate);
    std::vector<float> scale(static_cast<size_t>(n));
    std::vector<int32_t> zero(static_cast<size_t>(n));
    const kern::NormAffine affine{kern::RowNorm::rms, l.attn_norm.weight.data(),
                                  l.attn_norm.bias.empty() ? nullptr : l.attn_norm.bias.data(), m.cfg.norm_eps};
    const auto* q_lin = dynamic_cast<const IntLinear*>(l.q.get());
    for (auto _ : state) {
        if (stage == "norm_fp32") rms_norm(x.data(), n, k, l.attn_norm, m.cfg.norm_eps, y.data());
        else if (stage == "quantize_per_token") kern::quantize_rows_u8(x.data(), n, k, k, 8, true, q.data(), k, scale.data(), zero.data());
        else if (stage == "norm_codes") kern::norm_codes_u8(x.data(), n, k, k, affine, -128, 127, q.data(), q_lin->code_stride());
        else if (stage == "gemm_q") q_lin->forward_codes(q.data(), n, y.data());
        else if (stage == "gemm_up") dynamic_cast<const IntLinear&>(*l.up).forward_codes(q.data(), n, y.data());
        else if (stage == "linear_down") l.down->forward(x.data(), n, y.data());  // per-token pass + GEMM, k = 11008
        benchmark::DoNotOptimize(y.data());
        benchmark::DoNotOptimize(q.data());
    }
}

void BM_StaticCodes_Ratios(benchmark::State& state) {
    for (auto _ : state) {
    }
    std::fprintf(stderr, "\n%-44s %10s %10s %10s %10s %14s %14s\n", "configuration (s/iteration)", "fp32", "token",
                 "static", "unfused", "token/static", "unfused/static");
    for (const auto& [key, v] : seconds()) {
        auto get = [&](const char* name) { return v.count(name) ? v.at(name) : 0.0; };
        const double fp = get("fp32"), tok = get("w8a8_token"), st = get("w8a8_static"), un = get("w8a8_static_unfused");
        if (st <= 0) continue;
        std::fprintf(stderr, "%-44s %10.5f %10.5f %10.5f %10.5f %13.3fx %13.3fx\n", key.c_str(), fp, tok, st, un, tok / st,
                     un / st);
    }
}

const int registered = [] {
    std::vector<std::string> models;
    if (std::filesystem::exists(std::string(TAMEQ_SHARED_DIR) + "/models/gut-llama-27m"))
        models = {"gut-llama-27m", "gut-opt-24m"};
    const char* with_7b = std::getenv("TAMEQ_STATIC_7B");
    if (!models.empty() && !(with_7b && std::string(with_7b) == "0")) models.push_back("llama2_7b_shape_1layer");
    for (const std::string& model : models) {
        const bool big = model == "llama2_7b_shape_1layer";
        for (int n : {128, 512})
            for (const char* v : kVariants)
                benchmark::RegisterBenchmark(("BM_StaticCodes_Prefill/" + model + "/" + v + "/n:" + std::to_string(n)).c_str(),
                                             BM_StaticCodes_Prefill, model, std::string(v), n)
                    ->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseRealTime()
                    ->MinTime(big ? 2.0 : 1.0);
        for (const char* v : kVariants)
            benchmark::RegisterBenchmark(("BM_StaticCodes_Decode/" + model + "/" + v).c_str(), BM_StaticCodes_Decode, model,
                                         std::string(v), big ? 16 : 64)
                ->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMillisecond)->UseManualTime()->Iterations(big ? 2 : 5);
    }
    if (!models.empty() && models.back() == "llama2_7b_shape_1layer")
        for (int n : {128, 512})
            for (const char* stage : {"norm_fp32", "quantize_per_token", "norm_codes", "gemm_q", "gemm_up", "linear_down"})
                benchmark::RegisterBenchmark(("BM_StaticCodes_Stage/7b/" + std::string(stage) + "/n:" + std::to_string(n)).c_str(),
                                             BM_StaticCodes_Stage, std::string(stage), n)
                    ->Arg(1)->Arg(2)->ArgName("threads")->Unit(benchmark::kMicrosecond)->UseRealTime();
    if (!models.empty()) benchmark::RegisterBenchmark("BM_StaticCodes_Ratios", BM_StaticCodes_Ratios)->Iterations(1);
    return int(models.size());
}();

}  // namespace
