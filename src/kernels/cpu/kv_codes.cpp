#include "kernels/cpu/kv_codes.h"

#include "kernels/cpu/dispatch.h"
#include "kernels/cpu/kv_codes_paths.h"

namespace tameq::kern {

void kv_encode_row(const float* x, int head_dim, const QuantSpec& spec, QParams p, uint8_t* out) {
    if (spec.bits > 4) {
        for (int i = 0; i < head_dim; ++i) out[i] = uint8_t(quantize_code(x[i], p, spec));
        return;
    }
    const int half = head_dim / 2;
    for (int i = 0; i < half; ++i)
        out[i] = uint8_t(quantize_code(x[i], p, spec) | (quantize_code(x[i + half], p, spec) << 4));
}

void kv_decode_rows_scalar(const uint8_t* codes, const float* scale, const uint8_t* zero, int stride, int rows,
                           int head_dim, int bits, float* out) {
    const int row_bytes = kv_row_bytes(head_dim, bits), half = head_dim / 2;
    for (int r = 0; r < rows; ++r) {
        const uint8_t* c = codes + size_t(r) * stride * row_bytes;
        const QParams p{scale[size_t(r) * stride], float(zero[size_t(r) * stride])};
        float* o = out + size_t(r) * head_dim;
        if (bits > 4) {
            for (int i = 0; i < head_dim; ++i) o[i] = dequantize_code(c[i], p);
        } else {
            for (int i = 0; i < half; ++i) {
                o[i] = dequantize_code(c[i] & 15, p);
                o[i + half] = dequantize_code(c[i] >> 4, p);
            }
        }
    }
}

void kv_decode_rows(const uint8_t* codes, const float* scale, const uint8_t* zero, int stride, int rows, int head_dim,
                    int bits, float* out) {
    auto decode = active_path() == KernelPath::scalar ? kv_decode_rows_scalar : kv_decode_rows_avx2;
    decode(codes, scale, zero, stride, rows, head_dim, bits, out);
}

}  // namespace tameq::kern
