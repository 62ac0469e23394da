// libFuzzer target: the safetensors header parser must reject any byte string with tameq::Error,
// never crash or read out of bounds.
#include <cstddef>
#include <cstdint>

#include "common/error.h"
#include "io/safetensors.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        auto tensors = tameq::parse_safetensors(data, size, "fuzz.safetensors");
        for (auto& [name, view] : tensors) {
            if (view.dtype == tameq::DType::F32 || view.dtype == tameq::DType::F16 || view.dtype == tameq::DType::BF16)
                (void)view.to_f32();
        }
    } catch (const tameq::Error&) {
    }
    return 0;
}
