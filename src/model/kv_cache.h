#pragma once
// Per-layer key/value cache. Two storages behind one interface:
//  - FP32 rows [layer][position][kv_heads * head_dim]; a policy may transform the rows as they are written
//    (simulated KV quantization), and attention reads what is stored;
//  - codes (integer engine): per (position, kv head) an asymmetric grid (fp32 scale, u8 zero point) and the
//    head row's codes, 4-bit packed (bits <= 4) or one byte each. The block writes FP32 rows into a staging
//    area; commit() quantizes them with the policy's grid, so the stored values are exactly FakeQuantKv's.
#include <cstddef>
#include <cstdint>
#include <vector>

#include "numerics/quantizer.h"

namespace tameq {

class KvPolicy {
public:
    virtual ~KvPolicy() = default;
    // rows: [n x n_kv_heads*head_dim], keys already rotated by RoPE.
    virtual void on_write(float* rows, int n, int n_kv_heads, int head_dim, bool is_key) const = 0;
    // Non-null: the grid a code cache stores the rows on (asymmetric, one grid per position and kv head).
    virtual const QuantSpec* stored_codes() const { return nullptr; }
};

// One layer's keys or values as attention reads them: FP32 rows, or codes with their grids.
struct KvRows {
    const float* f32 = nullptr;      // [pos x n_kv_heads*head_dim]
    const uint8_t* codes = nullptr;  // [pos x n_kv_heads x row_bytes]; 4-bit: byte i holds dims i (low) and i + hd/2
    const float* scale = nullptr;    // [pos x n_kv_heads]
    const uint8_t* zero = nullptr;   // [pos x n_kv_heads]
    int bits = 0, row_bytes = 0;
};

class KvCache {
public:
    KvCache() = default;
    // FP32 rows without a policy (a policy needs the head geometry of the other constructor).
    KvCache(int n_layers, int max_ctx, int kv_dim)
        : n_layers_(n_layers), max_ctx_(max_ctx), kv_dim_(kv_dim),
          k_(size_t(n_layers) * max_ctx * kv_dim), v_(k_.size()) {}
    // Codes on `policy`'s stored_codes() grid when it has one, else FP32 rows with the policy on write.
    KvCache(int n_layers, int max_ctx, int n_kv_heads, int head_dim, const KvPolicy* policy);

    // Where the block writes the FP32 rows of positions pos.. (the cache itself, or the staging area of the
    // rows announced by begin_write).
    float* k(int layer, int pos) { return row_ptr(k_, layer, pos); }
    float* v(int layer, int pos) { return row_ptr(v_, layer, pos); }
    // Announces the n rows of positions pos0.. that the next forward writes (sizes the code cache's staging).
    void begin_write(int pos0, int n);
    // The n rows at pos0 are written: applies the policy (FP32) or quantizes them into codes.
    void commit(int layer, int pos0, int n);
    KvRows keys(int layer) const { return rows(k_, k_codes_, k_scale_, k_zero_, layer); }
    KvRows values(int layer) const { return rows(v_, v_codes_, v_scale_, v_zero_, layer); }

    int max_ctx() const { return max_ctx_; }
    int kv_dim() const { return kv_dim_; }
    bool stores_codes() const { return code_bits_ > 0; }
    // Bytes of the stored keys and values (codes and grids, or FP32 rows); staging excluded.
    size_t bytes() const;

    const KvPolicy* policy = nullptr;

private:
    float* row_ptr(std::vector<float>& rows, int layer, int pos);
    KvRows rows(const std::vector<float>& f32, const std::vector<uint8_t>& codes, const std::vector<float>& scale,
                const std::vector<uint8_t>& zero, int layer) const;
    void quantize_into(const float* src, int layer, int pos0, int n, std::vector<uint8_t>& codes, std::vector<float>& scale,
                       std::vector<uint8_t>& zero) const;

    int n_layers_ = 0, max_ctx_ = 0, kv_dim_ = 0, n_kv_heads_ = 0, head_dim_ = 0;
    int code_bits_ = 0, row_bytes_ = 0;  // code cache only
    QuantSpec spec_;
    int staged_pos0_ = 0, staged_n_ = 0;
    std::vector<float> k_, v_;  // FP32 rows, or the code cache's staging [staged_n x kv_dim]
    std::vector<uint8_t> k_codes_, v_codes_, k_zero_, v_zero_;
    std::vector<float> k_scale_, v_scale_;
};

}  // namespace tameq
