#!/usr/bin/env bash
# Builds the unit tests with AddressSanitizer + UBSan and runs them once, in one gtest shard per core (the Release
# run's ctest -j already runs the tests side by side, so they do not share files). Tests that spend minutes in BLAS
# on full models (suites named *Reference*) and the 7B-shaped memory test are left to the Release run.
set -euo pipefail
cd "$(dirname "$0")/.."
cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAMEQ_SANITIZE=ON >/dev/null
cmake --build build-asan -j"$(nproc)" --target tameq_tests tameq
shards="$(nproc)"
pids=()
for ((i = 0; i < shards; i++)); do
  GTEST_TOTAL_SHARDS="$shards" GTEST_SHARD_INDEX="$i" \
  ASAN_OPTIONS=detect_leaks=1:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    build-asan/tameq_tests --gtest_filter="${TAMEQ_SANITIZE_FILTER:--*Reference*:Memory*}" --gtest_brief=1 \
    >"build-asan/shard-$i.log" 2>&1 &
  pids+=("$!")
done
failed=0
for ((i = 0; i < shards; i++)); do
  if ! wait "${pids[$i]}"; then
    echo "sanitizer shard $i of $shards failed:"
    tail -80 "build-asan/shard-$i.log"
    failed=1
  fi
done
[ "$failed" = 0 ] || exit 1
tail -n 3 build-asan/shard-*.log
echo "sanitizer run passed"
