#pragma once
// Ctrl-C for long commands: the first SIGINT/SIGTERM sets a flag that the work loops poll between steps, so
// they unwind through destructors (which remove temporary output) instead of dying mid-write. A second
// signal terminates at once.
#include <string>

namespace tameq {

void install_interrupt_handler();
bool interrupted();
// Throws tameq::Error(where, "interrupted") if a signal arrived.
void throw_if_interrupted(const std::string& where);

}  // namespace tameq
