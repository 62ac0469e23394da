#pragma once
// Weights packed at load time into the layout every integer GEMM path reads (see docs/KERNELS.md).
//
// Output channels are grouped in blocks of 16 (one zmm of int32 accumulators) and blocks in panels of
// up to 4 (64 channels). Inside a panel the K axis is outermost, so a panel is one contiguous stream:
//   s8: for each group of 4 k: for each block: 16 channels × 4 bytes (k, k+1, k+2, k+3) = 64 bytes,
//       exactly the u8×s8 operand layout of vpdpbusd (4 bytes per int32 lane).
//   s4: for each group of 8 k: for each block: 64 bytes; byte 4c+j holds w[c, k+j] in its low nibble
//       and w[c, k+4+j] in its high nibble (two's complement int4), so one 64-byte load feeds two
//       vpdpbusd steps.
// K and N are padded with zero weights to the group and block sizes.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <vector>

namespace tameq::kern {

constexpr int block_n = 16;       // channels per block (int32 lanes of a zmm)
constexpr int panel_blocks = 4;   // blocks per panel
constexpr int panel_n = block_n * panel_blocks;
// |acc| <= 255 * 128 * K (s8, and s4 held as 16·w), which must fit int32.
constexpr int max_k = 65536;

struct PackedWeights {
    int n = 0, k = 0;   // logical shape [n x k]
    int bits = 8;       // 8 or 4
    int k_pad = 0;      // k rounded up to 4 (s8) or 8 (s4); activations must be readable up to k_pad
    std::vector<int32_t> row_sums;  // n entries: Σ_k w[n, k], for the zero-point correction
    int group = 0;                  // > 0: K columns per weight-scale group (gemm_u8_f32_grouped)
    std::vector<int32_t> group_sums;  // [k / group x n] (group-major, like the scales): Σ over each group

    int panels() const { return (n + panel_n - 1) / panel_n; }
    int blocks_in_panel(int p) const;
    const uint8_t* panel(int p) const { return data_.get() + static_cast<size_t>(p) * panel_n * k_pad * bits / 8; }
    size_t bytes() const { return bytes_; }

    // Allocation for the packers (64-byte aligned, zero-filled).
    void allocate(size_t bytes);
    uint8_t* mutable_data() { return data_.get(); }

private:
    struct Free {
        void operator()(uint8_t* p) const;
    };
    std::unique_ptr<uint8_t, Free> data_;
    size_t bytes_ = 0;
};

// w: row-major [n x k] codes, s8 in [-128, 127] or s4 in [-8, 7] (one per byte). Throws on codes
// outside the range and on shapes that are empty or have k > max_k. group > 0 prepares per-group
// scales: it must be a multiple of 8 that divides k.
PackedWeights pack_weights_s8(const int8_t* w, int n, int k, int group = 0);
PackedWeights pack_weights_s4(const int8_t* w, int n, int k, int group = 0);

// Codes of channels [n0, n0 + count) as row-major [count x k_pad] (the padding is zero).
void unpack_rows(const PackedWeights& w, int n0, int count, int8_t* out);
// The inverse of packing: row-major [n x k].
std::vector<int8_t> unpack_weights(const PackedWeights& w);

}  // namespace tameq::kern
