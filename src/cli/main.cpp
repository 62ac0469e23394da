// tameq command-line entry point: one file per subcommand registers itself here.
#include <cstdio>
#include <cstdlib>
#include <unistd.h>
#include <exception>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "common/error.h"

namespace {

// Debian 12's OpenBLAS (0.3.21) predates Zen 4/5 and runs its Haswell (AVX2) kernels there; its SkylakeX
// (AVX-512) kernels make sgemm about 1.5x faster on such CPUs. OpenBLAS reads OPENBLAS_CORETYPE when the
// library is loaded, before main, so set it and re-execute once. A user's own setting always wins.
void prefer_avx512_blas(char** argv) {
#if defined(__x86_64__)
    if (std::getenv("OPENBLAS_CORETYPE") || std::getenv("TAMEQ_NO_REEXEC")) return;
    __builtin_cpu_init();
    if (!(__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") && __builtin_cpu_supports("avx512vl") &&
          __builtin_cpu_supports("avx512dq")))
        return;
    setenv("OPENBLAS_CORETYPE", "SkylakeX", 1);
    setenv("TAMEQ_NO_REEXEC", "1", 1);
    execv("/proc/self/exe", argv);  // on failure, simply continue with the kernels already loaded
#else
    (void)argv;
#endif
}

}  // namespace

int main(int argc, char** argv) {
    prefer_avx512_blas(argv);
    CLI::App app{"tameq: outlier-aware low-bit quantization of LLMs (DFRot, OutlierTune, QuaRot, SmoothQuant)"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "tameq 0.1.0");
    for (auto* reg : tameq::cli::command_registry()) reg(app);
    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        int rc = app.exit(e);
        return rc == 0 ? 0 : 2;
    } catch (const tameq::Error& e) {
        std::fprintf(stderr, "tameq: %s\n", e.what());
        return 2;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "tameq: internal error: %s\n", e.what());
        return 3;
    }
    return 0;
}
