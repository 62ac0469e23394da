#include "kernels/cpu/pack.h"

#include <cstdlib>
#include <cstring>

#include "common/error.h"

namespace tameq::kern {

namespace {

void check_shape(const int8_t* w, int n, int k, int lo, int hi, const char* what) {
    if (n <= 0 || k <= 0 || k > max_k) fail("kernels", "cannot pack {} weights of shape [{} x {}] (1 <= k <= {})", what, n, k, max_k);
    for (size_t i = 0; i < static_cast<size_t>(n) * k; ++i)
        if (w[i] < lo || w[i] > hi) fail("kernels", "{} weight code {} out of range [{}, {}]", what, w[i], lo, hi);
}

PackedWeights make(int n, int k, int bits, int group) {
    if (group < 0 || (group > 0 && (group % 8 != 0 || k % group != 0)))
        fail("kernels", "weight group size {} must be a positive multiple of 8 dividing k = {}", group, k);
    PackedWeights p;
    p.n = n;
    p.k = k;
    p.bits = bits;
    int step = bits == 8 ? 4 : 8;
    p.k_pad = (k + step - 1) / step * step;
    p.allocate(static_cast<size_t>(p.panels()) * panel_n * p.k_pad * bits / 8);
    p.row_sums.assign(n, 0);
    p.group = group;
    if (group > 0) p.group_sums.assign(static_cast<size_t>(n) * (k / group), 0);
    return p;
}

// Byte offset of w[c, kk] inside its panel (s8), or of the byte holding its nibble (s4).
size_t offset_in_panel(int nb, int c, int kk, int bits) {
    int blk = (c % panel_n) / block_n, lane = c % block_n;
    if (bits == 8) return (static_cast<size_t>(kk / 4) * nb + blk) * 64 + lane * 4 + kk % 4;
    return (static_cast<size_t>(kk / 8) * nb + blk) * 64 + lane * 4 + kk % 4;
}

}  // namespace

void PackedWeights::Free::operator()(uint8_t* p) const { std::free(p); }

void PackedWeights::allocate(size_t bytes) {
    size_t rounded = (bytes + 63) / 64 * 64;
    data_.reset(static_cast<uint8_t*>(std::aligned_alloc(64, rounded)));
    if (!data_) fail("kernels", "out of memory packing {} bytes of weights", bytes);
    std::memset(data_.get(), 0, rounded);
    bytes_ = bytes;
}

int PackedWeights::blocks_in_panel(int p) const {
    int left = n - p * panel_n;
    return left >= panel_n ? panel_blocks : (left + block_n - 1) / block_n;
}

namespace {

// The one packing walk of both widths: every code goes to its place in the panel layout (`store` writes
// it: a byte for s8, a nibble for s4), and the row and group sums the dequantizing epilogue needs are
// accumulated on the way.
template <class Store>
PackedWeights pack_weights(const int8_t* w, int n, int k, int bits, int group, Store store) {
    PackedWeights p = make(n, k, bits, group);
    for (int c = 0; c < n; ++c) {
        int pn = c / panel_n;
        uint8_t* base = p.mutable_data() + (p.panel(pn) - p.panel(0));
        int32_t sum = 0;
        for (int kk = 0; kk < k; ++kk) {
            int8_t v = w[static_cast<size_t>(c) * k + kk];
            store(base[offset_in_panel(p.blocks_in_panel(pn), c, kk, bits)], kk, v);
            sum += v;
            if (group > 0) p.group_sums[static_cast<size_t>(kk / group) * n + c] += v;
        }
        p.row_sums[c] = sum;
    }
    return p;
}

}  // namespace

PackedWeights pack_weights_s8(const int8_t* w, int n, int k, int group) {
    check_shape(w, n, k, -128, 127, "s8");
    return pack_weights(w, n, k, 8, group, [](uint8_t& byte, int, int8_t v) { byte = static_cast<uint8_t>(v); });
}

PackedWeights pack_weights_s4(const int8_t* w, int n, int k, int group) {
    check_shape(w, n, k, -8, 7, "s4");
    // k and k+4 of each group of 8 share a byte: low nibble k % 8 < 4, high nibble the other four.
    return pack_weights(w, n, k, 4, group, [](uint8_t& byte, int kk, int8_t v) {
        byte |= static_cast<uint8_t>((v & 0xf) << (kk % 8 < 4 ? 0 : 4));
    });
}

void unpack_rows(const PackedWeights& w, int n0, int count, int8_t* out) {
    for (int i = 0; i < count; ++i) {
        int c = n0 + i;
        int8_t* row = out + static_cast<size_t>(i) * w.k_pad;
        std::memset(row, 0, w.k_pad);
        if (c >= w.n) continue;
        int pn = c / panel_n, nb = w.blocks_in_panel(pn);
        const uint8_t* base = w.panel(pn);
        for (int kk = 0; kk < w.k; ++kk) {
            uint8_t b = base[offset_in_panel(nb, c, kk, w.bits)];
            if (w.bits == 8) {
                row[kk] = static_cast<int8_t>(b);
            } else {
                int nib = kk % 8 < 4 ? b & 0xf : b >> 4;
                row[kk] = static_cast<int8_t>(nib >= 8 ? nib - 16 : nib);
            }
        }
    }
}

std::vector<int8_t> unpack_weights(const PackedWeights& w) {
    std::vector<int8_t> padded(static_cast<size_t>(w.n) * w.k_pad), out(static_cast<size_t>(w.n) * w.k);
    unpack_rows(w, 0, w.n, padded.data());
    for (int c = 0; c < w.n; ++c)
        std::memcpy(out.data() + static_cast<size_t>(c) * w.k, padded.data() + static_cast<size_t>(c) * w.k_pad, w.k);
    return out;
}

}  // namespace tameq::kern
