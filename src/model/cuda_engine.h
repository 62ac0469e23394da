#pragma once
// The CUDA engine for the Llama family (built only with TAMEQ_CUDA; plain C++ over kernels/cuda's headers):
// embed → blocks → final norm → lm_head on the GPU, weights uploaded once, the same forward as
// family_llama.cpp's llama_block. Two paths, chosen from the model's linears:
//   BF16: every block linear dense; weights rounded to bf16 on upload, cuBLAS BF16 GEMMs with fp32
//         accumulation and fp32 output; activations fp32 between ops, rounded to bf16 once at each linear's
//         input by the op that produces it (norm, SiLU·up, attention output).
//   W8A8: every block linear 8-bit per-channel symmetric weights with dynamic per-token 8-bit activations
//         (recipes w=8,a=8, RTN or GPTQ): the int8 codes and scales of the quantized directory uploaded as
//         they are; the op producing a linear's input emits the CPU integer engine's codes directly
//         (norm → codes for q/k/v and gate/up, SiLU·up → codes for down, attention output → codes for o);
//         cuBLASLt int8 GEMM, then the CPU engine's dequant epilogue in fp32.
// Both: fp32 residual stream, RMSNorm, RoPE and causal GQA attention (fp32 softmax) on an fp32 KV cache;
// embeddings fp32; lm_head in bf16 (as the integer engine holds it) with fp32 logits.
#include <memory>
#include <string>

#include "model/model.h"

namespace tameq {

// Why the CUDA engine cannot run `m` ("the CUDA engine cannot run <the missing piece>"; callers prefix the
// model's path), or "" when it can. Needs no GPU.
std::string cuda_engine_refusal(const Model& m);

class CudaEngine {
public:
    // Uploads the model. Fails with cuda_engine_refusal's reason, without a usable device, or out of memory.
    CudaEngine(const Model& m, int max_ctx = 0);
    ~CudaEngine();
    CudaEngine(const CudaEngine&) = delete;
    CudaEngine& operator=(const CudaEngine&) = delete;

    // Feeds n tokens at the current position and advances it; logits [n x vocab] of every row (fp32), or with
    // last_only [vocab] of the last row (generation; the final norm and lm_head then run on that row alone).
    void forward(const int* tokens, int n, float* logits, bool last_only = false);
    void reset() { pos_ = 0; }
    int position() const { return pos_; }
    // "CUDA BF16 (cuBLAS) on NVIDIA H200 (...)" / "CUDA W8A8 ...".
    std::string describe() const;

private:
    struct Impl;
    std::unique_ptr<Impl> impl_;
    int pos_ = 0;
};

}  // namespace tameq
