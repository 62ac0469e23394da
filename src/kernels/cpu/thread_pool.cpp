#include "kernels/cpu/thread_pool.h"

#include <algorithm>
#include <condition_variable>
#include <cstdlib>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "common/error.h"

namespace tameq::kern {

namespace {

class Pool {
public:
    explicit Pool(int n) : n_(n) {
        for (int t = 1; t < n_; ++t) workers_.emplace_back([this, t] { work(t); });
    }
    ~Pool() {
        {
            std::lock_guard<std::mutex> lock(mu_);
            stop_ = true;
        }
        wake_.notify_all();
        for (auto& w : workers_) w.join();
    }
    int size() const { return n_; }

    void run(const std::function<void(int, int)>& fn) {
        std::lock_guard<std::mutex> serial(run_mu_);
        if (n_ == 1) return fn(0, 1);
        {
            std::lock_guard<std::mutex> lock(mu_);
            fn_ = &fn;
            pending_ = n_ - 1;
            ++generation_;
        }
        wake_.notify_all();
        fn(0, n_);
        std::unique_lock<std::mutex> lock(mu_);
        done_.wait(lock, [this] { return pending_ == 0; });
        fn_ = nullptr;
    }

private:
    void work(int t) {
        unsigned long seen = 0;
        for (;;) {
            const std::function<void(int, int)>* fn;
            {
                std::unique_lock<std::mutex> lock(mu_);
                wake_.wait(lock, [&] { return stop_ || generation_ != seen; });
                if (stop_) return;
                seen = generation_;
                fn = fn_;
            }
            (*fn)(t, n_);
            std::lock_guard<std::mutex> lock(mu_);
            if (--pending_ == 0) done_.notify_one();
        }
    }

    int n_;
    std::vector<std::thread> workers_;
    std::mutex run_mu_, mu_;
    std::condition_variable wake_, done_;
    const std::function<void(int, int)>* fn_ = nullptr;
    int pending_ = 0;
    unsigned long generation_ = 0;
    bool stop_ = false;
};

int default_threads() {
    if (const char* env = std::getenv("TAMEQ_THREADS")) {
        int n = std::atoi(env);
        if (n < 1) fail("kernels", "TAMEQ_THREADS must be a positive integer, got '{}'", env);
        return n;
    }
    return std::max(1u, std::thread::hardware_concurrency());
}

// Shared so that a call running while set_num_threads replaces the pool keeps its own alive.
std::mutex pool_mu;
std::shared_ptr<Pool>& pool() {
    static std::shared_ptr<Pool> p = std::make_shared<Pool>(default_threads());
    return p;
}

}  // namespace

int num_threads() {
    std::lock_guard<std::mutex> lock(pool_mu);
    return pool()->size();
}

void set_num_threads(int n) {
    if (n < 1) fail("kernels", "thread count must be positive, got {}", n);
    std::lock_guard<std::mutex> lock(pool_mu);
    pool() = std::make_shared<Pool>(n);
}

void parallel_run(const std::function<void(int, int)>& fn) {
    std::shared_ptr<Pool> p;
    {
        std::lock_guard<std::mutex> lock(pool_mu);
        p = pool();
    }
    p->run(fn);
}

}  // namespace tameq::kern
