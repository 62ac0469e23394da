#pragma once
// Shared by the subcommands: open a model path together with its tokenizer.
#include <memory>
#include <string>

#include "io/tokenizer.h"

namespace CLI {
class App;
}

namespace tameq::cli {

// The tokenizer beside a model: a Hugging Face directory's own files, or for a llama2.c .bin the
// tok*.bin in the same directory. `override_path` (non-empty) wins.
std::unique_ptr<Tokenizer> open_tokenizer_for(const std::string& model_path, const std::string& override_path);

// The one --device option of the subcommands that run a model ("cpu" | "cuda"; eval/evaluate.h parse_device).
void add_device_option(CLI::App* cmd, std::string& device);

}  // namespace tameq::cli
