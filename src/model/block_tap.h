#pragma once
// Observation points inside a decoder block, named by what flows there. Calibration (GPTQ Hessians,
// per-channel ranges), DFRot's activation collection and `tameq inspect` read activations here
// instead of wrapping layers, so q/k/v (which share an input) are seen once.
namespace tameq {

enum class Tap {
    AttnResidual,  // residual stream entering the attention norm [n x hidden]
    AttnIn,        // normalized input of q/k/v [n x hidden]
    OIn,           // attention output, input of o_proj/out_proj [n x heads*head_dim]
    MlpResidual,   // residual stream entering the MLP norm [n x hidden]
    MlpIn,         // normalized input of gate/up or fc1 [n x hidden]
    DownIn,        // input of down_proj/fc2 after the activation (and after R4 when enabled) [n x intermediate]
};
constexpr int kTapCount = 6;
const char* tap_name(Tap t);

class BlockTap {
public:
    virtual ~BlockTap() = default;
    virtual void on(int layer, Tap where, const float* x, int n, int dim) = 0;
    // Mixture-of-experts layers: the input of one expert's linears, the n rows routed to it (MlpIn: of gate and
    // up; DownIn: of down). `on` sees MlpIn for all rows as in a dense layer, and no DownIn.
    virtual void on_expert(int layer, int expert, Tap where, const float* x, int n, int dim) {
        (void)layer, (void)expert, (void)where, (void)x, (void)n, (void)dim;
    }
};

}  // namespace tameq
