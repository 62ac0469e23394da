#pragma once
// Hadamard matrices of small orders m (H·Hᵀ = m·I, entries ±1), built by known constructions:
// Sylvester doubling, Paley I and II over GF(q) (q a prime power), and the Goethals–Seidel array
// fed with Williamson-type sequences found by a small search (see hadamard_small.cpp).
#include <cstdint>
#include <vector>

namespace tameq {

// The orders m that hadamard_small() builds besides the powers of two.
const std::vector<int>& hadamard_small_orders();

// Row-major m×m ±1 matrix. m must be 1, 2, 4 or one of hadamard_small_orders(); anything else is
// a programming error (callers check with hadamard_split first). Memoized, thread-safe.
const std::vector<int8_t>& hadamard_small(int m);

}  // namespace tameq
