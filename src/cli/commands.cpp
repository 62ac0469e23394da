#include "cli/commands.h"

namespace tameq::cli {

std::vector<RegisterFn>& command_registry() {
    static std::vector<RegisterFn> registry;
    return registry;
}

}  // namespace tameq::cli
