#include "model/fp_rows.h"

namespace tameq {
namespace {
thread_local const std::vector<uint8_t>* g_fp_rows = nullptr;
}

FpRowScope::FpRowScope(const std::vector<uint8_t>* rows) : previous_(g_fp_rows) { g_fp_rows = rows; }
FpRowScope::~FpRowScope() { g_fp_rows = previous_; }
const std::vector<uint8_t>* FpRowScope::current() { return g_fp_rows; }

}  // namespace tameq
