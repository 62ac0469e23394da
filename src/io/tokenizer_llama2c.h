#pragma once
// llama2.c's tokenizer.bin (e.g. tok512.bin): int32 max_token_length, then per token float32 score, int32 length
// and the bytes. Encodes exactly as llama2.c's encode(): a leading " " token, one token per code point (bytes
// <0xXX> at id byte+3 where the code point is missing), then greedy merges of the best-scoring adjacent pair.
#include <memory>
#include <string>

#include "io/tokenizer.h"

namespace tameq {

std::unique_ptr<Tokenizer> load_llama2c_tokenizer(const std::string& path);

}  // namespace tameq
