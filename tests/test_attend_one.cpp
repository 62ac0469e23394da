// Decode attention (one query row per head): every kernel path against a double-precision softmax·V, and the
// engine's n = 1 path against the batched one on the same cache.
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "kernels/cpu/attend_one.h"
#include "model/attention.h"
#include "kernel_cases.h"
#include "kernels_test_util.h"

using namespace tameq;

namespace {

std::vector<double> reference(const std::vector<float>& q, const std::vector<float>& k, int ks,
                              const std::vector<float>& v, int vs, int len, int hd, float scale) {
    std::vector<double> s(static_cast<size_t>(len)), out(static_cast<size_t>(hd), 0.0);
    double mx = -1e300, sum = 0.0;
    for (int j = 0; j < len; ++j) {
        double dot = 0.0;
        for (int d = 0; d < hd; ++d) dot += double(q[size_t(d)]) * k[size_t(j) * ks + d];
        s[size_t(j)] = scale * dot;
        mx = std::max(mx, s[size_t(j)]);
    }
    for (double& x : s) sum += (x = std::exp(x - mx));
    for (int j = 0; j < len; ++j)
        for (int d = 0; d < hd; ++d) out[size_t(d)] += s[size_t(j)] / sum * v[size_t(j) * vs + d];
    return out;
}

}  // namespace

TEST(AttendOne, EveryPathMatchesTheDoubleSoftmaxTimesV) {
    // hd 20 is not a multiple of 8 (scalar fallback), 24 leaves an 8-wide tail, 128 spans two 64-float passes.
    for (int hd : {20, 24, 64, 128})
        for (int len : {1, 7, 300}) {
            const int ks = 3 * hd + 5, vs = 2 * hd + 3;  // strided rows, as the FP32 cache interleaves kv heads
            const auto q = tameq::test::random_floats(size_t(hd), -1.0f, 1.0f, uint64_t(hd * 1000 + len));
            // Large key values make the scores spread over tens of nats, so exp sees far-negative arguments.
            const auto k = tameq::test::random_floats(size_t(len) * ks, -4.0f, 4.0f, uint64_t(hd + len));
            const auto v = tameq::test::random_floats(size_t(len) * vs, -2.0f, 2.0f, uint64_t(hd * 7 + len));
            const float scale = 1.0f / std::sqrt(float(hd));
            const auto want = reference(q, k, ks, v, vs, len, hd, scale);
            for (kern::KernelPath p : kern::supported_paths()) {
                tameq::test::PathScope scope(p);
                std::vector<float> scores(static_cast<size_t>(len)), out(static_cast<size_t>(hd), std::nanf(""));
                kern::attend_one_query(q.data(), k.data(), ks, v.data(), vs, len, hd, scale, scores.data(), out.data());
                for (int d = 0; d < hd; ++d)
                    ASSERT_NEAR(out[size_t(d)], want[size_t(d)], tameq::test::kAttendOneAbsTol)
                        << kern::path_name(p) << " hd " << hd << " len " << len << " d " << d;
            }
        }
}

TEST(AttendOne, DecodeStepEqualsTheLastRowOfTheBatchedAttention) {
    const int heads = 4, kvh = 2, hd = 32, len = 40;
    KvCache cache(1, len, kvh * hd);  // FP32 rows, no policy
    const auto kv = tameq::test::random_floats(size_t(len) * kvh * hd, -1.0f, 1.0f, 3);
    const auto kv2 = tameq::test::random_floats(size_t(len) * kvh * hd, -1.0f, 1.0f, 4);
    std::copy(kv.begin(), kv.end(), cache.k(0, 0));
    std::copy(kv2.begin(), kv2.end(), cache.v(0, 0));
    cache.commit(0, 0, len);
    const auto q = tameq::test::random_floats(size_t(2) * heads * hd, -1.0f, 1.0f, 5);
    std::vector<float> batched(size_t(2) * heads * hd), single(size_t(heads) * hd), scratch;
    causal_attention(q.data(), 2, len - 2, cache.keys(0), cache.values(0), heads, kvh, hd, batched.data(), scratch);
    causal_attention(q.data() + heads * hd, 1, len - 1, cache.keys(0), cache.values(0), heads, kvh, hd, single.data(),
                     scratch);
    for (int i = 0; i < heads * hd; ++i) ASSERT_NEAR(single[size_t(i)], batched[size_t(heads * hd + i)], 1e-5) << i;
}
