#pragma once
// A one-line progress bar with rate and ETA on stderr; silent when stderr is not a terminal
// (logs and pipes get no carriage-return noise).
#include <chrono>
#include <cstdint>
#include <string>

namespace tameq {

class Progress {
public:
    Progress(std::string label, int64_t total);
    ~Progress();
    void update(int64_t done, const std::string& note = "");
    void finish();
    double elapsed_s() const;

private:
    std::string label_;
    int64_t total_;
    bool enabled_;
    bool finished_ = false;
    std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace tameq
