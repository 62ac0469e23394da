#pragma once
// SentencePiece tokenizer.model (Llama 1/2, Mistral) through libsentencepiece.
#include <memory>
#include <string>

#include "io/tokenizer.h"

namespace tameq {

std::unique_ptr<Tokenizer> load_spm_tokenizer(const std::string& model_path);

}  // namespace tameq
