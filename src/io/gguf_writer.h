#pragma once
// GGUF v3 files (the llama.cpp / ggml container) written from FP32 tensors: a header, typed key/value
// metadata, tensor descriptions, then the aligned tensor data in F32, F16, Q8_0 or Q4_0. Used to hand our
// checkpoints to llama.cpp for speed comparisons.
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
enum class TensorType : uint32_t { F32 = 0, F16 = 1, Q4_0 = 2, Q8_0 = 8 };

// general.file_type: llama.cpp's llama_ftype of a file whose big tensors are all of type t (LLAMA_FTYPE_ALL_F32
// = 0, MOSTLY_F16 = 1, MOSTLY_Q4_0 = 2, MOSTLY_Q8_0 = 7; not the tensor type numbers above).
constexpr uint32_t file_type_of(TensorType t) {
    return t == TensorType::F32 ? 0 : t == TensorType::F16 ? 1 : t == TensorType::Q4_0 ? 2 : 7;
}

// Q8_0 and Q4_0 cut each row into blocks of 32 values, each with its own f16 scale d.
constexpr int kQuantBlock = 32;
constexpr size_t kQ8_0Bytes = 2 + 32;  // f16 d = amax/127, 32 int8 codes; x ≈ d·q
constexpr size_t kQ4_0Bytes = 2 + 16;  // f16 d = (value of largest |x|)/−8, 32 codes q+8 in nibbles; x ≈ d·(c−8)

// Bytes of n consecutive values of type t (n a multiple of 32 for the block types).
uint64_t tensor_bytes(TensorType t, uint64_t n);
TensorType parse_tensor_type(const std::string& name);  // "f32", "f16", "q8_0", "q4_0"
const char* tensor_type_name(TensorType t);

// n a multiple of 32. Q4_0 block j: byte i (0..15) holds element i in its low nibble, element 16+i in its high one.
void quantize_q8_0(const float* x, uint64_t n, uint8_t* out);
void quantize_q4_0(const float* x, uint64_t n, uint8_t* out);
void dequantize_q8_0(const uint8_t* in, uint64_t n, float* y);
void dequantize_q4_0(const uint8_t* in, uint64_t n, float* y);

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

    // Writes the whole file; errors name `path`.
    void write(const std::string& path) const;

    int n_kv() const { return n_kv_; }
    int n_tensors() const { return int(tensors_.size()); }

private:
    struct Tensor {
        std::string name;
        std::vector<uint64_t> shape;  // row-major, outermost first
        TensorType type;
        const float* data;
    };
    void key(const std::string& k, ValueType t);

    std::string kv_;  // the encoded key/value section
    int n_kv_ = 0;
    std::vector<Tensor> tensors_;
};

}  // namespace tameq::gguf
