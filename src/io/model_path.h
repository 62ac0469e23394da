#pragma once
// What a model path on the command line is, decided from the file system alone: a directory written by
// `tameq quantize` (it holds tameq.json), a Hugging Face directory, or a llama2.c checkpoint. The format
// layer asks this before reading anything; opening the model is export/open_model.h's job.
#include <string>

namespace tameq {

// The marker file of a quantized directory.
inline constexpr const char* kQuantizedMarker = "tameq.json";

bool is_quantized_dir(const std::string& path);

}  // namespace tameq
