#include "model/kv_cache.h"

#include "common/error.h"
#include "kernels/cpu/kv_codes.h"
#include "kernels/scheme_kernels.h"

namespace tameq {

KvCache::KvCache(int n_layers, int max_ctx, int n_kv_heads, int head_dim, const KvPolicy* kv_policy)
    : n_layers_(n_layers), max_ctx_(max_ctx), kv_dim_(n_kv_heads * head_dim), n_kv_heads_(n_kv_heads),
      head_dim_(head_dim) {
    policy = kv_policy;
    const QuantSpec* spec = policy ? policy->stored_codes() : nullptr;
    if (!spec) {
        k_.resize(size_t(n_layers) * max_ctx * kv_dim_);
        v_.resize(k_.size());
        return;
    }
    if (const std::string why = kern::cpu_kv_codes_reason(*spec, head_dim); !why.empty()) fail("kv cache", "{}", why);
    spec_ = *spec;
    code_bits_ = spec->bits;
    row_bytes_ = kern::kv_row_bytes(head_dim, code_bits_);
    const size_t head_rows = size_t(n_layers) * max_ctx * n_kv_heads;
    k_codes_.resize(head_rows * row_bytes_);
    v_codes_.resize(k_codes_.size());
    k_scale_.resize(head_rows);
    v_scale_.resize(head_rows);
    k_zero_.resize(head_rows);
    v_zero_.resize(head_rows);
}

float* KvCache::row_ptr(std::vector<float>& rows, int layer, int pos) {
    if (!stores_codes()) return &rows[(size_t(layer) * max_ctx_ + pos) * kv_dim_];
    if (pos < staged_pos0_ || pos >= staged_pos0_ + staged_n_)
        fail("kv cache", "position {} was not announced by begin_write ({} rows from {})", pos, staged_n_, staged_pos0_);
    return &rows[size_t(pos - staged_pos0_) * kv_dim_];
}

void KvCache::begin_write(int pos0, int n) {
    if (!stores_codes()) return;
    staged_pos0_ = pos0;
    staged_n_ = n;
    if (k_.size() < size_t(n) * kv_dim_) {
        k_.resize(size_t(n) * kv_dim_);
        v_.resize(k_.size());
    }
}

void KvCache::commit(int layer, int pos0, int n) {
    if (!stores_codes()) {
        if (policy) {
            if (n_kv_heads_ == 0) fail("kv cache", "a KV policy needs the cache built with its head geometry");
            policy->on_write(k(layer, pos0), n, n_kv_heads_, head_dim_, true);
            policy->on_write(v(layer, pos0), n, n_kv_heads_, head_dim_, false);
        }
        return;
    }
    quantize_into(k(layer, pos0), layer, pos0, n, k_codes_, k_scale_, k_zero_);
    quantize_into(v(layer, pos0), layer, pos0, n, v_codes_, v_scale_, v_zero_);
}

void KvCache::quantize_into(const float* src, int layer, int pos0, int n, std::vector<uint8_t>& codes,
                            std::vector<float>& scale, std::vector<uint8_t>& zero) const {
    const size_t first = (size_t(layer) * max_ctx_ + pos0) * n_kv_heads_;  // head row index of (pos0, head 0)
    for (int r = 0; r < n * n_kv_heads_; ++r) {
        // The grid and codes fake_quantize_rows uses for this head row (FakeQuantKv).
        const float* x = src + size_t(r) * head_dim_;
        const QParams p = find_qparams(x, head_dim_, spec_);
        scale[first + r] = p.scale;
        zero[first + r] = uint8_t(p.zero);  // asymmetric zero points are integers in [0, 2^bits - 1]
        kern::kv_encode_row(x, head_dim_, spec_, p, &codes[(first + r) * row_bytes_]);
    }
}

KvRows KvCache::rows(const std::vector<float>& f32, const std::vector<uint8_t>& codes, const std::vector<float>& scale,
                     const std::vector<uint8_t>& zero, int layer) const {
    KvRows r;
    if (!stores_codes()) {
        r.f32 = &f32[size_t(layer) * max_ctx_ * kv_dim_];
        return r;
    }
    const size_t first = size_t(layer) * max_ctx_ * n_kv_heads_;
    r.codes = &codes[first * row_bytes_];
    r.scale = &scale[first];
    r.zero = &zero[first];
    r.bits = code_bits_;
    r.row_bytes = row_bytes_;
    return r;
}

size_t KvCache::bytes() const {
    if (!stores_codes()) return (k_.size() + v_.size()) * sizeof(float);
    return k_codes_.size() + v_codes_.size() + (k_scale_.size() + v_scale_.size()) * sizeof(float) + k_zero_.size() +
           v_zero_.size();
}

}  // namespace tameq
