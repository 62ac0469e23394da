#pragma once
// Byte-level BPE, the tokenizer of GPT-2, Llama 3 and Qwen2: a regex pre-tokenizer splits the text into words, each
// word's bytes become symbols, and ranked merges join adjacent symbols. load_tokenizer_json_text (tokenizer.h)
// reads Hugging Face's tokenizer.json; this reads OpenAI's original GPT-2 files.
#include <memory>
#include <string>

#include "io/tokenizer.h"

namespace tameq {

std::unique_ptr<Tokenizer> load_gpt2_bpe(const std::string& vocab_bpe_path, const std::string& encoder_json_path);

}  // namespace tameq
