#!/usr/bin/env bash
# Builds the libFuzzer targets with clang and runs each for a bounded time (FUZZ_SECONDS, default 30)
# from the committed seed corpus. A crash or sanitizer report fails the run.
set -euo pipefail
cd "$(dirname "$0")/.."
secs="${FUZZ_SECONDS:-30}"
CC=clang CXX=clang++ cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=RelWithDebInfo -DTAMEQ_FUZZ=ON -DTAMEQ_WERROR=OFF >/dev/null
targets=()
for f in fuzz/*.cpp; do targets+=("$(basename "${f%.cpp}")"); done
cmake --build build-fuzz -j"$(nproc)" --target "${targets[@]}"
for t in "${targets[@]}"; do
  corpus="fuzz/corpus/${t#fuzz_}"
  work="build-fuzz/corpus-${t#fuzz_}"
  mkdir -p "$work"
  [ -d "$corpus" ] && cp -r "$corpus"/. "$work"/
  echo "fuzzing $t for ${secs}s"
  "build-fuzz/$t" -max_total_time="$secs" -max_len=65536 -timeout=10 -print_final_stats=0 "$work" 2>build-fuzz/"$t".log \
    || { tail -40 build-fuzz/"$t".log; echo "fuzzer $t found a failure"; exit 1; }
done
echo "fuzzing passed"
