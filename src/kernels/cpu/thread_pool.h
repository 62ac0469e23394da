#pragma once
// A persistent pool for the integer kernels: the caller plus (threads - 1) workers that wait on a
// condition variable between calls, so a GEMV does not pay a thread start. Kernels never call BLAS,
// so this pool does not nest with OpenBLAS's.
#include <functional>

namespace tameq::kern {

// Threads the kernels use: TAMEQ_THREADS if set, else std::thread::hardware_concurrency().
int num_threads();
// Changes the thread count (>= 1) for later calls; restarts the workers.
void set_num_threads(int n);

// Runs fn(t, n_threads) once on each of n_threads threads (t = 0 on the caller) and waits for all.
// Calls must not nest; concurrent calls from different threads run one after the other.
void parallel_run(const std::function<void(int, int)>& fn);

}  // namespace tameq::kern
