#pragma once
// DFRot's Table 1 diagnostic ("keep the massive-activation tokens in floating point"): while a block runs,
// it may name rows (tokens) whose activations every simulated quantizer in the block must leave untouched.
// A scope rather than a Linear argument, because only this diagnostic needs it.
#include <cstdint>
#include <vector>

namespace tameq {

class FpRowScope {
public:
    explicit FpRowScope(const std::vector<uint8_t>* rows);  // rows[i] != 0: token i stays in FP; null: none
    ~FpRowScope();
    FpRowScope(const FpRowScope&) = delete;
    FpRowScope& operator=(const FpRowScope&) = delete;
    // The innermost active mask, or null.
    static const std::vector<uint8_t>* current();

private:
    const std::vector<uint8_t>* previous_;
};

}  // namespace tameq
