#pragma once
// GGUF v3 files (the llama.cpp / ggml container): a header, typed key/value metadata, tensor descriptions,
// then the aligned tensor data in F32, F16, Q8_0, Q4_0 or Q4_1. Tensors come either as FP32 values that the
// writer rounds (ggml's reference quantizers, for FP checkpoints) or as blocks already encoded from tameq's
// own codes (export/gguf_export.cpp: the codes tameq chose, written without re-quantizing).
#include <cstdint>
#include <string>
#include <vector>

namespace tameq::gguf {

constexpr uint32_t kMagic = 0x46554747;  // "GGUF" read as a little-endian u32
constexpr uint32_t kVersion = 3;
constexpr uint64_t kAlignment = 32;      // general.alignment's default; we never write another

// Metadata value types, as numbered by the format.
enum class ValueType : uint32_t {
    U8 = 0, I8 = 1, U16 = 2, I16 = 3, U32 = 4, I32 = 5, F32 = 6, Bool = 7, String = 8, Array = 9, U64 = 10,
    I64 = 11, F64 = 12,
};

// ggml tensor types we write (their ggml numbers).
enum class TensorType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q8_0 = 8 };

// general.file_type: llama.cpp's llama_ftype of a file whose big tensors are all of type t (LLAMA_FTYPE_ALL_F32
// = 0, MOSTLY_F16 = 1, MOSTLY_Q4_0 = 2, MOSTLY_Q4_1 = 3, MOSTLY_Q8_0 = 7; not the tensor type numbers above).
constexpr uint32_t file_type_of(TensorType t) {
    switch (t) {
        case TensorType::F32: return 0;
        case TensorType::F16: return 1;
        case TensorType::Q4_0: return 2;
        case TensorType::Q4_1: return 3;
        case TensorType::Q8_0: return 7;
    }
    return 0;
}

// The block types cut each row into blocks of 32 values, each with its own f16 scale d (and f16 offset m).
constexpr int kQuantBlock = 32;
constexpr size_t kQ8_0Bytes = 2 + 32;      // f16 d = amax/127, 32 int8 codes; x ≈ d·q
constexpr size_t kQ4_0Bytes = 2 + 16;      // f16 d = (value of largest |x|)/−8, 32 codes q+8 in nibbles; x ≈ d·(c−8)
constexpr size_t kQ4_1Bytes = 2 + 2 + 16;  // f16 d = (max−min)/15, f16 m = min, 32 codes in nibbles; x ≈ d·c + m

constexpr bool is_block_type(TensorType t) { return t == TensorType::Q8_0 || t == TensorType::Q4_0 || t == TensorType::Q4_1; }
// Bytes of n consecutive values of type t (n a multiple of 32 for the block types).
uint64_t tensor_bytes(TensorType t, uint64_t n);
TensorType parse_tensor_type(const std::string& name);  // "f32", "f16", "q8_0", "q4_0", "q4_1"
const char* tensor_type_name(TensorType t);

// ggml's reference quantizers (quantize_row_*_ref) and their inverses; n a multiple of 32. Q4_0/Q4_1 block j:
// byte i (0..15) holds element i in its low nibble, element 16+i in its high one.
void quantize_q8_0(const float* x, uint64_t n, uint8_t* out);
void quantize_q4_0(const float* x, uint64_t n, uint8_t* out);
void quantize_q4_1(const float* x, uint64_t n, uint8_t* out);
void dequantize_q8_0(const uint8_t* in, uint64_t n, float* y);
void dequantize_q4_0(const uint8_t* in, uint64_t n, float* y);
void dequantize_q4_1(const uint8_t* in, uint64_t n, float* y);
void dequantize(TensorType t, const uint8_t* in, uint64_t n, float* y);  // any type, F32/F16 included

// One block of 32 integer codes on a given grid, encoded without rounding anything but d and m to f16:
//   Q8_0: x = d·q, q in [-127, 127];  Q4_0: x = d·(c − 8), c = q + 8 in [0, 15] (q in [-8, 7]);
//   Q4_1: x = d·c + m, c in [0, 15].  The caller checks the code ranges (export/gguf_export.cpp does).
void encode_q8_0_block(const int8_t* q, float d, uint8_t* out);
void encode_q4_0_block(const int8_t* q, float d, uint8_t* out);
void encode_q4_1_block(const int8_t* c, float d, float m, uint8_t* out);

class Writer {
public:
    void add_u32(const std::string& key, uint32_t v);
    void add_i32(const std::string& key, int32_t v);
    void add_f32(const std::string& key, float v);
    void add_bool(const std::string& key, bool v);
    void add_string(const std::string& key, const std::string& v);
    void add_strings(const std::string& key, const std::vector<std::string>& v);
    void add_f32s(const std::string& key, const std::vector<float>& v);
    void add_i32s(const std::string& key, const std::vector<int32_t>& v);

    // A [rows x cols] row-major tensor (ggml dims: ne0 = cols, ne1 = rows; rows = 1 with a 1-D shape) stored
    // as `type`, encoded when write() runs: `data` must stay valid until then.
    void add_tensor(const std::string& name, std::vector<uint64_t> shape, TensorType type, const float* data);
    // The same with its bytes already encoded as `type` (tensor_bytes(type, rows·cols) of them).
    void add_encoded_tensor(const std::string& name, std::vector<uint64_t> shape, TensorType type, std::vector<uint8_t> bytes);

    // Writes the whole file to a temporary name beside `path` and renames it into place (an interrupt or an
    // error leaves nothing); errors name `path`.
    void write(const std::string& path) const;

    int n_kv() const { return n_kv_; }
    int n_tensors() const { return int(tensors_.size()); }

private:
    struct Tensor {
        std::string name;
        std::vector<uint64_t> shape;  // row-major, outermost first
        TensorType type;
        const float* data;           // FP32 values to encode, or null when `encoded` holds the bytes
        std::vector<uint8_t> encoded;
    };
    void key(const std::string& k, ValueType t);

    std::string kv_;  // the encoded key/value section
    int n_kv_ = 0;
    std::vector<Tensor> tensors_;
};

}  // namespace tameq::gguf
