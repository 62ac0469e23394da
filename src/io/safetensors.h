#pragma once
// safetensors reader: mmap, zero-copy views, sharded checkpoints through
// model.safetensors.index.json. Header and offsets are validated on open.
#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/mapped_file.h"

namespace tameq {

enum class DType { F32, F16, BF16, F64, I8, U8, I16, I32, I64, BOOL };

const char* dtype_name(DType t);
size_t dtype_size(DType t);

struct TensorView {
    std::string name;
    std::string file;  // the shard holding it, for error messages
    DType dtype = DType::F32;
    std::vector<int64_t> shape;
    const uint8_t* data = nullptr;  // points into the mmap; valid while the SafeTensors lives
    size_t nbytes = 0;

    int64_t numel() const;
    // Converted copy as float32 (F32/F16/BF16 only).
    std::vector<float> to_f32() const;
    void to_f32(float* out) const;
};

// Parse one safetensors blob (header + data). Exposed for fuzzing; `file` names it in errors.
std::map<std::string, TensorView> parse_safetensors(const uint8_t* bytes, size_t size, const std::string& file);

class SafeTensors {
public:
    // `path` is a .safetensors file, a model.safetensors.index.json, or a directory holding either.
    static SafeTensors open(const std::string& path);

    bool has(const std::string& name) const { return tensors_.count(name) != 0; }
    const TensorView& get(const std::string& name) const;
    // Checks the shape, then returns the float32 copy.
    std::vector<float> load_f32(const std::string& name, const std::vector<int64_t>& expected_shape) const;
    std::vector<std::string> names() const;
    const std::map<std::string, std::string>& metadata() const { return metadata_; }
    const std::string& path() const { return path_; }

private:
    std::string path_;
    std::vector<std::unique_ptr<MappedFile>> files_;
    std::map<std::string, TensorView> tensors_;
    std::map<std::string, std::string> metadata_;
};

std::string shape_str(const std::vector<int64_t>& shape);

}  // namespace tameq
