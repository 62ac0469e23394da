#!/usr/bin/env bash
# Builds the unit tests with AddressSanitizer + UBSan and runs them once. Tests that spend minutes
# in BLAS on full models (suites named *Reference*) and the 7B-shaped memory test are left to the Release run.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAMEQ_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$(nproc)" --target tameq_tests tameq
ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
  build-asan/tameq_tests --gtest_filter="${TAMEQ_SANITIZE_FILTER:--*Reference*:Memory*}" --gtest_brief=1
echo "sanitizer run passed"
