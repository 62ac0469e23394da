#pragma once
// The one seam between the forward pass and the arithmetic of a linear layer: FP32, simulated
// ("fake") quantization and integer kernels are implementations of Linear, never copies of the
// forward pass.
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <vector>

namespace tameq {

class Linear {
public:
    Linear(int in_features, int out_features) : in_(in_features), out_(out_features) {}
    virtual ~Linear() = default;
    int in_features() const { return in_; }
    int out_features() const { return out_; }
    // y[n x out] = x[n x in] · Wᵀ + b, rows contiguous. x is not modified.
    virtual void forward(const float* x, int n, float* y) const = 0;
    // The same, with the rows i where fp_rows[i] != 0 (DFRot's keep-massive diagnostic) left out of any
    // quantization of the input; fp_rows empty or [n]. A linear that quantizes its input overrides it; the
    // default refuses a mask, so that one which cannot honour it never runs another experiment silently.
    virtual void forward_keeping_fp(const float* x, int n, float* y, std::span<const uint8_t> fp_rows) const;
    virtual std::string kind() const = 0;

private:
    int in_, out_;
};

// Dense FP32 weights, the form every transform pass works on.
class DenseLinear : public Linear {
public:
    DenseLinear(int in_features, int out_features, std::vector<float> weight, std::vector<float> bias = {});
    void forward(const float* x, int n, float* y) const override;
    // Its input stays in floating point: the mask changes nothing.
    void forward_keeping_fp(const float* x, int n, float* y, std::span<const uint8_t>) const override { forward(x, n, y); }
    std::string kind() const override { return "fp32"; }

    std::vector<float> weight;  // [out x in], row-major (Hugging Face layout)
    std::vector<float> bias;    // [out] or empty
};

// The dense weights behind a Linear that transform passes need; throws if it is not dense.
DenseLinear& as_dense(Linear& l);
const DenseLinear& as_dense(const Linear& l);

}  // namespace tameq
