// The test binary's main: it re-executes with OpenBLAS's AVX-512 kernels exactly as the CLI does
// (common/blas_env.h), so a test and `tameq` compute with the same sgemm and agree to the last digit.
#include <gtest/gtest.h>

#include "common/blas_env.h"

int main(int argc, char** argv) {
    tameq::prefer_avx512_blas(argv);
    testing::InitGoogleTest(&argc, argv);
    return RUN_ALL_TESTS();
}
