#include "cli/model_args.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "common/error.h"
#include "common/files.h"
#include "kernels/cpu/dispatch.h"
#include "model/int_engine.h"

#include <fmt/format.h>

namespace tameq::cli {
namespace fs = std::filesystem;

std::unique_ptr<Tokenizer> open_tokenizer_for(const std::string& model_path, const std::string& override_path) {
    if (!override_path.empty()) return load_tokenizer(override_path);
    if (fs::is_directory(model_path)) return load_tokenizer(model_path);
    const fs::path dir = fs::path(model_path).parent_path().empty() ? fs::path(".") : fs::path(model_path).parent_path();
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(dir, ec)) {
        const std::string name = entry.path().filename().string();
        if (name.starts_with("tok") && name.ends_with(".bin")) return load_tokenizer(entry.path().string());
    }
    fail(model_path, "no tokenizer found beside the model (expected tok*.bin); pass --tokenizer");
}

std::string select_engine(Model& m, const std::string& engine) {
    const int simulated = count_simulated_linears(m);
    if (simulated == 0) return "";
    if (engine == "sim") return fmt::format("simulated quantization ({} linears)", simulated);
    const IntegerReport r = use_integer_kernels(m);
    std::string s = fmt::format("integer kernels ({}) for {} linears", kern::path_name(kern::active_path()), r.integer);
    if (r.simulated) s += fmt::format(", simulated for {} ({})", r.simulated, r.first_reason);
    if (r.fused_hadamard) s += ", R4 fused into down_proj";
    if (r.kv_codes) s += ", KV cache stores codes";
    if (r.head_bf16) s += r.embed_bf16 ? ", embeddings and lm_head in BF16" : ", lm_head in BF16";
    return s;
}

}  // namespace tameq::cli
