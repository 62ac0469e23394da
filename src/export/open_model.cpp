#include "export/open_model.h"

#include "export/compressed_tensors.h"
#include "quant/quantized_format.h"

namespace tameq {

Model load_model(const std::string& path) {
    if (is_quantized_dir(path)) return load_quantized_model(path);
    if (is_compressed_tensors_dir(path)) return load_compressed_tensors(path);
    return load_checkpoint(path);
}

}  // namespace tameq
