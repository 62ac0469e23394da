#pragma once
// Walsh–Hadamard transform for n = m·2^k (m = 1 or a small Hadamard order), as QuaRot's online
// rotations need (11008 = 172·64, 14336 = 28·512, 1536 = 12·128, ...).
//
// Convention: H_n = H_{2^k} ⊗ H_m (Sylvester ⊗ small), element (i, j) with i = a·m + b, j = c·m + d is
// (-1)^popcount(a & c) · H_m[b][d]. fwht_rows maps every row x to y = H_n·x / √n, which as a row vector
// is y = x·H_nᵀ/√n. H_m is not symmetric for Paley orders, so mind the transpose when folding.
#include <vector>

namespace tameq {

// The small factor m of n = m·2^k (1 for powers of two), or a tameq::Error naming the supported orders, the
// nearest supported sizes below and above n, and the block-diagonal R4 (r4=block=B, B a power of two dividing
// n) where n is even.
int hadamard_factor(int n);
bool hadamard_size_supported(int n);
// The largest supported size <= n and the smallest >= n (n itself when supported).
int hadamard_size_below(int n);
int hadamard_size_above(int n);

// In place on `rows` rows of length n (row-major, contiguous). O(n log n) butterflies on the 2^k part and
// a dense m×m product (sgemm) on the m part; scaled by 1/√n when `normalize`, so it is orthonormal.
// fwht_rows works on chunks of rows of about this many floats (4 MiB): one sgemm per chunk for the m part,
// large enough to amortize the call, small enough to stay in L2. Callers that stage rows through their own
// buffer (the fused Hadamard + quantize kernel) use the same size so each of their blocks is one chunk.
constexpr int kFwhtChunkFloats = 1 << 20;
void fwht_rows(float* x, int rows, int n, bool normalize = true);

// The block-diagonal transform I_{n/block} ⊗ H_block/√block on each row: every run of `block` consecutive
// entries gets its own fwht (block-R4, the power-of-two blocks vLLM's Hadacore kernel runs). block 0 means the
// whole row (fwht_rows). A block that is not a power of two or does not divide n is a tameq::Error.
void fwht_row_blocks(float* x, int rows, int n, int block);

// Reference: the dense product with H_n, entries generated on the fly, accumulated in double. O(n²) per row.
void fwht_rows_ref(float* x, int rows, int n, bool normalize = true);

// The explicit n×n matrix H_n/√n (row-major), for folding rotations into weights offline.
std::vector<float> hadamard_matrix(int n);

}  // namespace tameq
