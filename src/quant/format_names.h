#pragma once
// The quantized directory's names (shared by format_write.cpp and format_read.cpp): the canonical linear
// names of a block, which are the tensor and tameq.json keys, and the granularity words of tameq.json.
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/model.h"
#include "numerics/quantizer.h"

namespace tameq {

// The linears of a block under their canonical names.
std::vector<std::pair<const char*, std::unique_ptr<Linear>*>> named_linears(Layer& l, bool swiglu);

const char* granularity_name(Granularity g);
// Fails naming `file` on an unknown word.
Granularity parse_granularity(const std::string& s, const std::string& file);

}  // namespace tameq
