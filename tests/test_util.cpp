#include "test_util.h"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdio>
#include <sys/wait.h>
#include <unistd.h>

#include "common/error.h"

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

std::filesystem::path fresh_test_dir(const std::string& prefix) {
    const auto dir = std::filesystem::temp_directory_path() /
                     (prefix + "-" + std::to_string(::getpid()) + "-" +
                      ::testing::UnitTest::GetInstance()->current_test_info()->name());
    std::filesystem::remove_all(dir);
    std::filesystem::create_directories(dir);
    return dir;
}

std::string error_of(const std::function<void()>& f) {
    try {
        f();
    } catch (const Error& e) {
        return e.what();
    }
    return "(no error)";
}

double worst_rel(const std::vector<float>& a, const std::vector<float>& b, int vocab) {
    double worst = 0;
    for (size_t t = 0; t < b.size() / size_t(vocab); ++t) {
        double num = 0, den = 0;
        for (int v = 0; v < vocab; ++v) {
            num = std::max(num, double(std::fabs(a[t * vocab + v] - b[t * vocab + v])));
            den = std::max(den, double(std::fabs(b[t * vocab + v])));
        }
        worst = std::max(worst, num / den);
    }
    return worst;
}

}  // namespace tameq::test
