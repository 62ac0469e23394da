#pragma once
// A region of functions compiled for one instruction set, for GCC and for clang (the fuzz build):
//   TAMEQ_TARGET_BEGIN("avx2,fma")  ...  TAMEQ_TARGET_END
// Include <immintrin.h> and every other header before the region. For GCC the region also silences
// -Wuninitialized: GCC 12's avx512fintrin.h builds _mm512_undefined_*() from a self-initialised variable,
// which the warning reports at every inlined use of srai, cvtepi32 and friends.
#define TAMEQ_PRAGMA(x) _Pragma(#x)
#if defined(__clang__)
#define TAMEQ_TARGET_BEGIN(t) TAMEQ_PRAGMA(clang attribute push(__attribute__((target(t))), apply_to = function))
#define TAMEQ_TARGET_END TAMEQ_PRAGMA(clang attribute pop)
#else
#define TAMEQ_TARGET_BEGIN(t)                                 \
    TAMEQ_PRAGMA(GCC push_options)                            \
    TAMEQ_PRAGMA(GCC target(t))                               \
    TAMEQ_PRAGMA(GCC diagnostic push)                         \
    TAMEQ_PRAGMA(GCC diagnostic ignored "-Wuninitialized")    \
    TAMEQ_PRAGMA(GCC diagnostic ignored "-Wmaybe-uninitialized")
#define TAMEQ_TARGET_END TAMEQ_PRAGMA(GCC diagnostic pop) TAMEQ_PRAGMA(GCC pop_options)
#endif
