#include "io/model_path.h"

#include <filesystem>

namespace tameq {

bool is_quantized_dir(const std::string& path) {
    namespace fs = std::filesystem;
    return fs::is_directory(path) && fs::exists(fs::path(path) / kQuantizedMarker);
}

}  // namespace tameq
