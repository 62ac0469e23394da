#pragma once
// Simulated ("fake") quantization of a linear layer at QuaRot's places: the input is quantized
// (per token, or per channel with static steps for OutlierTune), the weights hold integer codes and
// their grids; the product runs in FP32 on the dequantized weights. Also the simulated KV-cache policy.
#include <memory>
#include <span>
#include <vector>

#include "model/kv_cache.h"
#include "model/linear.h"
#include "numerics/quantizer.h"

namespace tameq {

// Integer codes of a weight matrix and the grids that dequantize them.
struct QuantizedWeight {
    QuantSpec spec;
    int rows = 0, cols = 0;
    std::vector<int8_t> codes;        // [rows x cols], each in [qmin, qmax]
    std::vector<QParams> params;      // rows * groups_per_row (one entry for PerTensor)
    std::vector<int> column_group;    // group of each column when not col / group_size (GPTQ act-order); else empty

    int group_of(int col) const;
    std::vector<float> dequantize() const;
};

// Round-to-nearest on each row's (or group's) grid, with the spec's clip / MSE search.
QuantizedWeight quantize_weight_rtn(const float* w, int rows, int cols, const QuantSpec& spec);
// Codes of a matrix whose values already lie on the given grids (GPTQ's output).
QuantizedWeight codes_on_grid(const float* wq, int rows, int cols, const QuantSpec& spec, std::vector<QParams> params,
                              std::vector<int> column_group = {});

struct ActQuant {
    enum class Mode { None, PerToken, PerChannelStatic };
    Mode mode = Mode::None;
    QuantSpec spec;                  // bits, symmetric, clip ratio (PerToken)
    std::vector<float> channel_step; // PerChannelStatic: symmetric step per input channel, codes clamped to spec's range

    // In place on x [n x dim]; rows i with fp_rows[i] != 0 are left alone (fp_rows empty or [n]).
    void apply(float* x, int n, int dim, std::span<const uint8_t> fp_rows = {}) const;
    bool active() const { return mode != Mode::None; }

private:
    void apply_rows(float* x, int n, int dim) const;
};

class FakeQuantLinear : public Linear {
public:
    // `weight` null: FP weights (`dense_weight`); else the dense weights are its dequantization, made on the
    // first forward (a quantize-and-write run never needs them, and they are the largest buffer of a layer).
    FakeQuantLinear(std::vector<float> dense_weight, std::vector<float> bias, int in, int out, ActQuant act,
                    std::unique_ptr<QuantizedWeight> weight = nullptr);
    void forward(const float* x, int n, float* y) const override { forward_keeping_fp(x, n, y, {}); }
    void forward_keeping_fp(const float* x, int n, float* y, std::span<const uint8_t> fp_rows) const override;
    std::string kind() const override;

    const DenseLinear& dense() const;
    const std::vector<float>& bias() const { return bias_; }
    const QuantizedWeight* weight() const { return weight_.get(); }
    const ActQuant& act() const { return act_; }
    void set_act(ActQuant act);

private:
    std::vector<float> bias_;
    ActQuant act_;
    std::unique_ptr<QuantizedWeight> weight_;
    mutable std::unique_ptr<DenseLinear> dense_;
    mutable std::vector<float> buf_;
};

// Per (token, head) asymmetric fake quantization of the KV cache, as QuaRot does. With `store_codes` the
// engine's cache keeps the codes themselves (integer engine) instead of fake-quantized FP32 rows.
class FakeQuantKv : public KvPolicy {
public:
    explicit FakeQuantKv(QuantSpec spec, bool store_codes = false) : spec_(spec), store_codes_(store_codes) {}
    void on_write(float* rows, int n, int n_kv_heads, int head_dim, bool is_key) const override;
    const QuantSpec* stored_codes() const override { return store_codes_ ? &spec_ : nullptr; }
    const QuantSpec& spec() const { return spec_; }

private:
    QuantSpec spec_;
    bool store_codes_;
};

}  // namespace tameq
