#pragma once
// The scheme table (ggml's type_traits): which weight and KV-cache code formats exist, how the quantized
// directory stores them and how many bytes they take. What runs each row is the kernels' column
// (kernels/scheme_kernels.h, ggml's type_traits_cpu), keyed by these rows.
//
// A scheme = a format row (code range and storage) + its grid (granularity, group, act-order). Codes are
// quantizer.h's: symmetric in [-2^(b-1), 2^(b-1)-1], asymmetric in [0, 2^b-1]; ≤ 4 bits pack two per byte.
//
// The five int4 nibble layouts, side by side (lo = low nibble, hi = high nibble of one byte):
//
//   layout                 byte i holds (lo | hi)                      nibble value           implementation
//   quantized directory    column 2i | column 2i+1 of a row            code − qmin (unsigned) WeightScheme::encode/decode (schemes.cpp)
//   CPU packed s4          k+j | k+4+j, per lane: 4 bytes per 8 k      two's complement       kern::pack_weights_s4 / unpack_rows (kernels/cpu/pack.cpp)
//   CUDA s4                w[8q+j] | w[8q+j+4], j = 0..3 of 4 bytes    two's complement       cuda::pack_s4_gpu / unpack_s4_gpu (kernels/cuda/gemm_ref.h)
//   KV cache (≤ 4 bits)    dim i | dim i + head_dim/2 of a head row    asymmetric code        kern::kv_encode_row / kv_decode_rows (kernels/cpu/kv_codes.cpp)
//   GGUF Q4_0              element i | element 16+i of a 32-block      code + 8 (unsigned)    gguf::quantize_q4_0 / dequantize_q4_0 (io/gguf_writer.cpp)
//
// tests/test_schemes.cpp round-trips each and checks a hand-written byte.
#include <cstdint>
#include <string>
#include <vector>

#include "numerics/quantizer.h"

namespace tameq {

enum class CodeStorage { OneByte, TwoPerByte };

// The one rule every code store follows (directory, CPU and CUDA packs, KV cache): ≤ 4 bits go two per byte.
constexpr CodeStorage code_storage(int bits) { return bits <= 4 ? CodeStorage::TwoPerByte : CodeStorage::OneByte; }

// A row of the weight table: a range of bits whose codes have the same sign convention and storage.
struct WeightFormat {
    const char* name;
    int min_bits, max_bits;
    bool symmetric;
    CodeStorage storage;  // as the quantized directory stores the codes (unsigned code − qmin)
};

//                                          name     bits    symmetric  directory storage
inline constexpr WeightFormat kWeightFormats[] = {{"sym4", 2, 4, true, CodeStorage::TwoPerByte},
                                                  {"asym4", 2, 4, false, CodeStorage::TwoPerByte},
                                                  {"sym8", 5, 8, true, CodeStorage::OneByte},
                                                  {"asym8", 5, 8, false, CodeStorage::OneByte}};

// How wide the grid parameters are counted by WeightScheme::bytes: the directory stores F32; a deployed
// model (llama.cpp, the CUDA epilogue's inputs) holds FP16.
enum class GridWidth { F32 = 4, F16 = 2 };

// A weight scheme as looked up from a QuantSpec: its format row and its grid.
struct WeightScheme {
    const WeightFormat* format;
    int bits;
    Granularity granularity;
    int group_size;  // PerGroup: columns per group
    bool act_order;  // GPTQ act-order: each column names its group (the directory's g_idx)

    bool symmetric() const { return format->symmetric; }
    CodeStorage storage() const { return format->storage; }
    std::string name() const;  // e.g. "sym4 (w4) per-channel", "asym8 (w8) g128 act-order"
    QuantSpec spec() const;    // bits, symmetry and grid (no clip or MSE search: they do not change storage)

    // Stored code bytes per row of `cols` codes, and grids (scale, and zero when asymmetric) per row / matrix.
    int packed_cols(int cols) const;
    bool fits(int cols) const { return granularity != Granularity::PerGroup || cols % group_size == 0; }
    int grids_per_row(int cols) const;  // groups_per_row: fails unless fits(cols)
    int64_t grid_rows(int rows) const { return granularity == Granularity::PerTensor ? 1 : rows; }

    // Bytes of a [rows x cols] matrix: codes + scales (+ zeros when asymmetric) at `width` + the I32 g_idx
    // of act-order. At GridWidth::F32 this is exactly what the quantized directory writes.
    int64_t bytes(int rows, int cols, GridWidth width = GridWidth::F32) const;

    // The directory's codec: codes [rows x cols] (in [qmin, qmax]) <-> stored bytes [rows x packed_cols].
    std::vector<uint8_t> encode(const int8_t* codes, int rows, int cols) const;
    // Returns false, with the offending stored value in *bad, when a stored code lies outside the grid.
    bool decode(const uint8_t* stored, int rows, int cols, int8_t* codes, int* bad) const;
};

// The scheme of a weight quantized with `s` (bits, symmetric, granularity, group); validates s.
WeightScheme weight_scheme(const QuantSpec& s, bool act_order = false);

// A row of the KV-cache table: the integer engine's code cache (asymmetric per (token, head) grids,
// uint8 zero points). The layouts live with their kernels (kernels/cpu/kv_codes.h).
struct KvFormat {
    const char* name;
    int min_bits, max_bits;
    CodeStorage storage;
};

//                                  name   bits   storage (TwoPerByte: dim i | dim i + head_dim/2)
inline constexpr KvFormat kKvFormats[] = {{"kv4", 2, 4, CodeStorage::TwoPerByte}, {"kv8", 5, 8, CodeStorage::OneByte}};

const KvFormat& kv_format(int bits);

// Bytes of one head row of codes.
constexpr int kv_row_bytes(int head_dim, int bits) {
    return code_storage(bits) == CodeStorage::TwoPerByte ? head_dim / 2 : head_dim;
}

}  // namespace tameq
