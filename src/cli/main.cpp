// tameq command-line entry point: one file per subcommand registers itself here.
#include <cstdio>
#include <cstdlib>
#include <exception>

#include <CLI/CLI.hpp>

#include "cli/commands.h"
#include "common/blas_env.h"
#include "common/error.h"

int main(int argc, char** argv) {
    tameq::prefer_avx512_blas(argv);
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
