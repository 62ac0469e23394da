// Decode memory of the integer engine for W4A4KV4 (the target in docs/results/int-engine-memory.md: at most 0.3x the FP16 size of the weights plus
// the cache). Not a timing: one iteration per model that quantizes it in memory (RTN, QuaRot rotation),
// switches it to the integer kernels, and reports as counters the resident bytes of what decoding holds
// (block linears as packed codes + scales, lm_head in BF16, embeddings in BF16 where exact, else FP32, the KV
// cache as allocated at context 2048) against the FP16 size of the same weights and an FP16 cache.
//   BM_decode_memory/gut-llama-27m   the shared model (skips without ../shared)
//   BM_decode_memory/7b-shaped       Llama-2-7B shapes, 2 random layers measured, counters scaled to 32
#include <filesystem>
#include <memory>
#include <unistd.h>

#include <benchmark/benchmark.h>
#include <fmt/format.h>

#include "io/tokenizer.h"
#include "model/bf16_linear.h"
#include "model/engine.h"
#include "support/synthetic.h"
#include "model/int_engine.h"
#include "model/int_linear.h"
#include "quant/pipeline.h"
#include "quant/recipe.h"

namespace {

using namespace tameq;
constexpr int ctx = 2048;
constexpr const char* recipe = "rotate=rh,w=4,a=4,kv=4,w-clip-search=0";

// Bytes of a linear as this engine holds it, and its parameter count.
size_t linear_bytes(const Linear& l, int64_t* params) {
    *params += int64_t(l.in_features()) * l.out_features();
    if (auto* il = dynamic_cast<const IntLinear*>(&l)) return il->weight_bytes();
    if (auto* bl = dynamic_cast<const Bf16Linear*>(&l)) return bl->weight_bytes();
    const DenseLinear& d = as_dense(l);
    *params += int64_t(d.bias.size());
    return (d.weight.size() + d.bias.size()) * sizeof(float);
}

size_t norm_bytes(const Norm& n, int64_t* params) {
    *params += int64_t(n.weight.size() + n.bias.size());
    return (n.weight.size() + n.bias.size()) * sizeof(float);
}

void report(benchmark::State& state, const std::string& path, int layers_scale) {
    auto tok = load_tokenizer(path);
    Model m = quantize_in_memory(path, parse_recipe(recipe), *tok);
    const IntegerReport r = use_integer_kernels(m);
    if (r.simulated) state.SkipWithError(("simulated linears left: " + r.first_reason).c_str());
    const ModelConfig& c = m.cfg;
    int64_t block_params = 0, other_params = 0;
    size_t block = 0, other = 0;
    for (const Layer& l : m.layers) {
        for (const auto* p : l.linears())
            if (*p) block += linear_bytes(**p, &block_params);
        block += norm_bytes(l.attn_norm, &block_params) + norm_bytes(l.mlp_norm, &block_params);
    }
    other += m.embed.size() * sizeof(float) + m.embed_bf16.size() * sizeof(uint16_t);
    other_params += int64_t(m.embed.size() + m.embed_bf16.size());
    other += linear_bytes(*m.lm_head, &other_params) + norm_bytes(m.final_norm, &other_params);
    // The cache as the engine allocates it, for the full depth.
    const int layers = c.n_layers * layers_scale;
    const size_t cache = KvCache(layers, ctx, c.n_kv_heads, c.head_dim, m.kv_policy.get()).bytes();
    const double fp16_cache = 2.0 * layers * ctx * c.n_kv_heads * c.head_dim * 2.0;
    block *= size_t(layers_scale);
    block_params *= layers_scale;
    for (auto _ : state) benchmark::DoNotOptimize(cache);
    const double gib = 1 << 30;
    const double fp16 = 2.0 * double(block_params + other_params) + fp16_cache;
    state.counters["blocks_GiB"] = double(block) / gib;
    state.counters["embed_head_GiB"] = double(other) / gib;
    state.counters["kv_GiB"] = double(cache) / gib;
    state.counters["fp16_GiB"] = fp16 / gib;
    state.counters["ratio"] = double(block + other + cache) / fp16;
    // The part the integer kernels own (blocks + cache) against its FP16 size.
    state.counters["ratio_blocks_kv"] = double(block + cache) / (2.0 * double(block_params) + fp16_cache);
    state.SetLabel(fmt::format("{} layers, kv codes {}, fused R4 {}, lm_head BF16 {}, embeddings BF16 {}", layers,
                               r.kv_codes, r.fused_hadamard, r.head_bf16, r.embed_bf16));
}

void BM_decode_memory_gut(benchmark::State& state) {
    const std::string path = std::string(TAMEQ_SHARED_DIR) + "/models/gut-llama-27m";
    if (!std::filesystem::exists(path)) return state.SkipWithError("../shared/models/gut-llama-27m is absent");
    report(state, path, 1);
}
BENCHMARK(BM_decode_memory_gut)->Name("BM_decode_memory/gut-llama-27m")->Iterations(1);

void BM_decode_memory_7b(benchmark::State& state) {
    const auto dir = std::filesystem::temp_directory_path() / ("tameq-mem7b-" + std::to_string(::getpid()));
    SyntheticSpec spec;
    spec.cfg = llama2_7b_shaped(2);
    spec.bf16 = true;
    write_synthetic_model(dir.string(), spec);
    report(state, dir.string(), 16);  // 2 layers measured, 32 reported
    std::filesystem::remove_all(dir);
}
BENCHMARK(BM_decode_memory_7b)->Name("BM_decode_memory/7b-shaped")->Iterations(1);

}  // namespace
