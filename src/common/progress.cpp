#include "common/progress.h"

#include <cstdio>
#include <unistd.h>

#include <fmt/format.h>

namespace tameq {

Progress::Progress(std::string label, int64_t total)
    : label_(std::move(label)), total_(total), enabled_(::isatty(2) != 0),
      start_(std::chrono::steady_clock::now()), last_draw_(start_ - std::chrono::seconds(1)) {}

Progress::~Progress() { finish(); }

double Progress::elapsed_s() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void Progress::update(int64_t done, const std::string& note) {
    if (!enabled_ || finished_) return;
    auto now = std::chrono::steady_clock::now();
    if (done < total_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    const double t = elapsed_s();
    const double frac = total_ > 0 ? double(done) / double(total_) : 1.0;
    const int width = 30, filled = int(frac * width);
    std::string bar(size_t(filled), '#');
    bar.resize(size_t(width), '.');
    std::string eta = "--";
    if (done > 0 && done < total_) {
        const double rest = t / double(done) * double(total_ - done);
        eta = rest >= 60 ? fmt::format("{}m{:02d}s", int(rest) / 60, int(rest) % 60) : fmt::format("{:.0f}s", rest);
    }
    std::fprintf(stderr, "\r%s [%s] %lld/%lld %.0fs ETA %s %s\x1b[K", label_.c_str(), bar.c_str(), (long long)done,
                 (long long)total_, t, eta.c_str(), note.c_str());
    std::fflush(stderr);
}

void Progress::finish() {
    if (!enabled_ || finished_) return;
    finished_ = true;
    std::fprintf(stderr, "\r\x1b[K");
    std::fflush(stderr);
}

}  // namespace tameq
