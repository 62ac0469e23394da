// The BF16 lm_head of the integer engine: the GEMV kernel on every path and the batched (widen + sgemm) path
// against a double-precision product with the BF16-rounded weights, and the engine's conversion of the
// embeddings and lm_head (a BF16 checkpoint's own weights come back bit for bit).
#include <cmath>
#include <filesystem>

#include <gtest/gtest.h>

#include "common/error.h"
#include "common/half.h"
#include "io/tokenizer.h"
#include "kernels/cpu/bf16_gemv.h"
#include "model/bf16_linear.h"
#include "model/engine.h"
#include "model/int_engine.h"
#include "quant/pipeline.h"
#include "kernel_cases.h"
#include "kernels_test_util.h"
#include "test_util.h"

using namespace tameq;
namespace fs = std::filesystem;

namespace {

// y = x · Wᵀ + b in double with the BF16 weights, and Σ|x·w| per element (the scale of float summation error).
void reference(const std::vector<float>& x, int n, const std::vector<uint16_t>& w, int out, int in,
               const std::vector<float>& bias, std::vector<double>& y, std::vector<double>& mag) {
    y.assign(size_t(n) * out, 0.0);
    mag.assign(size_t(n) * out, 0.0);
    for (int i = 0; i < n; ++i)
        for (int r = 0; r < out; ++r) {
            double s = bias.empty() ? 0.0 : bias[size_t(r)], m = 0.0;
            for (int k = 0; k < in; ++k) {
                const double p = double(x[size_t(i) * in + k]) * bf16_to_f32(w[size_t(r) * in + k]);
                s += p;
                m += std::fabs(p);
            }
            y[size_t(i) * out + r] = s;
            mag[size_t(i) * out + r] = m;
        }
}

Model quantized_gut_llama(const char* recipe) {
    const std::string path = tameq::test::shared_path("models/gut-llama-27m");
    auto tok = load_tokenizer(path);
    return quantize_in_memory(path, parse_recipe(recipe), *tok);
}

void expect_close(const std::vector<float>& got, const std::vector<double>& want, const std::vector<double>& mag,
                  int in, const std::string& what) {
    for (size_t j = 0; j < got.size(); ++j)
        ASSERT_NEAR(got[j], want[j], tameq::test::kBf16DotRelTolPerTerm * in * mag[j] + 1e-30) << what << " element " << j;
}

}  // namespace

TEST(Bf16Gemv, EveryPathMatchesTheDoubleProductWithBf16Weights) {
    const int out = 37, in = 517;  // odd sizes: tails of the 16-wide steps and of the 16-row thread chunks
    const auto wf = tameq::test::random_floats(size_t(out) * in, -1.0f, 1.0f, 7);
    std::vector<uint16_t> w(wf.size());
    for (size_t j = 0; j < wf.size(); ++j) w[j] = f32_to_bf16(wf[j]);
    const auto bias = tameq::test::random_floats(size_t(out), -2.0f, 2.0f, 8);
    for (int n = 1; n <= kern::kBf16GemvMaxRows; ++n) {
        const auto x = tameq::test::random_floats(size_t(n) * in, -3.0f, 3.0f, uint64_t(100 + n));
        std::vector<double> want, mag;
        reference(x, n, w, out, in, bias, want, mag);
        for (kern::KernelPath p : kern::supported_paths()) {
            tameq::test::PathScope scope(p);
            std::vector<float> y(size_t(n) * out, std::nanf(""));
            kern::bf16_gemv(x.data(), n, w.data(), out, in, bias.data(), y.data());
            expect_close(y, want, mag, in, std::string(kern::path_name(p)) + " n=" + std::to_string(n));
        }
        std::vector<float> y(size_t(n) * out, std::nanf(""));
        kern::bf16_gemv_scalar(x.data(), n, w.data(), out, in, nullptr, y.data());
        std::vector<double> want0, mag0;
        reference(x, n, w, out, in, {}, want0, mag0);
        expect_close(y, want0, mag0, in, "scalar oracle without bias");
    }
}

TEST(Bf16Gemv, RejectsBatchesLargerThanAGemv) {
    std::vector<float> x(size_t(kern::kBf16GemvMaxRows + 1) * 4), y(size_t(kern::kBf16GemvMaxRows + 1) * 2);
    std::vector<uint16_t> w(8);
    EXPECT_THROW(kern::bf16_gemv(x.data(), kern::kBf16GemvMaxRows + 1, w.data(), 2, 4, nullptr, y.data()), Error);
}

TEST(Bf16Linear, GemvAndBlockedGemmPathsEqualTheDenseProductOfBf16Weights) {
    // out above the 2M-value widening block for in = 517 (4056 rows), so the batched path takes two blocks.
    const int out = 4500, in = 517;
    const auto wf = tameq::test::random_floats(size_t(out) * in, -0.5f, 0.5f, 11);
    const auto bias = tameq::test::random_floats(size_t(out), -1.0f, 1.0f, 12);
    const Bf16Linear lin(DenseLinear(in, out, wf, bias));
    EXPECT_EQ(lin.weight_bytes(), size_t(out) * in * 2 + size_t(out) * 4);
    std::vector<float> wr(wf.size());
    std::vector<uint16_t> wb(wf.size());
    for (size_t j = 0; j < wf.size(); ++j) {
        wb[j] = f32_to_bf16(wf[j]);
        wr[j] = bf16_to_f32(wb[j]);
        ASSERT_LE(std::fabs(wr[j] - wf[j]), std::ldexp(std::fabs(wf[j]), -8)) << j;  // one BF16 rounding
    }
    for (int n : {1, kern::kBf16GemvMaxRows, 9}) {
        const auto x = tameq::test::random_floats(size_t(n) * in, -2.0f, 2.0f, uint64_t(20 + n));
        std::vector<float> y(size_t(n) * out, std::nanf(""));
        lin.forward(x.data(), n, y.data());
        std::vector<double> want, mag;
        reference(x, n, wb, out, in, bias, want, mag);
        expect_close(y, want, mag, in, "n=" + std::to_string(n));
    }
}

TEST(Bf16Linear, IntegerEngineHoldsEmbeddingsAndHeadInBf16Exactly) {
    TAMEQ_REQUIRE_SHARED();
    // W8A8 RTN leaves embeddings and lm_head as loaded from the BF16 checkpoint, so the BF16 copies are exact.
    Model m = quantized_gut_llama("w=8,a=8,w-clip-search=0");
    const std::vector<float> embed = m.embed;
    const DenseLinear head = as_dense(*m.lm_head);
    const std::vector<int> prompt = {1, 450, 4799, 338, 263};
    std::vector<float> want(size_t(m.cfg.vocab));
    {
        Engine e(m, 16);
        e.forward(prompt.data(), int(prompt.size()), want.data(), Logits::Last);
    }
    const IntegerReport r = use_integer_kernels(m);
    ASSERT_TRUE(r.head_bf16);
    ASSERT_TRUE(r.embed_bf16);
    EXPECT_TRUE(m.embed.empty());
    ASSERT_EQ(m.embed_bf16.size(), embed.size());
    for (size_t j = 0; j < embed.size(); ++j) ASSERT_EQ(bf16_to_f32(m.embed_bf16[j]), embed[j]) << j;
    EXPECT_EQ(m.lm_head->kind(), "bf16");
    for (float v : head.weight) ASSERT_EQ(bf16_to_f32(f32_to_bf16(v)), v);  // a BF16 checkpoint's own values
    // Same weights and the integer blocks: the logits move only by the int-vs-sim summation order.
    std::vector<float> got(size_t(m.cfg.vocab));
    Engine e(m, 16);
    e.forward(prompt.data(), int(prompt.size()), got.data(), Logits::Last);
    double max_diff = 0.0, max_abs = 0.0;
    for (size_t j = 0; j < got.size(); ++j) {
        max_diff = std::max(max_diff, double(std::fabs(got[j] - want[j])));
        max_abs = std::max(max_abs, double(std::fabs(want[j])));
    }
    EXPECT_LT(max_diff, 0.05 * max_abs) << "max |Δlogit| " << max_diff << " of " << max_abs;
}

TEST(Bf16Linear, RotatedEmbeddingsStayFp32) {
    TAMEQ_REQUIRE_SHARED();
    // R1 makes the embeddings non-BF16 values; rounding them would perturb every quantized layer's input.
    Model m = quantized_gut_llama("rotate=rh,w=4,a=8,w-clip-search=0");
    const std::vector<float> embed = m.embed;
    const IntegerReport r = use_integer_kernels(m);
    EXPECT_TRUE(r.head_bf16);
    EXPECT_FALSE(r.embed_bf16);
    EXPECT_TRUE(m.embed_bf16.empty());
    EXPECT_EQ(m.embed, embed);
}
