#include "test_util.h"

#include <array>
#include <cstdio>
#include <sys/wait.h>

namespace tameq::test {

int run_tameq(const std::string& args, std::string* output) {
    std::string cmd = std::string(TAMEQ_BINARY) + " " + args + " 2>&1";
    FILE* p = popen(cmd.c_str(), "r");
    if (!p) return -1;
    std::array<char, 4096> buf{};
    std::string out;
    size_t n;
    while ((n = fread(buf.data(), 1, buf.size(), p)) > 0) out.append(buf.data(), n);
    int status = pclose(p);
    if (output) *output = out;
    return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace tameq::test
