// compressed-tensors' dense int32 packing (compressed_tensors.h has the layout).
#include <cstring>

#include "common/error.h"
#include "export/compressed_tensors.h"

namespace tameq {
namespace {

void check_bits(int bits) {
    if (bits < 1 || bits > 8) fail("compressed-tensors", "packing takes 1..8 bits, not {}", bits);
}

}  // namespace

std::vector<int32_t> ct_pack_rows(const int8_t* codes, int rows, int cols, int bits) {
    check_bits(bits);
    const int words = ct_packed_words(cols, bits);
    const int offset = 1 << (bits - 1);
    std::vector<uint32_t> out(size_t(rows) * words, 0u);
    for (int r = 0; r < rows; ++r) {
        uint32_t* w = out.data() + size_t(r) * words;
        for (int i = 0; i < cols; ++i) {
            const int c = codes[size_t(r) * cols + i];
            if (c < -offset || c >= offset) fail("compressed-tensors", "code {} outside the signed {}-bit range", c, bits);
            const uint64_t u = uint64_t(c + offset);
            const int64_t bit = int64_t(i) * bits;
            const int word = int(bit / 32), shift = int(bit % 32);
            w[word] |= uint32_t(u << shift);
            if (shift + bits > 32) w[word + 1] |= uint32_t(u >> (32 - shift));  // the code straddles two words
        }
    }
    std::vector<int32_t> signed_out(out.size());
    std::memcpy(signed_out.data(), out.data(), out.size() * 4);
    return signed_out;
}

bool ct_unpack_rows(const int32_t* words_in, int rows, int cols, int bits, int8_t* codes) {
    check_bits(bits);
    const int words = ct_packed_words(cols, bits);
    const int offset = 1 << (bits - 1);
    const uint32_t mask = (1u << bits) - 1;
    for (int r = 0; r < rows; ++r) {
        const int32_t* w = words_in + size_t(r) * words;
        for (int i = 0; i < cols; ++i) {
            const int64_t bit = int64_t(i) * bits;
            const int word = int(bit / 32), shift = int(bit % 32);
            uint64_t v = uint32_t(w[word]);
            if (shift + bits > 32) v |= uint64_t(uint32_t(w[word + 1])) << 32;
            codes[size_t(r) * cols + i] = int8_t(int((v >> shift) & mask) - offset);
        }
        const int used = int((int64_t(cols) * bits) % 32);
        if (used != 0 && (uint32_t(w[words - 1]) >> used) != 0) return false;
    }
    return true;
}

std::vector<int32_t> ct_pack_columns(const int8_t* v, int rows, int cols, int bits) {
    std::vector<int8_t> t(size_t(rows) * cols);
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) t[size_t(c) * rows + r] = v[size_t(r) * cols + c];
    const std::vector<int32_t> packed = ct_pack_rows(t.data(), cols, rows, bits);  // [cols x words]
    const int words = ct_packed_words(rows, bits);
    std::vector<int32_t> out(size_t(words) * cols);
    for (int c = 0; c < cols; ++c)
        for (int w = 0; w < words; ++w) out[size_t(w) * cols + c] = packed[size_t(c) * words + w];
    return out;
}

bool ct_unpack_columns(const int32_t* words_in, int rows, int cols, int bits, int8_t* v) {
    const int words = ct_packed_words(rows, bits);
    std::vector<int32_t> t(size_t(words) * cols);
    for (int w = 0; w < words; ++w)
        for (int c = 0; c < cols; ++c) t[size_t(c) * words + w] = words_in[size_t(w) * cols + c];
    std::vector<int8_t> unpacked(size_t(rows) * cols);
    if (!ct_unpack_rows(t.data(), cols, rows, bits, unpacked.data())) return false;
    for (int c = 0; c < cols; ++c)
        for (int r = 0; r < rows; ++r) v[size_t(r) * cols + c] = unpacked[size_t(c) * rows + r];
    return true;
}

}  // namespace tameq
