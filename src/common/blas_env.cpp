#include "common/blas_env.h"

#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

namespace tameq {

void prefer_avx512_blas(char** argv) {
#if defined(__x86_64__)
    if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("TAMEQ_NO_REEXEC")) return;
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
          __builtin_cpu_supports("avx512dq")))
        return;
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    setenv("TAMEQ_NO_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);
#else
    (void)argv;
#endif
}

void prefer_avx512_blas_from_proc() {
    std::ifstream in("/proc/self/cmdline", std::ios::binary);
    const std::string all((std::istreambuf_iterator<char>(in)), {});
    if (all.empty()) return;
    std::vector<std::string> args;
    size_t start = 0;
    for (size_t i = 0; i < all.size(); ++i)
        if (all[i] == '\0') {
            args.push_back(all.substr(start, i - start));
            start = i + 1;
        }
    std::vector<char*> argv;
    for (std::string& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    prefer_avx512_blas(argv.data());
}

}  // namespace tameq
