#pragma once
// Orthogonal matrices for R1/R2: random orthogonal (RO), randomized Hadamard (RH), loaded from a file.
// Convention: rows are rotated as x·R (row vectors, R row-major n×n), as QuaRot's W·Q on embeddings.
#include <cstdint>
#include <string>
#include <vector>

namespace tameq {

// Haar-distributed orthogonal matrix: QR of a seeded Gaussian matrix (Householder in double through
// LAPACK, then rounded to float) with the sign fix Q·diag(sign(diag R)). The Gaussian entries come from
// common/rng.h's splitmix64 and Box–Muller, so a seed gives the same matrix with any C++ standard library
// (up to LAPACK's rounding, far below float precision).
std::vector<float> random_orthogonal(int n, uint64_t seed);

// QuaRot's RH: diag(s)·H_nᵀ/√n with seeded random signs s, so x·R = fwht_rows(x ⊙ s): the signs hit the
// input first, then the (orthonormal) Walsh–Hadamard transform. n must be a supported Hadamard size.
std::vector<float> random_hadamard(int n, uint64_t seed);

// R2, the per-head rotation of V and o_proj's input: RH of head_dim drawn from seed + 1, so its signs are a
// stream apart from R1's (drawn from `seed`) even when head_dim equals the hidden size.
std::vector<float> random_hadamard_r2(int head_dim, uint64_t seed);

// The random signs of random_hadamard(n, seed), for applying RH online with fwht_rows.
std::vector<float> random_signs(int n, uint64_t seed);

// Throws tameq::Error("rotation", ...) naming `source` if R is not n×n or max|R·Rᵀ − I| > 1e-4.
// Returns max|R·Rᵀ − I|.
double check_orthogonal(const std::vector<float>& R, int n, const std::string& source);

// A safetensors file holding exactly one F32 tensor of shape [n, n] that is orthogonal; errors otherwise.
std::vector<float> load_rotation(const std::string& path, int n);

}  // namespace tameq
