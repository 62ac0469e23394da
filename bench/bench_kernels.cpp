// The integer kernels against the machine's limits and against OpenBLAS fp32 in the same run:
//   BM_int8_peak      register-only vpdpbusd loop (the int8 dot-product peak), 1 and 2 threads
//   BM_mem_read       a 512 MiB buffer summed with 256-bit loads, 1 and 2 threads
//   BM_w4a8_stream / BM_w8a8_stream   M = 1 GEMV over 512 MiB of packed copies of one matrix, read in turn
//                     (decode's access pattern: weights come from DRAM), weight GB/s against BM_mem_read
//   BM_act_quant      fused per-token u8 quantization of M × K floats
//   BM_sgemm / BM_w8a8 / BM_w4a8 / BM_w4a8_g128 (per-group scales, groups of 128)   y[M x N] = x[M x K]·Wᵀ on Llama shapes; the integer rows time the
//                     kernel from u8 codes to float outputs (dequantizing epilogue included) and report
//                     TOPS, the fraction of the measured peak, weight GB/s and its fraction of the measured
//                     bandwidth, and the speedup over the sgemm row of the same shape and M.
//                     of_peak_cpu divides ops per CPU second of the process by one core's peak per CPU
//                     second: the kernel's efficiency with the time other processes took removed.
// The kernel thread pool and OpenBLAS both use every core; they never run at the same time.
#include <immintrin.h>

#include <time.h>

#include <chrono>
#include <cstring>
#include <map>
#include <memory>
#include <tuple>
#include <vector>

#include <benchmark/benchmark.h>
#include <cblas.h>
#include <fmt/format.h>

#include "common/rng.h"
#include "kernels/cpu/act_quant.h"
#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/gemm.h"
#include "kernels/cpu/thread_pool.h"
#include "kernel_cases.h"

using namespace tameq;
using namespace tameq::kern;

namespace {

constexpr int peak_accumulators = 24;  // chains in the asm below: enough to cover vpdpbusd's latency

// 24 independent vpdpbusd chains on fixed registers, written in asm: with intrinsics GCC either
// spills the accumulators or, when they start equal, merges the chains into one.
__attribute__((target("avx512f,avx512bw,avx512vnni"))) int64_t dpbusd_loop(int64_t iters) {
    for (int64_t it = 0; it < iters; ++it)
        __asm__ volatile("vpdpbusd %%zmm1, %%zmm0, %%zmm8\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm9\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm10\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm11\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm12\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm13\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm14\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm15\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm16\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm17\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm18\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm19\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm20\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm21\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm22\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm23\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm24\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm25\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm26\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm27\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm28\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm29\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm30\n\tvpdpbusd %%zmm1, %%zmm0, %%zmm31" ::: "xmm0", "xmm1", "xmm8", "xmm9", "xmm10", "xmm11", "xmm12", "xmm13", "xmm14", "xmm15", "xmm16", "xmm17", "xmm18", "xmm19", "xmm20", "xmm21", "xmm22", "xmm23", "xmm24", "xmm25", "xmm26", "xmm27", "xmm28", "xmm29", "xmm30", "xmm31");
    return iters;
}

// Multiply-adds per dpbusd_loop iteration.
constexpr double macs_per_iter = peak_accumulators * 64.0;

__attribute__((target("avx2"))) int64_t sum_bytes(const uint8_t* p, size_t n) {
    __m256i s0 = _mm256_setzero_si256(), s1 = s0, s2 = s0, s3 = s0;
    for (size_t i = 0; i + 128 <= n; i += 128) {
        s0 = _mm256_add_epi64(s0, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i)));
        s1 = _mm256_add_epi64(s1, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 32)));
        s2 = _mm256_add_epi64(s2, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 64)));
        s3 = _mm256_add_epi64(s3, _mm256_load_si256(reinterpret_cast<const __m256i*>(p + i + 96)));
    }
    __m256i s = _mm256_add_epi64(_mm256_add_epi64(s0, s1), _mm256_add_epi64(s2, s3));
    alignas(32) int64_t lanes[4];
    _mm256_store_si256(reinterpret_cast<__m256i*>(lanes), s);
    return lanes[0] + lanes[1] + lanes[2] + lanes[3];
}

constexpr size_t mem_bytes = size_t(512) << 20;

const uint8_t* mem_buffer() {
    static std::unique_ptr<uint8_t, decltype(&std::free)> buf(static_cast<uint8_t*>(std::aligned_alloc(64, mem_bytes)), &std::free);
    static bool filled = [] {
        std::memset(buf.get(), 1, mem_bytes);
        return true;
    }();
    (void)filled;
    return buf.get();
}

// CPU seconds of every thread of the process: on a shared machine the wall time also counts the time
// other processes held our cores; ops per CPU second measures the kernel alone.
double process_cpu_seconds() {
    timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return static_cast<double>(ts.tv_sec) + 1e-9 * static_cast<double>(ts.tv_nsec);
}

struct Seconds {
    double wall, cpu;
};

// One pass of the int8 loop or of the memory sum on `threads` threads (the kernel pool's).
Seconds run_threads(int threads, const std::function<void(int, int)>& fn) {
    set_num_threads(threads);
    double c0 = process_cpu_seconds();
    auto t0 = std::chrono::steady_clock::now();
    parallel_run(fn);
    return {std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count(), process_cpu_seconds() - c0};
}

// Peak ops per wall second on `threads` threads, and per CPU second (one core's peak).
struct Peak {
    double ops, ops_per_cpu_s;
};
Peak measure_peak(int threads) {
    const int64_t iters = 4'000'000;
    Peak best{0, 0};
    for (int rep = 0; rep < 3; ++rep) {
        Seconds s = run_threads(threads, [&](int, int) { benchmark::DoNotOptimize(dpbusd_loop(iters)); });
        double ops = 2.0 * macs_per_iter * iters * threads;
        best.ops = std::max(best.ops, ops / s.wall);
        best.ops_per_cpu_s = std::max(best.ops_per_cpu_s, ops / s.cpu);
    }
    return best;
}

double measure_bandwidth(int threads) {
    const uint8_t* p = mem_buffer();
    double best = 0;
    for (int rep = 0; rep < 3; ++rep) {
        Seconds s = run_threads(threads, [&](int t, int n) {
            size_t chunk = mem_bytes / n;
            benchmark::DoNotOptimize(sum_bytes(p + t * chunk, chunk));
        });
        best = std::max(best, mem_bytes / s.wall);
    }
    return best;
}

// The limits the GEMM rows are measured against: both cores, best of three, taken once per run.
struct Limits {
    Peak peak;
    double bytes_per_s;
};
const Limits& machine_limits() {
    static const Limits l = [] {
        int threads = num_threads();
        Limits r{path_supported(KernelPath::avx512vnni) ? measure_peak(threads) : Peak{0, 0}, measure_bandwidth(threads)};
        set_num_threads(threads);
        return r;
    }();
    return l;
}

// Seconds per call of body, over the benchmark's iterations.
template <typename F>
Seconds timed_loop(benchmark::State& state, F&& body) {
    Seconds total{0, 0};
    for (auto _ : state) {
        double c0 = process_cpu_seconds();
        auto t0 = std::chrono::steady_clock::now();
        body();
        total.wall += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
        total.cpu += process_cpu_seconds() - c0;
    }
    double n = static_cast<double>(state.iterations());
    return {total.wall / n, total.cpu / n};
}

void BM_int8_peak(benchmark::State& state) {
    if (!path_supported(KernelPath::avx512vnni)) return state.SkipWithError("no AVX-512 VNNI");
    int threads = static_cast<int>(state.range(0)), restore = num_threads();
    const int64_t iters = 1'000'000;
    Seconds s = timed_loop(state, [&] { run_threads(threads, [&](int, int) { benchmark::DoNotOptimize(dpbusd_loop(iters)); }); });
    set_num_threads(restore);
    double ops = 2.0 * macs_per_iter * iters * threads;
    state.counters["TOPS"] = ops / s.wall * 1e-12;
    state.counters["TOPS_per_core"] = ops / s.cpu * 1e-12;
}

void BM_mem_read(benchmark::State& state) {
    int threads = static_cast<int>(state.range(0)), restore = num_threads();
    const uint8_t* p = mem_buffer();
    Seconds s = timed_loop(state, [&] {
        run_threads(threads, [&](int t, int n) {
            size_t chunk = mem_bytes / n;
            benchmark::DoNotOptimize(sum_bytes(p + t * chunk, chunk));
        });
    });
    set_num_threads(restore);
    state.counters["GB/s"] = mem_bytes / s.wall * 1e-9;
}

// The weights of the current shape, kept while consecutive benchmarks use it.
struct ShapeData {
    int n = 0, k = 0;
    std::vector<float> w_f32;
    PackedWeights w8, w4, w4g;  // w4g: groups of 128 columns
    std::vector<float> scale_w, scale_wg, bias;
};

ShapeData& shape_data(int n, int k) {
    static ShapeData d;
    if (d.n == n && d.k == k) return d;
    d = ShapeData{};
    d.n = n;
    d.k = k;
    Rng rng(n * 31 + k);
    size_t size = static_cast<size_t>(n) * k;
    std::vector<int8_t> c8(size), c4(size);
    d.w_f32.resize(size);
    for (size_t i = 0; i < size; ++i) {
        uint64_t r = rng.next_u64();
        c8[i] = static_cast<int8_t>(r & 0xff);
        c4[i] = static_cast<int8_t>(static_cast<int>((r >> 8) & 0xf) - 8);
        d.w_f32[i] = static_cast<float>(c8[i]) * 0.01f;
    }
    d.w8 = pack_weights_s8(c8.data(), n, k);
    d.w4 = pack_weights_s4(c4.data(), n, k);
    d.w4g = pack_weights_s4(c4.data(), n, k, 128);
    d.scale_w.assign(n, 0.01f);
    d.scale_wg.assign(static_cast<size_t>(k / 128) * n, 0.01f);
    d.bias.assign(n, 0.0f);
    return d;
}

std::vector<float> activations(int m, int k) {
    Rng rng(m * 7 + k);
    std::vector<float> x(static_cast<size_t>(m) * k);
    for (float& v : x) v = static_cast<float>(rng.uniform() * 2.0 - 1.0);
    return x;
}

// Seconds per call of the sgemm row for (m, n, k), for the speedup counters.
std::map<std::tuple<int, int, int>, double>& sgemm_seconds() {
    static std::map<std::tuple<int, int, int>, double> s;
    return s;
}

void BM_sgemm(benchmark::State& state) {
    int m = static_cast<int>(state.range(0)), n = static_cast<int>(state.range(1)), k = static_cast<int>(state.range(2));
    ShapeData& d = shape_data(n, k);
    auto x = activations(m, k);
    std::vector<float> y(static_cast<size_t>(m) * n);
    double s = timed_loop(state, [&] {
        if (m == 1) cblas_sgemv(CblasRowMajor, CblasNoTrans, n, k, 1.0f, d.w_f32.data(), k, x.data(), 1, 0.0f, y.data(), 1);
        else cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, k, 1.0f, x.data(), k, d.w_f32.data(), k, 0.0f, y.data(), n);
        benchmark::ClobberMemory();
    }).wall;
    sgemm_seconds()[{m, n, k}] = s;
    state.counters["TFLOPS"] = 2.0 * m * n * k / s * 1e-12;
    state.counters["weight_GB/s"] = 4.0 * n * k / s * 1e-9;
}

void integer_gemm(benchmark::State& state, int bits, bool grouped) {
    int m = static_cast<int>(state.range(0)), n = static_cast<int>(state.range(1)), k = static_cast<int>(state.range(2));
    ShapeData& d = shape_data(n, k);
    const PackedWeights& w = bits == 8 ? d.w8 : grouped ? d.w4g : d.w4;
    auto x = activations(m, k);
    std::vector<uint8_t> q(static_cast<size_t>(m) * k);
    std::vector<float> scale_a(m), y(static_cast<size_t>(m) * n);
    std::vector<int32_t> zero_a(m);
    quantize_rows_u8(x.data(), m, k, k, 8, false, q.data(), k, scale_a.data(), zero_a.data());
    Dequant dq{scale_a.data(), zero_a.data(), grouped ? d.scale_wg.data() : d.scale_w.data(), d.bias.data()};
    const Limits& lim = machine_limits();
    Seconds t = timed_loop(state, [&] {
        if (grouped) gemm_u8_f32_grouped(q.data(), m, k, w, dq, y.data(), n);
        else gemm_u8_f32(q.data(), m, k, w, dq, y.data(), n);
        benchmark::ClobberMemory();
    });
    double s = t.wall, ops = 2.0 * m * n * k / s;
    state.counters["TOPS"] = ops * 1e-12;
    if (lim.peak.ops > 0) {
        state.counters["of_peak"] = ops / lim.peak.ops;
        state.counters["of_peak_cpu"] = 2.0 * m * n * k / t.cpu / lim.peak.ops_per_cpu_s;
    }
    state.counters["weight_GB/s"] = w.bytes() / s * 1e-9;
    state.counters["of_bw"] = w.bytes() / s / lim.bytes_per_s;
    auto it = sgemm_seconds().find({m, n, k});
    if (it != sgemm_seconds().end()) state.counters["x_sgemm"] = it->second / s;
    state.SetLabel(path_name(active_path()));
}

// Decode streams every layer's weights once per token, from memory, not from the last-level cache: M = 1
// over enough packed copies of one matrix to fill mem_bytes, one after another, so no call finds its
// weights cached (a single 4096 x 11008 W4 matrix, 22.5 MB, stays in L3 and reads at 1.4-1.7x DRAM speed).
void streamed_gemv(benchmark::State& state, int bits) {
    int n = static_cast<int>(state.range(0)), k = static_cast<int>(state.range(1));
    Rng rng(n * 131 + k);
    std::vector<int8_t> codes(static_cast<size_t>(n) * k);
    for (int8_t& c : codes) c = static_cast<int8_t>(bits == 8 ? int(rng.next_u64() & 0xff) - 128 : int(rng.next_u64() & 0xf) - 8);
    std::vector<PackedWeights> copies;
    size_t total = 0;
    while (total < mem_bytes) {
        copies.push_back(bits == 8 ? pack_weights_s8(codes.data(), n, k) : pack_weights_s4(codes.data(), n, k));
        total += copies.back().bytes();
    }
    auto x = activations(1, k);
    std::vector<uint8_t> q(static_cast<size_t>(k));
    std::vector<float> scale_w(n, 0.01f), bias(n, 0.0f), y(n);
    float scale_a = 0;
    int32_t zero_a = 0;
    quantize_rows_u8(x.data(), 1, k, k, 8, false, q.data(), k, &scale_a, &zero_a);
    Dequant dq{&scale_a, &zero_a, scale_w.data(), bias.data()};
    const Limits& lim = machine_limits();
    size_t next = 0;
    Seconds t = timed_loop(state, [&] {
        gemm_u8_f32(q.data(), 1, k, copies[next], dq, y.data(), n);
        next = (next + 1) % copies.size();
        benchmark::ClobberMemory();
    });
    state.counters["weight_GB/s"] = copies[0].bytes() / t.wall * 1e-9;
    state.counters["of_bw"] = copies[0].bytes() / t.wall / lim.bytes_per_s;
    state.SetLabel(fmt::format("{}, {} copies, threads {}", path_name(active_path()), copies.size(), num_threads()));
}

void BM_w8a8(benchmark::State& state) { integer_gemm(state, 8, false); }
void BM_w4a8(benchmark::State& state) { integer_gemm(state, 4, false); }
void BM_w4a8_g128(benchmark::State& state) { integer_gemm(state, 4, true); }

void BM_act_quant(benchmark::State& state) {
    int m = static_cast<int>(state.range(0)), k = static_cast<int>(state.range(1));
    auto x = activations(m, k);
    std::vector<uint8_t> q(static_cast<size_t>(m) * k);
    std::vector<float> scale(m);
    std::vector<int32_t> zero(m);
    double s = timed_loop(state, [&] {
        quantize_rows_u8(x.data(), m, k, k, 8, false, q.data(), k, scale.data(), zero.data());
        benchmark::ClobberMemory();
    }).wall;
    state.counters["float_GB/s"] = 4.0 * m * k / s * 1e-9;
}

void register_all() {
    benchmark::RegisterBenchmark("BM_int8_peak", BM_int8_peak)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
    benchmark::RegisterBenchmark("BM_mem_read", BM_mem_read)->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
    for (auto [n, k] : {std::pair{4096, 4096}, std::pair{11008, 4096}}) {
        benchmark::RegisterBenchmark("BM_w4a8_stream", [](benchmark::State& s) { streamed_gemv(s, 4); })
            ->Args({n, k})->ArgNames({"N", "K"})->UseRealTime()->Unit(benchmark::kMicrosecond);
        benchmark::RegisterBenchmark("BM_w8a8_stream", [](benchmark::State& s) { streamed_gemv(s, 8); })
            ->Args({n, k})->ArgNames({"N", "K"})->UseRealTime()->Unit(benchmark::kMicrosecond);
    }
    for (int m : {1, 128, 512}) benchmark::RegisterBenchmark("BM_act_quant", BM_act_quant)->Args({m, 4096})->Unit(benchmark::kMicrosecond);
    struct Row {
        const char* name;
        void (*fn)(benchmark::State&);
    };
    const Row rows[] = {{"BM_sgemm", BM_sgemm}, {"BM_w8a8", BM_w8a8}, {"BM_w4a8", BM_w4a8}, {"BM_w4a8_g128", BM_w4a8_g128}};
    for (const auto& [n, k, what] : tameq::test::kLlamaLinearShapes)
        for (int m : tameq::test::kCpuBenchRows)
            for (const Row& r : rows)
                benchmark::RegisterBenchmark(r.name, r.fn)->Args({m, n, k})->ArgNames({"M", "N", "K"})->UseRealTime()->Unit(benchmark::kMillisecond);
}

const bool registered = (register_all(), true);

}  // namespace
