#pragma once
// Hadamard matrices of small orders m (H·Hᵀ = m·I, entries ±1), built by known constructions:
// Sylvester doubling, Paley I and II over GF(q) (q a prime power), and the Goethals–Seidel array
// fed with Williamson-type sequences found by a small search (see hadamard_small.cpp):
//   Paley I (order q+1):   12 (q=11), 20 (19), 28 (27, GF(27)), 44 (43), 60 (59), 68 (67), 84 (83), 108 (107),
//                          132 (131), 140 (139)
//   Paley II (order 2q+2): 36 (q=17), 52 (25, GF(25)), 76 (37), 100 (49, GF(49)), 124 (61), 148 (73)
// (76: Qwen2.5-0.5B's FFN 4864 = 76·64, Qwen3-4B's 9728 = 76·128; 68: Qwen3-14B's 17408 = 68·256;
// 100: Qwen3-32B's 25600 = 100·256.)
//   doubling:              40 = 2·20
//   Goethals–Seidel:       172 = 4·43 (Williamson sequences of length 43),
//                          156 = 4·39 (Cooper–Wallis: T-matrices of order 3 × Williamson sequences of length 13)
// Neither Paley construction reaches 156 (155, 77 are not prime powers) or 172 (171, 85).
#include <cstdint>
#include <vector>

namespace tameq {

// The orders m that hadamard_small() builds besides the powers of two.
const std::vector<int>& hadamard_small_orders();

// Row-major m×m ±1 matrix. m must be 1, 2, 4 or one of hadamard_small_orders(); anything else is
// a programming error (std::logic_error; callers check hadamard_size_supported first). Memoized, thread-safe.
const std::vector<int8_t>& hadamard_small(int m);

}  // namespace tameq
