#pragma once
// Opening any model path a command accepts: a quantized directory (its simulated model, FakeQuantLinear
// wherever the recipe quantized) or an FP checkpoint (Hugging Face directory, llama2.c file). A
// pipeline-level choice, so it sits above both the model layer and the quantized-directory format.
#include <string>

#include "model/model.h"

namespace tameq {

Model load_model(const std::string& path);

}  // namespace tameq
