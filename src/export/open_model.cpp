#include "export/open_model.h"

#include "quant/quantized_format.h"

namespace tameq {

Model load_model(const std::string& path) {
    return is_quantized_dir(path) ? load_quantized_model(path) : load_checkpoint(path);
}

}  // namespace tameq
