#pragma once
// Each src/cli/<name>.cpp adds its subcommand to the app through a static registrar, so adding a
// command touches only its own file.
#include <vector>

namespace CLI { class App; }

namespace tameq::cli {

using RegisterFn = void (*)(CLI::App&);
std::vector<RegisterFn>& command_registry();

struct CommandRegistrar {
    explicit CommandRegistrar(RegisterFn fn) { command_registry().push_back(fn); }
};

}  // namespace tameq::cli
