#pragma once
// The one seam between the forward pass and the arithmetic of a linear layer: FP32, simulated
// ("fake") quantization and integer kernels are implementations of Linear, never copies of the
// forward pass.
#include <memory>
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
    virtual std::string kind() const = 0;

private:
    int in_, out_;
};

// Dense FP32 weights, the form every transform pass works on.
class DenseLinear : public Linear {
public:
    DenseLinear(int in_features, int out_features, std::vector<float> weight, std::vector<float> bias = {});
    void forward(const float* x, int n, float* y) const override;
    std::string kind() const override { return "fp32"; }

    std::vector<float> weight;  // [out x in], row-major (Hugging Face layout)
    std::vector<float> bias;    // [out] or empty
};

// The dense weights behind a Linear that transform passes need; throws if it is not dense.
DenseLinear& as_dense(Linear& l);
const DenseLinear& as_dense(const Linear& l);

}  // namespace tameq
