#pragma once
// The granularity words of tameq.json (shared by format_write.cpp and format_read.cpp). The tensor names
// are the canonical names of the family's slot table (model/family.h).
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "model/model.h"
#include "numerics/quantizer.h"

namespace tameq {

const char* granularity_name(Granularity g);
// Fails naming `file` on an unknown word.
Granularity parse_granularity(const std::string& s, const std::string& file);

}  // namespace tameq
