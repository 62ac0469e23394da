#pragma once
// One error type for everything a user can cause (bad files, bad flags). The message is
// "<where>: <what>" on one line; the CLI prints it and exits with code 2.
#include <stdexcept>
#include <string>

#include <fmt/format.h>

namespace tameq {

class Error : public std::runtime_error {
public:
    Error(const std::string& where, const std::string& what) : std::runtime_error(where + ": " + what) {}
};

template <typename... Args>
[[noreturn]] void fail(const std::string& where, fmt::format_string<Args...> f, Args&&... args) {
    throw Error(where, fmt::format(f, std::forward<Args>(args)...));
}

}  // namespace tameq
