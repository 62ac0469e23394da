#include "numerics/schemes.h"

#include <fmt/format.h>

#include "common/error.h"

namespace tameq {

WeightScheme weight_scheme(const QuantSpec& s, bool act_order) {
    s.validate();
    for (const WeightFormat& f : kWeightFormats)
        if (f.symmetric == s.symmetric && s.bits >= f.min_bits && s.bits <= f.max_bits)
            return {&f, s.bits, s.granularity, s.granularity == Granularity::PerGroup ? s.group_size : 0, act_order};
    fail("schemes", "no weight format holds {}-bit {} codes", s.bits, s.symmetric ? "symmetric" : "asymmetric");
}

std::string WeightScheme::name() const {
    std::string grid = granularity == Granularity::PerTensor ? "per-tensor"
                       : granularity == Granularity::PerGroup ? fmt::format("g{}", group_size)
                                                              : "per-channel";
    return fmt::format("{} (w{}) {}{}", format->name, bits, grid, act_order ? " act-order" : "");
}

int WeightScheme::packed_cols(int cols) const { return storage() == CodeStorage::TwoPerByte ? (cols + 1) / 2 : cols; }

QuantSpec WeightScheme::spec() const {
    QuantSpec s;
    s.bits = bits;
    s.symmetric = symmetric();
    s.granularity = granularity;
    s.group_size = group_size;
    return s;
}

int WeightScheme::grids_per_row(int cols) const { return groups_per_row(cols, spec()); }

int64_t WeightScheme::bytes(int rows, int cols, GridWidth width) const {
    const int64_t grids = grid_rows(rows) * grids_per_row(cols);
    const int64_t per_grid = int64_t(width) * (symmetric() ? 1 : 2);
    return int64_t(rows) * packed_cols(cols) + grids * per_grid + (act_order ? int64_t(cols) * 4 : 0);
}

std::vector<uint8_t> WeightScheme::encode(const int8_t* codes, int rows, int cols) const {
    const int lo = qmin(spec());
    const int pc = packed_cols(cols);
    const bool nibbles = storage() == CodeStorage::TwoPerByte;
    std::vector<uint8_t> out(size_t(rows) * size_t(pc), 0);
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
            const uint8_t u = uint8_t(codes[size_t(r) * cols + c] - lo);
            if (nibbles) out[size_t(r) * pc + c / 2] |= uint8_t(c % 2 ? u << 4 : u);
            else out[size_t(r) * pc + c] = u;
        }
    return out;
}

bool WeightScheme::decode(const uint8_t* stored, int rows, int cols, int8_t* codes, int* bad) const {
    const int lo = qmin(spec()), top = qmax(spec()) - lo;
    const int pc = packed_cols(cols);
    const bool nibbles = storage() == CodeStorage::TwoPerByte;
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
            const uint8_t b = stored[size_t(r) * pc + (nibbles ? c / 2 : c)];
            const int u = nibbles ? (c % 2 ? b >> 4 : b & 0xf) : b;
            if (u > top) {
                if (bad) *bad = u;
                return false;
            }
            codes[size_t(r) * cols + c] = int8_t(u + lo);
        }
    return true;
}

const KvFormat& kv_format(int bits) {
    for (const KvFormat& f : kKvFormats)
        if (bits >= f.min_bits && bits <= f.max_bits) return f;
    fail("schemes", "no KV-cache format holds {}-bit codes", bits);
}

}  // namespace tameq
