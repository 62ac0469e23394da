#include "model/linear.h"

#include <algorithm>

#include <cblas.h>

#include "common/error.h"

namespace tameq {

DenseLinear::DenseLinear(int in_features, int out_features, std::vector<float> w, std::vector<float> b)
    : Linear(in_features, out_features), weight(std::move(w)), bias(std::move(b)) {
    if (weight.size() != size_t(in_features) * size_t(out_features))
        fail("linear", "weight has {} values, expected {}x{}", weight.size(), out_features, in_features);
    if (!bias.empty() && bias.size() != size_t(out_features))
        fail("linear", "bias has {} values, expected {}", bias.size(), out_features);
}

void DenseLinear::forward(const float* x, int n, float* y) const {
    const int in = in_features(), out = out_features();
    float beta = 0.0f;
    if (!bias.empty()) {
        for (int i = 0; i < n; ++i) std::copy(bias.begin(), bias.end(), y + size_t(i) * out);
        beta = 1.0f;
    }
    if (n == 1) {
        cblas_sgemv(CblasRowMajor, CblasNoTrans, out, in, 1.0f, weight.data(), in, x, 1, beta, y, 1);
    } else {
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, n, out, in, 1.0f, x, in, weight.data(), in, beta, y, out);
    }
}

void Linear::forward_keeping_fp(const float* x, int n, float* y, std::span<const uint8_t> fp_rows) const {
    if (std::any_of(fp_rows.begin(), fp_rows.end(), [](uint8_t keep) { return keep != 0; }))
        fail("linear", "'{}' cannot keep rows in floating point (keep-massive needs simulated linears)", kind());
    forward(x, n, y);
}

DenseLinear& as_dense(Linear& l) {
    auto* d = dynamic_cast<DenseLinear*>(&l);
    if (!d) fail("transform", "expected a dense FP32 linear layer, found '{}'", l.kind());
    return *d;
}

const DenseLinear& as_dense(const Linear& l) { return as_dense(const_cast<Linear&>(l)); }

}  // namespace tameq
