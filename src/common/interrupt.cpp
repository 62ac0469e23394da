#include "common/interrupt.h"

#include <atomic>
#include <csignal>
#include <cstring>
#include <unistd.h>

#include "common/error.h"

namespace tameq {
namespace {

std::atomic<bool> g_interrupted{false};
const char kDefaultMessage[] = "\ninterrupt: finishing the current step and cleaning up (press again to abort)\n";
const char* g_message = kDefaultMessage;

void on_signal(int sig) {
    if (g_interrupted.exchange(true)) {
        std::signal(sig, SIG_DFL);
        std::raise(sig);
    }
    (void)!::write(2, g_message, std::strlen(g_message));
}

}  // namespace

void install_interrupt_handler(const char* message) {
    g_message = message ? message : kDefaultMessage;
    std::signal(SIGINT, on_signal);
    std::signal(SIGTERM, on_signal);
}

bool interrupted() { return g_interrupted.load(); }

void throw_if_interrupted(const std::string& where) {
    if (interrupted()) fail(where, "interrupted; no output was written");
}

}  // namespace tameq
