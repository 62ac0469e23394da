#pragma once
// Opening any model path a command accepts: a quantized directory or a compressed-tensors export of one (its
// simulated model, FakeQuantLinear wherever the recipe quantized) or an FP checkpoint (Hugging Face directory, llama2.c file). It sits with
// the deploy formats, above the model layer and the quantized-directory format, because a directory those
// formats write is a model path too.
#include <string>

#include "model/model.h"

namespace tameq {

Model load_model(const std::string& path);

}  // namespace tameq
