#include "model/cuda_engine.h"

#include <algorithm>
#include <array>
#include <utility>

#include <fmt/format.h>

#include "common/error.h"
#include "common/half.h"
#include "kernels/cuda/blas.h"
#include "kernels/cuda/device.h"
#include "kernels/cuda/flash_attention.h"
#include "kernels/cuda/gemm_int8.h"
#include "kernels/cuda/llama_ops.h"
#include "model/fake_quant.h"
#include "model/family.h"
#include "model/ops.h"

namespace tameq {

namespace {

// Chunks of at least this many rows (prefill) go through the tensor-core attention; decode rows through the
// warp-per-query kernel, which reads each cached key once per row and needs no 16-row tile to fill.
constexpr int kFlashAttentionMinRows = 16;

// A device allocation of `count` T, freed with it.
template <class T>
class DevBuf {
public:
    DevBuf() = default;
    DevBuf(size_t count, const char* what) : p_(static_cast<T*>(cuda::device_alloc(count * sizeof(T), what))), n_(count) {}
    DevBuf(const std::vector<T>& host, const char* what) : DevBuf(host.size(), what) {
        cuda::copy_to_device(p_, host.data(), host.size() * sizeof(T));
    }
    ~DevBuf() { cuda::device_free(p_); }
    DevBuf(DevBuf&& o) noexcept : p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)) {}
    DevBuf& operator=(DevBuf&& o) noexcept {
        std::swap(p_, o.p_);
        std::swap(n_, o.n_);
        return *this;
    }
    T* get() const { return p_; }
    bool empty() const { return n_ == 0; }

private:
    T* p_ = nullptr;
    size_t n_ = 0;
};

enum class Path { Bf16, W8A8 };

struct GpuLinear {
    int in = 0, out = 0;
    DevBuf<uint16_t> w_bf16;   // BF16 path: [out x in]
    DevBuf<int8_t> w_s8;       // W8A8: the directory's codes [out x in]
    DevBuf<float> scale_w;     // W8A8: [out]
    DevBuf<int32_t> rowsum_w;  // W8A8: Σ_k codes[j, k], for the zero-point term of the epilogue
    DevBuf<float> bias;        // [out] or empty
};

struct GpuNorm {
    DevBuf<float> w, b;
};

struct GpuLayer {
    GpuNorm attn_norm, mlp_norm;
    GpuLinear q, k, v, o, gate, up, down;
    cuda::ActCodes attn_in, o_in, mlp_in, down_in;  // W8A8: the grids of each input (buffers set per forward)
    DevBuf<float> k_cache, v_cache;                 // [max_ctx x kv_dim]
};

GpuNorm upload_norm(const Norm& n) {
    GpuNorm g;
    g.w = DevBuf<float>(n.weight, "norm weight");
    if (!n.bias.empty()) g.b = DevBuf<float>(n.bias, "norm bias");
    return g;
}

std::vector<uint16_t> to_bf16_vector(const std::vector<float>& v) {
    std::vector<uint16_t> out(v.size());
    std::transform(v.begin(), v.end(), out.begin(), f32_to_bf16);
    return out;
}

GpuLinear upload_dense(const DenseLinear& d) {
    GpuLinear g;
    g.in = d.in_features();
    g.out = d.out_features();
    g.w_bf16 = DevBuf<uint16_t>(to_bf16_vector(d.weight), "bf16 weights");
    if (!d.bias.empty()) g.bias = DevBuf<float>(d.bias, "bias");
    return g;
}

GpuLinear upload_w8(const FakeQuantLinear& f) {
    const QuantizedWeight& q = *f.weight();
    GpuLinear g;
    g.in = f.in_features();
    g.out = f.out_features();
    std::vector<float> scale(size_t(g.out));
    std::vector<int32_t> rowsum(size_t(g.out), 0);
    for (int r = 0; r < g.out; ++r) {
        scale[size_t(r)] = q.params[size_t(r)].scale;
        for (int c = 0; c < g.in; ++c) rowsum[size_t(r)] += q.codes[size_t(r) * g.in + c];
    }
    g.w_s8 = DevBuf<int8_t>(q.codes, "int8 weight codes");
    g.scale_w = DevBuf<float>(scale, "weight scales");
    g.rowsum_w = DevBuf<int32_t>(rowsum, "weight row sums");
    if (!f.bias().empty()) g.bias = DevBuf<float>(f.bias(), "bias");
    return g;
}

// Why one block linear cannot run on the W8A8 path, or "".
std::string w8a8_refusal(const Linear& lin) {
    const auto* f = dynamic_cast<const FakeQuantLinear*>(&lin);
    if (!f) return fmt::format("a {} linear among quantized ones (the GPU runs all-BF16 or all-W8A8 blocks)", lin.kind());
    const QuantizedWeight* q = f->weight();
    if (!q) return "weights kept in floating point (activation-only quantization)";
    if (q->spec.bits != 8) return fmt::format("{}-bit weights (the GPU path runs 8-bit weights only)", q->spec.bits);
    if (!q->spec.symmetric) return "asymmetric weights";
    if (q->spec.granularity != Granularity::PerRow) return "weights not quantized per output channel";
    if (!q->column_group.empty()) return "act-order column groups";
    const ActQuant& a = f->act();
    if (a.mode == ActQuant::Mode::None) return "weight-only quantization (activations in floating point)";
    if (a.mode == ActQuant::Mode::PerChannelStatic) return "static per-channel activation codes (OutlierTune)";
    if (a.spec.bits != 8) return fmt::format("{}-bit activations", a.spec.bits);
    if (a.spec.clip_ratio != 1.0f) return "clipped activations";
    return "";
}

const char* const kLinearNames[] = {"q", "k", "v", "o", "gate", "up", "down"};

std::array<const Linear*, 7> block_linears(const Layer& l) {
    return {l.q.get(), l.k.get(), l.v.get(), l.o.get(), l.gate.get(), l.up.get(), l.down.get()};
}

bool same_act(const Linear& a, const Linear& b) {
    const ActQuant& x = dynamic_cast<const FakeQuantLinear&>(a).act();
    const ActQuant& y = dynamic_cast<const FakeQuantLinear&>(b).act();
    return x.spec.bits == y.spec.bits && x.spec.symmetric == y.spec.symmetric;
}

cuda::ActCodes act_of(const Linear& lin) {
    const ActQuant& a = dynamic_cast<const FakeQuantLinear&>(lin).act();
    cuda::ActCodes c;
    c.bits = a.spec.bits;
    c.symmetric = a.spec.symmetric;
    return c;
}

// The path for m, or a refusal in *why.
Path choose_path(const Model& m, std::string* why) {
    const ModelConfig& c = m.cfg;
    auto no = [&](const std::string& what) {
        *why = what;
        return Path::Bf16;
    };
    const Family& family = family_of(c);
    if (family.forward_block != family_llama().forward_block)
        return no(fmt::format("the {} family (it runs the Llama family: Llama, Mistral, Qwen2; not Gemma's post-norms, "
                              "soft-capping and query_pre_attn_scalar)", family.name));
    if (c.qk_norm) return no("Qwen3's per-head q_norm/k_norm");
    for (int l = 0; l < c.n_layers; ++l)
        if (c.window_of(l) > 0) return no(fmt::format("sliding-window attention (window {})", c.window_of(l)));
    if (c.head_dim % 32 != 0 || c.head_dim > cuda::kMaxAttentionHeadDim)
        return no(fmt::format("head_dim {} (the attention kernel takes multiples of 32 up to {})", c.head_dim,
                              cuda::kMaxAttentionHeadDim));
    if (m.online.had_down) return no("the online Hadamard (R4) before down_proj");
    if (m.online.had_qk) return no("the online Hadamard (R3) on q and k");
    if (m.online.keep_massive_fp) return no("the keep-massive diagnostic");
    if (m.kv_policy) return no("KV-cache quantization");
    if (m.project_in || m.project_out) return no("project_in/project_out");
    if (!m.lm_head || !dynamic_cast<const DenseLinear*>(m.lm_head.get()))
        return no(fmt::format("a {} lm_head (it holds the head in BF16 from dense weights)", m.lm_head ? m.lm_head->kind() : "missing"));
    if (m.embed.empty() && m.embed_bf16.empty()) return no("a model without embeddings");
    if (int(m.layers.size()) != c.n_layers || c.n_layers == 0) return no("a model without its layers");
    const bool dense = dynamic_cast<const DenseLinear*>(m.layers[0].q.get()) != nullptr;
    for (size_t i = 0; i < m.layers.size(); ++i) {
        const auto lins = block_linears(m.layers[i]);
        for (size_t j = 0; j < lins.size(); ++j) {
            if (!lins[j]) return no(fmt::format("layer {} without {}", i, kLinearNames[j]));
            if (dense) {
                if (!dynamic_cast<const DenseLinear*>(lins[j]))
                    return no(fmt::format("layer {} {}: a {} linear among dense ones", i, kLinearNames[j], lins[j]->kind()));
            } else if (const std::string r = w8a8_refusal(*lins[j]); !r.empty()) {
                return no(fmt::format("layer {} {}: {}", i, kLinearNames[j], r));
            }
        }
        if (!dense) {
            const Layer& l = m.layers[i];
            if (!same_act(*l.q, *l.k) || !same_act(*l.q, *l.v) || !same_act(*l.gate, *l.up))
                return no(fmt::format("layer {}: linears sharing an input with different activation grids", i));
        }
    }
    why->clear();
    return dense ? Path::Bf16 : Path::W8A8;
}

}  // namespace

std::string cuda_engine_refusal(const Model& m) {
    std::string why;
    choose_path(m, &why);
    return why.empty() ? why : "the CUDA engine cannot run " + why;
}

struct CudaEngine::Impl {
    ModelConfig cfg;
    std::string source;
    Path path = Path::Bf16;
    int max_ctx = 0;
    cuda::Blas blas;
    DevBuf<float> embed, rope_cos, rope_sin;
    std::vector<GpuLayer> layers;
    GpuNorm final_norm;
    bool has_final_norm = false;
    GpuLinear lm_head;
    // Activations for up to max_ctx rows.
    DevBuf<int> tokens;
    DevBuf<float> x, q, attn, tmp, ff_a, ff_b, logits;
    DevBuf<uint16_t> xb;    // BF16 path: a linear's input
    DevBuf<int8_t> codes;   // W8A8: a linear's input codes
    DevBuf<float> scale_a;  // W8A8: per-row grids
    DevBuf<int32_t> zero_a;
    DevBuf<int32_t> acc;    // W8A8: int32 accumulators

    void linear(const GpuLinear& l, int n, float* y) {
        if (path == Path::Bf16) {
            blas.gemm_bf16_f32(xb.get(), l.w_bf16.get(), y, n, l.out, l.in);
            if (!l.bias.empty()) cuda::add_bias(y, l.bias.get(), n, l.out);
        } else {
            // cuBLASLt's IMMA kernels for prefill (1.5–1.9× cuBLAS BF16 on the 7B shapes, RESULTS §6); few rows
            // (decode) go to our mma.sync kernel, which takes any m. Both exact: the same int32 sums.
            if (n < 16 && l.in % 64 == 0 && l.out % 8 == 0) cuda::gemm_s8_s32(codes.get(), l.w_s8.get(), acc.get(), n, l.out, l.in);
            else blas.gemm_s8_s32(codes.get(), l.w_s8.get(), acc.get(), n, l.out, l.in);
            cuda::dequant_codes_f32(acc.get(), scale_a.get(), zero_a.get(), l.scale_w.get(), l.rowsum_w.get(),
                                    l.bias.empty() ? nullptr : l.bias.get(), n, l.out, y);
        }
    }
    cuda::ActCodes bind(cuda::ActCodes a) const {
        a.codes = codes.get();
        a.scale = scale_a.get();
        a.zero = zero_a.get();
        return a;
    }
    // The norm of x to the next linears' input (bf16 or codes).
    void norm_input(const GpuNorm& nm, const cuda::ActCodes& grid, int n) {
        const float* b = nm.b.empty() ? nullptr : nm.b.get();
        if (path == Path::Bf16) cuda::rms_norm_bf16(x.get(), nm.w.get(), b, n, cfg.hidden, cfg.norm_eps, xb.get());
        else cuda::rms_norm_codes(x.get(), nm.w.get(), b, n, cfg.hidden, cfg.norm_eps, bind(grid));
    }
};

CudaEngine::CudaEngine(const Model& m, int max_ctx) {
    std::string why;
    const Path path = choose_path(m, &why);
    if (!why.empty()) fail(m.source, "the CUDA engine cannot run {}", why);
    if (!cuda::device_available(&why)) fail(m.source, "--device cuda: no usable CUDA device ({})", why);
    const ModelConfig& c = m.cfg;
    if (max_ctx <= 0) max_ctx = c.max_positions;
    impl_ = std::make_unique<Impl>();
    Impl& e = *impl_;
    e.cfg = c;
    e.source = m.source;
    e.path = path;
    e.max_ctx = max_ctx;
    if (!m.embed.empty()) {
        e.embed = DevBuf<float>(m.embed, "embeddings");
    } else {
        std::vector<float> f(m.embed_bf16.size());
        std::transform(m.embed_bf16.begin(), m.embed_bf16.end(), f.begin(), bf16_to_f32);
        e.embed = DevBuf<float>(f, "embeddings");
    }
    const RopeTable rope(c, max_ctx);
    e.rope_cos = DevBuf<float>(rope.cos_table(), "rope cos");
    e.rope_sin = DevBuf<float>(rope.sin_table(), "rope sin");
    const size_t kv_dim = size_t(c.n_kv_heads) * c.head_dim, q_dim = size_t(c.n_heads) * c.head_dim;
    for (const Layer& l : m.layers) {
        GpuLayer g;
        g.attn_norm = upload_norm(l.attn_norm);
        g.mlp_norm = upload_norm(l.mlp_norm);
        GpuLinear* dst[] = {&g.q, &g.k, &g.v, &g.o, &g.gate, &g.up, &g.down};
        const auto src = block_linears(l);
        for (size_t j = 0; j < src.size(); ++j)
            *dst[j] = path == Path::Bf16 ? upload_dense(as_dense(*src[j]))
                                         : upload_w8(dynamic_cast<const FakeQuantLinear&>(*src[j]));
        if (path == Path::W8A8) {
            g.attn_in = act_of(*l.q);
            g.o_in = act_of(*l.o);
            g.mlp_in = act_of(*l.gate);
            g.down_in = act_of(*l.down);
        }
        g.k_cache = DevBuf<float>(size_t(max_ctx) * kv_dim, "KV cache");
        g.v_cache = DevBuf<float>(size_t(max_ctx) * kv_dim, "KV cache");
        e.layers.push_back(std::move(g));
    }
    e.has_final_norm = !m.final_norm.weight.empty();
    if (e.has_final_norm) e.final_norm = upload_norm(m.final_norm);
    e.lm_head = upload_dense(as_dense(*m.lm_head));
    const size_t rows = size_t(max_ctx);
    const size_t widest = std::max({size_t(c.hidden), q_dim, size_t(c.intermediate)});
    e.tokens = DevBuf<int>(rows, "tokens");
    e.x = DevBuf<float>(rows * c.hidden, "activations");
    e.tmp = DevBuf<float>(rows * c.hidden, "activations");
    e.q = DevBuf<float>(rows * q_dim, "activations");
    e.attn = DevBuf<float>(rows * q_dim, "activations");
    e.ff_a = DevBuf<float>(rows * c.intermediate, "activations");
    e.ff_b = DevBuf<float>(rows * c.intermediate, "activations");
    e.logits = DevBuf<float>(rows * c.vocab, "logits");
    e.xb = DevBuf<uint16_t>(rows * widest, "activations");
    if (path == Path::W8A8) {
        e.codes = DevBuf<int8_t>(rows * widest, "activation codes");
        e.scale_a = DevBuf<float>(rows, "activation scales");
        e.zero_a = DevBuf<int32_t>(rows, "activation zero points");
        e.acc = DevBuf<int32_t>(rows * std::max(widest, kv_dim), "accumulators");
    }
}

CudaEngine::~CudaEngine() = default;

std::string CudaEngine::describe() const {
    const char* what = impl_->path == Path::Bf16
                           ? "CUDA BF16 (cuBLAS BF16 GEMMs, fp32 accumulation and activations)"
                           : "CUDA W8A8 (per-token codes fused into norm / SiLU·up / attention output, cuBLASLt int8, fp32 epilogue)";
    return fmt::format("{} on {}", what, cuda::device_description());
}

void CudaEngine::forward(const int* tokens, int n, float* logits, bool last_only) {
    Impl& e = *impl_;
    const ModelConfig& c = e.cfg;
    if (n <= 0) return;
    if (pos_ + n > e.max_ctx)
        fail(e.source, "context full: {} + {} tokens exceed the context of {}", pos_, n, e.max_ctx);
    for (int i = 0; i < n; ++i)
        if (tokens[i] < 0 || tokens[i] >= c.vocab) fail(e.source, "token id {} outside the vocabulary of {}", tokens[i], c.vocab);
    cuda::copy_to_device(e.tokens.get(), tokens, size_t(n) * sizeof(int));
    cuda::embed_rows(e.embed.get(), e.tokens.get(), n, c.hidden, e.x.get());
    const int hd = c.head_dim;
    const size_t kv_dim = size_t(c.n_kv_heads) * hd, q_dim = size_t(c.n_heads) * hd;
    const bool bf16 = e.path == Path::Bf16;
    for (GpuLayer& l : e.layers) {
        float* k_rows = l.k_cache.get() + size_t(pos_) * kv_dim;
        float* v_rows = l.v_cache.get() + size_t(pos_) * kv_dim;
        e.norm_input(l.attn_norm, l.attn_in, n);
        e.linear(l.q, n, e.q.get());
        e.linear(l.k, n, k_rows);
        e.linear(l.v, n, v_rows);
        cuda::rope_rows(e.q.get(), n, c.n_heads, hd, pos_, e.rope_cos.get(), e.rope_sin.get());
        cuda::rope_rows(k_rows, n, c.n_kv_heads, hd, pos_, e.rope_cos.get(), e.rope_sin.get());
        if (n >= kFlashAttentionMinRows && cuda::flash_attention_supports(hd))
            cuda::flash_attention(e.q.get(), l.k_cache.get(), l.v_cache.get(), n, pos_, c.n_heads, c.n_kv_heads, hd,
                                  e.attn.get());
        else
            cuda::causal_attention(e.q.get(), l.k_cache.get(), l.v_cache.get(), n, pos_, c.n_heads, c.n_kv_heads, hd,
                                   e.attn.get());
        if (bf16) cuda::to_bf16(e.attn.get(), size_t(n) * q_dim, e.xb.get());
        else cuda::quantize_rows(e.attn.get(), n, int(q_dim), e.bind(l.o_in));
        e.linear(l.o, n, e.tmp.get());
        cuda::add_rows(e.x.get(), e.tmp.get(), size_t(n) * c.hidden);

        e.norm_input(l.mlp_norm, l.mlp_in, n);
        e.linear(l.gate, n, e.ff_a.get());
        e.linear(l.up, n, e.ff_b.get());
        if (bf16) cuda::silu_mul_bf16(e.ff_a.get(), e.ff_b.get(), size_t(n) * c.intermediate, e.xb.get());
        else cuda::silu_mul_codes(e.ff_a.get(), e.ff_b.get(), n, c.intermediate, e.bind(l.down_in));
        e.linear(l.down, n, e.tmp.get());
        cuda::add_rows(e.x.get(), e.tmp.get(), size_t(n) * c.hidden);
    }
    const int rows = last_only ? 1 : n;  // only the rows whose logits are wanted go through norm and head
    const float* head_x = e.x.get() + size_t(n - rows) * c.hidden;
    if (e.has_final_norm)
        cuda::rms_norm_bf16(head_x, e.final_norm.w.get(), e.final_norm.b.empty() ? nullptr : e.final_norm.b.get(),
                            rows, c.hidden, c.norm_eps, e.xb.get());
    else
        cuda::to_bf16(head_x, size_t(rows) * c.hidden, e.xb.get());
    e.blas.gemm_bf16_f32(e.xb.get(), e.lm_head.w_bf16.get(), e.logits.get(), rows, c.vocab, c.hidden);
    if (!e.lm_head.bias.empty()) cuda::add_bias(e.logits.get(), e.lm_head.bias.get(), rows, c.vocab);
    cuda::copy_to_host(logits, e.logits.get(), size_t(rows) * c.vocab * sizeof(float));
    pos_ += n;
}

}  // namespace tameq
