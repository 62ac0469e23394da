#include "cli/model_args.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include <CLI/CLI.hpp>

#include "common/error.h"
#include "common/files.h"

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

void add_device_option(CLI::App* cmd, std::string& device) {
    cmd->add_option("--device", device,
                    "cpu, or cuda: the CUDA engine (Llama family; BF16 for FP models, W8A8 for 8-bit per-token recipes)")
        ->check(CLI::IsMember({"cpu", "cuda"}))
        ->capture_default_str();
}

}  // namespace tameq::cli
