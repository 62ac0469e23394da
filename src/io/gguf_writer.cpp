#include "io/gguf_writer.h"

#include <algorithm>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "common/error.h"
#include "common/half.h"
#include "common/interrupt.h"

namespace tameq::gguf {
namespace {

template <typename T>
void put(std::string& out, T v) {
    char b[sizeof(T)];
    std::memcpy(b, &v, sizeof(T));
    out.append(b, sizeof(T));
}

void put_string(std::string& out, const std::string& s) {
    put<uint64_t>(out, s.size());
    out += s;
}

uint64_t align_up(uint64_t n) { return (n + kAlignment - 1) / kAlignment * kAlignment; }

void put_f16(uint8_t* p, float v) {
    const uint16_t h = f32_to_f16(v);
    std::memcpy(p, &h, 2);
}

float get_f16(const uint8_t* p) {
    uint16_t h;
    std::memcpy(&h, p, 2);
    return f16_to_f32(h);
}

}  // namespace

uint64_t tensor_bytes(TensorType t, uint64_t n) {
    switch (t) {
        case TensorType::F32: return 4 * n;
        case TensorType::F16: return 2 * n;
        case TensorType::Q8_0: return n / kQuantBlock * kQ8_0Bytes;
        case TensorType::Q4_0: return n / kQuantBlock * kQ4_0Bytes;
        case TensorType::Q4_1: return n / kQuantBlock * kQ4_1Bytes;
    }
    return 0;
}

TensorType parse_tensor_type(const std::string& name) {
    if (name == "f32") return TensorType::F32;
    if (name == "f16") return TensorType::F16;
    if (name == "q8_0") return TensorType::Q8_0;
    if (name == "q4_0") return TensorType::Q4_0;
    if (name == "q4_1") return TensorType::Q4_1;
    fail("--type", "'{}' is not one of f32, f16, q8_0, q4_0, q4_1", name);
}

const char* tensor_type_name(TensorType t) {
    switch (t) {
        case TensorType::F32: return "f32";
        case TensorType::F16: return "f16";
        case TensorType::Q8_0: return "q8_0";
        case TensorType::Q4_0: return "q4_0";
        case TensorType::Q4_1: return "q4_1";
    }
    return "?";
}

void quantize_q8_0(const float* x, uint64_t n, uint8_t* out) {
    for (uint64_t b = 0; b < n / kQuantBlock; ++b, x += kQuantBlock, out += kQ8_0Bytes) {
        float amax = 0;
        for (int i = 0; i < kQuantBlock; ++i) amax = std::max(amax, std::fabs(x[i]));
        const float d = amax / 127.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        put_f16(out, d);
        for (int i = 0; i < kQuantBlock; ++i) out[2 + i] = uint8_t(int8_t(std::lround(x[i] * id)));
    }
}

void quantize_q4_0(const float* x, uint64_t n, uint8_t* out) {
    for (uint64_t b = 0; b < n / kQuantBlock; ++b, x += kQuantBlock, out += kQ4_0Bytes) {
        // The signed value of largest magnitude maps to code 0 (−8·d), so the other side keeps 7 steps.
        float amax = 0, vmax = 0;
        for (int i = 0; i < kQuantBlock; ++i)
            if (std::fabs(x[i]) > amax) amax = std::fabs(x[i]), vmax = x[i];
        const float d = vmax / -8.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        put_f16(out, d);
        auto code = [&](float v) { return uint8_t(std::clamp(int(std::floor(v * id + 8.5f)), 0, 15)); };
        for (int i = 0; i < kQuantBlock / 2; ++i) out[2 + i] = uint8_t(code(x[i]) | code(x[i + 16]) << 4);
    }
}

void quantize_q4_1(const float* x, uint64_t n, uint8_t* out) {
    for (uint64_t b = 0; b < n / kQuantBlock; ++b, x += kQuantBlock, out += kQ4_1Bytes) {
        float lo = x[0], hi = x[0];
        for (int i = 1; i < kQuantBlock; ++i) lo = std::min(lo, x[i]), hi = std::max(hi, x[i]);
        const float d = (hi - lo) / 15.0f;
        const float id = d != 0 ? 1.0f / d : 0.0f;
        put_f16(out, d);
        put_f16(out + 2, lo);
        // ggml truncates (x − min)·id + 0.5 toward zero; the argument is never negative.
        auto code = [&](float v) { return uint8_t(std::min(15, int((v - lo) * id + 0.5f))); };
        for (int i = 0; i < kQuantBlock / 2; ++i) out[4 + i] = uint8_t(code(x[i]) | code(x[i + 16]) << 4);
    }
}

void encode_q8_0_block(const int8_t* q, float d, uint8_t* out) {
    put_f16(out, d);
    std::memcpy(out + 2, q, kQuantBlock);
}

void encode_q4_0_block(const int8_t* q, float d, uint8_t* out) {
    put_f16(out, d);
    for (int i = 0; i < kQuantBlock / 2; ++i) out[2 + i] = uint8_t((q[i] + 8) | (q[i + 16] + 8) << 4);
}

void encode_q4_1_block(const int8_t* c, float d, float m, uint8_t* out) {
    put_f16(out, d);
    put_f16(out + 2, m);
    for (int i = 0; i < kQuantBlock / 2; ++i) out[4 + i] = uint8_t(c[i] | c[i + 16] << 4);
}

void dequantize_q8_0(const uint8_t* in, uint64_t n, float* y) {
    for (uint64_t b = 0; b < n / kQuantBlock; ++b, in += kQ8_0Bytes, y += kQuantBlock) {
        const float d = get_f16(in);
        for (int i = 0; i < kQuantBlock; ++i) y[i] = d * float(int8_t(in[2 + i]));
    }
}

void dequantize_q4_0(const uint8_t* in, uint64_t n, float* y) {
    for (uint64_t b = 0; b < n / kQuantBlock; ++b, in += kQ4_0Bytes, y += kQuantBlock) {
        const float d = get_f16(in);
        for (int i = 0; i < kQuantBlock / 2; ++i) {
            y[i] = d * float((in[2 + i] & 15) - 8);
            y[i + 16] = d * float((in[2 + i] >> 4) - 8);
        }
    }
}

void dequantize_q4_1(const uint8_t* in, uint64_t n, float* y) {
    for (uint64_t b = 0; b < n / kQuantBlock; ++b, in += kQ4_1Bytes, y += kQuantBlock) {
        const float d = get_f16(in), m = get_f16(in + 2);
        for (int i = 0; i < kQuantBlock / 2; ++i) {
            y[i] = d * float(in[4 + i] & 15) + m;
            y[i + 16] = d * float(in[4 + i] >> 4) + m;
        }
    }
}

void dequantize(TensorType t, const uint8_t* in, uint64_t n, float* y) {
    switch (t) {
        case TensorType::F32: std::memcpy(y, in, 4 * n); break;
        case TensorType::F16:
            for (uint64_t i = 0; i < n; ++i) y[i] = get_f16(in + 2 * i);
            break;
        case TensorType::Q8_0: dequantize_q8_0(in, n, y); break;
        case TensorType::Q4_0: dequantize_q4_0(in, n, y); break;
        case TensorType::Q4_1: dequantize_q4_1(in, n, y); break;
    }
}

void Writer::key(const std::string& k, ValueType t) {
    put_string(kv_, k);
    put<uint32_t>(kv_, uint32_t(t));
    ++n_kv_;
}

void Writer::add_u32(const std::string& k, uint32_t v) {
    key(k, ValueType::U32);
    put(kv_, v);
}
void Writer::add_i32(const std::string& k, int32_t v) {
    key(k, ValueType::I32);
    put(kv_, v);
}
void Writer::add_f32(const std::string& k, float v) {
    key(k, ValueType::F32);
    put(kv_, v);
}
void Writer::add_bool(const std::string& k, bool v) {
    key(k, ValueType::Bool);
    put<uint8_t>(kv_, v ? 1 : 0);
}
void Writer::add_string(const std::string& k, const std::string& v) {
    key(k, ValueType::String);
    put_string(kv_, v);
}

void Writer::add_strings(const std::string& k, const std::vector<std::string>& v) {
    key(k, ValueType::Array);
    put<uint32_t>(kv_, uint32_t(ValueType::String));
    put<uint64_t>(kv_, v.size());
    for (const auto& s : v) put_string(kv_, s);
}

void Writer::add_f32s(const std::string& k, const std::vector<float>& v) {
    key(k, ValueType::Array);
    put<uint32_t>(kv_, uint32_t(ValueType::F32));
    put<uint64_t>(kv_, v.size());
    for (float x : v) put(kv_, x);
}

void Writer::add_i32s(const std::string& k, const std::vector<int32_t>& v) {
    key(k, ValueType::Array);
    put<uint32_t>(kv_, uint32_t(ValueType::I32));
    put<uint64_t>(kv_, v.size());
    for (int32_t x : v) put(kv_, x);
}

void Writer::add_tensor(const std::string& name, std::vector<uint64_t> shape, TensorType type, const float* data) {
    if (shape.empty() || shape.size() > 4) fail(name, "a GGUF tensor has 1 to 4 dimensions, not {}", shape.size());
    if (is_block_type(type) && shape.back() % kQuantBlock != 0)
        fail(name, "rows of {} values do not split into {} blocks of {}", shape.back(), tensor_type_name(type), kQuantBlock);
    tensors_.push_back({name, std::move(shape), type, data, {}});
}

void Writer::add_encoded_tensor(const std::string& name, std::vector<uint64_t> shape, TensorType type, std::vector<uint8_t> bytes) {
    add_tensor(name, shape, type, nullptr);
    uint64_t n = 1;
    for (uint64_t d : shape) n *= d;
    if (bytes.size() != tensor_bytes(type, n))
        fail(name, "{} bytes given for {} values of {} ({} expected)", bytes.size(), n, tensor_type_name(type), tensor_bytes(type, n));
    tensors_.back().encoded = std::move(bytes);
}

void Writer::write(const std::string& path) const {
    std::string head;
    put<uint32_t>(head, kMagic);
    put<uint32_t>(head, kVersion);
    put<uint64_t>(head, tensors_.size());
    put<uint64_t>(head, uint64_t(n_kv_));
    head += kv_;
    uint64_t offset = 0;
    for (const Tensor& t : tensors_) {
        put_string(head, t.name);
        put<uint32_t>(head, uint32_t(t.shape.size()));
        for (auto it = t.shape.rbegin(); it != t.shape.rend(); ++it) put<uint64_t>(head, *it);  // ne0 first
        put<uint32_t>(head, uint32_t(t.type));
        put<uint64_t>(head, offset);
        uint64_t n = 1;
        for (uint64_t d : t.shape) n *= d;
        offset = align_up(offset + tensor_bytes(t.type, n));
    }
    head.resize(align_up(head.size()), '\0');

    // The temporary is removed on every way out but the rename.
    const std::string tmp = path + ".tmp";
    struct RemoveUnlessKept {
        const std::string& file;
        bool keep = false;
        ~RemoveUnlessKept() {
            std::error_code ec;
            if (!keep) std::filesystem::remove(file, ec);
        }
    } guard{tmp};
    std::ofstream out(tmp, std::ios::binary);
    if (!out) fail(path, "cannot create");
    out.write(head.data(), std::streamsize(head.size()));
    std::vector<uint8_t> row;
    uint64_t written = 0;
    for (const Tensor& t : tensors_) {
        throw_if_interrupted(path);
        const uint64_t cols = t.shape.back();
        uint64_t rows = 1;
        for (size_t i = 0; i + 1 < t.shape.size(); ++i) rows *= t.shape[i];
        row.resize(tensor_bytes(t.type, cols));
        if (!t.data) {
            out.write(reinterpret_cast<const char*>(t.encoded.data()), std::streamsize(t.encoded.size()));
            rows = 0;  // written whole
            written += t.encoded.size();
        }
        for (uint64_t r = 0; r < rows; ++r) {
            const float* x = t.data + r * cols;
            switch (t.type) {
                case TensorType::F32: std::memcpy(row.data(), x, row.size()); break;
                case TensorType::F16:
                    for (uint64_t i = 0; i < cols; ++i) put_f16(row.data() + 2 * i, x[i]);
                    break;
                case TensorType::Q8_0: quantize_q8_0(x, cols, row.data()); break;
                case TensorType::Q4_0: quantize_q4_0(x, cols, row.data()); break;
                case TensorType::Q4_1: quantize_q4_1(x, cols, row.data()); break;
            }
            out.write(reinterpret_cast<const char*>(row.data()), std::streamsize(row.size()));
        }
        written += rows * row.size();
        const uint64_t pad = align_up(written) - written;
        static const char zeros[kAlignment] = {};
        out.write(zeros, std::streamsize(pad));
        written += pad;
    }
    out.close();
    if (!out) fail(path, "write failed (disk full?)");
    std::error_code ec;
    std::filesystem::rename(tmp, path, ec);
    if (ec) fail(path, "cannot rename {} into place: {}", tmp, ec.message());
    guard.keep = true;
}

}  // namespace tameq::gguf
