#pragma once
// Row-parallel loops of the quantization passes (pipeline, transforms) on the kernel thread pool (thread_pool.h).
#include <functional>

namespace tameq {

// Calls fn(begin, end) on consecutive chunks of `chunk` indices covering [0, n), spread over the pool's
// threads (each takes the next chunk from a shared counter, so uneven rows balance). Every index is handled
// exactly once, so work whose result depends only on its own indices gives the same result for any thread
// count. The first exception thrown by fn is rethrown here after all threads stop. Must not be called from
// inside another parallel section (the pool does not nest).
void parallel_rows(int n, int chunk, const std::function<void(int, int)>& fn);

}  // namespace tameq
