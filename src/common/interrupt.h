#pragma once
// Ctrl-C for long commands: the first SIGINT/SIGTERM sets a flag that the work loops poll between steps, so
// they unwind through destructors (which remove temporary output) instead of dying mid-write. A second
// signal terminates at once. One flag for the whole process: every loop (quantization inside a sweep
// included) sees the same Ctrl-C. Install the handler before any long work starts.
#include <string>

namespace tameq {

// `message` is printed on the first signal (async-signal-safe write).
void install_interrupt_handler(const char* message = nullptr);
bool interrupted();
// Throws tameq::Error(where, "interrupted") if a signal arrived.
void throw_if_interrupted(const std::string& where);

}  // namespace tameq
