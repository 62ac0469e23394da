// GEMM lab: every integer GEMM path checked against the CPU oracle, then timed against cuBLAS
// BF16 in the same run. Usage: gemm_lab [reps] [oracle_rows] [v2]  (defaults 20, 16 and 1; v2 = 0 leaves the
// lab-only wgmma kernel out, so a fault in it cannot take the other paths' numbers down with it).
//
// Checks, per shape, on fresh random codes with poisoned outputs:
//   - cuBLASLt s8 and our mma s8 / W4 accumulators against gemm_s8_ref on `oracle_rows` rows (bit-exact),
//     and our mma s8 against cuBLASLt on every element (bit-exact);
//   - every bf16 epilogue (fused, and cuBLASLt + dequant pass) against dequant_bf16_ref of the exact
//     accumulators on every element (bit-exact);
//   - cuBLAS BF16 against the oracle rows (relative error, information only);
//   - each variant of the lab-only v2 (wgmma) against cuBLASLt and the oracle epilogue on every element, where
//     k % 128 == 0.
// Timing: CUDA events around each call, 3 warm-ups, median of `reps`.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <functional>
#include <iterator>
#include <string>
#include <vector>

#include <cuda_runtime_api.h>

#include "kernels/cuda/blas.h"
#include "kernels/cuda/gemm_int8.h"
#include "kernels/cuda/gemm_ref.h"
#include "kernel_cases.h"
#include "v2_wgmma.h"

using namespace tameq;
using namespace tameq::cuda;

namespace {

struct Shape {
    int m, n, k;
};

uint64_t rng_state = 0x9e3779b97f4a7c15ull;
uint64_t next_rand() {  // xorshift64*: fast enough for 64M codes per matrix
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dull;
}
std::vector<int8_t> random_codes(size_t count, int lo, int hi) {
    std::vector<int8_t> v(count);
    for (auto& x : v) x = int8_t(lo + int(next_rand() >> 33) % (hi - lo + 1));
    return v;
}
std::vector<float> random_scales(size_t count) {
    std::vector<float> v(count);
    for (auto& x : v) x = 1e-4f + float(next_rand() >> 40) * 1e-9f;
    return v;
}

template <typename T>
struct DeviceBuffer {
    T* ptr = nullptr;
    size_t count = 0;
    explicit DeviceBuffer(size_t n) : count(n) {
        check(cudaMalloc(reinterpret_cast<void**>(&ptr), n * sizeof(T)), "cudaMalloc");
    }
    DeviceBuffer(const std::vector<T>& host) : DeviceBuffer(host.size()) {
        check(cudaMemcpy(ptr, host.data(), count * sizeof(T), cudaMemcpyHostToDevice), "cudaMemcpy H2D");
    }
    ~DeviceBuffer() { cudaFree(ptr); }
    DeviceBuffer(const DeviceBuffer&) = delete;
    DeviceBuffer& operator=(const DeviceBuffer&) = delete;
    void poison() { check(cudaMemset(ptr, 0xff, count * sizeof(T)), "cudaMemset"); }
    std::vector<T> host() const {
        std::vector<T> h(count);
        check(cudaMemcpy(h.data(), ptr, count * sizeof(T), cudaMemcpyDeviceToHost), "cudaMemcpy D2H");
        return h;
    }
};

double median_ms(const std::function<void()>& fn, int reps) {
    cudaEvent_t start, stop;
    check(cudaEventCreate(&start), "cudaEventCreate");
    check(cudaEventCreate(&stop), "cudaEventCreate");
    for (int i = 0; i < 3; ++i) fn();
    std::vector<double> t;
    for (int i = 0; i < reps; ++i) {
        check(cudaEventRecord(start), "cudaEventRecord");
        fn();
        check(cudaEventRecord(stop), "cudaEventRecord");
        check(cudaEventSynchronize(stop), "cudaEventSynchronize");
        float ms = 0;
        check(cudaEventElapsedTime(&ms, start, stop), "cudaEventElapsedTime");
        t.push_back(ms);
    }
    check_launch("timed call", true);
    cudaEventDestroy(start);
    cudaEventDestroy(stop);
    std::sort(t.begin(), t.end());
    return t[t.size() / 2];
}

// The v2 variants, in the order of the TABLE columns.
struct V2Variant {
    const char* name;
    LabWgmma config;
};
constexpr V2Variant V2_VARIANTS[] = {{"v2 wgmma", {false, false}},
                                     {"v2 wgmma in-flight", {false, true}},
                                     {"v2 wgmma sw128", {true, false}},
                                     {"v2 wgmma sw128 in-flight", {true, true}}};

int failures = 0;
void report(const char* what, size_t bad, size_t total) {
    std::printf("  check %-28s %s (%zu of %zu differ)\n", what, bad == 0 ? "ok  " : "FAIL", bad, total);
    if (bad) ++failures;
}

// Rows of the oracle check: evenly spaced, always including the first and the last.
std::vector<int> oracle_rows(int m, int count) {
    std::vector<int> rows;
    for (int i = 0; i < count; ++i) rows.push_back(count == 1 ? 0 : int(int64_t(m - 1) * i / (count - 1)));
    rows.erase(std::unique(rows.begin(), rows.end()), rows.end());
    return rows;
}

size_t diff_rows(const std::vector<int32_t>& got, const std::vector<int8_t>& a, const std::vector<int8_t>& w,
                 const std::vector<int>& rows, const Shape& s) {
    size_t bad = 0;
    std::vector<int32_t> ref(s.n);
    for (int r : rows) {
        gemm_s8_ref(a.data() + size_t(r) * s.k, w.data(), 1, s.n, s.k, ref.data());
        for (int j = 0; j < s.n; ++j) bad += got[size_t(r) * s.n + j] != ref[j];
    }
    return bad;
}

// Counts every differing element; on a mismatch prints the first few, how many still hold the poison
// (never written), and, for int32, where in `want` each wrong value sits: K-long random dot products are
// nearly unique, so a layout error (swapped rows, columns or fragments) reads off the positions directly.
template <typename T>
size_t diff_all(const std::vector<T>& got, const std::vector<T>& want, int n) {
    size_t bad = 0, poisoned = 0;
    std::vector<size_t> first;
    for (size_t i = 0; i < got.size(); ++i)
        if (got[i] != want[i]) {
            if (bad++ < 4) first.push_back(i);
            poisoned += got[i] == T(-1);
        }
    if (bad) std::printf("    %zu of the differing elements still hold the poison\n", poisoned);
    for (size_t i : first) {
        std::printf("    at (%zu, %zu) got %lld, want %lld", i / n, i % n, (long long)got[i], (long long)want[i]);
        if constexpr (sizeof(T) == 4) {
            int hits = 0;
            for (size_t j = 0; j < want.size() && hits < 3; ++j)
                if (want[j] == got[i]) std::printf(hits++ ? ", (%zu, %zu)" : "; want has it at (%zu, %zu)", j / n, j % n);
        }
        std::printf("\n");
    }
    return bad;
}

void run_shape(const Shape& s, Blas& blas, int reps, int n_rows, bool use_v2) {
    std::printf("M=%d N=%d K=%d\n", s.m, s.n, s.k);
    auto a = random_codes(size_t(s.m) * s.k, -127, 127);
    auto w = random_codes(size_t(s.n) * s.k, -127, 127);
    auto w4 = random_codes(size_t(s.n) * s.k, -8, 7);
    auto sa = random_scales(s.m), sw = random_scales(s.n);
    std::vector<uint16_t> a16(a.size()), w16(w.size());
    for (size_t i = 0; i < a.size(); ++i) a16[i] = f32_to_bf16(float(a[i]));
    for (size_t i = 0; i < w.size(); ++i) w16[i] = f32_to_bf16(float(w[i]));

    DeviceBuffer<int8_t> d_a(a), d_w(w);
    DeviceBuffer<uint8_t> d_w4(pack_s4_gpu(w4.data(), s.n, s.k));
    DeviceBuffer<uint16_t> d_a16(a16), d_w16(w16);
    DeviceBuffer<float> d_sa(sa), d_sw(sw);
    DeviceBuffer<int32_t> d_acc(size_t(s.m) * s.n);
    DeviceBuffer<uint16_t> d_y(size_t(s.m) * s.n);
    auto rows = oracle_rows(s.m, n_rows);
    size_t rows_total = rows.size() * size_t(s.n), all = size_t(s.m) * s.n;

    // Correctness.
    d_acc.poison();
    blas.gemm_s8_s32(d_a.ptr, d_w.ptr, d_acc.ptr, s.m, s.n, s.k);
    check_launch("cublasLt s8", true);
    auto lt_acc = d_acc.host();
    report("cublasLt s8 vs oracle", diff_rows(lt_acc, a, w, rows, s), rows_total);

    d_acc.poison();
    gemm_s8_s32(d_a.ptr, d_w.ptr, d_acc.ptr, s.m, s.n, s.k);
    check_launch("mma s8", true);
    auto mma_acc = d_acc.host();
    report("mma s8 vs oracle", diff_rows(mma_acc, a, w, rows, s), rows_total);
    report("mma s8 vs cublasLt (all)", diff_all(mma_acc, lt_acc, s.n), all);

    std::vector<uint16_t> y_ref(all);
    dequant_bf16_ref(lt_acc.data(), sa.data(), sw.data(), s.m, s.n, y_ref.data());
    d_y.poison();
    gemm_w8a8_bf16(d_a.ptr, d_w.ptr, d_sa.ptr, d_sw.ptr, d_y.ptr, s.m, s.n, s.k);
    check_launch("mma w8a8 bf16", true);
    report("mma w8a8 fused epilogue", diff_all(d_y.host(), y_ref, s.n), all);

    const bool v2 = use_v2 && lab_wgmma_supports(s.n, s.k);
    if (v2)
        for (const V2Variant& v : V2_VARIANTS) {
            char what[64];
            d_acc.poison();
            lab_wgmma_s8_s32(v.config, d_a.ptr, d_w.ptr, d_acc.ptr, s.m, s.n, s.k);
            check_launch("wgmma s8", true);
            std::snprintf(what, sizeof what, "%s s8 vs cublasLt (all)", v.name);
            report(what, diff_all(d_acc.host(), lt_acc, s.n), all);
            d_y.poison();
            lab_wgmma_w8a8_bf16(v.config, d_a.ptr, d_w.ptr, d_sa.ptr, d_sw.ptr, d_y.ptr, s.m, s.n, s.k);
            check_launch("wgmma w8a8 bf16", true);
            std::snprintf(what, sizeof what, "%s w8a8 fused epilogue", v.name);
            report(what, diff_all(d_y.host(), y_ref, s.n), all);
        }

    d_y.poison();
    blas.gemm_s8_s32(d_a.ptr, d_w.ptr, d_acc.ptr, s.m, s.n, s.k);
    dequant_bf16(d_acc.ptr, d_sa.ptr, d_sw.ptr, d_y.ptr, s.m, s.n);
    check_launch("cublasLt + dequant", true);
    report("cublasLt + dequant pass", diff_all(d_y.host(), y_ref, s.n), all);

    d_acc.poison();
    gemm_s4s8_s32(d_a.ptr, d_w4.ptr, d_acc.ptr, s.m, s.n, s.k);
    check_launch("mma w4 s32", true);
    auto w4_acc = d_acc.host();
    report("mma w4a8 vs oracle", diff_rows(w4_acc, a, w4, rows, s), rows_total);
    dequant_bf16_ref(w4_acc.data(), sa.data(), sw.data(), s.m, s.n, y_ref.data());
    d_y.poison();
    gemm_w4a8_bf16(d_a.ptr, d_w4.ptr, d_sa.ptr, d_sw.ptr, d_y.ptr, s.m, s.n, s.k);
    check_launch("mma w4a8 bf16", true);
    report("mma w4a8 fused epilogue", diff_all(d_y.host(), y_ref, s.n), all);

    d_y.poison();
    blas.gemm_bf16(d_a16.ptr, d_w16.ptr, d_y.ptr, s.m, s.n, s.k);
    check_launch("cublas bf16", true);
    auto y16 = d_y.host();
    double num = 0, den = 0;
    for (int r : rows)
        for (int j = 0; j < s.n; ++j) {
            double ref = lt_acc[size_t(r) * s.n + j], got = bf16_to_f32(y16[size_t(r) * s.n + j]);
            num += (got - ref) * (got - ref);
            den += ref * ref;
        }
    std::printf("  cublas bf16 rel. error vs oracle rows: %.2e\n", std::sqrt(num / den));

    // Timing.
    double ops = 2.0 * s.m * s.n * s.k;
    auto rate = [&](double ms) { return ops / (ms * 1e-3) / 1e12; };
    double t_bf16 = median_ms([&] { blas.gemm_bf16(d_a16.ptr, d_w16.ptr, d_y.ptr, s.m, s.n, s.k); }, reps);
    double t_lt = median_ms([&] { blas.gemm_s8_s32(d_a.ptr, d_w.ptr, d_acc.ptr, s.m, s.n, s.k); }, reps);
    double t_lt_dq = median_ms(
        [&] {
            blas.gemm_s8_s32(d_a.ptr, d_w.ptr, d_acc.ptr, s.m, s.n, s.k);
            dequant_bf16(d_acc.ptr, d_sa.ptr, d_sw.ptr, d_y.ptr, s.m, s.n);
        },
        reps);
    double t_mma = median_ms([&] { gemm_s8_s32(d_a.ptr, d_w.ptr, d_acc.ptr, s.m, s.n, s.k); }, reps);
    double t_w8 =
        median_ms([&] { gemm_w8a8_bf16(d_a.ptr, d_w.ptr, d_sa.ptr, d_sw.ptr, d_y.ptr, s.m, s.n, s.k); }, reps);
    double t_w4 =
        median_ms([&] { gemm_w4a8_bf16(d_a.ptr, d_w4.ptr, d_sa.ptr, d_sw.ptr, d_y.ptr, s.m, s.n, s.k); }, reps);
    double t_v2[std::size(V2_VARIANTS)], t_v2_best = NAN;
    for (size_t i = 0; i < std::size(V2_VARIANTS); ++i) {
        const LabWgmma config = V2_VARIANTS[i].config;
        t_v2[i] = v2 ? median_ms(
                           [&] {
                               lab_wgmma_w8a8_bf16(config, d_a.ptr, d_w.ptr, d_sa.ptr, d_sw.ptr, d_y.ptr, s.m, s.n,
                                                   s.k);
                           },
                           reps)
                     : NAN;
        if (!(t_v2[i] >= t_v2_best)) t_v2_best = t_v2[i];
    }
    std::printf("  time  %-28s %8.3f ms %7.1f T/s  %.2fx bf16\n", "cublas bf16", t_bf16, rate(t_bf16), 1.0);
    auto row = [&](const char* name, double t) {
        std::printf("  time  %-28s %8.3f ms %7.1f T/s  %.2fx bf16\n", name, t, rate(t), t_bf16 / t);
    };
    row("cublasLt s8->s32", t_lt);
    row("cublasLt s8 + dequant bf16", t_lt_dq);
    row("mma s8->s32", t_mma);
    row("mma w8a8 fused bf16", t_w8);
    row("mma w4a8 fused bf16", t_w4);
    char name[64];
    for (size_t i = 0; v2 && i < std::size(V2_VARIANTS); ++i) {
        std::snprintf(name, sizeof name, "%s w8a8 fused bf16", V2_VARIANTS[i].name);
        row(name, t_v2[i]);
    }
    std::printf("TABLE %d %d %d | %.1f | %.1f %.1f | %.1f %.1f %.1f | %.1f %.1f %.1f %.1f | %.2f %.2f %.2f %.2f\n",
                s.m, s.n, s.k, rate(t_bf16), rate(t_lt), rate(t_lt_dq), rate(t_mma), rate(t_w8), rate(t_w4),
                rate(t_v2[0]), rate(t_v2[1]), rate(t_v2[2]), rate(t_v2[3]), t_bf16 / t_lt_dq, t_bf16 / t_w8,
                t_bf16 / t_w4, t_bf16 / t_v2_best);
}

}  // namespace

int main(int argc, char** argv) {
    int reps = argc > 1 ? std::atoi(argv[1]) : 20;
    int n_rows = argc > 2 ? std::atoi(argv[2]) : 16;
    bool use_v2 = argc > 3 ? std::atoi(argv[3]) != 0 : true;
    std::string why;
    if (!device_available(&why)) {
        std::printf("gemm_lab: no usable CUDA device (%s)\n", why.c_str());
        return 1;
    }
    cudaDeviceProp prop{};
    check(cudaGetDeviceProperties(&prop, 0), "cudaGetDeviceProperties");
    std::printf("device: %s, %d SMs, %zu MB L2\n", prop.name, prop.multiProcessorCount, size_t(prop.l2CacheSize) >> 20);
    std::vector<Shape> shapes = {{8192, 8192, 8192}};  // the square first, then the decoder linears per prefill size
    for (int m : tameq::test::kGpuBenchRows)
        for (const auto& [n, k, what] : tameq::test::kLlamaLinearShapes) shapes.push_back({m, n, k});
    Blas blas;
    for (const Shape& s : shapes) run_shape(s, blas, reps, n_rows, use_v2);
    std::printf("TABLE columns: M N K | bf16 TFLOPS | lt s32 TOPS, lt+dequant | mma s32, mma w8a8, mma w4a8 | "
                "v2 wgmma w8a8: drain, in-flight, sw128 drain, sw128 in-flight | speedup vs bf16: lt+dequant, mma w8a8, "
                "mma w4a8, best v2 wgmma w8a8\n");
    std::printf("%s\n", failures ? "SOME CHECKS FAILED" : "all checks passed");
    return failures ? 1 : 0;
}
