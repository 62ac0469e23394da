#include "kernels/cpu/parallel_rows.h"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>

#include "kernels/cpu/thread_pool.h"

namespace tameq {

void parallel_rows(int n, int chunk, const std::function<void(int, int)>& fn) {
    chunk = std::max(chunk, 1);
    if (n <= 0) return;
    if (n <= chunk || kern::num_threads() == 1) return fn(0, n);
    std::atomic<int> next{0};
    std::exception_ptr error;
    std::mutex error_mu;
    kern::parallel_run([&](int, int) {
        for (;;) {
            const int begin = next.fetch_add(chunk);
            if (begin >= n) return;
            try {
                fn(begin, std::min(n, begin + chunk));
            } catch (...) {
                std::lock_guard<std::mutex> lock(error_mu);
                if (!error) error = std::current_exception();
                next.store(n);  // the others stop at their next chunk
            }
        }
    });
    if (error) std::rethrow_exception(error);
}

}  // namespace tameq
