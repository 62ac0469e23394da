#include "common/interrupt.h"

#include <atomic>
#include <csignal>
#include <unistd.h>

#include "common/error.h"

namespace tameq {
namespace {

std::atomic<bool> g_interrupted{false};

void on_signal(int sig) {
    if (g_interrupted.exchange(true)) {
        std::signal(sig, SIG_DFL);
        std::raise(sig);
    }
    const char msg[] = "\ninterrupt: finishing the current step and cleaning up (press again to abort)\n";
    (void)!::write(2, msg, sizeof msg - 1);
}

}  // namespace

void install_interrupt_handler() {
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
}

bool interrupted() { return g_interrupted.load(); }

void throw_if_interrupted(const std::string& where) {
    if (interrupted()) fail(where, "interrupted; no output was written");
}

}  // namespace tameq
