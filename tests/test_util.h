#pragma once
// Paths to ../shared and the committed fixtures, and the skip used when ../shared is absent.
#include <filesystem>
#include <string>

#include <gtest/gtest.h>

namespace tameq::test {

inline std::string shared_path(const std::string& rel) { return std::string(TAMEQ_SHARED_DIR) + "/" + rel; }
inline std::string fixture_path(const std::string& rel) { return std::string(TAMEQ_FIXTURES_DIR) + "/" + rel; }
inline bool have_shared() { return std::filesystem::exists(shared_path("models")); }

// Runs the tameq binary with `args`; returns its exit code, stdout+stderr in `output`.
int run_tameq(const std::string& args, std::string* output = nullptr);

}  // namespace tameq::test

#define TAMEQ_REQUIRE_SHARED()                                                                  \
    do {                                                                                        \
        if (!::tameq::test::have_shared())                                                      \
            GTEST_SKIP() << "../shared is absent (" TAMEQ_SHARED_DIR "): skipping a test that " \
                            "needs the shared models/data";                                     \
    } while (0)
