#pragma once
// Paths to ../shared and the committed fixtures, the skip used when ../shared is absent, a fresh directory
// per test, the message of an expected tameq::Error, and how far two logit tensors are apart.
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

namespace tameq::test {

inline std::string shared_path(const std::string& rel) { return std::string(TAMEQ_SHARED_DIR) + "/" + rel; }
inline std::string fixture_path(const std::string& rel) { return std::string(TAMEQ_FIXTURES_DIR) + "/" + rel; }
inline bool have_shared() { return std::filesystem::exists(shared_path("models")); }

// Runs the tameq binary with `args`; returns its exit code, stdout+stderr in `output`.
int run_tameq(const std::string& args, std::string* output = nullptr);

// An empty directory under the system temp dir named after `prefix`, the process and the running test
// (so parallel ctest runs never share one); whatever was there is removed first.
std::filesystem::path fresh_test_dir(const std::string& prefix);

// What f throws as tameq::Error, or "(no error)".
std::string error_of(const std::function<void()>& f);

// Largest |a − b| over the largest |b| of each position (rows of `vocab` logits), worst position.
double worst_rel(const std::vector<float>& a, const std::vector<float>& b, int vocab);

}  // namespace tameq::test

#define TAMEQ_REQUIRE_SHARED()                                                                  \
    do {                                                                                        \
        if (!::tameq::test::have_shared())                                                      \
            GTEST_SKIP() << "../shared is absent (" TAMEQ_SHARED_DIR "): skipping a test that " \
                            "needs the shared models/data";                                     \
    } while (0)
